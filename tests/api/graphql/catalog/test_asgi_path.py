"""The API as Daphne serves it under ASGI (``make run``; production HTTP is WSGI, decision
0010): Django's async handler, the event-loop middleware (``backend/core/middleware.py``) and
the sync GraphQL view in one worker thread, in process (``AsyncClient``).

The other tests use the sync test client; these pin what only the async path does: how often
a request hops to a worker thread (each hop is a thread switch plus a wait for the GIL under
load), and that a document needing an event loop (DataLoader fields) still hops as often at
any page size.
"""

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asgiref.sync
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import connections
from django.test import AsyncClient

from backend.accounts.tokens import access_token_create
from tests.factories import category_create, order_create, product_create, user_create

pytestmark = pytest.mark.django_db(transaction=True)  # the worker threads must see the rows

PRODUCT_PAGE = """
query Page($first: Int!) {
  products(first: $first) {
    edges { cursor node { id name price { amount currency } inStock stockQuantity
                          category { id name } } }
    pageInfo { hasNextPage }
  }
}
"""


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    yield AsyncClient()
    # Return the worker thread's pooled connection before the test database is dropped.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every sync_to_async call from here on, by the name of the function it runs."""
    hops: Counter[str] = Counter()
    original = asgiref.sync.SyncToAsync.__call__

    async def counted(self: asgiref.sync.SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        hops[getattr(self.func, "__qualname__", repr(self.func))] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", counted)
    return hops


async def post(client: AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql/", json.dumps({"query": query, "variables": variables}), "application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@sync_to_async
def catalog_with(products: int) -> None:
    category = category_create(name="Lamps")
    for index in range(products):
        product_create(category=category, price=f"{index + 1}.50", stock_quantity=index % 2)


async def test_a_product_page_hops_to_a_thread_three_times_whatever_its_size(
    client: AsyncClient, thread_hops: Counter[str]
) -> None:
    """Three hops: the request_started signal, the view (execution, the page's one statement
    and every field of every row, all in that thread) and the response's close
    (request_finished). Middleware runs on the event loop."""
    await catalog_with(products=30)
    hops_by_size = {}
    for first in (1, 30):
        thread_hops.clear()
        data = await post(client, PRODUCT_PAGE, first=first)
        edges = data["products"]["edges"]
        assert len(edges) == first
        assert {edge["node"]["price"]["currency"] for edge in edges} == {settings.STORE_CURRENCY}
        assert all(edge["node"]["stockQuantity"] is None for edge in edges)  # anonymous
        hops_by_size[first] = sum(thread_hops.values())
        assert thread_hops["View.as_view.<locals>.view"] == 1
        assert thread_hops["KeysetConnection.resolve_connection.<locals>.fetch"] == 0
    assert hops_by_size == {1: 3, 30: 3}


async def test_a_request_without_a_session_cookie_never_loads_the_session(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cookie, no session: the viewer is anonymous without the session machinery."""
    loads: list[str] = []
    for name in ("_get_session", "_aget_session"):
        original = getattr(SessionBase, name)

        def counted(
            self: SessionBase, *args: Any, _name: str = name, _original: Any = original
        ) -> Any:
            loads.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(SessionBase, name, counted)
    await catalog_with(products=2)
    data = await post(client, PRODUCT_PAGE, first=2)
    assert [edge["node"]["stockQuantity"] for edge in data["products"]["edges"]] == [None, None]
    assert loads == []


async def test_a_session_signed_in_staff_user_is_resolved_before_execution(
    client: AsyncClient,
) -> None:
    """The view resolves the session's lazy user in its thread before execution, so
    staff-only fields read the resolved viewer."""
    await catalog_with(products=2)
    staff = await sync_to_async(user_create)(is_staff=True)
    await client.aforce_login(staff)
    data = await post(client, PRODUCT_PAGE, first=2)
    assert [edge["node"]["stockQuantity"] for edge in data["products"]["edges"]] == [1, 0]


ORDER_PAGE = """
query Orders($first: Int!) {
  orders(first: $first) {
    nodes { number status total { amount } nextStatuses events(first: 5) { nodes { toStatus } } }
  }
}
"""


async def test_a_customers_order_page_hops_as_often_at_any_size_and_shows_only_theirs(
    client: AsyncClient, thread_hops: Counter[str]
) -> None:
    """With a bearer token: one more hop, loading its user. ``events`` is a DataLoader field,
    so the document executes on the event loop (``backend.api.graphql.schema``); the events
    page is one batched statement in the DataLoader's hop."""

    @sync_to_async
    def customers_with_orders() -> str:
        customer = user_create()
        for _ in range(3):
            order_create(customer=customer)
        order_create()  # someone else's
        return access_token_create(customer)

    token = await customers_with_orders()
    hops_by_size = {}
    for first in (1, 3):
        thread_hops.clear()
        response = await client.post(
            "/graphql/",
            json.dumps({"query": ORDER_PAGE, "variables": {"first": first}}),
            "application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert "errors" not in body, body
        orders = body["data"]["orders"]["nodes"]
        assert len(orders) == first
        assert {order["status"] for order in orders} == {"PENDING"}
        assert all(order["nextStatuses"] for order in orders)
        hops_by_size[first] = sum(thread_hops.values())
    assert hops_by_size[1] == hops_by_size[3]
