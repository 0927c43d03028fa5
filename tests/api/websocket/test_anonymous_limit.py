"""Anonymous sockets per client address: beyond GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS
the next one closes 4429 (the per-user counter's mechanism), per address, through trusted
proxies as HTTP sees it; signed-in sockets do not count; an anonymous one lives one
access-token lifetime."""

import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import Settings

from tests.api.websocket.conftest import bearer
from tests.factories import user_create

pytestmark = pytest.mark.django_db(transaction=True)


def from_address(socket: Any, address: str, init: dict[str, str] | None = None) -> Any:
    """A socket whose client is ``address`` (forwarded by a trusted proxy)."""
    return socket(init or {}, headers=[(b"x-forwarded-for", address.encode())])


async def acknowledged(client: WebsocketCommunicator) -> bool:
    """Connects and sends connection_init: True on connection_ack, False on a 4429 close."""
    connected, _ = await client.connect()
    assert connected
    await client.send_json_to({"type": "connection_init", "payload": client.connection_params})
    message = await client.receive_output(3)
    if message["type"] == "websocket.close":
        assert message["code"] == 4429, message
        return False
    assert message == {"type": "websocket.send", "text": '{"type":"connection_ack"}'}, message
    return True


@pytest.fixture(autouse=True)
def trusted_proxy(settings: Settings) -> None:
    settings.FORWARDED_ALLOW_IPS = ("*",)


@pytest.mark.parametrize("limit", [1, 3])
async def test_anonymous_sockets_beyond_the_limit_close_4429_per_address(
    socket: Any, settings: Settings, limit: int
) -> None:
    settings.GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS = limit
    opened = [from_address(socket, "203.0.113.7") for _ in range(limit + 2)]
    answers = [await acknowledged(client) for client in opened]
    assert answers == [True] * limit + [False, False]

    # Another address has its own allowance; a signed-in socket from the full one is not
    # anonymous and counts against its user instead.
    assert await acknowledged(from_address(socket, "198.51.100.1"))
    user = await database_sync_to_async(user_create)()
    assert await acknowledged(from_address(socket, "203.0.113.7", bearer(user)))

    # Closing one frees its place.
    await opened[0].disconnect()
    assert await acknowledged(from_address(socket, "203.0.113.7"))
    assert not await acknowledged(from_address(socket, "203.0.113.7"))


async def test_an_untrusted_peer_cannot_spread_over_forged_addresses(
    socket: Any, settings: Settings
) -> None:
    settings.FORWARDED_ALLOW_IPS = ("10.0.0.1",)  # the test client's peer is not a proxy
    settings.GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS = 2
    answers = [await acknowledged(from_address(socket, f"192.0.2.{n}")) for n in range(4)]
    assert answers == [True, True, False, False]


async def test_an_anonymous_socket_closes_4403_after_one_access_token_lifetime(
    socket: Any, settings: Settings
) -> None:
    settings.JWT_ACCESS_TTL_SECONDS = 1
    client = from_address(socket, "203.0.113.9")
    assert await acknowledged(client)
    started = time.monotonic()
    message = await client.receive_output(3)
    assert message["type"] == "websocket.close"
    assert message["code"] == 4403
    assert time.monotonic() - started < 2
