"""Accounts test helpers: a throwaway signing key, a Bearer GraphQL client, a fake clock, a count
of password checks."""

import threading
from collections.abc import Callable

import pytest

from backend.accounts import throttling
from backend.accounts.models import User


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The throttle's clock, moved by hand instead of sleeping."""
    fake = FakeClock()
    monkeypatch.setattr(throttling, "now", lambda: fake.now)
    return fake


class PasswordChecks:
    """Counts ``User.check_password`` calls: the password evaluations the throttle must bound."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def wrap(self, check: Callable[[User, str], bool]) -> Callable[[User, str], bool]:
        def counted(user: User, raw_password: str) -> bool:
            with self._lock:
                self.count += 1
            return check(user, raw_password)

        return counted


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> PasswordChecks:
    checks = PasswordChecks()
    monkeypatch.setattr(User, "check_password", checks.wrap(User.check_password))
    return checks
