"""Ending a user's sessions closes their open WebSockets (4403) within a second.

Every way sessions end: ``tokenRevokeAll`` (the service and the mutation), every way a password
is replaced or an account deactivated (tests/accounts/session_endings.py) and deletion.
In-process on the in-memory layer for each, then once end to end: a real Daphne on the real
Redis channel layer, revoked from another process (this one).
"""

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connection
from pytest_django.fixtures import Settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from backend.accounts.models import User
from backend.settings import redis_channel_layers
from tests.accounts import session_endings
from tests.api.websocket.conftest import bearer
from tests.conftest import service_url
from tests.factories import user_create
from tests.graphql_client import GraphQLClient
from tests.live_server import live_server

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_WITHIN_SECONDS = 1.0


def revoke_all_over_graphql(user: User) -> None:
    result = GraphQLClient(user=user).mutate("mutation { tokenRevokeAll { ok errors { code } } }")
    assert result == {"ok": True, "errors": []}


def delete(user: User) -> None:
    user.delete()


# Every path of tests/accounts/session_endings.py (services, admin forms and action, querysets,
# manage.py changepassword, saves), the mutation, and deletion.
ENDINGS: list[Callable[[User], None]] = [*session_endings.ENDINGS, revoke_all_over_graphql, delete]


async def closed_with(client: WebsocketCommunicator, timeout: float) -> int:
    message = await client.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    return message["code"]


@pytest.mark.parametrize("end_sessions", ENDINGS, ids=lambda f: f.__name__)
async def test_ending_the_sessions_closes_every_socket_of_that_user_and_no_other(
    socket: Any, end_sessions: Callable[[User], None]
) -> None:
    user = await database_sync_to_async(user_create)(password=session_endings.OLD_PASSWORD)
    bystander = await database_sync_to_async(user_create)()
    first, second, other = socket(bearer(user)), socket(bearer(user)), socket(bearer(bystander))
    for client in (first, second, other):
        await client.gql_init()

    started = time.monotonic()
    await database_sync_to_async(end_sessions)(user)

    assert await closed_with(first, CLOSE_WITHIN_SECONDS) == 4403
    assert await closed_with(second, CLOSE_WITHIN_SECONDS) == 4403
    assert time.monotonic() - started < CLOSE_WITHIN_SECONDS + 0.5
    await other.send_json_to({"type": "ping"})
    assert await other.receive_json_from() == {"type": "pong"}  # still open
    for client in (first, second, other):
        await client.disconnect()


async def test_a_save_that_keeps_the_account_active_closes_nothing(socket: Any) -> None:
    user = await database_sync_to_async(user_create)()
    client = socket(bearer(user))
    await client.gql_init()

    user.name = "Renamed"
    await database_sync_to_async(user.save)()

    assert await client.receive_nothing(0.3)
    await client.disconnect()


async def test_a_socket_that_closed_leaves_the_users_group(socket: Any) -> None:
    user = await database_sync_to_async(user_create)()
    client = socket(bearer(user))
    await client.gql_init()
    await client.disconnect()

    layer = get_channel_layer()
    assert layer is not None
    assert not layer.groups.get(f"user.{user.pk}")  # in-memory layer: group -> channels


# --- End to end: Daphne, the Redis channel layer, revocation from another process ----------


@pytest.fixture
def redis_daphne(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """Daphne on the real Redis layer; this process publishes on the same layer."""
    redis_url = service_url("REDIS_URL")
    settings.CHANNEL_LAYERS = redis_channel_layers(redis_url)
    environment = {
        "REDIS_URL": redis_url,
        "JWT_PRIVATE_KEY": django_settings.JWT_PRIVATE_KEY,
        "JWT_PRIVATE_KEY_FILE": "",
    }
    with live_server(environment, tmp_path / "daphne.log") as base_url:
        yield base_url


def in_own_connection(end_sessions: Callable[[User], None], user: User) -> None:
    """Commits, then publishes through Redis; closes the thread's database connection."""
    try:
        end_sessions(user)
    finally:
        connection.close()


@pytest.mark.services
def test_daphne_closes_the_sockets_when_another_process_ends_the_sessions(
    redis_daphne: str,
) -> None:
    revoked, deactivated = user_create(), user_create()
    url = redis_daphne.replace("http", "ws") + "/graphql/"

    async def open_socket(user: User) -> ClientConnection:
        ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(user)}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "connection_ack"}
        return ws

    async def closed_after(
        ws: ClientConnection, end_sessions: Callable[[User], None], user: User
    ) -> tuple[int, float]:
        started = time.monotonic()
        await asyncio.to_thread(in_own_connection, end_sessions, user)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None
        return closed.value.rcvd.code, time.monotonic() - started

    async def scenario() -> list[tuple[int, float]]:
        first, second = await open_socket(revoked), await open_socket(deactivated)
        results = [await closed_after(first, session_endings.revoke_all, revoked)]
        await second.ping()  # the other user's socket is still open
        results.append(
            await closed_after(second, session_endings.deactivated_by_a_save, deactivated)
        )
        return results

    try:
        results = asyncio.run(scenario())
    finally:
        layer = get_channel_layer()
        if layer is not None:
            asyncio.run(layer.close_pools())

    for code, elapsed in results:
        assert code == 4403
        assert elapsed < CLOSE_WITHIN_SECONDS
