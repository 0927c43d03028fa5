"""Which documents the sync view answers without an event loop (``backend.api.graphql.schema``).

A document runs without a loop unless it selects a field whose resolver is a coroutine function
(a DataLoader field); then it runs on one through ``async_to_sync``. The verdict must see such
a field wherever the selection reaches it: nested, in a named or inline fragment, or on a type
that an interface (``node``) may resolve to. Every other catalog test goes through the sync view
with the sync test client, so both paths answer the whole suite; these pin the verdicts and
that a DataLoader document answers the same through both. Breadcrumbs (``ancestors``) are sync:
without a loop they batch over the rows loaded with their category (``FETCH_PEERS``), on a loop
through a DataLoader, with the same answer and statement count.
"""

import json
import threading
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql import GraphQLObjectType

from backend.api.graphql.schema import _field_is_async, _process_loop
from backend.api.schema import schema
from tests.factories import category_create, product_create
from tests.graphql_client import GraphQLClient

PRODUCT_PAGE = "{ products(first: 2) { edges { node { id name category { name } } } } }"


@pytest.mark.parametrize(
    ("document", "needs_loop"),
    [
        pytest.param(PRODUCT_PAGE, False, id="product page"),
        pytest.param("{ __typename }", False, id="typename"),
        pytest.param('{ product(slug: "x") { name price { amount } } }', False, id="detail"),
        pytest.param(
            '{ product(slug: "x") { category { ancestors { name } } } }',
            False,
            id="breadcrumbs: batched over the page's rows, no loop",
        ),
        pytest.param("{ products(first: 2) { totalCount } }", True, id="totalCount"),
        pytest.param(
            "{ categories(first: 2) { nodes { ...Counted } } } "
            "fragment Counted on Category { productCount }",
            True,
            id="named fragment",
        ),
        pytest.param(
            '{ node(id: "x") { ... on Category { productCount } } }', True, id="inline fragment"
        ),
        pytest.param('{ node(id: "x") { id } }', False, id="interface, plain field"),
        pytest.param(
            "query A { products(first: 1) { nodes { id } } } "
            "query B { products(first: 1) { totalCount } }",
            False,
            id="operation A of two",
        ),
        pytest.param("{ products(first: ", False, id="syntax error: sync path reports it"),
        pytest.param("{ nosuchField { x } }", False, id="unknown field: validation reports it"),
    ],
)
def test_verdict_finds_async_fields_wherever_the_selection_reaches_them(
    document: str, needs_loop: bool
) -> None:
    operation = "A" if "query A" in document else None
    assert schema.needs_event_loop(document, operation) is needs_loop
    if operation:
        assert schema.needs_event_loop(document, "B") is True


@pytest.mark.parametrize("first_needs_loop", [True, False])
def test_without_an_operation_name_the_verdict_is_the_first_operations(
    catalog: dict[str, Any], gql: GraphQLClient, first_needs_loop: bool
) -> None:
    """Strawberry executes a document's first operation when no name is sent; the verdict
    followed the name and sent a DataLoader operation to the sync executor (an error). Over
    HTTP such a document is refused (the spec's GetOperation); the schema's own callers still
    get the first operation, on the right executor."""
    with_loop = "query Counted { categories(first: 5) { nodes { name productCount } } }"
    without_loop = "query Named { categories(first: 5) { nodes { name } } }"
    operations = [with_loop, without_loop] if first_needs_loop else [without_loop, with_loop]
    document = " ".join(operations)
    assert schema.needs_event_loop(document, None) is first_needs_loop
    result = schema.execute_sync(document, context_value=_anonymous_context())
    nodes = result.data["categories"]["nodes"] if result.data else []
    assert result.errors is None
    assert len(nodes) == 3
    assert all(("productCount" in node) is first_needs_loop for node in nodes)
    assert gql.error_codes(document) == ["OPERATION_RESOLUTION_FAILURE"]


def test_every_async_field_of_the_schema_is_one_the_verdict_can_see() -> None:
    """The verdict reads Strawberry's ``is_async``; these are the fields it names today. A new
    DataLoader field appears here, and its documents run on a loop."""
    async_fields = sorted(
        f"{name}.{field_name}"
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType) and not name.startswith("__")
        for field_name, field in graphql_type.fields.items()
        if _field_is_async(field)
    )
    assert async_fields == [
        "Category.children",
        "Category.productCount",
        "CategoryConnection.totalCount",
        "Order.events",
        "OrderConnection.totalCount",
        "OrderEventConnection.totalCount",
        "ProductConnection.totalCount",
        "Subscription.orderEvents",
        "Subscription.orderStatusChanged",
    ]


def test_a_dataloader_document_answers_the_same_through_execute_sync_and_execute(
    catalog: dict[str, Any], gql: GraphQLClient
) -> None:
    document = (
        "{ categories(first: 10) { totalCount nodes { name productCount "
        "ancestors { name } children(first: 5) { nodes { name } } } } }"
    )
    assert schema.needs_event_loop(document, None)
    through_http = gql.data(document)
    with CaptureQueriesContext(connection) as statements:
        result = schema.execute_sync(document, context_value=_anonymous_context())
    assert result.errors is None
    assert result.data == through_http
    assert through_http["categories"]["totalCount"] == 3
    # Batched as under ASGI, one statement each: the page, its total, the product counts, the
    # ancestors and the children pages (their totals are not selected).
    assert len(statements) == 5


def _anonymous_context() -> Any:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest, HttpResponse

    from backend.api.graphql.context import NexusContext

    request = HttpRequest()
    request.user = AnonymousUser()
    return NexusContext(request=request, response=HttpResponse())


@pytest.mark.fast_paths  # the process's event loop
def test_dataloader_documents_share_one_event_loop_thread_per_process(
    catalog: dict[str, Any], gql: GraphQLClient
) -> None:
    """Without a server loop (WSGI, the sync test client), ``async_to_sync`` would start a
    thread and a loop per request; the process keeps one loop thread instead."""
    document = "{ categories(first: 5) { nodes { name productCount } } }"
    assert schema.needs_event_loop(document, None)
    gql.data(document)
    loop = _process_loop.get()
    threads = {thread.ident for thread in threading.enumerate()}
    for _ in range(3):
        assert gql.data(document)["categories"]["nodes"]
    assert _process_loop.get() is loop
    assert {thread.ident for thread in threading.enumerate()} == threads
    # The thread-local pointer to the loop is set only while such a document executes.
    assert not hasattr(SyncToAsync.threadlocal, "main_event_loop")


def test_a_subscription_over_http_is_refused_before_execution(gql: GraphQLClient) -> None:
    """Subscriptions stream over WebSockets; over HTTP the answer is a coded 400 that says so."""
    document = 'subscription { orderStatusChanged(orderId: "T3JkZXI6MQ==") { status } }'
    response = gql.client.post(
        "/graphql/", data=json.dumps({"query": document}), content_type="application/json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == "subscriptions are not allowed when using POST"
    assert error["extensions"]["code"] == "OPERATION_NOT_SUPPORTED"


BREADCRUMB_PAGE = """query($n: Int!) { products(first: $n, order: {field: NAME}) { nodes {
  name category { name ancestors { name } parent { name ancestors { name } } } } } }"""


def _three_level_catalog(products: int) -> None:
    roots = [category_create(name=f"Root {i}") for i in range(2)]
    middles = [category_create(name=f"Middle {i}", parent=roots[i % 2]) for i in range(4)]
    leaves = [category_create(name=f"Leaf {i}", parent=middles[i % 4]) for i in range(8)]
    for i in range(products):
        product_create(name=f"Product {i:03d}", category=leaves[i % 8])


def _expected_breadcrumbs(products: int) -> list[tuple[str, str, str]]:
    """(root, middle, leaf) of each product of ``_three_level_catalog``, in name order."""
    return [
        (f"Root {i % 8 % 4 % 2}", f"Middle {i % 8 % 4}", f"Leaf {i % 8}") for i in range(products)
    ]


@pytest.mark.fast_paths  # peer fetching batches the breadcrumbs
def test_breadcrumbs_of_a_page_cost_the_same_statements_at_any_size_without_a_loop(
    db: None, gql: GraphQLClient
) -> None:
    """1: the page (products, categories and parents joined); 2: the ancestors of every
    category and parent on the page, in one statement, loaded for the first row's breadcrumbs
    from the rows loaded with it. Later rows find theirs loaded."""
    _three_level_catalog(24)
    assert not schema.needs_event_loop(BREADCRUMB_PAGE, None)
    for size in (1, 24):
        with CaptureQueriesContext(connection) as statements:
            nodes = gql.data(BREADCRUMB_PAGE, {"n": size})["products"]["nodes"]
        assert len(statements) == 2, [query["sql"] for query in statements]
        assert len(nodes) == size
        for node, (root, middle, leaf) in zip(nodes, _expected_breadcrumbs(size), strict=True):
            category = node["category"]
            assert category["name"] == leaf
            assert [crumb["name"] for crumb in category["ancestors"]] == [root, middle]
            assert category["parent"]["name"] == middle
            assert [crumb["name"] for crumb in category["parent"]["ancestors"]] == [root]


def test_breadcrumbs_answer_the_same_without_a_loop_and_through_the_dataloader(
    db: None, gql: GraphQLClient
) -> None:
    _three_level_catalog(10)
    variables = {"n": 10}
    without_loop = gql.data(BREADCRUMB_PAGE, variables)
    # ``execute`` runs on an event loop, where the resolver batches through a DataLoader.
    through_loader = async_to_sync(schema.execute)(
        BREADCRUMB_PAGE, variable_values=variables, context_value=_anonymous_context()
    )
    assert through_loader.errors is None
    assert through_loader.data == without_loop
