"""How far behind each read replica is, as this process last saw it, and which may serve a read.

A monitor thread per process (started on first use, so after a pre-forking server's fork)
asks every replica alias (``replica_1``, ``replica_2``... from ``DATABASE_REPLICA_URLS``) once
per ``CHECK_INTERVAL_SECONDS``, over a connection of its own, how much WAL it has replayed and
how far behind it is. Routing reads these states and never waits for a replica: a request
costs no statement for it (docs/decisions/0025-read-replicas.md).

A replica is ``ok`` when it answers and lags at most ``DATABASE_REPLICA_MAX_LAG_SECONDS``,
``lagging`` beyond that, ``down`` when it does not answer (or a request just failed on it),
and ``not_a_replica`` when its server is not in recovery: the primary itself (a test run
mirrors every alias to the test database) or a promoted standby. Only ``ok`` replicas serve.
"""

import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import psycopg
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

REPLICA_ALIAS_PREFIX = "replica_"
CHECK_INTERVAL_SECONDS = 1.0

# One statement: in recovery, WAL replayed (bytes), and seconds behind. A replica that has
# replayed all it received is not behind, however long ago its last transaction was; one that
# has not is as far behind as the commit time of the last transaction it replayed.
_PROBE = (
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() - '0/0'::pg_lsn, "
    "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)


class ReplicaHealth(StrEnum):
    OK = "ok"
    LAGGING = "lagging"
    DOWN = "down"
    NOT_A_REPLICA = "not_a_replica"


@dataclass(frozen=True, slots=True)
class ReplicaState:
    health: ReplicaHealth
    replayed_lsn: int = 0  # bytes of WAL replayed: comparable with the primary's positions
    lag_seconds: float | None = None


def replica_aliases() -> tuple[str, ...]:
    return tuple(alias for alias in settings.DATABASES if alias.startswith(REPLICA_ALIAS_PREFIX))


def replica_state_from(in_recovery: bool, replayed: object, lag: object) -> ReplicaState:
    """A probe's answer as a state, against ``DATABASE_REPLICA_MAX_LAG_SECONDS``."""
    if not in_recovery:
        return ReplicaState(ReplicaHealth.NOT_A_REPLICA)
    lag_seconds = None if lag is None else float(lag)  # type: ignore[arg-type]
    # No lag known: behind, with nothing replayed since the server started.
    lagging = lag_seconds is None or lag_seconds > settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    health = ReplicaHealth.LAGGING if lagging else ReplicaHealth.OK
    return ReplicaState(health, int(replayed or 0), lag_seconds)  # type: ignore[call-overload]


class ReplicaMonitor:
    """The states of this process's replicas, refreshed by a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._states: dict[str, ReplicaState] = {}
        self._first_round = threading.Event()

    def states(self) -> dict[str, ReplicaState]:
        """The latest states (none for a replica not probed yet); starts the monitor."""
        if self._pid != os.getpid():
            self._start()
        return self._states

    def states_after_first_round(self, timeout: float) -> dict[str, ReplicaState]:
        """The states once every replica has been probed (readiness), or after ``timeout``."""
        self.states()
        self._first_round.wait(timeout)
        return self._states

    def mark_down(self, alias: str) -> None:
        """A request failed on ``alias``: no read goes there until a probe says otherwise."""
        self._states = {**self._states, alias: ReplicaState(ReplicaHealth.DOWN)}

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._states, self._first_round = {}, threading.Event()
            threading.Thread(target=self._run, name="nexus-replica-monitor", daemon=True).start()
            self._pid = os.getpid()

    def _run(self) -> None:
        probes: dict[str, psycopg.Connection | None] = dict.fromkeys(replica_aliases())
        while probes:
            started = time.monotonic()
            for alias in list(probes):
                state, probes[alias] = _probe(alias, probes[alias])
                previous = self._states.get(alias)
                self._states = {**self._states, alias: state}
                if state.health is ReplicaHealth.DOWN and (
                    previous is None or previous.health is not ReplicaHealth.DOWN
                ):
                    logger.warning("replica %s is down: reads go to the primary", alias)
                    _pool_drain(alias)
                elif state.health is ReplicaHealth.NOT_A_REPLICA:
                    logger.warning("%s is not in recovery: no read goes there", alias)
                    probe = probes.pop(alias)
                    if probe is not None:
                        probe.close()
            self._first_round.set()
            time.sleep(max(0.0, CHECK_INTERVAL_SECONDS - (time.monotonic() - started)))


def _probe(
    alias: str, probe: psycopg.Connection | None
) -> tuple[ReplicaState, psycopg.Connection | None]:
    """``alias``'s state, over ``probe`` (connected first when None); the connection to keep."""
    try:
        if probe is None:
            params = connections[alias].get_connection_params()
            params.pop("cursor_factory", None)  # Django's cursors expect Django around them
            # Never prepared: the replica may sit behind a pooler in transaction mode.
            params["prepare_threshold"] = None
            probe = psycopg.connect(**params, autocommit=True)
        in_recovery, replayed, lag = probe.execute(_PROBE).fetchone()  # type: ignore[misc]
        return replica_state_from(in_recovery, replayed, lag), probe
    except Exception as error:  # any failure means down; the monitor must keep running
        logger.info("probe of replica %s failed: %s", alias, error)
        if probe is not None:
            probe.close()
        return ReplicaState(ReplicaHealth.DOWN), None


def _pool_drain(alias: str) -> None:
    """Close the pooled connections of ``alias`` opened before it went down: they are dead,
    and a request would find out by failing on one."""
    pool = connections[alias].pool
    if pool is not None:
        pool.drain()


replica_monitor = ReplicaMonitor()


def replica_for_read(min_replayed_lsn: int) -> str | None:
    """An ``ok`` replica that has replayed WAL up to ``min_replayed_lsn``, or None."""
    candidates = [
        alias
        for alias, state in replica_monitor.states().items()
        if state.health is ReplicaHealth.OK and state.replayed_lsn >= min_replayed_lsn
    ]
    return random.choice(candidates) if candidates else None  # spreads the load


def replicas_serving() -> bool:
    """Whether any replica is ``ok`` (before asking the cache what a viewer wrote)."""
    return any(state.health is ReplicaHealth.OK for state in replica_monitor.states().values())
