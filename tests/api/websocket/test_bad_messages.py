"""Whatever a client sends over the socket, it gets a coded answer or a protocol close, never
INTERNAL_SERVER_ERROR: queries and mutations (``tokenCreate``...) are refused with
OPERATION_NOT_SUPPORTED and change nothing; invalid subscriptions and wrong variable types get
coded errors; malformed messages of any shape close with a graphql-transport-ws code."""

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.channels.testing import GraphQLWebsocketCommunicator

from backend.accounts.models import RefreshToken, User
from backend.orders.models import Order
from tests.api.websocket.conftest import SUBSCRIBE_STATUS, bearer
from tests.factories import user_create

pytestmark = pytest.mark.django_db(transaction=True)

# The protocol's closes for a malformed or out-of-order message (see backend.api.graphql.websocket).
PROTOCOL_CLOSES = {4400, 4401, 4403, 4409, 4429}
QUIET_SECONDS = 0.15


async def answers(client: GraphQLWebsocketCommunicator) -> list[dict[str, Any]]:
    """Everything the server sends until it has been quiet a moment or closed the socket."""
    received: list[dict[str, Any]] = []
    # receive_nothing, not a timed-out receive_output: that one cancels the application.
    while not await client.receive_nothing(QUIET_SECONDS):
        received.append(await client.receive_output())
        if received[-1]["type"] == "websocket.close":
            break
    return received


def assert_coded(outputs: list[dict[str, Any]]) -> None:
    """Every error has a code and none is a server fault; every close is the protocol's."""
    for output in outputs:
        if output["type"] == "websocket.close":
            assert output.get("code") in PROTOCOL_CLOSES, output
            continue
        message = json.loads(output["text"])
        payload = message.get("payload")
        errors = payload if message["type"] == "error" else (payload or {}).get("errors", [])
        for error in errors:
            code = error.get("extensions", {}).get("code")
            assert code is not None, message
            assert code != "INTERNAL_SERVER_ERROR", message


def database_state() -> tuple[int, int, int]:
    return User.objects.count(), RefreshToken.objects.count(), Order.objects.count()


OPERATIONS = [
    'mutation { tokenCreate(email: "a@example.com", password: "x") { accessToken } }',
    'mutation { accountRegister(input: {email: "new@example.com", password: "Long-Passw0rd!"})'
    " { user { id } } }",
    'mutation { orderCreate(input: {idempotencyKey: "k", lines: []}) { errors { code } } }',
    "mutation { tokenRevokeAll { ok } }",
    "query { products(first: 1) { totalCount } }",
    "{ __typename }",
]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "customer"])
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_queries_and_mutations_are_refused_with_a_code_and_change_nothing(
    socket: Any, operation: str, signed_in: bool
) -> None:
    user = await database_sync_to_async(user_create)()
    before = await database_sync_to_async(database_state)()
    async with socket(bearer(user) if signed_in else {}) as client:
        await client.send_json_to({"id": "1", "type": "subscribe", "payload": {"query": operation}})
        refused = await client.receive_json_from(timeout=3)
        assert refused["type"] == "error"
        assert refused["id"] == "1"
        (error,) = refused["payload"]
        assert error["extensions"]["code"] == "OPERATION_NOT_SUPPORTED"
        assert "POST /graphql/" in error["message"]
        await client.send_json_to({"type": "ping"})  # the socket stays usable
        assert await client.receive_json_from() == {"type": "pong"}
    assert await database_sync_to_async(database_state)() == before


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("subscription { nope }", {}),
        (SUBSCRIBE_STATUS, {}),  # a required variable missing
        (SUBSCRIBE_STATUS, {"orderId": 5}),
        (SUBSCRIBE_STATUS, {"orderId": {"a": 1}}),
        (SUBSCRIBE_STATUS, {"orderId": "not-a-global-id"}),
        (SUBSCRIBE_STATUS, {"orderId": "T3JkZXI6MQ==", "since": ["x"]}),
        (SUBSCRIBE_STATUS, {"orderId": "VXNlcjox"}),  # a User id
        ("subscription { orderEvents(status: [LOST]) { status } }", {}),
    ],
)
async def test_invalid_subscriptions_get_coded_errors(
    socket: Any, query: str, variables: dict[str, Any]
) -> None:
    user = await database_sync_to_async(user_create)()
    async with socket(bearer(user)) as client:
        payload = {"query": query, "variables": variables}
        await client.send_json_to({"id": "1", "type": "subscribe", "payload": payload})
        outputs = await answers(client)
    assert outputs, "no answer at all"
    assert_coded(outputs)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
payloads = json_values | st.fixed_dictionaries(
    {
        "query": st.sampled_from([SUBSCRIBE_STATUS, "{ __typename }", "subscription {"])
        | json_values
    },
    optional={"variables": json_values, "operationName": json_values, "extensions": json_values},
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["subscribe", "complete", "ping", "pong", "connection_init", "next", "error"]
        )
        | json_values,
        "id": st.sampled_from(["1", "2"]) | json_values,
        "payload": payloads,
    },
)
frames = messages.map(json.dumps) | json_values.map(json.dumps) | st.text(min_size=1, max_size=40)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=st.lists(frames, min_size=1, max_size=3), signed_in=st.booleans())
def test_any_message_gets_a_coded_answer_or_a_protocol_close(
    socket: Any, sent: list[str], signed_in: bool
) -> None:
    user_init = bearer(_fuzz_user()) if signed_in else {}

    async def scenario() -> list[dict[str, Any]]:
        client = socket(user_init)
        await client.gql_init()
        outputs: list[dict[str, Any]] = []
        for frame in sent:
            await client.send_to(text_data=frame)
            outputs += await answers(client)
            if outputs and outputs[-1]["type"] == "websocket.close":
                break
        await client.disconnect()
        return outputs

    assert_coded(asyncio.run(scenario()))


def _fuzz_user() -> User:
    user = User.objects.filter(email="fuzz@example.com").first()
    return user or user_create(email="fuzz@example.com")
