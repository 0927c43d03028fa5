"""The span of each HTTP request (backend.core.tracing.ServerSpanMiddleware): OpenTelemetry's
HTTP conventions for a sampled request, the caller's traceparent honoured, and nothing
recorded below a request the sampler dropped.

The test process samples every trace it starts (``tests.tracing``); a caller's traceparent
with the sampled flag off is how a request here is dropped, as parent-based sampling says.
"""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.factories import product_create
from tests.tracing import is_child, span_named, spans, traced_connections  # noqa: F401

SHELF = "query Shelf { products(first: 2) { edges { node { name } } } }"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


def traceparent(sampled: bool) -> str:
    return f"00-{TRACE_ID}-{CALLER_SPAN_ID}-{'01' if sampled else '00'}"


def instrumented_statements(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """An execute wrapper noting, per statement, whether instrumentations may trace it (what
    psycopg's asks before it does any work)."""
    INSTRUMENTED.append(is_instrumentation_enabled())
    return execute(sql, params, many, context)


INSTRUMENTED: list[bool] = []


def shelf(**headers: str) -> tuple[int, dict[str, Any], int]:
    """POST the Shelf query: the status, the body and the SQL statements it sent."""
    INSTRUMENTED.clear()
    with (
        connection.execute_wrapper(instrumented_statements),
        CaptureQueriesContext(connection) as statements,
    ):
        response = Client().post(
            "/graphql/",
            json.dumps({"query": SHELF}),
            content_type="application/json",
            headers=headers,
        )
    return response.status_code, response.json(), len(statements)


def request_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = (s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    return span


@pytest.mark.django_db(transaction=True)
def test_a_sampled_request_is_a_server_span_parent_of_its_operation_and_its_sql(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    traced_connections: None,  # noqa: F811  the imported fixture
) -> None:
    product_create()

    status, body, _ = shelf(user_agent="storefront/1.0")

    assert status == 200
    assert len(body["data"]["products"]["edges"]) == 1
    request = request_span(spans)
    assert request.name == "POST graphql/"
    assert request.parent is None  # no caller: the trace starts here
    assert request.status.status_code is StatusCode.UNSET
    assert dict(request.attributes or {}) == {
        "http.request.method": "POST",
        "url.path": "/graphql/",
        "url.scheme": "http",
        "server.address": "testserver",
        "client.address": "127.0.0.1",
        "user_agent.original": "storefront/1.0",
        "network.protocol.version": "1.1",
        "http.route": "graphql/",
        "http.response.status_code": 200,
    }
    operation = span_named(spans, "query Shelf")
    assert is_child(operation, request)
    statements = [
        s
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.CLIENT and s.context.trace_id == request.context.trace_id
    ]
    assert statements
    assert all(is_child(statement, operation) for statement in statements)
    assert INSTRUMENTED
    assert all(INSTRUMENTED)


@pytest.mark.django_db
def test_the_callers_traceparent_makes_the_request_its_child(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    status, _, _ = shelf(traceparent=traceparent(sampled=True))

    request = request_span(spans)
    assert status == 200
    assert request.parent is not None
    assert request.parent.is_remote
    assert format(request.parent.span_id, "016x") == CALLER_SPAN_ID
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert is_child(span_named(spans, "query Shelf"), request)


@pytest.mark.django_db
def test_a_request_the_sampler_drops_records_nothing_and_answers_the_same(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    product_create()
    sampled = shelf(traceparent=traceparent(sampled=True))
    spans.clear()

    dropped = shelf(traceparent=traceparent(sampled=False))

    assert dropped == sampled  # same status, body and SQL statement count
    assert spans.get_finished_spans() == ()
    # psycopg's instrumentation returns at its first check: no span, not even a no-op one.
    assert INSTRUMENTED
    assert not any(INSTRUMENTED)


@pytest.mark.django_db
def test_an_unmatched_path_is_named_by_its_method_alone(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    assert Client().get("/no-such-page/").status_code == 404

    request = request_span(spans)
    assert request.name == "GET"
    assert "http.route" not in (request.attributes or {})
    assert (request.attributes or {})["http.response.status_code"] == 404
    assert request.status.status_code is StatusCode.UNSET  # a 4xx is the client's


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_request_span_is_the_same(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    try:
        response = await AsyncClient().post(
            "/graphql/",
            json.dumps({"query": SHELF}),
            content_type="application/json",
            headers={"traceparent": traceparent(sampled=True)},
        )
    finally:
        # Return the worker thread's pooled connection before the test database is dropped.
        await sync_to_async(connections.close_all)()

    assert response.status_code == 200
    request = request_span(spans)
    assert request.name == "POST graphql/"
    assert format(request.context.trace_id, "032x") == TRACE_ID
    assert (request.attributes or {})["http.route"] == "graphql/"
    assert is_child(span_named(spans, "query Shelf"), request)
