"""One beat publishes, however many run (backend/core/beat.py): real ``celery -A backend beat``
processes on the real broker and Redis, with a schedule that fires twice a second
(tests/platform/short_schedule_settings.py) on a queue of the test's own.

Which beat sent what is read from each beat's own log (celery.beat logs every send before it
publishes it) and checked against the messages that reached the queue.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import kombu
import pytest
import redis

from backend.core.beat import ScheduleLease, SingleBeatScheduler
from tests.conftest import broker_queue, database_url, service_url
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.services

# celery beat --max-interval: how often the holder renews and a waiting beat looks; the lease
# lasts SingleBeatScheduler.LEASE_INTERVALS of them.
MAX_INTERVAL_SECONDS = 1
LEASE_SECONDS = SingleBeatScheduler.LEASE_INTERVALS * MAX_INTERVAL_SECONDS
# A killed holder's lease runs out, then the waiting beat's next look finds it free; the rest
# is room for a loaded machine.
TAKEOVER_BOUND_SECONDS = LEASE_SECONDS + MAX_INTERVAL_SECONDS + 5
# Django's start-up (system checks included) before beat's first tick, on a busy CI machine.
START_TIMEOUT_SECONDS = 90

SENDING = "Scheduler: Sending due task beat-lease-probe"
TOOK = "beat: took the schedule lease"
WAITING = "waiting to take over"
LOST = "beat: lost the schedule lease"


@dataclass
class Beat:
    process: subprocess.Popen[bytes]
    log: Path

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (beat's start-up banner is plain text)."""
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def times(self, message: str) -> list[float]:
        """When each record containing ``message`` was logged, as Unix timestamps."""
        return [
            datetime.fromisoformat(record["timestamp"]).timestamp()
            for record in self.records()
            if message in record["message"]
        ]

    def until(self, message: str, *, count: int = 1, seconds: float) -> float:
        """When the ``count``-th record with ``message`` was logged; a failure past ``seconds``."""
        deadline = time.monotonic() + seconds
        while len(found := self.times(message)) < count:
            if self.process.poll() is not None:
                pytest.fail(f"beat exited with {self.process.returncode}:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                log = self.log.read_text()
                pytest.fail(f"not {count} times {message!r} within {seconds}s:\n{log}")
            time.sleep(0.1)
        return found[count - 1]

    def holder(self) -> str:
        """The name this beat took the lease under."""
        took = next(record for record in self.records() if TOOK in record["message"])
        return took["message"].split(" as ")[1].split(";")[0]


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own, deleted afterwards; the lease is named after it."""
    with broker_queue("beat-lease") as name:
        yield name


@pytest.fixture
def lease_store(queue: str) -> Iterator[redis.Redis]:
    """The Redis the beats keep their lease in, cleared of this test's lease afterwards."""
    client = redis.Redis.from_url(service_url("REDIS_URL"), decode_responses=True)
    yield client
    client.delete(lease_key(queue))


def lease_key(queue: str) -> str:
    return f"nexus:celery-beat:{queue}"


def queued_messages(queue: str) -> int:
    with kombu.Connection(service_url("CELERY_BROKER_URL")) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


@pytest.fixture
def start_beat(
    queue: str, lease_store: redis.Redis, tmp_path: Path
) -> Iterator[Callable[[], Beat]]:
    """Starts ``celery -A backend beat`` processes as a deployment would, each with its own
    schedule file; kills whatever is still running at the end."""
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.platform.short_schedule_settings",
        # Celery's Django fix-up runs the system checks at start; they need a server, no tables.
        "DATABASE_URL": database_url("postgres"),
        "CELERY_BROKER_URL": service_url("CELERY_BROKER_URL"),
        "REDIS_URL": service_url("REDIS_URL"),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    started: list[Beat] = []

    def start() -> Beat:
        log = tmp_path / f"beat-{len(started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    *(str(Path(sys.executable).parent / "celery"), "-A", "backend", "beat"),
                    *("--max-interval", str(MAX_INTERVAL_SECONDS)),
                    *("--schedule", str(tmp_path / f"schedule-{len(started)}")),
                ],
                cwd=REPO_ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(Beat(process, log))
        return started[-1]

    yield start
    for beat in started:
        if beat.process.poll() is None:
            beat.process.kill()
            beat.process.wait(timeout=30)


def holder_and_waiter(first: Beat, second: Beat) -> tuple[Beat, Beat]:
    """Of two beats started together, the one that took the lease and the one that waits."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for holder, waiter in ((first, second), (second, first)):
            if holder.times(TOOK) and waiter.times(WAITING):
                return holder, waiter
        time.sleep(0.2)
    pytest.fail(f"no holder and waiter:\n{first.log.read_text()}\n{second.log.read_text()}")


def test_one_of_two_beats_publishes_and_the_other_takes_over_once_the_first_is_killed(
    start_beat: Callable[[], Beat], queue: str, lease_store: redis.Redis
) -> None:
    holder, waiter = holder_and_waiter(start_beat(), start_beat())
    # The waiter names who holds the lease: the pod to look at.
    waiting = next(r["message"] for r in waiter.records() if WAITING in r["message"])
    assert f"held by {holder.holder()};" in waiting
    # Six sends after the waiter started waiting, none of them the waiter's.
    holder.until(SENDING, count=len(holder.times(SENDING)) + 6, seconds=30)
    assert waiter.times(SENDING) == []

    holder.process.send_signal(signal.SIGKILL)
    holder.process.wait(timeout=30)
    killed_at = time.time()

    took_over_at = waiter.until(TOOK, seconds=TAKEOVER_BOUND_SECONDS)
    assert took_over_at - killed_at <= TAKEOVER_BOUND_SECONDS
    waiter.until(SENDING, count=3, seconds=30)
    waiter.process.terminate()
    waiter.process.wait(timeout=30)

    # Every send of the survivor came after the kill: never two publishers at once.
    assert min(waiter.times(SENDING)) > killed_at
    # The logs account for every message: beat logs a send just before publishing it, so the
    # killed holder may have logged one that never left.
    logged = len(holder.times(SENDING)) + len(waiter.times(SENDING))
    assert logged - 1 <= queued_messages(queue) <= logged


def test_a_beat_stopped_cleanly_releases_its_lease_to_the_waiting_beat(
    start_beat: Callable[[], Beat], queue: str, lease_store: redis.Redis
) -> None:
    """The orchestrator's SIGTERM (a rollout, a drain): the waiting beat need not wait for the
    lease to run out."""
    holder, waiter = holder_and_waiter(start_beat(), start_beat())
    name = holder.holder()
    assert lease_store.get(lease_key(queue)) == name

    holder.process.terminate()
    assert holder.process.wait(timeout=30) == 0
    # Released on the way out (or already taken by the waiter): not left to run out.
    assert lease_store.get(lease_key(queue)) != name
    waiter.until(TOOK, seconds=TAKEOVER_BOUND_SECONDS)
    waiter.until(SENDING, seconds=30)


def test_a_holder_whose_lease_passed_to_another_publishes_nothing_until_it_gets_it_back(
    start_beat: Callable[[], Beat], queue: str, lease_store: redis.Redis
) -> None:
    """A holder frozen past its lease (a paused VM) wakes up to find another beat holding it."""
    beat = start_beat()
    beat.until(SENDING, seconds=START_TIMEOUT_SECONDS)
    lease_store.set(lease_key(queue), "another-beat", px=60_000)
    lost_at = beat.until(LOST, seconds=TAKEOVER_BOUND_SECONDS)
    assert "to another-beat;" in next(r["message"] for r in beat.records() if LOST in r["message"])
    # A few of the beat's looks at the lease while the other holds it.
    time.sleep(3 * MAX_INTERVAL_SECONDS)
    lease_store.delete(lease_key(queue))

    back_at = beat.until(TOOK, count=2, seconds=TAKEOVER_BOUND_SECONDS)
    beat.until(SENDING, count=len(beat.times(SENDING)) + 1, seconds=30)
    assert [sent for sent in beat.times(SENDING) if lost_at < sent < back_at] == []


def test_a_lease_passes_to_another_claimant_only_once_it_runs_out() -> None:
    key = f"nexus:celery-beat:lease-test-{uuid4().hex}"
    url = service_url("REDIS_URL")
    first = ScheduleLease(url, key, seconds=0.5)
    second = ScheduleLease(url, key, seconds=0.5)
    try:
        assert first.claim() == first.holder
        assert second.claim() == first.holder
        assert first.claim() == first.holder  # a renewal
        time.sleep(0.7)
        assert second.claim() == second.holder
        first.release()  # no longer first's to release
        assert first.claim() == second.holder
        second.release()
        assert first.claim() == first.holder
    finally:
        first.release()
