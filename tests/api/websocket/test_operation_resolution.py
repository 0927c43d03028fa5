"""A ``subscribe`` whose ``operationName`` does not pick one operation of its document is
refused as HTTP refuses it (the GraphQL spec's GetOperation, one rule for both): one ``error``
message coded OPERATION_RESOLUTION_FAILURE for that id, nothing run (Strawberry would run the
first of several operations), and the socket stays open and usable."""

import asyncio
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async

from backend.accounts.models import User
from backend.api.graphql import documents
from backend.orders.models import Order, OrderStatus
from backend.orders.services import order_transition
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer, order_global_id

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = "subscription Other($orderId: ID!) { orderStatusChanged(orderId: $orderId) { status } }"
ANONYMOUS = "subscription ($orderId: ID!) { orderStatusChanged(orderId: $orderId) { status } }"


async def paid(order: Order) -> None:
    await database_sync_to_async(order_transition)(order_id=order.pk, to_status=OrderStatus.PAID)


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        pytest.param(SUBSCRIBE_STATUS + OTHER, None, id="two subscriptions, no name"),
        pytest.param("query First { __typename }" + OTHER, None, id="a query first, no name"),
        pytest.param(SUBSCRIBE_STATUS, "Missing", id="a name no operation has"),
        pytest.param(ANONYMOUS, "Follow", id="a name, the operation anonymous"),
        pytest.param("fragment F on Query { __typename }", None, id="no operation"),
    ],
)
async def test_a_subscribe_picking_no_single_operation_is_refused_and_runs_nothing(
    socket: Any, customer: User, pending_order: Order, query: str, operation_name: str | None
) -> None:
    payload = {"query": query, "variables": {"orderId": order_global_id(pending_order)}}
    if operation_name is not None:
        payload["operationName"] = operation_name
    async with socket(bearer(customer)) as client:
        await client.send_json_to({"id": "1", "type": "subscribe", "payload": payload})
        refused = await client.receive_json_from(timeout=3)
        assert (refused["type"], refused["id"]) == ("error", "1"), refused
        (error,) = refused["payload"]
        assert error["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
        assert "operation" in error["message"]
        await paid(pending_order)
        assert await client.receive_nothing(0.5)  # no subscription follows the order
        await client.send_json_to({"type": "ping"})
        assert await client.receive_json_from() == {"type": "pong"}


async def test_the_named_one_of_several_operations_runs(
    socket: Any, customer: User, pending_order: Order
) -> None:
    payload = {
        "query": SUBSCRIBE_STATUS + OTHER,
        "operationName": "Other",
        "variables": {"orderId": order_global_id(pending_order)},
    }
    async with socket(bearer(customer)) as client:
        await client.send_json_to({"id": "1", "type": "subscribe", "payload": payload})
        await asyncio.sleep(0.2)  # the subscription joins its group asynchronously
        await paid(pending_order)
        message = await client.receive_json_from(timeout=3)
        assert message["type"] == "next", message
        assert message["payload"]["data"] == {"orderStatusChanged": {"status": "PAID"}}


async def test_a_document_not_seen_before_is_parsed_off_the_event_loop(
    socket: Any, customer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolving the operation parses the text: a text the cache has not seen is parsed in a
    worker thread, once, as the operation's own parse step would have parsed it."""
    parsed_on_loop: list[bool] = []
    parse = documents._parse

    def recording_parse(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            parsed_on_loop.append(False)
        else:
            parsed_on_loop.append(True)
        return parse(*args, **kwargs)

    monkeypatch.setattr(documents, "_parse", recording_parse)
    unseen = f"# {uuid.uuid4()}\n{SUBSCRIBE_STATUS}{OTHER}"
    async with socket(bearer(customer)) as client:
        await client.send_json_to({"id": "1", "type": "subscribe", "payload": {"query": unseen}})
        refused = await client.receive_json_from(timeout=3)
    assert refused["payload"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert parsed_on_loop == [False]
