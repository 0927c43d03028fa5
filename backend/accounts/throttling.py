"""Login throttling: exponential delay after failed logins, per IP and per IP+account.

Counters live in the Django cache (Redis when REDIS_URL is set, so all workers share them).
After ``free`` failures for a scope, each further failure blocks that scope for
``2 ** (failures - free)`` seconds (capped at LOGIN_MAX_DELAY_SECONDS), counted from the last
failure. A successful login clears the IP+account scope; the IP scope only expires, so one
good password does not reset an attacker spraying many accounts from the same address.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

# Counters are forgotten a day after the last failure.
COUNTER_TTL_SECONDS = 24 * 60 * 60


def now() -> float:
    """The clock the throttle reads; tests replace it instead of sleeping."""
    return time.time()


@dataclass(frozen=True)
class Scope:
    key: str
    free_attempts: int


def login_scopes(*, ip: str, email: str) -> list[Scope]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return [
        Scope(f"login-throttle:ip:{ip}", settings.LOGIN_FREE_ATTEMPTS_PER_IP),
        Scope(f"login-throttle:account:{ip}:{account}", settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT),
    ]


def _delay(failures: int, free_attempts: int) -> int:
    if failures < free_attempts:
        return 0
    exponent = min(failures - free_attempts, 32)  # bounds the power before the cap applies
    return min(2**exponent, settings.LOGIN_MAX_DELAY_SECONDS)


def login_retry_after(scopes: list[Scope]) -> int:
    """Seconds until a login may be attempted for these scopes; 0 when allowed now."""
    wait = 0.0
    current = now()
    for scope in scopes:
        state = cache.get(scope.key)
        if state is None:
            continue
        failures, last_failure_at = state
        wait = max(wait, last_failure_at + _delay(failures, scope.free_attempts) - current)
    return math.ceil(wait) if wait > 0 else 0


def login_failure_record(scopes: list[Scope]) -> None:
    """Count one failed login in every scope.

    Read-modify-write, not atomic: two concurrent failures may count once. The delay still
    grows with every sequential attempt, which is what stops guessing.
    """
    current = now()
    for scope in scopes:
        failures, _ = cache.get(scope.key) or (0, 0.0)
        cache.set(scope.key, (failures + 1, current), COUNTER_TTL_SECONDS)


def login_success_record(scopes: list[Scope]) -> None:
    """Clear the per-account scope (the last one) after a correct password."""
    cache.delete(scopes[-1].key)
