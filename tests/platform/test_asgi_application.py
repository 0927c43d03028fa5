"""The ASGI application (``backend/asgi.py``, Daphne under ``make run``): Django's own handler
answers a GraphQL request over HTTP and gives its database connection back when it is done."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from backend.asgi import application
from tests.factories import product_create


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
    for _ in range(2):
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
    # Each request ran its sync work on a thread of its own, and returned that thread's
    # connection when it finished (CONN_MAX_AGE=0).
    assert opened
    assert all(wrapper.connection is None for wrapper in opened)
