"""The throttle of every password check (sign-in, admin sign-in, password change) and of sign-ups.

Each attempt is counted in several scopes before the password is evaluated: the client's
address, the account from any address, and the account from that address. After ``free``
attempts in a scope, the next waits ``2 ** (attempts - free)`` seconds from the last one
(capped at LOGIN_MAX_DELAY_SECONDS); a refused attempt is not counted and evaluates nothing.
A correct password clears the account-from-that-address scope and gives its attempt back to
the others, so the owner's sign-ins neither lock out a shared address nor wipe an attacker's
count on the account. Counters are forgotten a day after their last attempt, and their rows
deleted by ``expired_buckets_purge`` (the ``accounts.throttle_buckets_purge`` beat task).

Counting is atomic: the scopes' rows are locked (``SELECT ... FOR UPDATE``, in key order, so
concurrent attempts cannot deadlock), checked and incremented in one short transaction of its
own, committed before the password is evaluated. Twenty concurrent attempts against an
allowance of three evaluate three passwords. Because that transaction commits on its own,
callers must not be inside a transaction (``durable=True`` enforces it).
"""

import hashlib
import ipaddress
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from backend.accounts.models import ThrottleBucket
from backend.core.metrics import LOGIN_THROTTLE_REFUSALS

# Counters are forgotten a day after the last attempt.
COUNTER_TTL_SECONDS = 24 * 60 * 60
# Forgotten rows deleted per transaction by the purge: short locks, bounded statements.
PURGE_BATCH_SIZE = 1000


def now() -> float:
    """The clock the throttle reads; tests replace it instead of sleeping."""
    return time.time()


class AttemptDelayedError(Exception):
    """Too many recent attempts: nothing was evaluated; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Scope:
    key: str
    free_attempts: int
    cleared_by_success: bool = False


def email_canonical(email: str) -> str:
    """The one comparison form of an email address for throttle keys.

    At least as coarse as the database's case-insensitive match (``UPPER(a) = UPPER(b)``,
    which signs in the long s U+017F for ``s`` and the dotless i U+0131 for ``i``):
    compatibility forms are folded (NFKC: the Kelvin sign, full-width letters), then
    upper-cased (dotless i -> ``I``, long s -> ``S``), then case-folded (sharp s -> ``ss``).
    Merging two addresses the database keeps apart only shares a bucket; the reverse would
    give an attacker fresh buckets.
    """
    folded = unicodedata.normalize("NFKC", email).upper().casefold()
    # Stripped last: NFKC can turn a character into a space and a combining mark.
    return unicodedata.normalize("NFKC", folded).strip()


def address_key(ip: str) -> str:
    """The client's address as a bucket: an IPv6 client is its /64, which one host owns."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _hash(text: str) -> str:
    # Keys name accounts without storing their addresses.
    return hashlib.sha256(text.encode()).hexdigest()


def password_scopes(*, ip: str, account: str) -> tuple[Scope, ...]:
    """The scopes of a password check of ``account`` (an ``email_canonical``) from ``ip``."""
    account_key = _hash(account)
    address = address_key(ip)
    return (
        Scope(f"password:ip:{address}", settings.LOGIN_FREE_ATTEMPTS_PER_IP),
        Scope(f"password:account:{account_key}", settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP),
        Scope(
            f"password:account-ip:{account_key}:{address}",
            settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT,
            cleared_by_success=True,
        ),
    )


def registration_scopes(*, ip: str) -> tuple[Scope, ...]:
    """Every sign-up from an address counts, taken or not: it bounds spam and enumeration."""
    free_attempts = settings.ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP
    return (Scope(f"register:ip:{address_key(ip)}", free_attempts),)


def _delay(attempts: int, free_attempts: int) -> int:
    if attempts < free_attempts:
        return 0
    exponent = min(attempts - free_attempts, 32)  # bounds the power before the cap applies
    return min(2**exponent, settings.LOGIN_MAX_DELAY_SECONDS)


def attempt_begin(scopes: tuple[Scope, ...]) -> None:
    """Count one attempt in every scope, or raise AttemptDelayedError and count none."""
    current = datetime.fromtimestamp(now(), UTC)
    forgotten_before = current - timedelta(seconds=COUNTER_TTL_SECONDS)
    free_attempts = {scope.key: scope.free_attempts for scope in scopes}
    keys = sorted(free_attempts)
    with transaction.atomic(durable=True):
        buckets: list[ThrottleBucket] = []
        # Again if the purge deleted a forgotten bucket between the insert and the lock (it
        # cannot delete the rows inserted here: they are not a day old).
        while len(buckets) < len(keys):
            ThrottleBucket.objects.bulk_create(
                [ThrottleBucket(key=key, attempts=0, last_attempt_at=current) for key in keys],
                ignore_conflicts=True,
            )
            buckets = list(
                ThrottleBucket.objects.select_for_update().filter(key__in=keys).order_by("key")
            )
        wait = 0.0
        for bucket in buckets:
            if bucket.last_attempt_at < forgotten_before:
                bucket.attempts = 0
            ready_at = bucket.last_attempt_at + timedelta(
                seconds=_delay(bucket.attempts, free_attempts[bucket.key])
            )
            wait = max(wait, (ready_at - current).total_seconds())
        if wait > 0:
            raise AttemptDelayedError(math.ceil(wait))
        for bucket in buckets:
            bucket.attempts += 1
            bucket.last_attempt_at = current
        ThrottleBucket.objects.bulk_update(buckets, ["attempts", "last_attempt_at"])


def attempt_succeeded(scopes: tuple[Scope, ...]) -> None:
    """A correct password: clear the scopes that says so, give the attempt back to the rest."""
    with transaction.atomic(durable=True):
        ThrottleBucket.objects.filter(
            key__in=[scope.key for scope in scopes if scope.cleared_by_success]
        ).delete()
        ThrottleBucket.objects.filter(
            key__in=[scope.key for scope in scopes if not scope.cleared_by_success]
        ).update(attempts=Greatest(F("attempts") - 1, Value(0)))


def expired_buckets_purge(*, batch_size: int | None = None) -> int:
    """Delete the buckets forgotten by now (no attempt for ``COUNTER_TTL_SECONDS``: an attempt
    would count them from zero anyway); returns how many.

    Batches of ``PURGE_BATCH_SIZE``, each its own short transaction that skips
    the rows an attempt holds locked (``SKIP LOCKED``), so no sign-in waits on the purge and
    two runs at once delete disjoint rows.
    """
    size = batch_size or PURGE_BATCH_SIZE
    forgotten_before = datetime.fromtimestamp(now(), UTC) - timedelta(seconds=COUNTER_TTL_SECONDS)
    purged = 0
    while True:
        with transaction.atomic():
            keys = list(
                ThrottleBucket.objects.select_for_update(skip_locked=True)
                .filter(last_attempt_at__lt=forgotten_before)
                .order_by("last_attempt_at")
                .values_list("key", flat=True)[:size]
            )
            ThrottleBucket.objects.filter(key__in=keys).delete()
        purged += len(keys)
        if len(keys) < size:
            return purged


def password_checked(*, ip: str, account: str, check: Callable[[], bool]) -> bool:
    """Run ``check`` (a password comparison for ``account``) if the throttle allows it.

    Raises AttemptDelayedError, without calling ``check``, when ``ip`` or ``account`` has had too
    many recent attempts.
    """
    scopes = password_scopes(ip=ip, account=account)
    try:
        attempt_begin(scopes)
    except AttemptDelayedError:
        LOGIN_THROTTLE_REFUSALS.inc()
        raise
    if check():
        attempt_succeeded(scopes)
        return True
    return False
