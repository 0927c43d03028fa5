"""Which database a query goes to: the primary, or a read replica (decision 0025).

One rule, here and nowhere else. A read goes to a replica only when all of these hold:

- it belongs to an HTTP request (``backend.core.databases.DatabaseMiddleware`` binds the
  request's ``ReadRouting``): Celery tasks, WebSocket operations and management commands have
  none, and they follow writes;
- the request has reached its view, and its viewer is known and is not staff: the
  middleware's reads (the bearer token's user lookup) come before, and staff (the admin among
  them) edit what they read;
- no transaction is open, and the request has neither written nor opened one;
- an ``ok`` replica (``backend.core.replicas``) has replayed the viewer's last write.

Everything else goes to the primary. A request keeps the alias it chose for all its reads, so
it never mixes two replicas' views.

Read-your-writes across requests: after a request that wrote or opened a transaction, the
primary's WAL position goes to the cache (Redis: shared by every process) under the writer's
key, ``user:<id>`` when signed in, ``client:<address>`` when anonymous, for ``pin_seconds()``.
A later read of that viewer goes to a replica only once the replica has replayed that
position; a signed-in viewer's reads also wait for what their address wrote anonymously (a
sign-up, then the sign-in). The pin outlives the lag bound, so when it expires, any replica
that has not replayed the write is ``lagging`` and skipped anyway.
"""

import functools
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty

from backend.core.replicas import (
    CHECK_INTERVAL_SECONDS,
    replica_aliases,
    replica_for_read,
    replicas_serving,
)

logger = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
PIN_KEY_PREFIX = "nexus:read-your-writes:"
# The position of a viewer whose pin cannot be read or written: no replica has replayed it.
UNKNOWN_POSITION = 2**64


@dataclass(slots=True)
class ReadRouting:
    """One request's routing state."""

    request: HttpRequest
    wrote: bool = False  # wrote, or opened a transaction: what follows reads the primary
    alias: str | None = None  # where this request's reads go, once decided


_routing: ContextVar[ReadRouting | None] = ContextVar("nexus_read_routing", default=None)


@contextmanager
def read_routing_bound(request: HttpRequest) -> Iterator[ReadRouting]:
    """``request``'s reads are routed by the rule above until the block ends."""
    routing = ReadRouting(request)
    token = _routing.set(routing)
    try:
        yield routing
    finally:
        _routing.reset(token)


def transaction_began() -> None:
    """The primary opened a transaction (the backend tells): the request has written, even if
    through raw SQL that no router sees."""
    routing = _routing.get()
    if routing is not None:
        routing.wrote = True


def pin_seconds() -> int:
    """How long a writer's position is kept: the lag bound, plus the age of a replica's state."""
    return math.ceil(settings.DATABASE_REPLICA_MAX_LAG_SECONDS + CHECK_INTERVAL_SECONDS) + 1


@dataclass(frozen=True, slots=True)
class _Viewer:
    staff: bool
    write_key: str
    read_keys: tuple[str, ...]


def _client_key(request: HttpRequest) -> str:
    # The client's address, behind trusted proxies the forwarded one (backend/core/proxy.py).
    return f"client:{request.META.get('REMOTE_ADDR', '')}"


def _viewer(request: HttpRequest) -> _Viewer | None:
    """Who is reading, or None while that is not settled: before the request reaches its view
    (a middleware may still replace ``request.user``: the bearer token's user lookup runs
    after the session's anonymous user is set), or while the session's user is not loaded
    (never loaded here: that would query the database from inside the router)."""
    if request.resolver_match is None:
        return None
    user: Any = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped  # whether Django has loaded the session's user yet
        if user is empty:
            return None
    if user is None:
        return None
    client = _client_key(request)
    if not user.is_authenticated:
        return _Viewer(staff=False, write_key=client, read_keys=(client,))
    signed_in = f"user:{user.pk}"
    return _Viewer(staff=user.is_staff, write_key=signed_in, read_keys=(signed_in, client))


class Pins:
    """Writers' positions by viewer key. In Redis (``REDIS_URL``) through one client per
    process: Django's cache builds a Redis client for every call, which costs more CPU than
    the lookup itself (decision 0025). Without Redis, in Django's cache, which is then this
    process's memory. A Redis that does not answer within a second is an outage: reads go to
    the primary."""

    def __init__(self) -> None:
        self._client = (
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
            if settings.REDIS_URL
            else None
        )

    def highest(self, keys: tuple[str, ...]) -> int:
        names = [PIN_KEY_PREFIX + key for key in keys]
        if self._client is None:
            values: list[Any] = list(cache.get_many(names).values())
        else:
            values = self._client.mget(names)
        return max((int(value) for value in values if value is not None), default=0)

    def keep(self, key: str, position: int, seconds: int) -> None:
        if self._client is None:
            cache.set(PIN_KEY_PREFIX + key, position, seconds)
        else:
            self._client.set(PIN_KEY_PREFIX + key, position, ex=seconds)


@functools.cache
def pins() -> Pins:
    return Pins()


def _pinned_position(viewer: _Viewer) -> int:
    """The WAL position the viewer's reads must see: one Redis round trip."""
    try:
        return pins().highest(viewer.read_keys)
    except Exception as error:  # a cache outage sends reads to the primary, never fails them
        logger.warning("read-your-writes pins unavailable (%s): reads go to the primary", error)
        return UNKNOWN_POSITION


def _read_alias(viewer: _Viewer) -> str:
    if viewer.staff or not replicas_serving():
        return PRIMARY
    return replica_for_read(_pinned_position(viewer)) or PRIMARY


def writes_record(routing: ReadRouting) -> None:
    """After a request that wrote: keep the primary's WAL position for the writer's reads.

    One statement on the primary and one Redis write, only for such requests (staff read
    the primary anyway). Nothing is kept while the request's transaction is still open (a
    test's): what it wrote is not committed, and every read inside it goes to the primary.
    """
    viewer = _viewer(routing.request)
    primary = connections[PRIMARY]
    if (viewer is not None and viewer.staff) or primary.in_atomic_block:
        return
    key = viewer.write_key if viewer is not None else _client_key(routing.request)
    try:
        with primary.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
            (position,) = cursor.fetchone()
        position = int(position)
    except DatabaseError:
        logger.warning("the primary's WAL position is unknown: %s reads it until the pin ends", key)
        position = UNKNOWN_POSITION
    try:
        pins().keep(key, position, pin_seconds())
    except Exception as error:  # the write succeeded; its read-back may meet a stale replica
        logger.warning("read-your-writes pin of %s not stored: %s", key, error)


class ReplicaRouter:
    """Django's database router (``DATABASE_ROUTERS``, set only with replicas configured)."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        routing = _routing.get()
        if routing is None or routing.wrote or connections[PRIMARY].in_atomic_block:
            return PRIMARY
        if routing.alias is None:
            viewer = _viewer(routing.request)
            if viewer is None:
                return PRIMARY  # decided at a later read, once the viewer is known
            routing.alias = _read_alias(viewer)
        return routing.alias

    def db_for_write(self, model: type, **hints: Any) -> str:
        routing = _routing.get()
        if routing is not None:
            routing.wrote = True
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Every alias holds the same rows: a replica's object may reference the primary's.
        aliases = {PRIMARY, *replica_aliases()}
        return True if {obj1._state.db, obj2._state.db} <= aliases else None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return db == PRIMARY  # a replica replays the primary's schema
