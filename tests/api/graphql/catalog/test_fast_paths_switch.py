"""``NEXUS_FAST_PATHS`` (decision 0020): with the fast paths off, every answer is the same,
byte for byte, at no fewer statements; with them on, the page fetch builds rows directly."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.db import connection
from django.db.models import FETCH_PEERS
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import print_ast
from pytest_django.fixtures import Settings

from backend.api.graphql.rows import page_rows
from backend.catalog.models import Product
from backend.core.postgres import compiler
from backend.core.rows import DirectLoadIterable
from backend.orders.models import OrderEvent, OrderStatus
from tests.api.graphql.catalog.test_catalog_queries import global_id
from tests.api.graphql.catalog.test_compiled_completion import SHAPES, VARIABLES
from tests.api.graphql.contract.test_client_operations import (
    STOREFRONT_OPERATIONS,
    documents,
    with_fragments,
)
from tests.api.graphql.orders.test_query_counts import ORDERS_DEEP
from tests.factories import order_create, user_create


@pytest.fixture(autouse=True)
def no_stale_event_loop_pointer() -> Iterator[None]:
    """With the fast paths off, a DataLoader document runs through asgiref's own
    ``async_to_sync``, which leaves its finished loop in ``SyncToAsync.threadlocal`` on this
    thread: a process that keeps the switch off never reads it, but this one turns it on again
    for the next test, which must not mistake it for a server's loop."""
    yield
    for name in ("main_event_loop", "main_event_loop_pid"):
        if hasattr(SyncToAsync.threadlocal, name):
            delattr(SyncToAsync.threadlocal, name)


def answer(
    client: Client, settings: Settings, query: str, variables: dict[str, Any], *, fast: bool
) -> tuple[bytes, int]:
    settings.NEXUS_FAST_PATHS = fast
    with CaptureQueriesContext(connection) as statements:
        response = client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
        )
    assert response.status_code in {200, 400}
    return response.content, len(statements)


def same_either_way(
    client: Client, settings: Settings, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    fast, fast_statements = answer(client, settings, query, variables, fast=True)
    plain, plain_statements = answer(client, settings, query, variables, fast=False)
    assert plain == fast
    assert plain_statements >= fast_statements
    return json.loads(fast)


@pytest.fixture(params=["anonymous", "staff"])
def viewer(request: pytest.FixtureRequest, db: None) -> Client:
    client = Client()
    if request.param == "staff":
        client.force_login(user_create(is_staff=True))
    return client


@pytest.mark.parametrize("name", sorted(STOREFRONT_OPERATIONS))
def test_storefront_operation_answers_the_same_with_the_fast_paths_off(
    catalog: dict[str, Any], viewer: Client, settings: Settings, name: str
) -> None:
    query = print_ast(with_fragments(documents()[name]))
    body = same_either_way(viewer, settings, query, VARIABLES[name])
    assert "errors" not in body
    assert any(body["data"].values())


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_query_shape_answers_the_same_with_the_fast_paths_off(
    catalog: dict[str, Any], viewer: Client, settings: Settings, shape: str
) -> None:
    variables = {"id": global_id("Product", catalog["products"][1].pk), "yes": True}
    same_either_way(viewer, settings, SHAPES[shape], variables)
    same_either_way(viewer, settings, SHAPES[shape], {**variables, "yes": False})


def test_an_order_page_answers_the_same_with_the_fast_paths_off(
    catalog: dict[str, Any], settings: Settings
) -> None:
    customer = user_create()
    for product in catalog["products"][:3]:
        order = order_create(customer=customer, products=[(product, 1)])
        OrderEvent.objects.create(order=order, to_status=OrderStatus.PENDING, actor=customer)
    client = Client()
    client.force_login(customer)
    body = same_either_way(client, settings, ORDERS_DEEP, {"first": 5})
    assert len(body["data"]["orders"]["edges"]) == 3


def test_the_page_fetch_builds_rows_directly_with_their_peers_only_when_on(
    catalog: dict[str, Any], settings: Settings
) -> None:
    settings.NEXUS_FAST_PATHS = True
    page = Product.objects.select_related("category").order_by("pk")
    rows = page_rows(page)
    assert page._iterable_class is DirectLoadIterable
    assert rows[0]._state.fetch_mode is FETCH_PEERS
    assert [peer() for peer in rows[0]._state.peers] == rows
    assert rows[0].category._state.fetch_mode is FETCH_PEERS

    settings.NEXUS_FAST_PATHS = False
    page = Product.objects.select_related("category").order_by("pk")
    rows = page_rows(page)
    assert page._iterable_class is not DirectLoadIterable
    assert rows[0]._state.fetch_mode is not FETCH_PEERS
    assert not rows[0]._state.peers


def test_the_shape_cache_is_neither_read_nor_filled_when_off(
    catalog: dict[str, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NEXUS_FAST_PATHS = False
    monkeypatch.setattr(compiler, "_shapes", {})
    list(Product.objects.filter(price__gt=1).order_by("pk")[:3])
    assert compiler._shapes == {}
    settings.NEXUS_FAST_PATHS = True
    list(Product.objects.filter(price__gt=1).order_by("pk")[:3])
    assert len(compiler._shapes) == 1
