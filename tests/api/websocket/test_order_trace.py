"""One trace follows a paid order across the real parts: the ``orderPay`` request, its SQL,
the task's publish to RabbitMQ, the Celery worker's run and its SQL, the order event's publish
through the Redis channel layer, and the ``next`` frame the subscriber's socket is sent.

Everything runs in this process so the in-memory exporter sees every span: the worker is
Celery's embedded test worker, in a thread, consuming from the real broker on a queue of its
own; the subscriber is the real consumer on the real Redis layer.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from channels.db import database_sync_to_async
from django.db import connections
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pytest_django.fixtures import Settings
from strawberry.relay import to_base64

from backend.accounts.models import User
from backend.celery import app as celery_app
from backend.orders.models import Order, OrderEvent, OrderStatus
from backend.settings import redis_channel_layers
from tests.api.websocket.test_tracing import following
from tests.conftest import service_url
from tests.graphql_client import GraphQLClient
from tests.tracing import children, is_child, span_named, spans, traced_connections  # noqa: F401

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PAY = "mutation Pay($id: ID!) { orderPay(id: $id) { errors { code } } }"
EVENT_TIMEOUT = 15


@pytest.fixture
def worker_in_thread(real_celery_broker: str, settings: Settings) -> Iterator[str]:
    """Celery's embedded worker on a fresh queue of the real broker, in a thread."""
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0
    queue = f"nexus-trace-{uuid.uuid4().hex[:12]}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue  # where this process publishes
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            queues=[queue],
            loglevel="INFO",
            # Stopping waits for the broker connection's next poll: seconds on a busy machine.
            shutdown_timeout=40,
        ):
            yield queue
    finally:
        celery_app.conf.task_default_queue = default_queue
        with celery_app.connection_for_write(real_celery_broker) as broker:
            broker.default_channel.queue_delete(queue)


@pytest.fixture
def redis_channel_layer(settings: Settings) -> None:
    """The Redis layer Daphne and the workers share (after the directory's in-memory one)."""
    settings.CHANNEL_LAYERS = redis_channel_layers(service_url("REDIS_URL"))


def sql_children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        span
        for span in children(exporter, parent)
        if (span.attributes or {}).get("db.system") == "postgresql"
    ]


def finished(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    """The span ``name`` once it has ended: the worker ends its task's span after the task
    published the event this test already received."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while not any(span.name == name for span in exporter.get_finished_spans()):
        assert time.monotonic() < deadline, f"no span {name!r}"
        time.sleep(0.05)
    return span_named(exporter, name)


def pay(customer: User, order: Order) -> dict[str, Any]:
    """``orderPay`` over HTTP, from a thread that then gives its connection back (Django's
    test client leaves it open, for a test's own thread)."""
    try:
        return GraphQLClient(user=customer).post(PAY, {"id": to_base64("Order", order.pk)})
    finally:
        connections.close_all()


async def test_one_trace_follows_an_order_from_order_pay_to_the_subscribers_next_frame(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    traced_connections: None,  # noqa: F811  the imported fixture
    worker_in_thread: str,
    redis_channel_layer: None,
    socket: Any,
    customer: User,
    pending_order: Order,
) -> None:
    async with following(socket, customer, pending_order) as client:
        body = await asyncio.to_thread(pay, customer, pending_order)
        assert body["data"]["orderPay"]["errors"] == []

        frame = await client.receive_json_from(timeout=EVENT_TIMEOUT)
        assert frame["type"] == "next", frame
        assert frame["payload"]["data"]["orderStatusChanged"]["status"] == "PAID"

    paid = await database_sync_to_async(
        OrderEvent.objects.filter(order=pending_order, to_status=OrderStatus.PAID).get
    )()
    run = await asyncio.to_thread(finished, spans, "run/orders.payment_process")
    (request,) = (span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER)
    operation = span_named(spans, "mutation Pay")
    enqueued = span_named(spans, "apply_async/orders.payment_process")
    published = span_named(spans, "send order.event")
    delivered = span_named(spans, "orderStatusChanged next")

    assert request.parent is None  # the trace starts at the request
    assert is_child(operation, request)
    assert sql_children(spans, operation), "the request's SQL is in its operation's span"
    assert is_child(enqueued, operation)
    assert enqueued.kind is SpanKind.PRODUCER
    assert (enqueued.attributes or {}).get("celery.action") == "apply_async"
    assert is_child(run, enqueued)  # the worker continued the trace from the task's headers
    assert sql_children(spans, run), "the task's SQL is in its span"
    assert is_child(published, run)
    assert (published.attributes or {}).get("nexus.order_event.id") == paid.pk
    assert is_child(delivered, published)  # through Redis, in the message's traceparent
    assert sql_children(spans, delivered), "the subscriber's read of the event is in its span"
    assert {span.context.trace_id for span in (request, run, delivered)} == {
        request.context.trace_id
    }
