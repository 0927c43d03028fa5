"""A ``subscribe`` whose payload carries a NUL character anywhere (a variable at any depth, a
key, the operation name, an extension, the query) or JSON nested past HTTP's bound is refused
at the edge, as HTTP refuses such a body: one ``error`` message coded BAD_USER_INPUT for that
operation, nothing executed, and the socket stays open and usable."""

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.channels.testing import GraphQLWebsocketCommunicator

from backend.accounts.models import User
from backend.core.json_input import JSON_MAX_DEPTH
from backend.orders.models import Order, OrderStatus
from backend.orders.services import order_transition
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer, order_global_id
from tests.factories import user_create

pytestmark = pytest.mark.django_db(transaction=True)

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ORDER_ID = "T3JkZXI6MQ=="  # Order 1
_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8)
nul_texts = st.tuples(_text, _text).map(lambda parts: f"{parts[0]}\x00{parts[1]}")


def nested(value: Any, path: list[str | int]) -> Any:
    """``value`` at ``path`` inside lists and objects."""
    for step in reversed(path):
        value = [value] if isinstance(step, int) else {step: value}
    return value


paths = st.lists(st.one_of(_text, st.just(0)), max_size=5)
nul_payloads = st.one_of(
    # A variable, at any depth, holding a NUL.
    st.tuples(nul_texts, paths).map(
        lambda args: {
            "query": SUBSCRIBE_STATUS,
            "variables": {"orderId": ORDER_ID, "since": nested(args[0], args[1])},
        }
    ),
    st.tuples(nul_texts).map(
        lambda args: {"query": SUBSCRIBE_STATUS, "variables": {"orderId": args[0]}}
    ),
    # A key, the operation name, an extension, the query text.
    st.tuples(nul_texts).map(
        lambda args: {"query": SUBSCRIBE_STATUS, "variables": {args[0]: ORDER_ID}}
    ),
    st.tuples(nul_texts).map(lambda args: {"query": SUBSCRIBE_STATUS, "operationName": args[0]}),
    st.tuples(nul_texts, paths).map(
        lambda args: {"query": SUBSCRIBE_STATUS, "extensions": {"e": nested(args[0], args[1])}}
    ),
    st.tuples(nul_texts).map(lambda args: {"query": SUBSCRIBE_STATUS + args[0]}),
)
too_deep_payloads = st.integers(JSON_MAX_DEPTH, 300).map(
    lambda depth: {
        "query": SUBSCRIBE_STATUS,
        "variables": {"orderId": ORDER_ID, "since": nested("x", [0] * depth)},
    }
)


def _user() -> User:
    return User.objects.filter(email="nul@example.com").first() or user_create(
        email="nul@example.com"
    )


async def refused_then_usable(client: GraphQLWebsocketCommunicator, payload: Any) -> None:
    await client.send_json_to({"id": "1", "type": "subscribe", "payload": payload})
    refused = await client.receive_json_from(timeout=3)
    assert refused["type"] == "error", refused
    assert refused["id"] == "1"
    (error,) = refused["payload"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NUL" in error["message"] or "nested deeper" in error["message"]
    assert await client.receive_nothing(0.1)  # no `next`, no `complete`: nothing ran
    await client.send_json_to({"type": "ping"})
    assert await client.receive_json_from() == {"type": "pong"}


@BOUNDED
@given(payload=nul_payloads | too_deep_payloads, signed_in=st.booleans())
def test_a_subscribe_carrying_a_nul_or_nested_too_deep_is_a_coded_error(
    socket: Any, payload: dict[str, Any], signed_in: bool
) -> None:
    connection_params = bearer(_user()) if signed_in else {}

    async def scenario() -> None:
        client = socket(connection_params)
        await client.gql_init()
        await refused_then_usable(client, payload)
        await client.disconnect()

    asyncio.run(scenario())


async def test_the_refused_id_is_free_for_a_valid_subscribe(
    socket: Any, customer: User, pending_order: Order
) -> None:
    async with socket(bearer(customer)) as client:
        variables = {"orderId": order_global_id(pending_order), "since": "\x00"}
        await refused_then_usable(client, {"query": SUBSCRIBE_STATUS, "variables": variables})
        del variables["since"]
        payload = {"query": SUBSCRIBE_STATUS, "variables": variables}
        await client.send_json_to({"id": "1", "type": "subscribe", "payload": payload})
        await asyncio.sleep(0.2)  # the subscription joins its group asynchronously
        await database_sync_to_async(order_transition)(
            order_id=pending_order.pk, to_status=OrderStatus.PAID
        )
        message = await client.receive_json_from(timeout=3)
        assert message["type"] == "next", message
        assert message["id"] == "1"
        assert message["payload"]["data"]["orderStatusChanged"]["status"] == "PAID"


async def test_the_protocol_checks_come_first(socket: Any) -> None:
    """Before ``connection_ack`` a subscribe closes 4401, NUL or not."""
    client = socket({})
    connected, _ = await client.connect()
    assert connected
    payload = {"query": SUBSCRIBE_STATUS, "variables": {"orderId": "\x00"}}
    await client.send_json_to({"id": "1", "type": "subscribe", "payload": payload})
    closed = await client.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401, "reason": "Unauthorized"}
