"""Celery beat that publishes the schedule from one process only, however many are running.

A deployment runs one beat, but "one" is not something an orchestrator guarantees: a rolling
update that starts the new pod first, a node cut off from the cluster whose pod is replaced
while it still runs, an operator who scales by mistake. Two beats publish every periodic task
twice. So each beat holds a lease in Redis before it publishes anything, and a beat without
the lease publishes nothing: it waits, checking every ``max_interval``, and takes the lease
over once its holder has released it (a clean stop) or let it run out (a crash, ``kill -9``, a
lost network).

Why a lease in Redis rather than a PostgreSQL session-level advisory lock: the advisory lock
belongs to one server connection, and deployments reach PostgreSQL through PgBouncer in
transaction mode (deploy/kubernetes), which hands that connection to other clients between
statements: the lock would outlive its beat or be shared with another. A dead holder's
connection may also linger on the server until TCP keep-alive gives up, minutes to hours,
while a lease ends on its own after ``lease_seconds``. Redis is already required wherever
several processes run (the channel layer). The cost is time-based safety: a holder stalled
for longer than the lease (a frozen VM) may publish once more on waking, as it renews before
publishing and a publish already under way completes.

Timing: a holder renews its lease before every publish and at least every ``max_interval``
(the longest beat sleeps between two looks at its schedule); the lease lasts
``LEASE_INTERVALS`` of them, so two missed renewals in a row do not lose it. With the default
10 s, a waiting beat takes over within 40 s of its holder's crash and within 10 s of its clean
stop. ``celery beat --max-interval`` scales all of it.

Without REDIS_URL (the single-process development default) there is no lease: one beat runs.
"""

import logging
import os
import socket
import uuid
from typing import Any

import redis
from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

# Seconds a call to Redis may take before this beat counts the lease as not held.
REDIS_TIMEOUT_SECONDS = 2.0

# Take the lease when nobody holds it, extend it when this beat does: one step in Redis, so
# two beats can never both find it free. Answers the holder after the call.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return holder
"""
# Delete the lease only if this beat still holds it: an expired lease may be another's now.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ScheduleLease:
    """A lease named ``key`` in the Redis at ``url``, held by this process for ``seconds``."""

    def __init__(self, url: str, key: str, *, seconds: float) -> None:
        self.key = key
        self.milliseconds = round(seconds * 1000)
        # Host name first: in Kubernetes it is the pod's name, which the waiting beat logs.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    def claim(self) -> str:
        """Take or extend the lease; the holder afterwards (``self.holder`` when it is ours)."""
        return self._claim(keys=[self.key], args=[self.holder, self.milliseconds])

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.holder])


class SingleBeatScheduler(PersistentScheduler):
    """Celery's default scheduler (schedule state in a shelve file), publishing only while
    it holds the schedule lease (settings.CELERY_BEAT_SCHEDULER)."""

    # Beat's longest sleep between two looks at its schedule (Celery's default is 5 minutes):
    # the lease is renewed at least this often, and a waiting beat checks for it as often.
    max_interval = 10
    LEASE_INTERVALS = 3

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease = (
            ScheduleLease(
                settings.REDIS_URL,
                # One schedule per queue: stacks that share a broker through separate queues
                # (CELERY_TASK_DEFAULT_QUEUE) each keep their own beat.
                f"nexus:celery-beat:{self.app.conf.task_default_queue}",
                seconds=self.LEASE_INTERVALS * self.max_interval,
            )
            if settings.REDIS_URL
            else None
        )
        # What the last claim found (this beat's name, another's, or an error), so each change
        # is logged once rather than every tick.
        self._last_holder: str | None = None

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.lease is not None and not self._lease_held(self.lease):
            return self.max_interval
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            # A clean stop hands over at once instead of after the lease runs out.
            if self.lease is not None and self._last_holder == self.lease.holder:
                try:
                    self.lease.release()
                except redis.RedisError:
                    logger.warning("beat: could not release the schedule lease", exc_info=True)

    def _lease_held(self, lease: ScheduleLease) -> bool:
        try:
            holder = lease.claim()
        except redis.RedisError as error:
            # Unknown whether another beat holds it: publishing nothing is the safe answer.
            holder = f"unknown (Redis did not answer: {error})"
        if holder != self._last_holder:
            self._log_change(lease, holder)
            self._last_holder = holder
        return holder == lease.holder

    def _log_change(self, lease: ScheduleLease, holder: str) -> None:
        if holder == lease.holder:
            logger.info(
                "beat: took the schedule lease %s as %s; publishing the schedule", lease.key, holder
            )
        elif self._last_holder == lease.holder:
            logger.warning(
                "beat: lost the schedule lease %s to %s; stopped publishing", lease.key, holder
            )
        else:
            logger.info(
                "beat: the schedule lease %s is held by %s; waiting to take over", lease.key, holder
            )
