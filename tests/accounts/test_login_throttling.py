"""Login throttling: exponential delay per IP+account, per account from any IP and per IP, and
recovery (fake clock)."""

import pytest
from pytest_django.fixtures import Settings

from backend.accounts import services
from backend.accounts.errors import AccountError, AccountErrorCode
from tests.accounts.conftest import FakeClock
from tests.factories import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
IP = "198.51.100.4"


def _login_error(email: str, password: str, ip: str = IP) -> AccountError:
    with pytest.raises(AccountError) as refusal:
        services.token_create(email=email, password=password, ip=ip)
    return refusal.value


def test_repeated_failures_delay_the_account_exponentially_then_recover(clock: FakeClock) -> None:
    user = user_create(password=PASSWORD)
    for _ in range(3):  # the free attempts
        assert _login_error(user.email, "wrong").code == AccountErrorCode.INVALID_CREDENTIALS

    delayed = _login_error(user.email, PASSWORD)  # even the right password waits
    assert delayed.code == AccountErrorCode.LOGIN_ATTEMPT_DELAYED
    assert delayed.extras["retry_after"] == 1

    clock.advance(1)
    assert _login_error(user.email, "wrong").code == AccountErrorCode.INVALID_CREDENTIALS
    assert _login_error(user.email, PASSWORD).extras["retry_after"] == 2  # doubled

    clock.advance(2)
    pair = services.token_create(email=user.email, password=PASSWORD, ip=IP)
    assert pair.user == user

    # Success cleared the account's counter: the next typo is free again.
    assert _login_error(user.email, "wrong").code == AccountErrorCode.INVALID_CREDENTIALS


def test_the_delay_is_per_ip_and_account(clock: FakeClock) -> None:
    user = user_create(password=PASSWORD)
    for _ in range(3):
        _login_error(user.email, "wrong")

    assert _login_error(user.email, PASSWORD).code == AccountErrorCode.LOGIN_ATTEMPT_DELAYED
    # The owner on another network is not locked out by an attacker's failures.
    assert services.token_create(email=user.email, password=PASSWORD, ip="192.0.2.1").user == user


def test_one_ip_spraying_many_accounts_is_delayed(clock: FakeClock, settings: Settings) -> None:
    settings.LOGIN_FREE_ATTEMPTS_PER_IP = 5
    for n in range(5):
        _login_error(f"victim{n}@example.com", "123456")

    delayed = _login_error("victim99@example.com", "123456")

    assert delayed.code == AccountErrorCode.LOGIN_ATTEMPT_DELAYED
    assert "Try again in 1 seconds" in delayed.message


def test_the_delay_is_capped(clock: FakeClock, settings: Settings) -> None:
    settings.LOGIN_MAX_DELAY_SECONDS = 60
    user = user_create(password=PASSWORD)
    for _ in range(3):
        _login_error(user.email, "wrong")
    for _ in range(10):
        clock.advance(60)
        _login_error(user.email, "wrong")

    assert _login_error(user.email, PASSWORD).extras["retry_after"] == 60


def test_unknown_email_and_inactive_account_answer_like_a_wrong_password() -> None:
    inactive = user_create(password=PASSWORD, is_active=False)
    assert _login_error("nobody@example.com", PASSWORD).code == AccountErrorCode.INVALID_CREDENTIALS
    assert _login_error(inactive.email, PASSWORD).code == AccountErrorCode.INVALID_CREDENTIALS


def test_the_account_is_throttled_across_addresses(clock: FakeClock, settings: Settings) -> None:
    settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP = 5
    user = user_create(password=PASSWORD)
    for n in range(5):
        _login_error(user.email, "wrong", ip=f"203.0.113.{n + 1}")

    delayed = _login_error(user.email, PASSWORD, ip="192.0.2.77")  # a sixth address

    assert delayed.code == AccountErrorCode.LOGIN_ATTEMPT_DELAYED
    clock.advance(1)
    assert services.token_create(email=user.email, password=PASSWORD, ip="192.0.2.77").user == user


def test_good_sign_ins_do_not_use_up_a_shared_address(clock: FakeClock, settings: Settings) -> None:
    """An office behind one address: its people signing in are not failures."""
    settings.LOGIN_FREE_ATTEMPTS_PER_IP = 3
    users = [user_create(password=PASSWORD) for _ in range(6)]
    for user in users:
        assert services.token_create(email=user.email, password=PASSWORD, ip=IP).user == user
