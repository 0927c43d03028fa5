"""Liveness and readiness probes for orchestrators and load balancers.

The platform checks what it owns (the database, the broker); a layer above adds its own
dependencies with ``readiness_check_register`` (the API registers the channel layer).
"""

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from backend.core.replicas import ReplicaHealth, replica_aliases, replica_monitor

# Seconds a readiness probe waits for the broker; orchestrators time probes out at a few.
BROKER_CONNECT_TIMEOUT = 2
# Seconds a process's first readiness probe waits for its replicas' first states.
REPLICA_PROBE_TIMEOUT = 2

# Name -> (whether the dependency is configured, check answering True when it is reachable);
# each check must bound its own wait.
_readiness_checks: dict[str, tuple[Callable[[], bool], Callable[[], bool]]] = {}


def readiness_check_register(
    name: str, check: Callable[[], bool], *, configured: Callable[[], bool]
) -> None:
    """Add a dependency to ``/readyz``: probed by ``check`` whenever ``configured()`` is true."""
    _readiness_checks[name] = (configured, check)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; checks no dependency."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency the service needs answers: 200 when all do, 503 naming the failed ones.

    Read replicas are reported (``replicas``: ``ok``, ``lagging``, ``down`` or
    ``not_a_replica``, as this process last saw them) but never make the process unready:
    reads fall back to the primary.
    """
    checks = {"database": _database_ready()}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _broker_ready()
    for name, (configured, check) in _readiness_checks.items():
        if configured():
            checks[name] = _check_ready(check)
    ready = all(checks.values())
    body: dict[str, object] = {
        "status": "ok" if ready else "unavailable",
        "checks": {k: "ok" if v else "failed" for k, v in checks.items()},
    }
    if replica_aliases():
        states = replica_monitor.states_after_first_round(REPLICA_PROBE_TIMEOUT)
        body["replicas"] = {
            alias: states[alias].health if alias in states else ReplicaHealth.DOWN
            for alias in replica_aliases()
        }
    return JsonResponse(body, status=200 if ready else 503)


def _database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any failure means not ready; the probe must answer, not raise
        return False


def _broker_ready() -> bool:
    """One connection attempt to the Celery broker, bounded so a dead broker cannot hang us."""
    from backend.celery import app

    try:
        url = settings.CELERY_BROKER_URL
        with app.connection_for_write(url, connect_timeout=BROKER_CONNECT_TIMEOUT) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_CONNECT_TIMEOUT)
        return True
    except Exception:  # any failure means not ready; the probe must answer, not raise
        return False


def _check_ready(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception:  # any failure means not ready; the probe must answer, not raise
        return False
