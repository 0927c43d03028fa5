"""Distributed tracing with OpenTelemetry: the SDK, the OTLP/HTTP exporter, the maintained
instrumentations of psycopg and Celery and Nexus's own span per HTTP request
(``ServerSpanMiddleware``), configured from the standard ``OTEL_*`` variables
(docs/operating/tracing.md).

Off unless ``TRACING_ENABLED`` (on by default when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set). Off, nothing is imported from the SDK or the
instrumentations and nothing is patched: the code that opens spans of its own (the GraphQL
extension, the channel-layer publisher and the subscriptions) asks ``tracing_active()`` first
or gets the API's no-op tracer.

Each process starts tracing where it starts serving, before it loads Django's middleware
(``ServerSpanMiddleware`` leaves the chain of a process that does not trace):
``backend.wsgi`` (every granian worker imports it), ``backend.asgi`` (Daphne), and here, on
``worker_process_init`` (each process of Celery's prefork pool, after the fork: the span
processor's export thread and the exporter's HTTP session belong to the process that uses
them) and ``beat_init`` (beat publishes the scheduled tasks).
"""

import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from celery.signals import beat_init, worker_process_init
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "nexus"
# Without OTEL_TRACES_SAMPLER, one trace in ten is kept (and every trace whose caller sampled
# it, the parent's decision carried in its traceparent): full traces of every request would
# cost more than the requests in a busy process.
DEFAULT_SAMPLE_RATIO = 0.1

_started = False
# Installed once per process (OpenTelemetry refuses a second), inherited by a forked child.
_provider: "TracerProvider | None" = None


def tracing_active() -> bool:
    """Whether this process has started tracing (``tracing_start``)."""
    return _started


def in_dropped_trace() -> bool:
    """Whether the current span belongs to a trace the sampler dropped (a request's
    non-recording span): a span started under it would be dropped too, so code that would
    start one can skip it and what it costs."""
    parent = trace.get_current_span().get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled


def tracer_provider_create(span_processor: "SpanProcessor") -> "TracerProvider":
    """A tracer provider sending its spans to ``span_processor``.

    Resource: the SDK's detectors (``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``), with
    the service named ``nexus`` when neither names it. Sampler: ``OTEL_TRACES_SAMPLER`` and
    ``OTEL_TRACES_SAMPLER_ARG`` when set, else parent-based trace-id ratio
    ``DEFAULT_SAMPLE_RATIO``.
    """
    from opentelemetry.sdk.environment_variables import OTEL_TRACES_SAMPLER
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    # sampler=None: the SDK reads OTEL_TRACES_SAMPLER (and its argument) itself.
    sampler = (
        None
        if os.environ.get(OTEL_TRACES_SAMPLER)
        else ParentBasedTraceIdRatio(DEFAULT_SAMPLE_RATIO)
    )
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(span_processor)
    return provider


def _otlp_batch_processor() -> "SpanProcessor":
    """Batches (``OTEL_BSP_*``) exported over OTLP/HTTP (``OTEL_EXPORTER_OTLP_*``)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter())


def tracing_start(span_processor: "SpanProcessor | None" = None) -> bool:
    """Install the tracer provider and instrument psycopg and Celery, once per process, when
    ``TRACING_ENABLED``; returns whether this process traces.

    ``span_processor`` replaces the OTLP exporter (tests pass an in-memory one). Call it
    before Django loads its middleware and before the first database connection:
    ``ServerSpanMiddleware`` stays in the chains loaded after it, and psycopg's
    instrumentation traces connections opened after it.
    """
    global _started, _provider
    if tracing_active():
        return True
    if not settings.TRACING_ENABLED:
        return False

    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    if _provider is None:
        _provider = tracer_provider_create(span_processor or _otlp_batch_processor())
        trace.set_tracer_provider(_provider)
    # No SQL comment: a traceparent appended to each statement would defeat PostgreSQL's
    # and psycopg's prepared statements (a new text every time).
    PsycopgInstrumentor().instrument(enable_commenter=False)
    CeleryInstrumentor().instrument()
    _started = True
    logger.info("tracing started")
    return True


def tracing_stop() -> None:
    """Undo the instrumentation of ``tracing_start`` in this process (the tracer provider
    stays, and ``tracing_start`` uses it again). Connections opened while tracing
    keep tracing their statements until they close, and middleware chains loaded while
    tracing keep their ``ServerSpanMiddleware``."""
    global _started
    if not tracing_active():
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    for instrumentor in (PsycopgInstrumentor(), CeleryInstrumentor()):
        instrumentor.uninstrument()
    _started = False


# --- HTTP requests ------------------------------------------------------------------------------

# The methods OpenTelemetry's HTTP conventions name; any other is reported as ``_OTHER``.
KNOWN_HTTP_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
OTHER_HTTP_METHOD = "_OTHER"
REQUEST_SPAN_ATTRIBUTE = "_nexus_server_span"
server_tracer = trace.get_tracer(__name__)


class RequestHeaderGetter(Getter[dict[str, Any]]):
    """Reads a propagator's header (``traceparent``) from ``request.META`` (``HTTP_TRACEPARENT``),
    under WSGI and ASGI alike."""

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [key[5:].lower().replace("_", "-") for key in carrier if key.startswith("HTTP_")]


_request_headers = RequestHeaderGetter()


def _server_span_start(request: HttpRequest) -> tuple[Span, object]:
    """Start the request's span and make it current; returns it and the token to detach.

    The sampler decides first, from the caller's trace context and the attributes it may
    read (method, path, scheme). A request it drops gets a non-recording span, so its trace id
    still reaches the logs and the tasks it sends, and a context that suppresses the
    instrumentations below it (psycopg's wraps each statement only when instrumentation is
    enabled): past this point an unsampled request costs nothing more than an untraced one.
    """
    parent = extract(request.META, getter=_request_headers)
    method = request.method if request.method in KNOWN_HTTP_METHODS else OTHER_HTTP_METHOD
    span = server_tracer.start_span(
        "HTTP" if method == OTHER_HTTP_METHOD else method,
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": method,
            "url.path": request.path,
            "url.scheme": request.scheme,
        },
    )
    context = trace.set_span_in_context(span, parent)
    if span.is_recording():
        _request_describe(span, request, method)
    else:
        context = otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, context)
    setattr(request, REQUEST_SPAN_ATTRIBUTE, span)
    return span, otel_context.attach(context)


def _request_describe(span: Span, request: HttpRequest, method: str) -> None:
    """The recommended attributes a sampled request's span gets at its start. No ``url.query``:
    a GraphQL GET carries its document there, and a document's literals may be personal data."""
    meta = request.META
    host, _, port = str(meta.get("HTTP_HOST") or meta.get("SERVER_NAME", "")).partition(":")
    attributes: dict[str, str | int] = {"server.address": host}
    if port.isdigit():
        attributes["server.port"] = int(port)
    if method == OTHER_HTTP_METHOD:
        attributes["http.request.method_original"] = str(request.method)
    if client := meta.get("REMOTE_ADDR"):
        attributes["client.address"] = client
    if agent := meta.get("HTTP_USER_AGENT"):
        attributes["user_agent.original"] = agent
    protocol = str(meta.get("SERVER_PROTOCOL", ""))
    if protocol.startswith("HTTP/"):
        attributes["network.protocol.version"] = protocol[5:]
    span.set_attributes(attributes)


def _server_span_end(span: Span, request: HttpRequest, response: HttpResponseBase) -> None:
    """Name the span after the URL pattern Django resolved, record the status, end it. A
    5xx is an error (``error.type`` its code); a 4xx is the client's and leaves it unset."""
    if span.is_recording():
        status = response.status_code
        attributes: dict[str, str | int] = {"http.response.status_code": status}
        match = request.resolver_match
        if match is not None and match.route:
            attributes["http.route"] = match.route
            method = request.method if request.method in KNOWN_HTTP_METHODS else "HTTP"
            span.update_name(f"{method} {match.route}")
        if status >= 500:
            attributes["error.type"] = str(status)
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attributes)
    span.end()


class ServerSpanMiddleware:
    """One ``SERVER`` span per HTTP request, as OpenTelemetry's HTTP conventions describe it
    (``http.request.method``, ``url.path``, ``url.scheme``, ``http.route``,
    ``http.response.status_code``, named ``<method> <route>``), a child of the caller's span
    when the request carries a ``traceparent``. First in ``MIDDLEWARE``, so the span covers
    every other middleware and the request-id middleware's records carry its trace id.

    Not in the chain of a process that does not trace (``MiddlewareNotUsed``). An unsampled
    request costs a propagator's extract, the sampler's decision and a context switch: see
    ``_server_span_start``."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
    ) -> None:
        if not tracing_active():
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        span, token = _server_span_start(request)
        try:
            response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
            _server_span_end(span, request, response)
        finally:
            otel_context.detach(token)  # type: ignore[arg-type]
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        span, token = _server_span_start(request)
        try:
            response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
            _server_span_end(span, request, response)
        finally:
            otel_context.detach(token)  # type: ignore[arg-type]
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """A view's exception, before Django turns it into a response: an event on the span."""
        span = getattr(request, REQUEST_SPAN_ATTRIBUTE, None)
        if span is not None and span.is_recording():
            span.record_exception(exception)


@worker_process_init.connect
def tracing_start_in_worker_process(**kwargs: object) -> None:
    """Each process of Celery's prefork pool traces from its own fork."""
    tracing_start()


@beat_init.connect
def tracing_start_in_beat(**kwargs: object) -> None:
    """Beat publishes the scheduled tasks: each publish starts a trace."""
    tracing_start()
