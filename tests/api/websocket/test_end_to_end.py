"""End to end with real parts: Daphne, Redis (channel layer), RabbitMQ and a Celery worker.

A customer's ``websockets`` client speaks graphql-transport-ws to a Daphne subprocess; it pays
over HTTP; a separate Celery worker process charges the order and publishes PAID through
Redis; staff ship and deliver over HTTP. Every process uses this test's own database, so rows
are committed (``transaction=True``) for the others to see.
"""

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create
from backend.orders.models import OrderEvent
from backend.orders.services import OrderLine, order_place
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, event_global_id, order_global_id
from tests.conftest import service_url
from tests.factories import product_create, user_create
from tests.live_server import live_server
from tests.orders.test_celery_worker import worker_queue  # noqa: F401  the real worker fixture

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

EVENT_TIMEOUT = 5
QUIET_SECONDS = 0.5


@pytest.fixture
def daphne(worker_queue: str, test_signing_key: Ed25519PrivateKey, tmp_path: Path) -> Iterator[str]:  # noqa: F811  the imported fixture
    """Daphne on a free port, publishing tasks to the worker's queue; yields its base URL."""
    environment = {
        "REDIS_URL": service_url("REDIS_URL"),
        "CELERY_BROKER_URL": service_url("CELERY_BROKER_URL"),
        "CELERY_TASK_DEFAULT_QUEUE": worker_queue,
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,  # the key this test signs tokens with
        "JWT_PRIVATE_KEY_FILE": "",
    }
    with live_server(environment, tmp_path / "daphne.log") as base_url:
        yield base_url


def graphql_post(base_url: str, token: str, query: str, variables: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{base_url}/graphql/",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


ORDER_CHANGE = """
mutation Change($id: ID!) {{
  {field}(id: $id) {{ order {{ status }} errors {{ code message }} }}
}}
"""


def order_change(base_url: str, token: str, field: str, order_id: str) -> None:
    data = graphql_post(base_url, token, ORDER_CHANGE.format(field=field), {"id": order_id})
    assert data[field]["errors"] == [], data


async def open_subscription(
    base_url: str, token: str, variables: dict[str, Any]
) -> ClientConnection:
    ws = await connect(
        base_url.replace("http", "ws") + "/graphql/", subprotocols=["graphql-transport-ws"]
    )
    assert ws.subprotocol == "graphql-transport-ws"
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT)) == {
        "type": "connection_ack"
    }
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE_STATUS, "variables": variables},
            }
        )
    )
    return ws


async def next_change(ws: ClientConnection, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["orderStatusChanged"]


async def assert_quiet(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), QUIET_SECONDS)


def test_worker_payment_and_staff_shipping_reach_the_customers_socket_in_order(
    daphne: str,
) -> None:
    customer: User = user_create()
    staff: User = user_create(is_staff=True)
    order = order_place(
        customer=customer, lines=[OrderLine(product_create().pk, 1)], idempotency_key="e2e"
    )
    customer_token, staff_token = access_token_create(customer), access_token_create(staff)
    order_id = order_global_id(order)

    async def scenario() -> tuple[list[dict[str, Any]], list[str], float]:
        ws = await open_subscription(daphne, customer_token, {"orderId": order_id})
        await asyncio.sleep(0.3)  # the subscription joins its group after `subscribe`
        started = time.monotonic()
        await asyncio.to_thread(order_change, daphne, customer_token, "orderPay", order_id)
        paid = await next_change(ws)  # charged by the worker process, pushed through Redis
        paid_after = time.monotonic() - started
        await asyncio.to_thread(order_change, daphne, staff_token, "orderShip", order_id)
        await asyncio.to_thread(order_change, daphne, staff_token, "orderDeliver", order_id)
        live = [paid, await next_change(ws), await next_change(ws)]
        await assert_quiet(ws)
        await ws.close()

        # Reconnect having seen only PAID: the two later changes come once, from the replay.
        reconnect = await open_subscription(
            daphne, customer_token, {"orderId": order_id, "since": live[0]["event"]["id"]}
        )
        replayed = [(await next_change(reconnect))["status"] for _ in range(2)]
        await assert_quiet(reconnect)
        await reconnect.close()
        return live, replayed, paid_after

    live, replayed, paid_after = asyncio.run(scenario())

    events = list(OrderEvent.objects.filter(order=order).order_by("id"))
    assert [(c["previousStatus"], c["status"]) for c in live] == [
        ("PENDING", "PAID"),
        ("PAID", "SHIPPED"),
        ("SHIPPED", "DELIVERED"),
    ]
    assert [c["event"]["id"] for c in live] == [event_global_id(e) for e in events[1:]]
    assert events[1].actor_id is None  # PAID was made by the worker, not a request
    assert paid_after < EVENT_TIMEOUT
    assert replayed == ["SHIPPED", "DELIVERED"]
