"""Compiled completion (backend/api/graphql/execution.py) answers exactly what graphql-core
answers: every response here is compared, byte for byte, with the same request completed by
graphql-core alone."""

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from graphql import print_ast
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.optimizer import DjangoOptimizerExtension

from backend.api.graphql.execution import COMPLETION_FALLBACKS, CompilingExecutor
from backend.api.graphql.money import Money
from backend.catalog import selectors as catalog_selectors
from tests.api.graphql.catalog.test_catalog_queries import global_id
from tests.api.graphql.contract.test_client_operations import (
    STOREFRONT_OPERATIONS,
    documents,
    with_fragments,
)
from tests.factories import user_create

# The fast paths' own effects (decision 0020): run with NEXUS_FAST_PATHS on.
pytestmark = pytest.mark.fast_paths

VARIABLES = {
    "ProductListPage": {"first": 5},
    "ProductDetail": {"slug": "lamp-0"},
    "CategoryTree": {"first": 3, "childrenFirst": 2},
    "ProductSearch": {"search": "lamp", "first": 4},
    "ProductSuggest": {"prefix": "lamp"},
}


def post(client: Client, query: str, variables: dict[str, Any] | None = None) -> bytes:
    response = client.post(
        "/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
    )
    assert response.status_code in {200, 400}
    return response.content


def both_ways(client: Client, query: str, variables: dict[str, Any] | None = None) -> bytes:
    """The response body, asserted identical with and without compiled completion."""
    compiled = post(client, query, variables)
    CompilingExecutor.compiled_completion = False
    try:
        plain = post(client, query, variables)
    finally:
        CompilingExecutor.compiled_completion = True
    assert compiled == plain
    return compiled


@pytest.fixture(params=["anonymous", "staff"])
def viewer(request: pytest.FixtureRequest, db: None) -> Client:
    """Each test runs once as an anonymous storefront and once as staff (session login)."""
    client = Client()
    if request.param == "staff":
        client.force_login(user_create(is_staff=True))
    return client


@pytest.mark.parametrize("name", sorted(STOREFRONT_OPERATIONS))
def test_storefront_operation_answers_the_same_with_and_without_compiled_completion(
    catalog: dict[str, Any], viewer: Client, name: str
) -> None:
    body = json.loads(
        both_ways(viewer, print_ast(with_fragments(documents()[name])), VARIABLES[name])
    )
    assert "errors" not in body
    assert any(body["data"].values())


SHAPES = {
    "aliases, __typename and the nodes shorthand": """{ products(first: 6) {
        __typename a: nodes { __typename id b: name c: price { amount } }
        edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage endCursor } } }""",
    "inline fragments and a field merged from two places": """{ products(first: 3) {
        nodes { name ... on Product { name slug category { id } } category { name } } } }""",
    "a field that needs info (staff-only stock) next to plain ones": """{ products(first: 5) {
        nodes { name inStock stockQuantity isPublished createdAt updatedAt } } }""",
    "DataLoader fields below a plain object": """{ products(first: 5) {
        nodes { name category { name productCount parent { name } ancestors { name } } } } }""",
    "an interface (node) and a list of interfaces (nodes)": """query($id: ID!) {
        node(id: $id) { id __typename ... on Product { name price { currency } } }
        nodes(ids: [$id]) { id ... on Product { slug } } }""",
    "@include and @skip driven by variables": """query($yes: Boolean!) { products(first: 3) {
        nodes { name @include(if: $yes) slug @skip(if: $yes) price @include(if: $yes) {
        amount } } } }""",
    "an error beside data": """{ products(first: 2, after: "not-a-cursor") { nodes { name } } }""",
    "a nested connection": """{ categories(first: 5) { nodes { name
        children(first: 1) { totalCount nodes { name } } } } }""",
    "a connection's resolved fields between its compiled ones": """{ products(first: 4) {
        pageInfo { hasNextPage } totalCount edges { cursor node { name } }
        facets { inStock { count } categories { category { id name } count } } nodes { slug }
        } }""",
    "a search's page with facets and highlights": """{ products(first: 3,
        filter: { search: "lamp" }) { facets { priceRanges { min max count } }
        edges { node { name highlight { name } } } totalCount } }""",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_query_shape_answers_the_same_with_and_without_compiled_completion(
    catalog: dict[str, Any], viewer: Client, shape: str
) -> None:
    variables = {"id": global_id("Product", catalog["products"][1].pk), "yes": True}
    both_ways(viewer, SHAPES[shape], variables)
    both_ways(viewer, SHAPES[shape], {**variables, "yes": False})


@pytest.fixture
def resolver_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many times strawberry-django resolved a field through its own resolver chain."""
    calls = 0
    get_result = StrawberryDjangoField.get_result

    def counting(self: StrawberryDjangoField, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return get_result(self, *args, **kwargs)

    monkeypatch.setattr(StrawberryDjangoField, "get_result", counting)
    return lambda: calls


PRODUCT_CARDS = """{ products(first: 8) { edges { cursor node {
    id name slug price { amount currency } inStock category { id name } } }
    pageInfo { hasNextPage endCursor } } }"""


def test_a_product_page_of_plain_reads_calls_only_the_root_resolver(
    catalog: dict[str, Any], resolver_calls: Callable[[], int]
) -> None:
    """Columns, the joined category, row fields and Relay ids are read by compiled code; only
    ``products`` itself (arguments, optimizer, page fetch) goes through strawberry-django."""
    post(Client(), PRODUCT_CARDS)
    assert resolver_calls() == 1
    CompilingExecutor.compiled_completion = False
    try:
        post(Client(), PRODUCT_CARDS)
    finally:
        CompilingExecutor.compiled_completion = True
    # 7 published products, each with name, slug, price, inStock, category and its name.
    assert resolver_calls() == 1 + 1 + 7 * 6


def test_a_connection_s_resolved_fields_leave_its_rows_compiled(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``totalCount`` and ``facets`` are the only fields graphql-core executes below the root:
    the rows, the page info and the facets' counts beside them are read by compiled code, and
    no object falls back."""
    executed: list[str] = []
    execute_field = CompilingExecutor.execute_field

    def recording(
        self: CompilingExecutor, parent_type: Any, source: Any, details: Any, path: Any, *rest: Any
    ) -> Any:
        executed.append(".".join(map(str, path.as_list())))
        return execute_field(self, parent_type, source, details, path, *rest)

    monkeypatch.setattr(CompilingExecutor, "execute_field", recording)
    before = COMPLETION_FALLBACKS.copy()
    document = PRODUCT_CARDS.replace(
        "pageInfo {", "totalCount facets { inStock { count } } pageInfo {"
    )
    body = json.loads(post(Client(), document))
    assert body["data"]["products"]["totalCount"] == 7
    assert executed == ["products", "products.totalCount", "products.facets"]
    assert before == COMPLETION_FALLBACKS


def test_a_resolved_field_s_error_is_reported_as_graphql_core_reports_it(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resolver that fails beside compiled fields: the same error and the same nulls."""

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("no facets today")

    monkeypatch.setattr(catalog_selectors, "product_facets", broken)
    body = json.loads(
        both_ways(
            Client(), "{ products(first: 2) { nodes { name } facets { inStock { count } } } }"
        )
    )
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["products", "facets"]


def test_a_related_row_the_optimizer_did_not_join_is_loaded_by_graphql_core(
    catalog: dict[str, Any],
) -> None:
    """Without the optimizer, ``category`` is not in the row: the compiled read gives up and
    graphql-core loads it, so the answer is the same, only slower."""
    with DjangoOptimizerExtension.disabled():
        body = json.loads(both_ways(Client(), PRODUCT_CARDS))
    assert body["data"]["products"]["edges"][0]["node"]["category"]["name"] == "Lighting"


def test_a_fallback_is_counted_and_logged_with_its_path(
    catalog: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Each object a compiled plan hands back to graphql-core is counted by type and logged
    with its path: a count that keeps growing names a plan that is wrong. Without the
    optimizer the first product's category is not joined: its plan, and the plans of the
    objects around it, give up; graphql-core loads the category for the whole page (the rows'
    peers), so the other products complete compiled."""
    before = COMPLETION_FALLBACKS.copy()
    with (
        caplog.at_level(logging.DEBUG, logger="backend.api.graphql.execution"),
        DjangoOptimizerExtension.disabled(),
    ):
        post(Client(), PRODUCT_CARDS)
    assert COMPLETION_FALLBACKS - before == {"ProductConnection": 1, "ProductEdge": 1, "Product": 1}
    assert [record.getMessage() for record in caplog.records] == [
        f"compiled completion of {name} at {path} fell back to graphql-core: KeyError('category')"
        for name, path in (
            ("ProductConnection", "products"),
            ("ProductEdge", "products.edges.0"),
            ("Product", "products.edges.0.node"),
        )
    ]
    # A related row not joined is what a plan expects now and then: debug, not a warning.
    assert {record.levelno for record in caplog.records} == {logging.DEBUG}


def test_a_page_the_plans_fit_falls_back_nowhere(catalog: dict[str, Any]) -> None:
    before = COMPLETION_FALLBACKS.copy()
    post(Client(), PRODUCT_CARDS)
    assert before == COMPLETION_FALLBACKS


def test_an_exception_a_plan_does_not_expect_is_logged_as_a_warning(
    catalog: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row field that raises is not a value the plans expect: the fallback is a warning, and
    graphql-core reports the field's error exactly as without compiled completion."""

    def broken(cls: type[Money], amount: Decimal) -> Money:
        raise RuntimeError("no price today")

    monkeypatch.setattr(Money, "in_store_currency", classmethod(broken))
    with caplog.at_level(logging.DEBUG, logger="backend.api.graphql.execution"):
        body = json.loads(
            both_ways(Client(), "{ products(first: 1) { nodes { price { amount } } } }")
        )
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["products", "nodes", 0, "price"]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    # Once for the page, whose plan includes the product's, and once for the product itself.
    assert [record.getMessage() for record in warnings] == [
        f"compiled completion of {name} at {path} fell back to graphql-core: "
        "RuntimeError('no price today')"
        for name, path in (("ProductConnection", "products"), ("Product", "products.nodes.0"))
    ]
