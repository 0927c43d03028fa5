"""A database that cannot be reached: a 503 within a bounded time, and recovery without a restart.

``database_unavailable`` tells such a failure (no connection, a connection lost, a pooler that
has no server for us, a server shutting down) from a statement that failed. The backend
(``backend.core.postgres.base``) reports each one as it happens, ``database_fault_report``:
the alias's pooled connections are drained, since those opened before the fault are dead or
soon will be, so the pool reconnects instead of handing them out; a replica is marked down.

``DatabaseMiddleware`` answers the request with a 503 (``SERVICE_UNAVAILABLE``, with
``Retry-After``) in the shape its API uses: the API layer registers its renderers by path
prefix (``unavailable_response_register``); any other path gets problem details. A read that
failed on a replica, in a request that had written nothing, runs once more, on the primary.
With replicas configured, the middleware also binds the request's read routing and, after a
request that wrote, records the writer's position (``backend.core.routing``).

How long a request may wait: ``DATABASE_POOL_TIMEOUT_SECONDS`` for a pooled connection,
``DATABASE_CONNECT_TIMEOUT_SECONDS`` to open one; behind PgBouncer, also its
``query_wait_timeout`` (docs/decisions/0025-read-replicas.md).
"""

import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

import psycopg
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.signals import got_request_exception
from django.db import DEFAULT_DB_ALIAS
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from psycopg_pool import PoolTimeout

from backend.core.replicas import replica_aliases, replica_monitor
from backend.core.routing import ReadRouting, read_routing_bound, writes_record

logger = logging.getLogger(__name__)

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
SERVICE_UNAVAILABLE_MESSAGE = "The service cannot reach its database right now; retry shortly."
RETRY_AFTER_SECONDS = 5
PROBLEM_CONTENT_TYPE = "application/problem+json"

# Server going away or not accepting connections yet: admin_shutdown, crash_shutdown,
# cannot_connect_now. Class 08 (connection exception) covers the rest, PgBouncer's refusals
# (08P01: query_wait_timeout, server_login_retry) among them.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def _psycopg_cause(error: BaseException | None) -> psycopg.Error | None:
    """The psycopg error behind ``error`` (Django raises its own, from psycopg's)."""
    while error is not None and not isinstance(error, psycopg.Error):
        error = error.__cause__
    return error


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` means the database could not be reached, rather than that a statement
    failed: a client-side connection failure or a full pool (psycopg has no SQLSTATE for
    them), a connection exception, or a server shutting down or starting."""
    cause = _psycopg_cause(error)
    if cause is None:
        return False
    sqlstate = cause.sqlstate
    if sqlstate is None:
        return isinstance(cause, psycopg.OperationalError)
    return sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES


# The connection a wrapper last reported a fault of.
_REPORTED_ATTRIBUTE = "_nexus_fault_reported_for"


def database_fault_report(connection: BaseDatabaseWrapper, error: Exception) -> None:
    """The backend saw ``error`` (``database_unavailable``) on ``connection``: drain its pool
    and, for a replica, send reads elsewhere. The error carries its alias
    (``database_alias``) to the middleware."""
    error.database_alias = connection.alias  # type: ignore[attr-defined]
    broken = connection.connection
    if broken is not None and getattr(connection, _REPORTED_ATTRIBUTE, None) is broken:
        return  # Django's clean-up on a connection already reported (rollback, close)
    setattr(connection, _REPORTED_ATTRIBUTE, broken)
    cause = _psycopg_cause(error)
    logger.warning("database %s unavailable: %s", connection.alias, cause)
    pool = getattr(connection, "pool", None)
    # A pool that is merely busy keeps its connections: draining them would add reconnections
    # to a server that is already saturated.
    if pool is not None and not isinstance(cause, PoolTimeout):
        pool.drain()
    if connection.alias != DEFAULT_DB_ALIAS:
        replica_monitor.mark_down(connection.alias)


# --- The response -------------------------------------------------------------------------------

_renderers: list[tuple[str, Callable[[HttpRequest], HttpResponseBase]]] = []


def unavailable_response_register(
    path_prefix: str, render: Callable[[HttpRequest], HttpResponseBase]
) -> None:
    """Requests under ``path_prefix`` get ``render``'s 503 (an API's own error shape)."""
    _renderers.append((path_prefix, render))


def unavailable_response(request: HttpRequest) -> HttpResponseBase:
    """The 503 for ``request``, with ``Retry-After``."""
    render = next(
        (render for prefix, render in _renderers if request.path_info.startswith(prefix)),
        _problem_response,
    )
    response = render(request)
    response.status_code = 503
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _problem_response(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse(
        {
            "title": "Service Unavailable",
            "status": 503,
            "detail": SERVICE_UNAVAILABLE_MESSAGE,
            "code": SERVICE_UNAVAILABLE,
        },
        status=503,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class OutageRecordFilter(logging.Filter):
    """Drops ``django.request``'s "Internal Server Error" record of a database fault: the
    request is answered 503, and ``database_fault_report`` has logged the fault as a warning
    (LOGGING puts this filter on that logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not database_unavailable(error)


# --- The middleware -----------------------------------------------------------------------------

# The fault a request met: set where Django turns an exception into a response (a view's, by
# ``process_exception``; a middleware's, by ``got_request_exception``), read on the way out.
_FAULT_ATTRIBUTE = "database_fault"


def _request_failed(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """``got_request_exception``: a middleware's exception (the bearer token's user lookup)
    never reaches ``process_exception``."""
    error = sys.exception()
    if request is not None and database_unavailable(error):
        setattr(request, _FAULT_ATTRIBUTE, error)


def request_failures_watch() -> None:
    """Connect ``_request_failed`` (once, from the platform app's ready)."""
    got_request_exception.connect(_request_failed, dispatch_uid="databases.request_failed")


class DatabaseMiddleware:
    """503 for a database fault; with replicas, read routing for the request (module doc)."""

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]
    ) -> None:
        self.get_response = get_response
        self.routes_reads = bool(replica_aliases())
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        with read_routing_bound(request) if self.routes_reads else nullcontext() as routing:
            response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
            if _retry_on_primary(request, routing):
                response = self.get_response(request)  # type: ignore[assignment]
            if hasattr(request, _FAULT_ATTRIBUTE):
                return unavailable_response(request)
            if routing is not None and routing.wrote:
                writes_record(routing)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        with read_routing_bound(request) if self.routes_reads else nullcontext() as routing:
            response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
            if _retry_on_primary(request, routing):
                response = await self.get_response(request)  # type: ignore[misc]
            if hasattr(request, _FAULT_ATTRIBUTE):
                return unavailable_response(request)
            if routing is not None and routing.wrote:
                await sync_to_async(writes_record)(routing)
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """A view's fault: answered here, so Django neither logs it as a server error nor
        renders its 500 page (``backend.core.databases`` logged it as a warning)."""
        if not database_unavailable(exception):
            return None
        setattr(request, _FAULT_ATTRIBUTE, exception)
        return unavailable_response(request)


def _retry_on_primary(request: HttpRequest, routing: ReadRouting | None) -> bool:
    """Whether the request failed on a replica before writing anything: then its reads can
    run again elsewhere (the replica is marked down), once."""
    fault = getattr(request, _FAULT_ATTRIBUTE, None)
    if (
        fault is None
        or routing is None
        or routing.wrote
        or getattr(fault, "database_alias", DEFAULT_DB_ALIAS) == DEFAULT_DB_ALIAS
    ):
        return False
    delattr(request, _FAULT_ATTRIBUTE)
    routing.alias = None
    return True
