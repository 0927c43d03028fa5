"""One span per GraphQL operation over HTTP (backend/api/graphql/tracing.py), under the span
of the Django request, with its type, name, static cost and error codes."""

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pytest_django.fixtures import Settings
from strawberry.relay import to_base64

from backend.api.graphql.tracing import ERROR_CODES_ATTRIBUTE, QUERY_COST_ATTRIBUTE
from backend.api.schema import schema
from backend.orders import services
from backend.orders.models import OrderEvent, OrderStatus
from tests.factories import order_create, product_create, user_create
from tests.graphql_client import GraphQLClient
from tests.tracing import is_child, span_named, spans  # noqa: F401  the fixture

pytestmark = pytest.mark.django_db

SHELF = "query Shelf { products(first: 3) { edges { node { id name } } } }"
COUNTED = "query Counted { products(first: 2) { totalCount } }"
PAY = "mutation Pay($id: ID!) { orderPay(id: $id) { errors { code } } }"


def operation_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if "graphql.operation.type" in (span.attributes or {})
    ]


def request_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = (s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    return span


@pytest.mark.parametrize("fast_paths", [True, False], ids=["fast paths", "fast paths off"])
def test_a_query_is_one_span_named_after_it_with_its_type_name_and_cost(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    settings: Settings,
    fast_paths: bool,
) -> None:
    settings.NEXUS_FAST_PATHS = fast_paths
    for _ in range(3):
        product_create()

    body = GraphQLClient().post(SHELF)

    assert len(body["data"]["products"]["edges"]) == 3
    (operation,) = operation_spans(spans)  # one span for the operation, none per resolver
    assert operation.name == "query Shelf"
    assert operation.attributes == {
        "graphql.operation.type": "query",
        "graphql.operation.name": "Shelf",
        QUERY_COST_ATTRIBUTE: body["extensions"]["cost"]["requestedQueryCost"],
    }
    assert operation.status.status_code is StatusCode.UNSET
    assert is_child(operation, request_span(spans))


def test_an_operation_run_on_the_event_loop_stays_under_its_request(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    assert schema.needs_event_loop(COUNTED, None)  # totalCount batches through a DataLoader
    product_create()

    body = GraphQLClient().post(COUNTED)

    assert body["data"]["products"]["totalCount"] == 1
    operation = span_named(spans, "query Counted")
    assert is_child(operation, request_span(spans))


def test_an_anonymous_operation_is_named_by_its_type(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    GraphQLClient().post("{ products(first: 1) { edges { node { id } } } }")

    (operation,) = operation_spans(spans)
    assert operation.name == "query"
    assert "graphql.operation.name" not in (operation.attributes or {})


def test_a_refused_document_records_its_code_without_a_cost_and_without_failing_the_span(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
) -> None:
    codes = GraphQLClient().error_codes("query Broken { products(first: 1) { nope } }")

    (operation,) = operation_spans(spans)
    assert operation.name == "query Broken"
    assert list(operation.attributes[ERROR_CODES_ATTRIBUTE]) == codes  # type: ignore[index]
    assert codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert QUERY_COST_ATTRIBUTE not in operation.attributes  # type: ignore[operator]
    assert operation.status.status_code is StatusCode.UNSET


def test_an_internal_server_error_fails_the_span(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    customer = user_create()
    order = order_create(customer=customer, products=[(product_create(), 1)])

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the gateway client is misconfigured")

    monkeypatch.setattr(services, "order_pay", broken)

    body = GraphQLClient(user=customer).post(PAY, {"id": to_base64("Order", order.pk)})

    assert [error["extensions"]["code"] for error in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    operation = span_named(spans, "mutation Pay")
    assert operation.attributes[ERROR_CODES_ATTRIBUTE] == ("INTERNAL_SERVER_ERROR",)  # type: ignore[index]
    assert operation.status.status_code is StatusCode.ERROR


@pytest.mark.django_db(transaction=True)  # the task is sent when the request's work commits
def test_the_payment_task_run_after_commit_is_part_of_the_requests_trace(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    settings: Settings,
) -> None:
    """Tasks run in-process here (the real broker's case: tests/api/websocket/
    test_order_trace.py); the task still starts under the operation that enqueued it."""
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0
    customer = user_create()
    order = order_create(customer=customer, products=[(product_create(), 1)])
    OrderEvent.objects.create(order=order, from_status=None, to_status=OrderStatus.PENDING)

    body = GraphQLClient(user=customer).post(PAY, {"id": to_base64("Order", order.pk)})

    assert body["data"]["orderPay"]["errors"] == []
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    operation = span_named(spans, "mutation Pay")
    task = span_named(spans, "run/orders.payment_process")
    assert task.context.trace_id == operation.context.trace_id
    assert is_child(task, operation)
    published = span_named(spans, "send order.event")  # PAID, to the order's subscribers
    assert is_child(published, task)
