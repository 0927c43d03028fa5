"""A WebSocket connection has one log context: the handshake's X-Request-ID (or a new id),
then its user once connection_init authenticated it, and each operation's name."""

from typing import Any

import pytest

from backend.accounts.models import User
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer
from tests.log_capture import JsonLog

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_refused_connection_init_is_logged_with_the_connections_request_id(
    socket: Any, json_log: JsonLog
) -> None:
    client = socket(headers=[(b"x-request-id", b"ws-refused-1")])
    await client.connect()
    await client.send_json_to({"type": "connection_init", "payload": {"authorization": "Bearer x"}})
    assert (await client.receive_output(3))["code"] == 4403
    await client.disconnect()
    (record,) = [r for r in json_log.records() if "connection_init refused" in r["message"]]
    assert record["level"] == "INFO"
    assert record["request_id"] == "ws-refused-1"


async def test_an_operations_records_carry_request_id_user_and_operation_name(
    socket: Any, customer: User, json_log: JsonLog
) -> None:
    client = socket(bearer(customer), headers=[(b"x-request-id", b"ws-op-1")])
    await client.gql_init()
    await client.send_json_to(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE_STATUS, "variables": {"orderId": "not-an-id"}},
        }
    )
    message = await client.receive_json_from(timeout=3)
    assert message["type"] in {"error", "next"}, message
    await client.disconnect()
    (record,) = [r for r in json_log.records() if r["logger"] == "backend.api.graphql.logs"]
    assert record["level"] == "INFO"
    assert record["request_id"] == "ws-op-1"
    assert record["user_id"] == str(customer.pk)
    assert record["operation_name"] == "Follow"
    assert json_log.errors() == []
