"""Prometheus metrics of every Nexus process: their definitions, the HTTP and database hooks,
the Celery signal receivers and the ``/metrics`` exposition (docs/operating/metrics.md).

One process (``make run``): the metrics live in prometheus-client's default registry.
Several (granian's WSGI workers, Celery's prefork children, Daphne): with
``PROMETHEUS_MULTIPROC_DIR`` set to a directory private to the container (a tmpfs), each process
writes its values to files there and whichever process answers a scrape reads them all
(``MultiProcessCollector``), so one scrape reports the whole container. The variable must be
set before the first import of prometheus-client: it is read once, at import.

Exposure is never public by default: ``/metrics`` answers 404 unless ``METRICS_BEARER_TOKEN``
is set, and then only to requests that carry it; a Celery worker (no HTTP server) serves its
container's metrics on ``WORKER_METRICS_PORT`` when that is set, for a network only Prometheus
reaches.

Every label is bounded: a route is the URL pattern, never the path; methods outside HTTP's
usual set are ``other``; a task is a registered task's name. Hot paths keep the labelled
children they use in dictionaries, so a request allocates nothing per metric.
"""

import contextlib
import functools
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from celery import signals as celery_signals
from django.conf import settings
from django.core.signals import request_finished
from django.db import connections
from django.db.backends.signals import connection_created
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import resolve
from django.utils.decorators import sync_and_async_middleware
from kombu import Connection as BrokerConnection
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROCESS_DIRECTORY = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# Seconds a scrape waits for RabbitMQ before it reports no queue depth.
BROKER_TIMEOUT_SECONDS = 1.0
# A process refreshes its pool gauges at most this often (at the end of a request).
POOL_REFRESH_SECONDS = 1.0
# Methods reported as themselves; anything else a client sends is ``other``.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A request no URL pattern matched (a 404 before any view).
UNMATCHED_ROUTE = "unmatched"


class LabelledChildren:
    """A metric's children by label values, each looked up in the metric once: a hot path
    pays one dict lookup instead of ``labels()``'s string conversions and lock."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[object, ...], Any] = {}

    def __call__(self, *values: object) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


# --- Definitions (names are a contract with deploy/prometheus and deploy/grafana) ---------------

# No ``*_created`` series: multi-process mode has none, so one process reports what many do.
disable_created_metrics()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "nexus_http_requests_total",
    "HTTP requests answered, by method, URL pattern and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "nexus_http_request_duration_seconds",
    "Seconds from a request entering Django's middleware to its response leaving it.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATION_DURATION = Histogram(
    "nexus_graphql_operation_duration_seconds",
    "Seconds a GraphQL query or mutation took, parse to result, by operation name and type.",
    ["operation_name", "operation_type"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "nexus_graphql_errors_total",
    "Errors in GraphQL results, by extensions.code and operation type.",
    ["code", "operation_type"],
)
GRAPHQL_QUERY_COST = Histogram(
    "nexus_graphql_query_cost",
    "Static cost of each executed GraphQL operation (GRAPHQL_MAX_COST bounds it).",
    ["operation_type"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
DB_STATEMENTS_PER_REQUEST = Histogram(
    "nexus_db_statements_per_request",
    "SQL statements one HTTP request sent, by API transport.",
    ["transport"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89),
)
DB_POOL_CONNECTIONS = Gauge(
    "nexus_db_pool_connections",
    "Connections of the processes' PostgreSQL pools: in_use, idle, and waiting requests.",
    ["state"],
    multiprocess_mode="livesum",
)
LOGIN_THROTTLE_REFUSALS = Counter(
    "nexus_login_throttle_refusals_total",
    "Password checks refused by the login throttle before any password was evaluated.",
)
CELERY_TASK_DURATION = Histogram(
    "nexus_celery_task_duration_seconds",
    "Seconds a Celery task ran, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
CELERY_TASKS = Counter(
    "nexus_celery_tasks_total",
    "Celery task runs finished, by task name and outcome (success, failure, retry, ...).",
    ["task", "outcome"],
)
CELERY_TASK_RETRIES = Counter(
    "nexus_celery_task_retries_total",
    "Celery task retries scheduled, by task name.",
    ["task"],
)
WEBSOCKET_CONNECTIONS = Gauge(
    "nexus_websocket_connections",
    "Open GraphQL WebSocket connections.",
    multiprocess_mode="livesum",
)
GRAPHQL_SUBSCRIPTIONS = Gauge(
    "nexus_graphql_subscriptions",
    "Active GraphQL subscriptions, by subscription field.",
    ["subscription"],
    multiprocess_mode="livesum",
)
SUBSCRIPTION_FANOUT = Histogram(
    "nexus_subscription_fanout_seconds",
    "Seconds from an order event's commit to its `next` frame sent to a subscriber.",
    buckets=LATENCY_BUCKETS,
)
# Read from RabbitMQ at scrape time (``ScrapeTimeCollector``), not recorded by a process.
CELERY_QUEUE_DEPTH_NAME = "nexus_celery_queue_depth"

# --- HTTP requests and their SQL statements -----------------------------------------------------

# Route prefix -> API transport, registered by the layer that owns the routes (``backend.api``).
_transports_by_route_prefix: list[tuple[str, str]] = []
_transport_by_route: dict[str, str] = {}
# The statement count of the request in progress: a one-item list, incremented in place by the
# execute wrapper (which runs on the request's database thread, in the request's context).
_statements: ContextVar[list[int] | None] = ContextVar("nexus_request_statements", default=None)
_request_counters = LabelledChildren(HTTP_REQUESTS)
_request_timers = LabelledChildren(HTTP_REQUEST_DURATION)
_statement_histograms = LabelledChildren(DB_STATEMENTS_PER_REQUEST)


def route_transport_register(prefix: str, transport: str) -> None:
    """Report the SQL statements of requests whose URL pattern starts with ``prefix`` under
    ``transport`` (``other`` when no prefix matches)."""
    _transports_by_route_prefix.append((prefix, transport))
    _transport_by_route.clear()


def _transport(route: str) -> str:
    transport = _transport_by_route.get(route)
    if transport is None:
        transport = next(
            (name for prefix, name in _transports_by_route_prefix if route.startswith(prefix)),
            "other",
        )
        _transport_by_route[route] = transport
    return transport


def request_measure_start() -> tuple[float, Token[list[int] | None]]:
    """Start timing a request and counting its SQL statements; returns what
    ``request_measure_end`` takes. Called by ``request_signals_middleware``, first in
    MIDDLEWARE after the tracing span, so the time includes every other middleware."""
    return time.perf_counter(), _statements.set([0])


def request_measure_end(
    request: HttpRequest,
    response: HttpResponseBase | None,
    measure: tuple[float, Token[list[int] | None]],
) -> None:
    """Stop counting the request's statements and, when it was answered, record its count,
    duration and status by URL pattern."""
    started, token = measure
    statements = _statements.get()
    _statements.reset(token)
    if response is None:
        return
    elapsed = time.perf_counter() - started
    method = request.method if request.method in HTTP_METHODS else "other"
    match = request.resolver_match
    route = match.route if match is not None else UNMATCHED_ROUTE
    _request_counters(method, route, response.status_code).inc()
    _request_timers(method, route).observe(elapsed)
    if statements is not None:
        _statement_histograms(_transport(route)).observe(statements[0])


def _statement_count(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    statements = _statements.get()
    if statements is not None:
        statements[0] += 1
    return execute(sql, params, many, context)


def _statement_counter_install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """The ``connection_created`` receiver: count this connection's statements (installed once
    per connection object, which outlives the database connections it opens)."""
    if _statement_count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_statement_count)


def subscription_fanout_observe(committed_at: float | None) -> None:
    """An event's ``next`` frame was sent: observe the seconds since the event's commit (a
    message from a publisher that did not stamp it is not observed)."""
    if committed_at is not None:
        SUBSCRIPTION_FANOUT.observe(max(0.0, time.time() - committed_at))


# --- The connection pool ------------------------------------------------------------------------

_pool_refreshed_at = 0.0
_pool_states = LabelledChildren(DB_POOL_CONNECTIONS)


def pool_gauges_refresh() -> None:
    """Set this process's pool gauges from psycopg_pool's own counts, if a pool is open.

    Django keeps its pools in a class-level dict by alias; reading it never opens a pool in a
    process that has not needed one.
    """
    global _pool_refreshed_at
    _pool_refreshed_at = time.monotonic()
    pools = getattr(connections["default"], "_connection_pools", None)
    pool = pools.get("default") if pools else None
    if pool is None:
        return
    stats = pool.get_stats()
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    _pool_states("in_use").set(size - idle)
    _pool_states("idle").set(idle)
    _pool_states("waiting").set(stats.get("requests_waiting", 0))


def _pool_gauges_refresh_after_request(**kwargs: Any) -> None:
    """The ``request_finished`` receiver, connected after Django's own, so the request's
    connection is back in the pool; at most every ``POOL_REFRESH_SECONDS``."""
    if time.monotonic() - _pool_refreshed_at >= POOL_REFRESH_SECONDS:
        pool_gauges_refresh()


# --- Scrape time: the broker's queues, and the files of processes that are gone ---------------


def dead_processes_forget(directory: str) -> None:
    """Drop the live gauges of processes that exited (a granian worker respawned, a Celery child
    replaced): nothing else calls ``mark_process_dead`` for them. Their counters and
    histograms stay, so totals never go backwards."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)
        except PermissionError:
            continue  # alive, another user's


def queue_depths() -> dict[str, int]:
    """Messages ready in each Celery queue, from a passive declare (which never creates a
    queue); empty when the broker is unset or does not answer within the timeout."""
    url = settings.CELERY_BROKER_URL
    if not url:
        return {}
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        with BrokerConnection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            _, ready, _ = broker.default_channel.queue_declare(queue=queue, passive=True)
    except Exception as error:  # a scrape reports what it can; the broker's health is /readyz's
        # Also before the first worker declared the queue (404 NOT_FOUND).
        logger.warning("reading the depth of queue %s failed: %s", queue, error)
        return {}
    return {queue: ready}


class ScrapeTimeCollector(Collector):
    """What a scrape reads when it happens: the queue depth, this process's pool, and (in
    multi-process mode, before the files are read) the clean-up of exited processes."""

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing at registration: reading the broker waits for a scrape

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if MULTIPROCESS_DIRECTORY:
            dead_processes_forget(MULTIPROCESS_DIRECTORY)
        pool_gauges_refresh()
        family = GaugeMetricFamily(
            CELERY_QUEUE_DEPTH_NAME,
            "Messages ready in a Celery queue of the broker.",
            labels=["queue"],
        )
        for queue, ready in queue_depths().items():
            family.add_metric([queue], ready)
        yield family


@functools.cache
def scrape_registry() -> CollectorRegistry:
    """The registry a scrape reads: every process's files in multi-process mode, else this
    process's default registry; the scrape-time collector first, so exited processes are
    forgotten before the files are read."""
    if not MULTIPROCESS_DIRECTORY:
        REGISTRY.register(ScrapeTimeCollector())
        return REGISTRY
    registry = CollectorRegistry()
    registry.register(ScrapeTimeCollector())
    MultiProcessCollector(registry, MULTIPROCESS_DIRECTORY)
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: the Prometheus text format to a request bearing ``METRICS_BEARER_TOKEN``;
    404 to any other, and to everyone while the token is unset (the endpoint does not exist)."""
    token: str = settings.METRICS_BEARER_TOKEN
    offered = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        raise Http404
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


METRICS_PATH = "/metrics"


@sync_and_async_middleware
def scrape_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], object]:
    """Answers ``/metrics`` itself, before CommonMiddleware checks the Host against
    ALLOWED_HOSTS: Prometheus addresses a target by a pod's IP or a service's name, neither of
    them a host name clients use. Safe to skip for this one path: it still needs the token, and
    nothing in its answer comes from the Host (what ALLOWED_HOSTS guards: URLs built from it).
    After request_signals_middleware, which counts the scrape under its URL pattern as before."""
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponseBase:
            if request.path_info != METRICS_PATH:
                return await get_response(request)  # type: ignore[misc, no-any-return]
            request.resolver_match = resolve(METRICS_PATH)
            return await sync_to_async(metrics_view)(request)

        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if request.path_info != METRICS_PATH:
            return get_response(request)  # type: ignore[return-value]
        request.resolver_match = resolve(METRICS_PATH)
        return metrics_view(request)

    return middleware


# --- Celery -------------------------------------------------------------------------------------

_task_started: dict[str, float] = {}
_task_durations = LabelledChildren(CELERY_TASK_DURATION)
_task_outcomes = LabelledChildren(CELERY_TASKS)
_task_retries = LabelledChildren(CELERY_TASK_RETRIES)


def _task_prerun(task_id: str, **kwargs: Any) -> None:
    _task_started[task_id] = time.perf_counter()


def _task_postrun(task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        _task_durations(task.name).observe(time.perf_counter() - started)
    _task_outcomes(task.name, (state or "unknown").lower()).inc()


def _task_retry(sender: Any, **kwargs: Any) -> None:
    _task_retries(sender.name).inc()


def _worker_exporter_start(**kwargs: Any) -> None:
    """In the worker's main process: serve the container's metrics on WORKER_METRICS_PORT."""
    port: int = settings.WORKER_METRICS_PORT
    if port:
        start_http_server(port, registry=scrape_registry())
        logger.info("worker metrics on port %s", port)


def _worker_child_exit(**kwargs: Any) -> None:
    """A prefork child exits: its live gauges leave the sums at once."""
    if MULTIPROCESS_DIRECTORY:
        with contextlib.suppress(OSError):
            mark_process_dead(os.getpid(), MULTIPROCESS_DIRECTORY)


def receivers_connect() -> None:
    """Connect the hooks that live on signals (called once, from the platform app's ready)."""
    connection_created.connect(_statement_counter_install, dispatch_uid="metrics.statements")
    request_finished.connect(_pool_gauges_refresh_after_request, dispatch_uid="metrics.pool")
    celery_signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="metrics.prerun")
    celery_signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="metrics.postrun")
    celery_signals.task_retry.connect(_task_retry, weak=False, dispatch_uid="metrics.retry")
    celery_signals.worker_ready.connect(
        _worker_exporter_start, weak=False, dispatch_uid="metrics.exporter"
    )
    celery_signals.worker_process_shutdown.connect(
        _worker_child_exit, weak=False, dispatch_uid="metrics.child_exit"
    )
