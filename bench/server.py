"""The benchmark's ASGI application: Nexus exactly as ``backend.asgi`` serves it, plus the
floor at ``/bench/baseline/<scenario>`` in the same process, under the same server.

The floor reads the same request body as ``/graphql/``, runs ONE statement on an async
psycopg pool (as large as Django's) and sends PostgreSQL's JSON text as is: no Django, no
GraphQL, no Python objects per row. It is the ceiling any Python layer can approach.
"""

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from backend.core.handlers import get_asgi_application

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402
from psycopg_pool import AsyncConnectionPool  # noqa: E402

from bench.scenarios import SCENARIOS, baseline_statement  # noqa: E402

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

BASELINE_PREFIX = "/bench/baseline/"
_pool: AsyncConnectionPool | None = None


def _conninfo() -> str:
    # Django's own connection parameters (the embedded backend starts its server here too).
    params = connections["default"].get_connection_params()
    keep = {"dbname", "user", "password", "host", "port", "sslmode"}
    return make_conninfo(**{k: v for k, v in params.items() if k in keep and v not in (None, "")})


async def _baseline_pool() -> AsyncConnectionPool:
    global _pool
    if _pool is None:
        from asgiref.sync import sync_to_async

        conninfo = await sync_to_async(_conninfo)()
        size = max(settings.DATABASE_POOL_MAX_SIZE, 1)
        _pool = AsyncConnectionPool(conninfo, min_size=1, max_size=size, open=False)
        await _pool.open()
    return _pool


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def baseline(scope: Scope, receive: Receive, send: Send) -> None:
    key = scope["path"][len(BASELINE_PREFIX) :].strip("/")
    body = await _read_body(receive)
    if key not in SCENARIOS:
        await _respond(send, 404, b'{"errors":[{"message":"unknown scenario"}]}')
        return
    variables = json.loads(body).get("variables") or {}
    sql, params = baseline_statement(key, variables, settings.STORE_CURRENCY)
    pool = await _baseline_pool()
    async with pool.connection() as connection:
        cursor = await connection.execute(sql, params)
        row = await cursor.fetchone()
    assert row is not None
    await _respond(send, 200, row[0].encode())


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith(BASELINE_PREFIX):
        await baseline(scope, receive, send)
    else:
        await django_application(scope, receive, send)
