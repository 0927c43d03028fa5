"""GraphQL over WebSockets: Strawberry's Channels consumer with Nexus's auth, origins and caps.

Protocol: ``graphql-transport-ws`` only (what Apollo's ``GraphQLWsLink`` speaks). A client that
offers only the legacy ``graphql-ws`` subprotocol is closed with 4406 right after the
handshake: that protocol had an auth-bypass advisory in Strawberry.

Close codes (graphql-transport-ws, asserted in tests/subscriptions):
- 4400 malformed message; 4401 ``subscribe`` before ``connection_ack``; 4408 no
  ``connection_init`` within ``GRAPHQL_WS_INIT_TIMEOUT_SECONDS``; 4409 an operation id already
  in use; 4429 a second ``connection_init`` (Strawberry) or more than
  ``GRAPHQL_WS_MAX_CONNECTIONS_PER_USER`` open sockets for one user (Nexus).
- 4403: a ``connection_init`` whose ``authorization`` is present but not a valid
  ``Bearer <access token>``; an anonymous connection subscribing to a private field; and the
  moment the connection's access token expires, so the client reconnects with a fresh one.

Authentication happens once, at ``connection_init`` (``{"authorization": "Bearer <token>"}``),
through ``backend.accounts.tokens.user_from_access_token``, the same path as HTTP. The user is
then ``info.context.request.user`` for every operation of the connection, exactly as on HTTP.
No token means an anonymous connection: public operations work, private ones close 4403.

Events reach the sockets through ``NexusRedisChannelLayer`` (``settings.redis_channel_layers``)
when REDIS_URL is set.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http.request import validate_host
from redis.asyncio import BlockingConnectionPool
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.unset import UNSET, UnsetType

from backend.accounts.models import User
from backend.accounts.tokens import AccessTokenError, access_token_decode, user_from_access_token
from backend.core.graphql.context import NexusContext

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429
BEARER_PREFIX = "bearer "
CONNECTION_COUNT_KEY = "graphql-ws:connections:{user_pk}"


class TooManyConnectionsError(Exception):
    """The user already holds GRAPHQL_WS_MAX_CONNECTIONS_PER_USER open sockets."""


@dataclass
class WebSocketContext(NexusContext):
    """The context of every operation on one socket: ``request`` is the consumer, whose
    ``user`` is the authenticated viewer, so ``viewer(info)`` works as on HTTP. ``loaders``
    live as long as the socket: subscriptions clear them before each event they send."""

    ws: "NexusGraphQLWSConsumer | None" = None
    connection_params: dict[str, Any] = field(default_factory=dict)


class NexusTransportWSHandler(BaseGraphQLTransportWSHandler[WebSocketContext, None]):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManyConnectionsError:
            await self.websocket.close(
                code=CLOSE_TOO_MANY_CONNECTIONS, reason="Too many connections for this user"
            )


def _authenticate(token: str) -> tuple[User, float]:
    """The token's user and its expiry (epoch seconds); raises AccessTokenError."""
    user = user_from_access_token(token)
    # Already verified above; decoded again only to read `exp` (no query, ~50 µs).
    return user, float(access_token_decode(token)["exp"])


def _bearer_token(credentials: object) -> str | None:
    if not isinstance(credentials, str) or credentials[:7].lower() != BEARER_PREFIX:
        return None
    return credentials[7:].strip() or None


class NexusGraphQLWSConsumer(GraphQLWSConsumer[WebSocketContext, None]):
    """One WebSocket connection. Guarantees: the user is set before ``connection_ack``; the
    socket is closed with 4403 when that user's access token expires; the per-user connection
    count is released on disconnect (and expires with the token if the process dies)."""

    graphql_transport_ws_handler_class = NexusTransportWSHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user: User | AnonymousUser = AnonymousUser()
        self.auth_error: AccessTokenError | None = None
        self._expiry_task: asyncio.Task[None] | None = None
        self._counted_user_pk: int | None = None

    def is_websocket_origin_allowed(self, request: GraphQLWSConsumer, origin: str) -> bool:
        """Cross-origin pages may connect from CORS_ALLOWED_ORIGINS or from a host in
        ALLOWED_HOSTS (Strawberry already lets same-origin and Origin-less clients in)."""
        if super().is_websocket_origin_allowed(request, origin):
            return True
        hostname = origin.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return bool(hostname) and validate_host(hostname, settings.ALLOWED_HOSTS)

    async def get_context(
        self, request: GraphQLWSConsumer, response: GraphQLWSConsumer
    ) -> WebSocketContext:
        return WebSocketContext(request=request, response=None, ws=self)  # type: ignore[arg-type]

    async def on_ws_connect(self, context: WebSocketContext) -> UnsetType | dict[str, object]:
        credentials = context.connection_params.get("authorization")
        if credentials is None:
            return UNSET  # an anonymous connection: private subscriptions close 4403
        token = _bearer_token(credentials)
        if token is None:
            raise ConnectionRejectionError
        try:
            user, expires_at = await database_sync_to_async(_authenticate)(token)
        except AccessTokenError as error:
            logger.info("WebSocket connection_init refused: %s", error.code)
            raise ConnectionRejectionError from None
        await self._connection_count_claim(user.pk)
        self.user = user
        self._expiry_task = asyncio.create_task(self._close_at(expires_at))
        return UNSET

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        if self._counted_user_pk is not None:
            await _connection_count_release(self._counted_user_pk)
            self._counted_user_pk = None

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.close(code=CLOSE_FORBIDDEN, reason="Access token expired")

    async def _connection_count_claim(self, user_pk: int) -> None:
        """Count this socket against the user's cap, or raise TooManyConnectionsError.

        The count lives in the cache (Redis when REDIS_URL is set, so it spans Daphne
        processes). Its key expires one access-token lifetime after the last claim: every
        socket closes when its token expires, so none counted then can still be open, and a
        crashed process cannot lock a user out for longer than that.
        """
        key = CONNECTION_COUNT_KEY.format(user_pk=user_pk)
        ttl = settings.JWT_ACCESS_TTL_SECONDS + 60
        await cache.aadd(key, 0, ttl)
        try:
            count = await cache.aincr(key)
        except ValueError:  # expired between add and incr
            await cache.aset(key, 1, ttl)
            count = 1
        await cache.atouch(key, ttl)
        if count > settings.GRAPHQL_WS_MAX_CONNECTIONS_PER_USER:
            await _connection_count_release(user_pk)
            raise TooManyConnectionsError
        self._counted_user_pk = user_pk


async def _connection_count_release(user_pk: int) -> None:
    with contextlib.suppress(ValueError):  # already expired: nothing to release
        await cache.adecr(CONNECTION_COUNT_KEY.format(user_pk=user_pk))


class NexusRedisChannelLayer(RedisChannelLayer):
    """channels_redis whose Redis connections wait for a free one instead of failing.

    redis-py's default pool raises MaxConnectionsError once 100 connections of an event loop
    are in use, and every socket of a Daphne process joining or leaving a group borrows one at
    the same moment: when a few hundred sockets closed at once, most ``group_discard`` calls
    failed (Strawberry swallows the error) and their channels stayed in the group until
    ``group_expiry``, each later event still fanned out to them. A ``BlockingConnectionPool``
    bounds the connections and makes the burst queue for them.

    Hosts are ``{"address": url, **pool options}`` (``max_connections``, ``timeout``: seconds
    to wait for a connection, and connection options such as ``socket_timeout``).
    """

    def create_pool(self, index: int) -> BlockingConnectionPool:
        options = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(options.pop("address"), **options)


def graphql_websocket_app(schema: BaseSchema) -> Any:
    """The ASGI app for ``/graphql/`` WebSockets, configured from settings when called."""
    return NexusGraphQLWSConsumer.as_asgi(
        schema=schema,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=settings.GRAPHQL_WS_INIT_TIMEOUT_SECONDS),
        max_subscriptions_per_connection=settings.GRAPHQL_WS_MAX_SUBSCRIPTIONS,
        allowed_origins=settings.CORS_ALLOWED_ORIGINS,
    )
