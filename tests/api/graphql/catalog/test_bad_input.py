"""Bad input gets a clear GraphQL error with a code: never a 500, never an unbounded query."""

import base64
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import category_create, product_create
from tests.graphql_client import GraphQLClient


def test_malformed_query_is_a_parse_error(gql: GraphQLClient) -> None:
    assert gql.error_codes("{ products(first: 1) { nodes { name }") == ["GRAPHQL_PARSE_FAILED"]


def test_unknown_field_is_a_validation_error(gql: GraphQLClient) -> None:
    codes = gql.error_codes("{ products(first: 1) { nodes { price_in_cents } } }")
    assert codes == ["GRAPHQL_VALIDATION_FAILED"]


def test_wrong_argument_type_is_a_validation_error(gql: GraphQLClient) -> None:
    codes = gql.error_codes('{ products(first: "ten") { nodes { name } } }')
    assert codes == ["GRAPHQL_VALIDATION_FAILED"]


def test_wrong_variable_value_is_bad_user_input(gql: GraphQLClient) -> None:
    codes = gql.error_codes(
        "query($n: Int!) { products(first: $n) { nodes { name } } }", {"n": "many"}
    )
    assert codes == ["BAD_USER_INPUT"]


def test_body_that_is_not_json_is_refused_with_400(db: None) -> None:
    response = Client().post("/graphql/", data="{not json", content_type="application/json")
    assert response.status_code == 400


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-base64!",
        encoded("Product"),  # no separator
        encoded("Nonexistent:1"),  # a type that does not exist in this schema
        encoded("Category:abc"),
        "",
    ],
)
def test_bad_global_id_is_refused_with_a_code(gql: GraphQLClient, bad_id: str) -> None:
    for query in (
        "query($id: ID!) { node(id: $id) { id } }",
        "query($id: ID!) { product(id: $id) { name } }",
        "query($id: ID!) { products(first: 1, filter: {category: $id}) { nodes { name } } }",
    ):
        body = gql.post(query, {"id": bad_id})
        assert body.get("errors"), (query, body)
        assert {e["extensions"]["code"] for e in body["errors"]} <= {
            "BAD_USER_INPUT",
            "GRAPHQL_VALIDATION_FAILED",
        }, (query, body)


def test_global_id_of_another_type_is_refused(gql: GraphQLClient) -> None:
    category = category_create()
    codes = gql.error_codes(
        "query($id: ID!) { product(id: $id) { name } }", {"id": encoded(f"Category:{category.pk}")}
    )
    assert codes == ["BAD_USER_INPUT"]


def test_id_and_slug_together_or_neither_is_refused(gql: GraphQLClient) -> None:
    assert gql.error_codes("{ product { name } }") == ["BAD_USER_INPUT"]
    codes = gql.error_codes(
        'query($id: ID) { category(id: $id, slug: "x") { name } }', {"id": encoded("Category:1")}
    )
    assert codes == ["BAD_USER_INPUT"]


def test_nodes_with_more_than_100_ids_is_refused(gql: GraphQLClient) -> None:
    ids = [encoded(f"Product:{i}") for i in range(101)]
    codes = gql.error_codes("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        encoded("not json"),
        encoded(json.dumps([1, 2])),
        encoded(json.dumps({"o": "Product:CREATED_AT:DESC", "k": ["yesterday", 1]})),
        encoded(json.dumps({"o": "Product:CREATED_AT:DESC", "k": ["2026-01-01T00:00:00", 1]})),
        encoded(json.dumps({"o": "Product:PRICE:ASC", "k": ["NaN", 1]})),
        encoded(json.dumps({"o": "Product:CREATED_AT:DESC", "k": [1]})),
        # Literals json would read but a cursor never holds: NaN, and a key beyond 64 bits.
        encoded('{"o":"Product:CREATED_AT:DESC","k":[NaN,1]}'),
        encoded(
            '{"o":"Product:CREATED_AT:DESC","k":["2026-01-01T00:00:00+00:00",' + "9" * 30 + "]}"
        ),
        encoded(
            json.dumps({"o": "Product:CREATED_AT:DESC", "k": ["2026-01-01T00:00:00+00:00", True]})
        ),
    ],
)
def test_bad_cursor_is_refused_with_bad_user_input(gql: GraphQLClient, cursor: str) -> None:
    product_create()
    codes = gql.error_codes(
        "query($c: String) { products(first: 1, after: $c) { nodes { name } } }", {"c": cursor}
    )
    assert codes == ["BAD_USER_INPUT"]


def test_relevance_order_without_search_is_refused(gql: GraphQLClient) -> None:
    codes = gql.error_codes("{ products(first: 1, order: {field: RELEVANCE}) { totalCount } }")
    assert codes == ["BAD_USER_INPUT"]


def test_inverted_price_range_is_refused(gql: GraphQLClient) -> None:
    codes = gql.error_codes(
        '{ products(first: 1, filter: {price: {min: "9", max: "1"}}) { totalCount } }'
    )
    assert codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("search", [":*&|!()", "-", "x" * 201, "lamp " * 2000])
def test_wordless_or_oversized_search_is_refused(gql: GraphQLClient, search: str) -> None:
    codes = gql.error_codes(
        "query($s: String) { products(first: 1, filter: {search: $s}) { totalCount } }",
        {"s": search},
    )
    assert codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("search", ["", "   ", "\t\n", "\u3000"])
def test_a_blank_search_is_no_search(gql: GraphQLClient, search: str) -> None:
    """An empty search box lists the catalog, as REST's ``?search=`` does (parity tests)."""
    product_create(name="Desk lamp", slug="desk-lamp")
    product_create(name="Floor lamp", slug="floor-lamp")
    body = gql.post(
        "query($s: String) {"
        " products(first: 5, filter: {search: $s}) { totalCount nodes { slug } } }",
        {"s": search},
    )
    assert body["data"]["products"] == {
        "totalCount": 2,
        "nodes": [{"slug": "floor-lamp"}, {"slug": "desk-lamp"}],  # newest first, not by rank
    }


@pytest.mark.parametrize(
    "search", ["'; DROP TABLE catalog_product; --", "%_\\", "lamp:* & !(x | y)", "<->", "lamp's"]
)
def test_sql_tsquery_and_like_metacharacters_in_search_are_inert(
    gql: GraphQLClient, search: str
) -> None:
    product_create(name="Desk lamp", slug="desk-lamp")
    body = gql.post(
        "query($s: String) { products(first: 5, filter: {search: $s}) { nodes { slug } } }",
        {"s": search},
    )
    # Either a clear refusal (nothing searchable) or an ordinary answer; never a server error.
    if "errors" in body:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    else:
        assert isinstance(body["data"]["products"]["nodes"], list)
    assert gql.data('{ product(slug: "desk-lamp") { slug } }')["product"]


ORDER_FIELDS = st.sampled_from(["PRICE", "NAME", "CREATED_AT", "UPDATED_AT", "RELEVANCE"])
# Without NUL and lone surrogates: a body holding one is refused while it is decoded, before
# any GraphQL (tests/api/graphql/contract/test_crafted_inputs.py).
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=250)
DECIMALS = st.one_of(
    st.none(),
    st.decimals(min_value=-(10**6), max_value=10**9, allow_nan=False, places=2).map(str),
    st.sampled_from(["NaN", "Infinity", "1e999", "abc", "-0"]),
)
PAGE_SIZES = st.one_of(st.none(), st.integers(min_value=-5, max_value=200))
CURSORS = st.one_of(
    st.none(), TEXT, st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode())
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=PAGE_SIZES,
    last=PAGE_SIZES,
    after=CURSORS,
    before=CURSORS,
    order_field=st.one_of(st.none(), ORDER_FIELDS),
    descending=st.booleans(),
    search=st.one_of(st.none(), TEXT),
    price_min=DECIMALS,
    price_max=DECIMALS,
    in_stock=st.one_of(st.none(), st.booleans()),
    created_after=st.one_of(st.none(), st.sampled_from(["2026-01-01T00:00:00Z", "yesterday"])),
)
def test_random_filter_order_and_pagination_never_500_and_stay_bounded(
    catalog_client: tuple[Client, Any],
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    order_field: str | None,
    descending: bool,
    search: str | None,
    price_min: str | None,
    price_max: str | None,
    in_stock: bool | None,
    created_after: str | None,
) -> None:
    client, count_queries = catalog_client
    variables = {
        "first": first,
        "last": last,
        "after": after,
        "before": before,
        "order": {"field": order_field, "direction": "DESC" if descending else "ASC"}
        if order_field
        else None,
        "filter": {
            "search": search,
            "price": {"min": price_min, "max": price_max},
            "inStock": in_stock,
            "createdAt": {"gte": created_after},
        },
    }
    query = """query($first: Int, $last: Int, $after: String, $before: String,
                     $order: ProductOrder, $filter: ProductFilter) {
      products(first: $first, last: $last, after: $after, before: $before,
               order: $order, filter: $filter) {
        totalCount edges { cursor node { name price { amount } category { name productCount } } }
        pageInfo { hasNextPage hasPreviousPage }
      }
    }"""
    with count_queries() as captured:
        response = client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
        )
    assert response.status_code in {200, 400}
    body = response.json()
    for error in body.get("errors", []):
        assert error["extensions"]["code"] in {
            "BAD_USER_INPUT",
            "GRAPHQL_VALIDATION_FAILED",
        }, error
    if "errors" not in body:
        assert len(body["data"]["products"]["edges"]) <= 100
    # page, totalCount, productCount: whatever the input, never more.
    assert captured.count <= 3, [q["sql"] for q in captured.captured_queries]


@pytest.fixture
def catalog_client(db: None, count_queries: Any) -> tuple[Client, Any]:
    root = category_create()
    for i in range(6):
        product_create(
            name=f"Lamp {i}",
            category=category_create(parent=root),
            price=f"{i}.50",
            stock_quantity=i % 2,
        )
    return Client(), count_queries


# A sort-key value a client can put in a cursor it forges for the right order: text PostgreSQL
# refuses (a NUL), numerals numeric cannot hold or written in other scripts, and other types.
HOSTILE_KEYS = st.one_of(
    st.text(max_size=20).map(lambda text: text + "\x00"),
    st.sampled_from(["1e999999999", "-1e-999999999", "١٢", "NaN", "9" * 200, "2026-13-01"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(["PRICE", "NAME", "CREATED_AT", "UPDATED_AT"]),
    descending=st.booleans(),
    key=HOSTILE_KEYS,
    row_id=st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), HOSTILE_KEYS),
)
def test_a_forged_cursor_for_the_right_order_is_refused_not_a_server_error(
    catalog_client: tuple[Client, Any], field: str, descending: bool, key: Any, row_id: Any
) -> None:
    """A cursor is client input: one naming the list's own order but carrying a value the
    database cannot compare (a NUL in a name, a price of 1e999999999) was an
    INTERNAL_SERVER_ERROR. It is an invalid cursor, or an ordinary page when the value is
    merely unusual."""
    client, _ = catalog_client
    direction = "DESC" if descending else "ASC"
    payload = json.dumps({"o": f"Product:{field}:{direction}", "k": [key, row_id]})
    cursor = base64.urlsafe_b64encode(payload.encode()).decode()
    query = """query($after: String, $order: ProductOrder) {
      products(first: 2, after: $after, order: $order) { nodes { id } } }"""
    variables = {"after": cursor, "order": {"field": field, "direction": direction}}
    body = client.post(
        "/graphql/", {"query": query, "variables": variables}, content_type="application/json"
    ).json()
    codes = [error["extensions"]["code"] for error in body.get("errors", [])]
    assert codes in ([], ["BAD_USER_INPUT"]), body
