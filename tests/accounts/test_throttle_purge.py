"""The login throttle's forgotten rows (no attempt for a day) are deleted by a beat task, in
bounded batches, and only those: a bucket still in its window keeps its count, and a bucket an
attempt holds locked is left for the next run instead of making anyone wait."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.accounts import tasks, throttling
from backend.accounts.models import ThrottleBucket
from tests.accounts.conftest import FakeClock
from tests.beat import assert_beat_runs

TTL = throttling.COUNTER_TTL_SECONDS


def buckets_create(clock: FakeClock, ages: list[float]) -> dict[str, float]:
    """One bucket per age (seconds since its last attempt); their keys and ages."""
    current = datetime.fromtimestamp(clock.now, UTC)
    by_key = {f"password:ip:test-{index}": age for index, age in enumerate(ages)}
    ThrottleBucket.objects.bulk_create(
        ThrottleBucket(key=key, attempts=7, last_attempt_at=current - timedelta(seconds=age))
        for key, age in by_key.items()
    )
    return by_key


ages = st.lists(
    st.one_of(
        st.floats(0, 2 * TTL, allow_nan=False),
        st.sampled_from([TTL - 1, TTL - 0.001, TTL, TTL + 0.001, TTL + 1, 30 * TTL]),
    ),
    max_size=25,
)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ages=ages, batch_size=st.integers(1, 8))
def test_the_purge_deletes_exactly_the_forgotten_buckets_in_bounded_batches(
    clock: FakeClock, ages: list[float], batch_size: int
) -> None:
    ThrottleBucket.objects.all().delete()
    by_key = buckets_create(clock, ages)
    forgotten = {key for key, age in by_key.items() if age > TTL}

    with CaptureQueriesContext(connection) as queries:
        purged = throttling.expired_buckets_purge(batch_size=batch_size)

    assert purged == len(forgotten)
    remaining = dict(ThrottleBucket.objects.values_list("key", "attempts"))
    assert set(remaining) == set(by_key) - forgotten
    assert set(remaining.values()) <= {7}  # the buckets in their window keep their count
    selects = [q["sql"] for q in queries.captured_queries if "FOR UPDATE SKIP LOCKED" in q["sql"]]
    assert all(f"LIMIT {batch_size}" in sql for sql in selects)
    assert len(selects) == len(forgotten) // batch_size + 1  # stops at the first short batch


@pytest.mark.django_db
def test_an_attempt_after_the_purge_counts_from_zero(clock: FakeClock) -> None:
    scopes = throttling.registration_scopes(ip="198.51.100.9")
    for _ in range(django_settings.ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP):
        throttling.attempt_begin(scopes)
    with pytest.raises(throttling.AttemptDelayedError):
        throttling.attempt_begin(scopes)

    clock.advance(TTL + 1)
    assert throttling.expired_buckets_purge() == 1
    assert not ThrottleBucket.objects.exists()
    throttling.attempt_begin(scopes)
    assert ThrottleBucket.objects.get().attempts == 1


@pytest.mark.django_db
def test_the_beat_task_purges(clock: FakeClock) -> None:
    buckets_create(clock, [TTL + 60, TTL + 3600, 60])
    assert tasks.throttle_buckets_purge.apply().get() == 2
    assert ThrottleBucket.objects.count() == 1


def test_beat_runs_the_purge_task() -> None:
    assert_beat_runs("accounts.throttle_buckets_purge")


@pytest.mark.django_db(transaction=True)
def test_a_bucket_an_attempt_holds_is_skipped_not_waited_for(clock: FakeClock) -> None:
    by_key = buckets_create(clock, [TTL + 10, TTL + 20])
    held_key = next(iter(by_key))
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                ThrottleBucket.objects.select_for_update().get(key=held_key)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        assert throttling.expired_buckets_purge() == 1  # returns at once, without the held row
        assert list(ThrottleBucket.objects.values_list("key", flat=True)) == [held_key]
    finally:
        release.set()
        holder.join()
    assert throttling.expired_buckets_purge() == 1
    assert not ThrottleBucket.objects.exists()
