"""The benchmark's applications: Nexus exactly as production serves it, plus the floor at
``/bench/baseline/<scenario>`` in the same process, under the same server.

``wsgi_application`` is ``backend.wsgi``'s, as granian's WSGI workers serve HTTP in the
production image (``make bench``'s default server); ``application`` is the ASGI one of
``backend.asgi``, as Daphne serves it for ``make run`` (``--server daphne``).

The floor reads the same request body as ``/graphql/``, runs ONE statement on a psycopg pool
as large as Django's (sync under WSGI, async under ASGI) and sends PostgreSQL's JSON text as
is: no Django, no GraphQL, no Python objects per row. It is the ceiling any Python layer can
approach.
"""

import json
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402
from psycopg_pool import AsyncConnectionPool, ConnectionPool  # noqa: E402

from backend.wsgi import application as django_wsgi_application  # noqa: E402
from bench.scenarios import SCENARIOS, baseline_statement  # noqa: E402

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]

BASELINE_PREFIX = "/bench/baseline/"
NOT_FOUND = b'{"errors":[{"message":"unknown scenario"}]}'
_pool: AsyncConnectionPool | None = None
_sync_pool: ConnectionPool | None = None


def _conninfo() -> str:
    # Django's own connection parameters (the embedded backend starts its server here too).
    params = connections["default"].get_connection_params()
    keep = {"dbname", "user", "password", "host", "port", "sslmode"}
    return make_conninfo(**{k: v for k, v in params.items() if k in keep and v not in (None, "")})


def _pool_size() -> int:
    return max(settings.DATABASE_POOL_MAX_SIZE, 1)


def _statement(path: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
    """The floor's statement for a request to ``path`` with ``body``; None for an unknown
    scenario."""
    key = path[len(BASELINE_PREFIX) :].strip("/")
    if key not in SCENARIOS:
        return None
    variables = json.loads(body).get("variables") or {}
    return baseline_statement(key, variables, settings.STORE_CURRENCY)


# ASGI (Daphne)


async def _baseline_pool() -> AsyncConnectionPool:
    global _pool
    if _pool is None:
        from asgiref.sync import sync_to_async

        conninfo = await sync_to_async(_conninfo)()
        _pool = AsyncConnectionPool(conninfo, min_size=1, max_size=_pool_size(), open=False)
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
    statement = _statement(scope["path"], await _read_body(receive))
    if statement is None:
        await _respond(send, 404, NOT_FOUND)
        return
    pool = await _baseline_pool()
    async with pool.connection() as connection:
        cursor = await connection.execute(*statement)
        row = await cursor.fetchone()
    assert row is not None
    await _respond(send, 200, row[0].encode())


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith(BASELINE_PREFIX):
        await baseline(scope, receive, send)
    else:
        await django_application(scope, receive, send)


# WSGI (granian)


def _sync_baseline_pool() -> ConnectionPool:
    # Opened on a worker's first floor request, so a pool's connections and threads never
    # cross a fork, whichever process imports this module.
    global _sync_pool
    if _sync_pool is None:
        _sync_pool = ConnectionPool(_conninfo(), min_size=1, max_size=_pool_size(), open=True)
    return _sync_pool


def sync_baseline(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    statement = _statement(environ["PATH_INFO"], environ["wsgi.input"].read(length))
    if statement is None:
        status, body = "404 Not Found", NOT_FOUND
    else:
        with _sync_baseline_pool().connection() as connection:
            row = connection.execute(*statement).fetchone()
        assert row is not None
        status, body = "200 OK", row[0].encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def wsgi_application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith(BASELINE_PREFIX):
        return sync_baseline(environ, start_response)
    return django_wsgi_application(environ, start_response)
