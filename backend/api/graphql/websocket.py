"""GraphQL over WebSockets: Strawberry's Channels consumer with Nexus's auth, origins and caps.

Protocol: ``graphql-transport-ws`` only (what Apollo's ``GraphQLWsLink`` speaks). A client that
offers only the legacy ``graphql-ws`` subprotocol is closed with 4406 right after the
handshake: that protocol had an auth-bypass advisory in Strawberry.

Close codes (graphql-transport-ws, asserted in tests/api/websocket):
- 4400 malformed message; 4401 ``subscribe`` before ``connection_ack``; 4408 no
  ``connection_init`` within ``GRAPHQL_WS_INIT_TIMEOUT_SECONDS``; 4409 an operation id already
  in use; 4429 a second ``connection_init`` (Strawberry) or more than
  ``GRAPHQL_WS_MAX_CONNECTIONS_PER_USER`` open sockets for one user (Nexus).
  A connection without authorization beyond ``GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS``
  open anonymous sockets from one client address also closes 4429 (counted the same way).
- 4403: a ``connection_init`` whose ``authorization`` is present but not a valid
  ``Bearer <access token>``; an anonymous connection subscribing to a private field; the
  moment the connection's access token expires (an anonymous one: one access-token lifetime
  after it opened), so the client reconnects with a fresh one; and, within a moment, when the
  user's sessions end (``tokenRevokeAll``, a password change, deactivation or deletion:
  ``backend.accounts.signals.sessions_ended``, delivered to the group ``user.<id>`` that every
  authenticated socket joins).

Only subscriptions run over the socket: a query or mutation gets an ``error`` message coded
``OPERATION_NOT_SUPPORTED`` (they go over HTTP, with its limits and throttles), and every
error sent carries an ``extensions.code`` as over HTTP. A ``subscribe`` whose payload holds a
NUL character or JSON nested past HTTP's bound gets an ``error`` coded ``BAD_USER_INPUT``
before any GraphQL work; one whose ``operationName`` picks no single operation of its document
gets an ``error`` coded ``OPERATION_RESOLUTION_FAILURE`` before anything runs, by HTTP's rule
(``NexusSchema.stream``).

Authentication happens once, at ``connection_init`` (``{"authorization": "Bearer <token>"}``),
through ``backend.accounts.tokens.user_from_access_token``, the same path as HTTP. The user is
then ``info.context.request.user`` for every operation of the connection, exactly as on HTTP.
No token means an anonymous connection: public operations work, private ones close 4403.

Events reach the sockets through ``NexusRedisChannelLayer`` (``settings.redis_channel_layers``)
when REDIS_URL is set.
"""

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.dispatch import receiver
from django.http.request import validate_host
from graphql import GraphQLError
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from backend.accounts.models import User
from backend.accounts.signals import sessions_ended
from backend.accounts.tokens import (
    AccessTokenError,
    access_token_decode,
    access_token_user_pk,
    user_from_access_token,
)
from backend.api.graphql.context import NexusContext
from backend.api.graphql.errors import BAD_USER_INPUT, OPERATION_NOT_SUPPORTED, error_code_for
from backend.core.json_input import json_input_problem
from backend.core.log_context import (
    LogContext,
    log_context_bound,
    log_context_user_set,
    request_id_from,
)
from backend.core.metrics import WEBSOCKET_CONNECTIONS
from backend.core.proxy import client_address

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429
BEARER_PREFIX = "bearer "
CONNECTION_COUNT_KEY = "graphql-ws:connections:{user_pk}"
ANONYMOUS_CONNECTION_COUNT_KEY = "graphql-ws:anonymous:{address}"
SESSIONS_ENDED_MESSAGE_TYPE = "user.sessions_ended"
# Errors of a Redis that is down, restarting or unreachable (redis-py wraps the socket's own).
LAYER_DOWN_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# What every channel of a process that had joined a group receives once the layer is back
# after an outage: its groups were joined again, and messages sent meanwhile are lost.
LAYER_RESUMED_MESSAGE_TYPE = "layer.resumed"


class TooManyConnectionsError(Exception):
    """The user (or, without one, the client address) already holds as many open sockets as
    GRAPHQL_WS_MAX_CONNECTIONS_PER_USER (GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS)."""


def user_group(user_pk: int) -> str:
    """The Channels group of every authenticated socket of one user."""
    return f"user.{user_pk}"


@receiver(sessions_ended, dispatch_uid="core.websocket.sessions_ended_close_sockets")
def sessions_ended_close_sockets(*, user_id: int, **kwargs: Any) -> None:
    """Tell every Daphne process to close ``user_id``'s sockets (4403); sent after commit by
    the accounts domain. A channel-layer outage is logged, not raised: the sessions already
    ended in the database, and each socket still closes when its token expires."""
    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS: no socket can be listening
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": SESSIONS_ENDED_MESSAGE_TYPE})
    except Exception:
        logger.exception("closing the WebSockets of user %s failed", user_id)


@dataclass
class WebSocketContext(NexusContext):
    """The context of every operation on one socket: ``request`` is the consumer, whose
    ``user`` is the authenticated viewer, so ``viewer(info)`` works as on HTTP. ``loaders``
    live as long as the socket: subscriptions clear them before each event they send."""

    ws: "NexusGraphQLWSConsumer | None" = None
    connection_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _SocketSchema:
    """The schema as a socket runs it (the handler only calls ``stream``).

    Subscriptions only: queries and mutations go over HTTP, where the request-level limits and
    throttles apply (``tokenCreate`` over a socket skipped the login throttle and failed on the
    missing client address with INTERNAL_SERVER_ERROR). Every error it streams carries an
    ``extensions.code``, as over HTTP (``error_code_for``).
    """

    schema: BaseSchema

    async def stream(self, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        kwargs["allowed_operation_types"] = (OperationType.SUBSCRIPTION,)
        return _with_codes(await self.schema.stream(*args, **kwargs))


async def _with_codes(results: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    async with contextlib.aclosing(results):
        async for result in results:
            if isinstance(result, ExecutionResult) and result.errors:
                result.errors = [_coded(error) for error in result.errors]
            yield result


def _coded(error: GraphQLError) -> GraphQLError:
    if isinstance(error.original_error, InvalidOperationTypeError):
        return GraphQLError(
            "Only subscriptions are served over this WebSocket: send queries and mutations "
            "to POST /graphql/.",
            extensions={"code": OPERATION_NOT_SUPPORTED},
        )
    # In place: the handler closes 4400 on a syntax error by its class.
    error.extensions = {"code": error_code_for(error), **(error.extensions or {})}
    return error


def _message_problem(message: object) -> str | None:
    """What is wrong with the shape of a client message (graphql-transport-ws PROTOCOL.md),
    or None. Strawberry reads fields without checking their types: a JSON array, a list as
    ``id`` or a string as ``payload`` raised TypeError and killed the connection's handler."""
    if not isinstance(message, dict):
        return "A message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message needs a string `type`"
    payload = message.get("payload")
    if kind in {"subscribe", "complete"} and not isinstance(message.get("id"), str):
        return "`id` must be a string"
    if kind != "subscribe":
        return None if payload is None or isinstance(payload, dict) else "Invalid payload"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "A subscribe payload needs a string `query`"
    for name, kinds in (("variables", dict), ("operationName", str), ("extensions", dict)):
        if payload.get(name) is not None and not isinstance(payload[name], kinds):
            return f"`{name}` must be a {'string' if kinds is str else 'JSON object'}"
    return None


class NexusTransportWSHandler(BaseGraphQLTransportWSHandler[WebSocketContext, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = _SocketSchema(self.schema)  # type: ignore[assignment]

    async def handle_message(self, message: Any) -> None:
        if (problem := _message_problem(message)) is not None:
            await self.handle_invalid_message(problem)  # closes 4400
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # The bounds HTTP applies while decoding a body (backend.core.json_input): a NUL in any
        # string of the payload (variables, query, extensions; PostgreSQL refuses it in text)
        # or nesting past JSON_MAX_DEPTH is an ``error`` for this operation, before any
        # GraphQL work. The protocol's own checks (acknowledged, id free) come first.
        problem = json_input_problem(message["payload"])
        if problem is None or not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)
            return
        error = {"message": problem, "extensions": {"code": BAD_USER_INPUT}}
        await self.send_message({"id": message["id"], "type": "error", "payload": [error]})

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManyConnectionsError:
            await self.websocket.close(
                code=CLOSE_TOO_MANY_CONNECTIONS, reason="Too many connections"
            )


def _authenticate(token: str) -> tuple[User, float]:
    """The token's user and its expiry (epoch seconds); raises AccessTokenError."""
    user = user_from_access_token(token)
    # Already verified above; decoded again only to read `exp`: no query, once per connection
    # (its cost: docs/performance.md, "Levers").
    return user, float(access_token_decode(token)["exp"])


def _bearer_token(credentials: object) -> str | None:
    if not isinstance(credentials, str) or credentials[:7].lower() != BEARER_PREFIX:
        return None
    return credentials[7:].strip() or None


class NexusGraphQLWSConsumer(GraphQLWSConsumer[WebSocketContext, None]):
    """One WebSocket connection. Guarantees: the user is set before ``connection_ack``; the
    socket is closed with 4403 when that user's access token expires or their sessions end;
    the connection count (per user, or per client address when anonymous) is released on
    disconnect (and expires with the token lifetime if the process dies)."""

    graphql_transport_ws_handler_class = NexusTransportWSHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user: User | AnonymousUser = AnonymousUser()
        self.auth_error: AccessTokenError | None = None
        self._expiry_task: asyncio.Task[None] | None = None
        self._counted_key: str | None = None
        self._joined_group: str | None = None
        self._counted_open = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The connection's log context, bound for its whole life: every operation's task
        starts inside it. Its request id is the handshake's ``X-Request-ID`` when sane."""
        headers = dict(scope.get("headers") or ())
        incoming = headers.get(b"x-request-id", b"").decode("latin-1") or None
        with log_context_bound(LogContext(request_id=request_id_from(incoming))):
            await super().__call__(scope, receive, send)

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
            # An anonymous connection: private subscriptions close 4403. It lives one
            # access-token lifetime, like a signed-in one, so its count expires as theirs do.
            address = self._client_address()
            await self._connection_count_claim(
                ANONYMOUS_CONNECTION_COUNT_KEY.format(address=address),
                settings.GRAPHQL_WS_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS,
            )
            self._close_after(time.time() + settings.JWT_ACCESS_TTL_SECONDS)
            return UNSET
        token = _bearer_token(credentials)
        if token is None:
            raise ConnectionRejectionError
        try:
            # Join the user's group before the database says the token is valid: sessions
            # ended after that read still reach this socket (a verified signature, no query).
            await self._user_group_join(access_token_user_pk(access_token_decode(token)))
            user, expires_at = await database_sync_to_async(_authenticate)(token)
        except AccessTokenError as error:
            logger.info("WebSocket connection_init refused: %s", error.code)
            raise ConnectionRejectionError from None
        await self._connection_count_claim(
            CONNECTION_COUNT_KEY.format(user_pk=user.pk),
            settings.GRAPHQL_WS_MAX_CONNECTIONS_PER_USER,
        )
        self.user = user
        log_context_user_set(user.pk)
        self._close_after(expires_at)
        return UNSET

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == SESSIONS_ENDED_MESSAGE_TYPE:
            await self.close(code=CLOSE_FORBIDDEN, reason="Signed out: the session has ended")
            return
        if message.get("type") == LAYER_RESUMED_MESSAGE_TYPE:
            # Every subscription of the socket may have missed messages: each one gets it, in
            # the queue of whatever message type it listens to, and reads what it missed.
            for queues in self.listen_queues.values():
                for queue in queues:
                    queue.put_nowait(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        WEBSOCKET_CONNECTIONS.inc()
        self._counted_open = True
        await super().connect()

    async def disconnect(self, code: int) -> None:
        if self._counted_open:
            WEBSOCKET_CONNECTIONS.dec()
            self._counted_open = False
        await super().disconnect(code)
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        if self._counted_key is not None:
            await _connection_count_release(self._counted_key)
            self._counted_key = None
        if self._joined_group is not None and self.channel_layer is not None:
            await self.channel_layer.group_discard(self._joined_group, self.channel_name)
            self._joined_group = None

    def _client_address(self) -> str:
        """The client's address, through trusted proxies as HTTP requests see it."""
        peer = (self.scope.get("client") or ("",))[0] or ""
        headers = dict(self.scope.get("headers") or ())
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
        return client_address(peer, forwarded, settings.FORWARDED_ALLOW_IPS)

    async def _user_group_join(self, user_pk: int) -> None:
        if self.channel_layer is None:  # no CHANNEL_LAYERS: nothing could be delivered
            return
        self._joined_group = user_group(user_pk)
        await self.channel_layer.group_add(self._joined_group, self.channel_name)

    def _close_after(self, deadline: float) -> None:
        self._expiry_task = asyncio.create_task(self._close_at(deadline))

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.close(code=CLOSE_FORBIDDEN, reason="Access token expired")

    async def _connection_count_claim(self, key: str, limit: int) -> None:
        """Count this socket under ``key`` (its user, or its address when anonymous) against
        ``limit``, or raise TooManyConnectionsError.

        The count lives in the cache (Redis when REDIS_URL is set, so it spans Daphne
        processes). Its key expires one access-token lifetime after the last claim: every
        socket closes when its token expires (an anonymous one that long after it opened), so
        none counted then can still be open, and a crashed process cannot lock a user or an
        address out for longer than that.
        """
        ttl = settings.JWT_ACCESS_TTL_SECONDS + 60
        await cache.aadd(key, 0, ttl)
        try:
            count = await cache.aincr(key)
        except ValueError:  # expired between add and incr
            await cache.aset(key, 1, ttl)
            count = 1
        await cache.atouch(key, ttl)
        if count > limit:
            await _connection_count_release(key)
            raise TooManyConnectionsError
        self._counted_key = key


async def _connection_count_release(key: str) -> None:
    with contextlib.suppress(ValueError):  # already expired: nothing to release
        await cache.adecr(key)


class NexusRedisChannelLayer(RedisChannelLayer):
    """channels_redis that outlives a Redis restart, with connections that wait for a free one.

    **Pool.** redis-py's default pool raises MaxConnectionsError once 100 connections of an
    event loop are in use, and every socket of a Daphne process joining or leaving a group
    borrows one at the same moment: when a few hundred sockets closed at once, most
    ``group_discard`` calls failed (Strawberry swallows the error) and their channels stayed
    in the group until ``group_expiry``, each later event still fanned out to them. A
    ``BlockingConnectionPool`` bounds the connections and makes the burst queue for them.

    **Restarts.** A Redis that stops takes the groups with it (they live only in its memory),
    and channels_redis raised the connection error into whichever socket was receiving, which
    killed it, then the next one, until every socket of the process had failed. Here the
    groups this process's channels joined are also kept in the process (Redis holds a copy):
    - ``receive`` does not raise when Redis is down: it waits until one recovery, shared by
      the process, finds Redis answering again (every ``reconnect_interval`` seconds), joins
      every group again, then delivers one ``LAYER_RESUMED_MESSAGE_TYPE`` message to every
      channel that had joined any; a consumer reads what it may have missed from its source
      of truth (``NexusGraphQLWSConsumer.dispatch``);
    - ``group_add`` of a local channel while Redis is down is remembered and done by that
      recovery, and ``group_discard`` forgets it (Redis lost it, or ``group_expiry`` drops it).
    Sends (``group_send``) still raise: a publisher logs the failure, the event is in the
    database. A channel of another process is not this process's to restore: errors about
    it are raised as before.

    Hosts are ``{"address": url, **pool options}`` (``max_connections``, ``timeout``: seconds
    to wait for a connection, and connection options such as ``socket_timeout``).
    """

    def __init__(self, *args: Any, reconnect_interval: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reconnect_interval = reconnect_interval
        self._memberships: dict[str, set[str]] = {}  # local channel -> its groups
        self._recovery: asyncio.Task[None] | None = None
        self._recoveries = 0  # completed; each resumed message carries its number

    def create_pool(self, index: int) -> BlockingConnectionPool:
        options = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(options.pop("address"), **options)

    def _is_local(self, channel: str) -> bool:
        return f".{self.client_prefix}!" in channel

    async def group_add(self, group: str, channel: str) -> None:
        if not self._is_local(channel):
            await super().group_add(group, channel)
            return
        self._memberships.setdefault(channel, set()).add(group)
        try:
            await super().group_add(group, channel)
        except LAYER_DOWN_ERRORS as error:
            logger.warning(
                "channel layer down; %s joins %s once it is back: %s", channel, group, error
            )
            self._recovery_start()

    async def group_discard(self, group: str, channel: str) -> None:
        if not self._is_local(channel):
            await super().group_discard(group, channel)
            return
        groups = self._memberships.get(channel, set())
        groups.discard(group)
        if not groups:
            self._memberships.pop(channel, None)
        with contextlib.suppress(*LAYER_DOWN_ERRORS):  # Redis lost it, or group_expiry will
            await super().group_discard(group, channel)

    async def receive(self, channel: str) -> dict[str, Any]:
        while True:
            try:
                return await super().receive(channel)
            except LAYER_DOWN_ERRORS as error:
                if not self._is_local(channel):
                    raise
                if self._recovery is None:
                    logger.warning("channel layer down, receiving again once it is back: %s", error)
                # Shielded: one receiver going away must not cancel the process's recovery.
                await asyncio.shield(self._recovery_start())

    def _recovery_start(self) -> "asyncio.Task[None]":
        loop = asyncio.get_running_loop()
        # One per event loop: a process outside Daphne runs each async_to_sync call in a loop
        # of its own, and a recovery left by a closed one must not be awaited.
        if self._recovery is None or self._recovery.get_loop() is not loop:
            # In a context of its own: it serves the whole process, not the socket (and its
            # log context) that happened to notice the outage first.
            self._recovery = loop.create_task(self._recover(), context=contextvars.Context())
        return self._recovery

    async def _recover(self) -> None:
        down_since = time.monotonic()
        try:
            while True:
                await asyncio.sleep(self.reconnect_interval)
                try:
                    joined = await self._groups_join_again()
                    break
                except LAYER_DOWN_ERRORS:
                    continue
            self._recoveries += 1
            resumed = {"type": LAYER_RESUMED_MESSAGE_TYPE, "recovery": self._recoveries}
            for channel in self._memberships:
                self.receive_buffer[channel].put_nowait(dict(resumed))
            logger.info(
                "channel layer back after %.1f s: %d memberships of %d channels restored",
                time.monotonic() - down_since,
                joined,
                len(self._memberships),
            )
        finally:
            if self._recovery is asyncio.current_task():
                self._recovery = None

    async def _groups_join_again(self) -> int:
        """Every local channel's groups joined again; each host pinged even with none."""
        for index in range(self.ring_size):
            connection = self.connection(index)
            # The pool hands out an idle connection without checking it first: each one left
            # from before the outage would fail one attempt, up to max_connections of them.
            await connection.connection_pool.disconnect(inuse_connections=False)
            await connection.ping()
        pairs = [
            (group, channel) for channel, groups in self._memberships.items() for group in groups
        ]
        join = super().group_add
        await asyncio.gather(*(join(group, channel) for group, channel in pairs))
        return len(pairs)


def graphql_websocket_app(schema: BaseSchema) -> Any:
    """The ASGI app for ``/graphql/`` WebSockets, configured from settings when called."""
    return NexusGraphQLWSConsumer.as_asgi(
        schema=schema,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=settings.GRAPHQL_WS_INIT_TIMEOUT_SECONDS),
        max_subscriptions_per_connection=settings.GRAPHQL_WS_MAX_SUBSCRIPTIONS,
        allowed_origins=settings.CORS_ALLOWED_ORIGINS,
    )


# Seconds a readiness probe waits for a message to come back through the channel layer.
CHANNEL_LAYER_TIMEOUT = 2


def channel_layer_ready() -> bool:
    """One message sent to a fresh channel and received back (a Redis round trip), bounded."""
    layer = get_channel_layer()
    if layer is None:
        return False

    async def round_trip() -> bool:
        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz.ping"})
        message = await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT)
        return message["type"] == "readyz.ping"

    return async_to_sync(round_trip)()
