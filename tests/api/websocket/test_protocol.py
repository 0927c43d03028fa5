"""graphql-transport-ws over the real consumer: subprotocols, origins, auth, close codes, caps."""

import asyncio
import time
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import Settings
from strawberry.channels.testing import GraphQLWebsocketCommunicator

from backend.accounts.models import User
from backend.orders.models import Order
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer, order_global_id

pytestmark = pytest.mark.django_db(transaction=True)


async def close_code(client: WebsocketCommunicator, timeout: float = 3) -> int:
    """The code of the close the server sends next (skipping nothing: asserts it is a close)."""
    message = await client.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def connect(client: WebsocketCommunicator, init: dict[str, Any] | None) -> None:
    connected, subprotocol = await client.connect()
    assert connected
    assert subprotocol == "graphql-transport-ws"
    if init is not None:
        await client.send_json_to({"type": "connection_init", "payload": init})


def subscribe_message(order: Order, op_id: str = "1") -> dict[str, Any]:
    return {
        "id": op_id,
        "type": "subscribe",
        "payload": {"query": SUBSCRIBE_STATUS, "variables": {"orderId": order_global_id(order)}},
    }


async def test_the_asgi_application_serves_graphql_transport_ws_at_graphql(
    customer: User,
) -> None:
    from backend.asgi import application

    client = GraphQLWebsocketCommunicator(
        application, "/graphql/", connection_params=bearer(customer)
    )
    await client.gql_init()  # asserts the subprotocol and the connection_ack
    await client.send_json_to({"type": "ping"})
    assert await client.receive_json_from() == {"type": "pong"}
    await client.disconnect()


async def test_the_legacy_graphql_ws_subprotocol_is_refused() -> None:
    from backend.asgi import application

    client = WebsocketCommunicator(application, "/graphql/", subprotocols=["graphql-ws"])
    _, subprotocol = await client.connect()

    assert subprotocol is None  # never agreed to
    assert await close_code(client) == 4406
    await client.disconnect()


async def test_a_page_on_an_unlisted_origin_cannot_open_a_socket(socket: Any) -> None:
    client = socket(headers=[(b"origin", b"https://evil.example"), (b"host", b"localhost")])
    connected, _ = await client.connect()
    assert not connected


async def test_pages_on_cors_allowed_origins_and_allowed_hosts_may_connect(
    socket: Any, settings: Settings
) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    settings.ALLOWED_HOSTS = ["api.example"]
    for origin in (b"https://shop.example", b"https://api.example"):
        client = socket(headers=[(b"origin", origin), (b"host", b"nexus.internal")])
        connected, _ = await client.connect()
        assert connected, origin
        await client.disconnect()


async def test_a_bad_token_is_refused_at_connection_init_with_4403(socket: Any) -> None:
    client = socket()
    await connect(client, {"authorization": "Bearer not-a-jwt"})
    assert await close_code(client) == 4403
    await client.disconnect()


async def test_a_non_bearer_authorization_is_refused_with_4403(socket: Any, customer: User) -> None:
    client = socket()
    await connect(client, {"authorization": "Basic dXNlcjpwYXNz"})
    assert await close_code(client) == 4403
    await client.disconnect()


async def test_an_anonymous_connection_is_closed_4403_on_a_private_subscription(
    socket: Any, pending_order: Order
) -> None:
    client = socket()
    await connect(client, {})
    assert (await client.receive_json_from())["type"] == "connection_ack"

    await client.send_json_to(subscribe_message(pending_order))

    assert await close_code(client) == 4403
    await client.disconnect()


async def test_the_socket_closes_4403_when_the_access_token_expires(
    socket: Any, customer: User, settings: Settings
) -> None:
    # Issued so that it expires one second from now.
    issued = time.time() - settings.JWT_ACCESS_TTL_SECONDS + 1
    client = socket()
    await connect(client, bearer(customer, now=issued))
    assert (await client.receive_json_from())["type"] == "connection_ack"

    assert await close_code(client, timeout=4) == 4403
    await client.disconnect()


async def test_no_connection_init_in_time_closes_4408(socket: Any, settings: Settings) -> None:
    settings.GRAPHQL_WS_INIT_TIMEOUT_SECONDS = 1
    client = socket()
    await connect(client, None)

    assert await close_code(client, timeout=3) == 4408
    await client.disconnect()


async def test_subscribe_before_connection_ack_closes_4401(
    socket: Any, pending_order: Order
) -> None:
    client = socket()
    await connect(client, None)

    await client.send_json_to(subscribe_message(pending_order))

    assert await close_code(client) == 4401
    await client.disconnect()


async def test_a_duplicate_operation_id_closes_4409(
    socket: Any, customer: User, pending_order: Order
) -> None:
    client = socket(bearer(customer))
    await client.gql_init()
    await client.send_json_to(subscribe_message(pending_order, op_id="same"))
    await asyncio.sleep(0.1)

    await client.send_json_to(subscribe_message(pending_order, op_id="same"))

    assert await close_code(client) == 4409
    await client.disconnect()


async def test_a_second_connection_init_closes_4429(socket: Any, customer: User) -> None:
    client = socket(bearer(customer))
    await client.gql_init()

    await client.send_json_to({"type": "connection_init", "payload": bearer(customer)})

    assert await close_code(client) == 4429
    await client.disconnect()


async def test_operations_beyond_the_per_connection_cap_get_an_error(
    socket: Any, customer: User, pending_order: Order, settings: Settings
) -> None:
    settings.GRAPHQL_WS_MAX_SUBSCRIPTIONS = 2
    client = socket(bearer(customer))
    await client.gql_init()
    await client.send_json_to(subscribe_message(pending_order, op_id="a"))
    await client.send_json_to(subscribe_message(pending_order, op_id="b"))

    await client.send_json_to(subscribe_message(pending_order, op_id="c"))

    refused = await client.receive_json_from(timeout=3)
    assert refused["type"] == "error"
    assert refused["id"] == "c"
    assert refused["payload"][0]["message"] == "Subscription limit reached"
    assert await client.receive_nothing(0.2)  # "a" and "b" keep running, silently
    await client.disconnect()


async def test_connections_beyond_the_per_user_cap_close_4429_until_one_closes(
    socket: Any, customer: User, settings: Settings
) -> None:
    settings.GRAPHQL_WS_MAX_CONNECTIONS_PER_USER = 2
    first, second = socket(bearer(customer)), socket(bearer(customer))
    await first.gql_init()
    await second.gql_init()

    third = socket()
    await connect(third, bearer(customer))
    assert await close_code(third) == 4429
    await third.disconnect()

    await first.disconnect()
    fourth = socket(bearer(customer))
    await fourth.gql_init()  # a slot was released: acknowledged
    await second.disconnect()
    await fourth.disconnect()
