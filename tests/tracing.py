"""Tracing in the test process: a test taking ``spans`` runs with the process tracing (every
span sampled) into an in-memory exporter, which it reads; instrumentation is undone after it.

OpenTelemetry installs a tracer provider once per process, so the provider, and the exporter
behind it, serve every test of the session; each test starts with the exporter empty.
"""

from collections.abc import Iterator

import pytest
from django.db import connection
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pytest_django.fixtures import Settings

from backend.core.tracing import tracing_start, tracing_stop

EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The process traces while the test runs; the exporter holds the spans that ended."""
    settings.TRACING_ENABLED = True
    # Read when the session's provider is built: tests see every trace.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    assert tracing_start(SimpleSpanProcessor(EXPORTER))
    EXPORTER.clear()
    try:
        yield EXPORTER
    finally:
        tracing_stop()
        EXPORTER.clear()


@pytest.fixture
def traced_connections(spans: InMemorySpanExporter) -> Iterator[None]:
    """Database connections opened from now on trace their statements (psycopg's
    instrumentation wraps a connection when it opens): the pool is emptied before and after.
    Only for tests whose data is committed (``transaction=True``)."""
    connection.close()
    connection.close_pool()
    yield
    connection.close()
    connection.close_pool()


def span_named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    """The one finished span called ``name``."""
    (span,) = (span for span in exporter.get_finished_spans() if span.name == name)
    return span


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    """The finished spans whose parent is ``parent``."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


def is_child(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        span.parent is not None
        and span.parent.span_id == parent.context.span_id
        and span.context.trace_id == parent.context.trace_id
    )
