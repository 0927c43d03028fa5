"""WebSocket metrics: open sockets, active subscriptions by field, and the fan-out latency of
an order event from its commit to its ``next`` frame."""

from typing import Any

import pytest
from prometheus_client import REGISTRY

from backend.accounts.models import User
from backend.orders.models import Order, OrderStatus
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer, order_global_id
from tests.api.websocket.test_order_status_changed import (
    listen_started,
    next_data,
    subscribe,
    transition,
)

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_sockets_and_subscriptions_are_counted_while_open_and_fanout_is_observed(
    socket: Any, customer: User, pending_order: Order
) -> None:
    sockets = sample("nexus_websocket_connections")
    active = sample("nexus_graphql_subscriptions", subscription="orderStatusChanged")
    delivered = sample("nexus_subscription_fanout_seconds_count")

    async with socket(bearer(customer)) as client:
        assert sample("nexus_websocket_connections") == sockets + 1
        await subscribe(client, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()
        assert sample("nexus_graphql_subscriptions", subscription="orderStatusChanged") == (
            active + 1
        )

        await transition(pending_order, OrderStatus.PAID)
        assert (await next_data(client))["orderStatusChanged"]["status"] == "PAID"
        await transition(pending_order, OrderStatus.SHIPPED)
        await next_data(client)  # the generator resumed: the PAID frame was observed

        assert sample("nexus_subscription_fanout_seconds_count") >= delivered + 1
        await client.send_json_to({"id": "1", "type": "complete"})
        await listen_started()
        assert sample("nexus_graphql_subscriptions", subscription="orderStatusChanged") == active

    assert sample("nexus_websocket_connections") == sockets
