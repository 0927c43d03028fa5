"""Atomic counting: concurrent attempts, in real threads on real PostgreSQL connections, cannot
evaluate more passwords than the allowance (the review saw 11 checks for an allowance of 3)."""

import threading
from collections import Counter

import pytest
from django.db import connection
from pytest_django.fixtures import Settings

from backend.accounts import services
from backend.accounts.errors import AccountError, AccountErrorCode
from tests.accounts.conftest import PasswordChecks
from tests.factories import user_create

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPTS = 20


def _concurrent_logins(email: str, ips: list[str]) -> Counter[AccountErrorCode]:
    """One thread per address, released together; the error code each attempt got."""
    outcomes: Counter[AccountErrorCode] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(ips))

    def attempt(ip: str) -> None:
        try:
            start.wait()
            try:
                services.token_create(email=email, password="wrong", ip=ip)
            except AccountError as error:
                with lock:
                    outcomes[error.code] += 1
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=attempt, args=(ip,)) for ip in ips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("allowance", [1, 3])
def test_concurrent_attempts_from_one_address_check_at_most_the_allowance(
    allowance: int, settings: Settings, password_checks: PasswordChecks
) -> None:
    settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT = allowance
    user = user_create(password="correct-horse-battery")

    outcomes = _concurrent_logins(user.email, ["198.51.100.4"] * ATTEMPTS)

    assert password_checks.count == allowance
    assert outcomes == {
        AccountErrorCode.INVALID_CREDENTIALS: allowance,
        AccountErrorCode.LOGIN_ATTEMPT_DELAYED: ATTEMPTS - allowance,
    }


def test_concurrent_attempts_from_many_addresses_check_at_most_the_account_allowance(
    settings: Settings, password_checks: PasswordChecks
) -> None:
    settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP = 3
    user = user_create(password="correct-horse-battery")

    outcomes = _concurrent_logins(user.email, [f"203.0.113.{n + 1}" for n in range(ATTEMPTS)])

    assert password_checks.count == 3
    assert outcomes[AccountErrorCode.LOGIN_ATTEMPT_DELAYED] == ATTEMPTS - 3
