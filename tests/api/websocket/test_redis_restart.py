"""Subscriptions outlive a restart of Redis, the channel layer: they resume on their own and
send every event once, in order, the ones committed while it was down included.

Each test runs its own Redis (``tests.servers.redis_server``) and stops it (SIGKILL, a crash;
SIGTERM, a clean shutdown): the machine's Redis is shared. The consumer is the real one,
in-process, on the real Redis layer, with the cache in memory; one test runs Daphne, its
cache on that Redis too, with a ``websockets`` client, as deployed.
"""

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connections
from pytest_django.fixtures import Settings
from strawberry.channels.testing import GraphQLWebsocketCommunicator

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create
from backend.orders import tasks
from backend.orders.models import Order, OrderEvent, OrderStatus
from backend.orders.services import order_transition
from backend.settings import redis_channel_layers
from tests.api.websocket.conftest import (
    SUBSCRIBE_STATUS,
    bearer,
    event_global_id,
    order_global_id,
)
from tests.api.websocket.test_end_to_end import assert_quiet, next_change, open_subscription
from tests.api.websocket.test_order_status_changed import (
    STAFF_FEED,
    listen_started,
    subscribe,
    transition,
)
from tests.live_server import live_server
from tests.servers import RedisServer, redis_server

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# The layer checks every CHANNEL_LAYER_RECONNECT_INTERVAL_SECONDS (0.5) whether Redis is back;
# the rest is margin for a loaded machine.
RECOVERY_TIMEOUT = 10
NO_MESSAGE_SECONDS = 0.5
SIGNALS = [pytest.param(signal.SIGKILL, id="SIGKILL"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.fixture
def redis(settings: Settings) -> Iterator[RedisServer]:
    """A Redis of this test's own, the channel layer on it."""
    with redis_server() as server:
        settings.CHANNEL_LAYERS = redis_channel_layers(server.url())
        yield server


async def frames(client: GraphQLWebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next ``count`` frames' data, each within RECOVERY_TIMEOUT, then nothing more."""
    received = []
    for _ in range(count):
        message = await client.receive_json_from(timeout=RECOVERY_TIMEOUT)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        received.append(message["payload"]["data"])
    assert await client.receive_nothing(NO_MESSAGE_SECONDS)
    return received


async def events_of(order: Order) -> list[str]:
    """The global ids of the order's events after its creation, in commit order."""
    return [
        event_global_id(event)
        async for event in OrderEvent.objects.filter(order=order).order_by("id")[1:]
    ]


@pytest.mark.parametrize("stop_signal", SIGNALS)
async def test_open_subscriptions_resume_after_a_redis_restart_and_miss_nothing(
    redis: RedisServer,
    stop_signal: signal.Signals,
    socket: Any,
    customer: User,
    staff: User,
    pending_order: Order,
) -> None:
    async with socket(bearer(customer)) as follower, socket(bearer(staff)) as dashboard:
        await subscribe(follower, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await subscribe(dashboard, STAFF_FEED, {})
        await listen_started()

        await asyncio.to_thread(redis.stop, stop_signal)
        await transition(pending_order, OrderStatus.PAID)  # its publish fails: Redis is down
        await asyncio.to_thread(redis.start)  # empty: the groups are gone with the old one
        await transition(pending_order, OrderStatus.SHIPPED)

        followed = await frames(follower, 2)
        fed = await frames(dashboard, 2)

    changes = [frame["orderStatusChanged"] for frame in followed]
    assert [change["status"] for change in changes] == ["PAID", "SHIPPED"]
    assert [change["event"]["id"] for change in changes] == await events_of(pending_order)
    assert [frame["orderEvents"]["status"] for frame in fed] == ["PAID", "SHIPPED"]


async def test_live_events_flow_again_after_the_resume(
    redis: RedisServer, socket: Any, customer: User, pending_order: Order
) -> None:
    async with socket(bearer(customer)) as follower:
        await subscribe(follower, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()
        await asyncio.to_thread(redis.stop, signal.SIGKILL)
        await asyncio.to_thread(redis.start)
        # Nothing was missed: the resume reads and sends nothing.
        assert await follower.receive_nothing(RECOVERY_TIMEOUT / 2)

        await transition(pending_order, OrderStatus.PAID)

        (paid,) = await frames(follower, 1)
    assert paid["orderStatusChanged"]["status"] == "PAID"


async def test_a_subscription_started_while_redis_is_down_joins_its_group_once_it_is_back(
    redis: RedisServer, socket: Any, customer: User, pending_order: Order
) -> None:
    await asyncio.to_thread(redis.stop, signal.SIGKILL)
    async with socket(bearer(customer)) as follower:
        await subscribe(follower, SUBSCRIBE_STATUS, {"orderId": order_global_id(pending_order)})
        await listen_started()
        await transition(pending_order, OrderStatus.PAID)
        await asyncio.to_thread(redis.start)
        await transition(pending_order, OrderStatus.SHIPPED)

        changes = [frame["orderStatusChanged"] for frame in await frames(follower, 2)]
    assert [change["status"] for change in changes] == ["PAID", "SHIPPED"]


def test_a_daphne_subscriber_gets_every_event_once_across_a_redis_restart(
    redis: RedisServer,
    customer: User,
    pending_order: Order,
    test_signing_key: Ed25519PrivateKey,
    tmp_path: Path,
) -> None:
    environment = {
        "REDIS_URL": redis.url(),
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,  # the key this test signs tokens with
        "JWT_PRIVATE_KEY_FILE": "",
    }

    def change(to_status: OrderStatus) -> None:
        """A transition committed and published by this process, as a worker's would be."""
        try:
            order_transition(order_id=pending_order.pk, to_status=to_status)
        finally:
            connections.close_all()  # the thread's own connection

    async def scenario(base_url: str) -> list[dict[str, Any]]:
        token = access_token_create(customer)
        ws = await open_subscription(base_url, token, {"orderId": order_global_id(pending_order)})
        await asyncio.sleep(0.3)  # the subscription joins its group after `subscribe`
        await asyncio.to_thread(redis.stop, signal.SIGKILL)
        await asyncio.to_thread(change, OrderStatus.PAID)
        await asyncio.to_thread(redis.start)
        await asyncio.to_thread(change, OrderStatus.SHIPPED)
        changes = [await next_change(ws, RECOVERY_TIMEOUT) for _ in range(2)]
        await assert_quiet(ws)
        await ws.close()
        return changes

    with live_server(environment, tmp_path / "daphne.log") as base_url:
        changes = asyncio.run(scenario(base_url))

    assert [change["status"] for change in changes] == ["PAID", "SHIPPED"]
    events = list(OrderEvent.objects.filter(order=pending_order).order_by("id")[1:])
    assert [change["event"]["id"] for change in changes] == [
        event_global_id(event) for event in events
    ]


def test_a_workers_payment_commits_and_succeeds_while_redis_is_down(
    redis: RedisServer, pending_order: Order, settings: Settings
) -> None:
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0
    redis.stop(signal.SIGKILL)

    result = tasks.payment_process.apply(args=[pending_order.pk])

    assert result.successful(), result.traceback
    assert result.get() == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=pending_order, to_status=OrderStatus.PAID).exists()
