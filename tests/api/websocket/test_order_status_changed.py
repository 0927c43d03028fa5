"""``orderStatusChanged`` and ``orderEvents`` over the real consumer, in-process.

Transitions go through ``order_transition`` (the one writer), which publishes after commit.
"""

import asyncio
import threading
from functools import partial
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from strawberry.channels.testing import GraphQLWebsocketCommunicator

from backend.accounts.models import User
from backend.api.graphql.orders.subscriptions import _read_shared
from backend.orders.models import Order, OrderEvent, OrderStatus
from backend.orders.services import order_transition
from tests.api.websocket.conftest import (
    SUBSCRIBE_STATUS,
    bearer,
    event_global_id,
    order_global_id,
)

pytestmark = pytest.mark.django_db(transaction=True)

NO_MESSAGE_SECONDS = 0.3


async def transition(order: Order, to_status: OrderStatus) -> None:
    await database_sync_to_async(order_transition)(order_id=order.pk, to_status=to_status)


async def subscribe(
    client: GraphQLWebsocketCommunicator, query: str, variables: dict[str, Any], op_id: str = "1"
) -> None:
    await client.send_json_to(
        {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


async def next_data(client: GraphQLWebsocketCommunicator, op_id: str = "1") -> dict[str, Any]:
    message = await client.receive_json_from(timeout=3)
    assert message["type"] == "next", message
    assert message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]


async def listen_started() -> None:
    """Let the subscription reach ``listen_to_channel`` (it joins the group asynchronously)."""
    await asyncio.sleep(0.2)


async def test_customer_receives_each_transition_of_their_order_in_order_exactly_once(
    socket: Any, customer: User, pending_order: Order
) -> None:
    async with socket(bearer(customer)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()

        await transition(pending_order, OrderStatus.PAID)
        await transition(pending_order, OrderStatus.SHIPPED)

        paid = (await next_data(client))["orderStatusChanged"]
        shipped = (await next_data(client))["orderStatusChanged"]
        assert await client.receive_nothing(NO_MESSAGE_SECONDS)

    events = [e async for e in OrderEvent.objects.filter(order=pending_order).order_by("id")]
    assert paid["previousStatus"] == "PENDING"
    assert paid["status"] == "PAID"
    assert paid["event"] == {"id": event_global_id(events[1]), "toStatus": "PAID"}
    assert paid["order"]["number"] == pending_order.number
    assert paid["order"]["status"] == "PAID"  # the order as it is right after the change
    assert (shipped["previousStatus"], shipped["status"]) == ("PAID", "SHIPPED")
    assert shipped["event"]["id"] == event_global_id(events[2])


async def test_events_of_other_orders_are_not_sent(
    socket: Any, customer: User, pending_order: Order, staff: User
) -> None:
    from tests.factories import order_create

    other = await database_sync_to_async(order_create)(customer=customer)
    async with socket(bearer(customer)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()

        await transition(other, OrderStatus.CANCELLED)

        assert await client.receive_nothing(NO_MESSAGE_SECONDS)


async def test_reconnect_with_since_replays_missed_events_once_then_streams_live(
    socket: Any, customer: User, pending_order: Order
) -> None:
    created = await OrderEvent.objects.filter(order=pending_order).afirst()
    assert created is not None
    # Missed while disconnected:
    await transition(pending_order, OrderStatus.PAID)
    await transition(pending_order, OrderStatus.SHIPPED)

    async with socket(bearer(customer)) as client:
        variables = {"orderId": order_global_id(pending_order), "since": event_global_id(created)}
        await subscribe(client, SUBSCRIBE_STATUS, variables)
        replayed = [(await next_data(client))["orderStatusChanged"]["status"] for _ in range(2)]
        await listen_started()
        await transition(pending_order, OrderStatus.DELIVERED)
        live = (await next_data(client))["orderStatusChanged"]["status"]
        assert await client.receive_nothing(NO_MESSAGE_SECONDS)

    assert replayed == ["PAID", "SHIPPED"]
    assert live == "DELIVERED"


async def test_a_late_or_repeated_message_sends_nothing_twice(
    socket: Any, customer: User, pending_order: Order
) -> None:
    from channels.layers import get_channel_layer

    from backend.api.graphql.orders.events import order_event_publish

    async with socket(bearer(customer)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()
        await transition(pending_order, OrderStatus.PAID)
        assert (await next_data(client))["orderStatusChanged"]["status"] == "PAID"
        paid = await OrderEvent.objects.filter(order=pending_order).alast()
        assert paid is not None
        assert get_channel_layer() is not None

        # The same event published again (a redelivered task, a retried publish):
        await database_sync_to_async(order_event_publish)(
            event_id=paid.pk, order_id=pending_order.pk, to_status="PAID"
        )

        assert await client.receive_nothing(NO_MESSAGE_SECONDS)


async def test_another_customer_gets_not_found_and_no_events(
    socket: Any, pending_order: Order
) -> None:
    from tests.factories import user_create

    stranger = await database_sync_to_async(user_create)()
    async with socket(bearer(stranger)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        refused = await client.receive_json_from(timeout=3)
        completed = await client.receive_json_from(timeout=3)
        await transition(pending_order, OrderStatus.PAID)
        assert await client.receive_nothing(NO_MESSAGE_SECONDS)

    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert completed == {"id": "1", "type": "complete"}


async def test_staff_may_follow_any_order(socket: Any, staff: User, pending_order: Order) -> None:
    async with socket(bearer(staff)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()
        await transition(pending_order, OrderStatus.PAID)

        assert (await next_data(client))["orderStatusChanged"]["status"] == "PAID"


async def test_each_event_costs_one_sql_statement(
    socket: Any, customer: User, pending_order: Order
) -> None:
    from backend.api.graphql.orders.events import order_event_publish

    async with socket(bearer(customer)) as client:
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()
        event = await OrderEvent.objects.acreate(
            order=pending_order, from_status=OrderStatus.PENDING, to_status=OrderStatus.PAID
        )
        # Capture on the thread where database_sync_to_async runs every query; the publish
        # itself reads nothing, so every statement captured is the subscriber's.
        captured = CaptureQueriesContext(connection)
        await database_sync_to_async(captured.__enter__)()
        await database_sync_to_async(order_event_publish)(
            event_id=event.pk, order_id=pending_order.pk, to_status="PAID"
        )
        data = await next_data(client)
        await database_sync_to_async(captured.__exit__)(None, None, None)
        queries = await database_sync_to_async(lambda: captured.captured_queries)()

    assert data["orderStatusChanged"]["event"]["id"] == event_global_id(event)
    assert len(queries) == 1, [q["sql"] for q in queries]


async def test_every_socket_following_an_order_gets_each_event_once(
    socket: Any, customer: User, staff: User, pending_order: Order
) -> None:
    async with (
        socket(bearer(customer)) as first,
        socket(bearer(customer)) as second,
        socket(bearer(staff)) as third,
    ):
        clients = (first, second, third)
        for client in clients:
            await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()

        await transition(pending_order, OrderStatus.PAID)
        await transition(pending_order, OrderStatus.SHIPPED)

        received = [
            [(await next_data(client))["orderStatusChanged"]["status"] for _ in range(2)]
            for client in clients
        ]
        for client in clients:
            assert await client.receive_nothing(NO_MESSAGE_SECONDS)

    assert received == [["PAID", "SHIPPED"]] * 3


async def test_sockets_handling_the_same_message_share_one_read() -> None:
    reads: list[str] = []
    in_flight = threading.Event()

    def read(name: str) -> str:
        reads.append(name)
        in_flight.wait(2)  # held until every caller has asked
        return name

    key = ("order", 1, 10, 11)
    leaving = asyncio.ensure_future(_read_shared(key, partial(read, "first")))
    staying = asyncio.ensure_future(_read_shared(key, partial(read, "second")))
    later = asyncio.ensure_future(_read_shared(("order", 1, 10, 12), partial(read, "later")))
    await asyncio.sleep(0.1)
    leaving.cancel()  # a socket that closed mid-read
    in_flight.set()

    assert await staying == "first"  # joined the read in flight, not cancelled with it
    assert await later == "later"  # another message: a read of its own
    assert sorted(reads) == ["first", "later"]


STAFF_FEED = """
subscription Feed($status: [OrderStatus!]) {
  orderEvents(status: $status) { status order { number } }
}
"""


async def test_staff_feed_sends_every_orders_changes_filtered_by_status(
    socket: Any, staff: User, customer: User, pending_order: Order
) -> None:
    from tests.factories import order_create

    second = await database_sync_to_async(order_create)(customer=customer)
    async with socket(bearer(staff)) as client:
        await subscribe(client, STAFF_FEED, {"status": ["PAID", "CANCELLED"]})
        await listen_started()
        await transition(pending_order, OrderStatus.PAID)
        await transition(pending_order, OrderStatus.SHIPPED)  # filtered out
        await transition(second, OrderStatus.CANCELLED)

        first = (await next_data(client))["orderEvents"]
        then = (await next_data(client))["orderEvents"]
        assert await client.receive_nothing(NO_MESSAGE_SECONDS)

    assert first == {"status": "PAID", "order": {"number": pending_order.number}}
    assert then == {"status": "CANCELLED", "order": {"number": second.number}}


async def test_customer_cannot_subscribe_to_the_staff_feed(
    socket: Any, customer: User, pending_order: Order
) -> None:
    async with socket(bearer(customer)) as client:
        await subscribe(client, STAFF_FEED, {})
        refused = await client.receive_json_from(timeout=3)
        completed = await client.receive_json_from(timeout=3)
        await transition(pending_order, OrderStatus.PAID)
        assert await client.receive_nothing(NO_MESSAGE_SECONDS)

    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert completed == {"id": "1", "type": "complete"}
