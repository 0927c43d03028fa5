"""The ASGI handler (``backend/core/handlers.py``): each request's sync work runs on one pooled
thread of its own, and a request starts no thread once the pool has one idle."""

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from backend.asgi import application
from backend.core.handlers import PooledThreadASGIHandler
from tests.factories import product_create


class RecordingHandler(PooledThreadASGIHandler):
    """Instead of Django's request handling: two thread-sensitive calls with a pause between,
    recording the thread each ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[int, int]] = []

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = scope["request"]
        for _ in range(2):
            ident = await sync_to_async(threading.get_ident)()
            self.threads.append((request, ident))
            await asyncio.sleep(0.01)


async def serve(handler: PooledThreadASGIHandler, request: int) -> None:
    await handler({"type": "http", "request": request}, None, None)


async def test_a_request_keeps_one_thread_and_concurrent_requests_never_share_one() -> None:
    handler = RecordingHandler()
    await asyncio.gather(*(serve(handler, request) for request in range(5)))
    threads_of = {request: {t for r, t in handler.threads if r == request} for request in range(5)}
    assert all(len(threads) == 1 for threads in threads_of.values())
    assert len(set().union(*threads_of.values())) == 5
    assert len(handler._idle_executors) == 5


async def test_a_request_starts_no_thread_once_one_is_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = RecordingHandler()
    await serve(handler, 0)
    starts: list[str] = []
    original = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        starts.append(thread.name)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for request in range(1, 4):
        await serve(handler, request)
    assert starts == []
    assert len({thread for _, thread in handler.threads}) == 1


async def respond(communicator: HttpCommunicator) -> dict[str, Any]:
    response = await communicator.get_response()
    await communicator.wait()  # the application closes the response after sending it
    return response


@pytest.mark.django_db(transaction=True)  # the request's thread must see the rows
async def test_a_graphql_request_through_the_application_answers_and_returns_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await sync_to_async(product_create)(name="Desk lamp")
    await sync_to_async(connections.close_all)()
    opened: list[BaseDatabaseWrapper] = []
    create_connection = ConnectionHandler.create_connection

    def recorded(handler: ConnectionHandler, alias: str) -> BaseDatabaseWrapper:
        wrapper = create_connection(handler, alias)
        opened.append(wrapper)
        return wrapper

    monkeypatch.setattr(ConnectionHandler, "create_connection", recorded)
    body = json.dumps({"query": "{ products(first: 5) { nodes { name } } }"}).encode()
    for _ in range(2):  # the second request runs on the thread the first gave back
        communicator = HttpCommunicator(
            application,
            "POST",
            "/graphql/",
            body=body,
            headers=[(b"content-type", b"application/json"), (b"host", b"localhost")],
        )
        response = await respond(communicator)
        assert response["status"] == 200
        nodes = json.loads(response["body"])["data"]["products"]["nodes"]
        assert nodes == [{"name": "Desk lamp"}]
    # Connections are per thread in Django: both requests ran on one pooled thread, so they
    # used its one DatabaseWrapper, as two requests on one thread of a threaded WSGI server
    # do, and each returned the connection when it finished (CONN_MAX_AGE=0).
    assert len(opened) == 1
    assert opened[0].connection is None
