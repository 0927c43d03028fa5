"""Tracing of subscriptions over the real consumer, in-process (in-memory channel layer): the
operation's span, and the span around each ``next`` frame, child of the publishing span."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from strawberry.channels.testing import GraphQLWebsocketCommunicator

from backend.accounts.models import User
from backend.api.graphql.tracing import ERROR_CODES_ATTRIBUTE
from backend.orders.models import Order, OrderStatus
from backend.orders.services import order_transition
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer, order_global_id
from tests.api.websocket.test_order_status_changed import listen_started, next_data, subscribe
from tests.factories import order_create
from tests.tracing import is_child, span_named, spans  # noqa: F401  the fixture

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def following(
    socket: Any, customer: User, order: Order
) -> AsyncIterator[GraphQLWebsocketCommunicator]:
    """A socket of ``customer`` subscribed to ``order``'s status changes, listening."""
    async with socket(bearer(customer)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(order)})
        await listen_started()
        yield client


async def test_the_next_frame_of_an_event_is_a_span_child_of_its_publish(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    socket: Any,
    customer: User,
    pending_order: Order,
) -> None:
    async with following(socket, customer, pending_order) as client:
        await database_sync_to_async(order_transition)(
            order_id=pending_order.pk, to_status=OrderStatus.PAID
        )

        assert (await next_data(client))["orderStatusChanged"]["status"] == "PAID"

    published = span_named(spans, "send order.event")
    delivered = span_named(spans, "orderStatusChanged next")
    assert published.kind is SpanKind.PRODUCER
    assert delivered.kind is SpanKind.CONSUMER
    assert is_child(delivered, published)
    assert delivered.attributes["nexus.order.id"] == pending_order.pk  # type: ignore[index]
    operation = span_named(spans, "subscription Follow")  # ended with the subscription
    assert operation.attributes["graphql.operation.type"] == "subscription"  # type: ignore[index]


async def test_a_subscription_refused_by_its_resolver_records_the_code(
    spans: InMemorySpanExporter,  # noqa: F811  the imported fixture
    socket: Any,
    customer: User,
) -> None:
    not_theirs = await database_sync_to_async(order_create)()
    async with socket(bearer(customer)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(not_theirs)})

        message = await client.receive_json_from(timeout=3)
        assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        await client.receive_json_from(timeout=3)  # complete: the operation is over

    operation = span_named(spans, "subscription Follow")
    assert operation.attributes[ERROR_CODES_ATTRIBUTE] == ("NOT_FOUND",)  # type: ignore[index]
