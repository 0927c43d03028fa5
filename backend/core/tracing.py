"""Distributed tracing with OpenTelemetry: the SDK, the OTLP/HTTP exporter and the maintained
instrumentations of Django, psycopg and Celery, configured from the standard ``OTEL_*``
variables (docs/operating/tracing.md).

Off unless ``TRACING_ENABLED`` (on by default when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set). Off, nothing is imported from the SDK or the
instrumentations and nothing is patched: the code that opens spans of its own (the GraphQL
extension, the channel-layer publisher and the subscriptions) asks ``tracing_active()`` first
or gets the API's no-op tracer.

Each process starts tracing where it starts serving, before it loads Django's middleware (the
Django instrumentation adds its own to ``MIDDLEWARE``): ``backend.wsgi`` (every granian
worker imports it), ``backend.asgi`` (Daphne), and here, on ``worker_process_init`` (each
process of Celery's prefork pool, after the fork: the span processor's export thread and the
exporter's HTTP session belong to the process that uses them) and ``beat_init`` (beat
publishes the scheduled tasks).
"""

import logging
import os
from typing import TYPE_CHECKING

from celery.signals import beat_init, worker_process_init
from django.conf import settings

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
    """Install the tracer provider and instrument Django, psycopg and Celery, once per
    process, when ``TRACING_ENABLED``; returns whether this process traces.

    ``span_processor`` replaces the OTLP exporter (tests pass an in-memory one). Call it
    before Django loads its middleware and before the first database connection: the Django
    instrumentation adds a middleware to ``MIDDLEWARE``, and psycopg's traces connections
    opened after it.
    """
    global _started, _provider
    if tracing_active():
        return True
    if not settings.TRACING_ENABLED:
        return False

    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    if _provider is None:
        _provider = tracer_provider_create(span_processor or _otlp_batch_processor())
        trace.set_tracer_provider(_provider)
    DjangoInstrumentor().instrument()
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
    keep tracing their statements until they close."""
    global _started
    if not tracing_active():
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), CeleryInstrumentor()):
        instrumentor.uninstrument()
    _started = False


@worker_process_init.connect
def tracing_start_in_worker_process(**kwargs: object) -> None:
    """Each process of Celery's prefork pool traces from its own fork."""
    tracing_start()


@beat_init.connect
def tracing_start_in_beat(**kwargs: object) -> None:
    """Beat publishes the scheduled tasks: each publish starts a trace."""
    tracing_start()
