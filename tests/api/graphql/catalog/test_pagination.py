"""Keyset pagination: no skipped or repeated rows, strict arguments, opaque scoped cursors."""

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from backend.api.graphql.pagination import KeysetOrder, SortKey, cursor_decode, cursor_encode
from tests.factories import category_create, product_create
from tests.graphql_client import GraphQLClient

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $order: ProductOrder) {
  products(first: $first, after: $after, last: $last, before: $before, order: $order) {
    edges { cursor node { slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def page(gql: GraphQLClient, **variables: Any) -> dict[str, Any]:
    return gql.data(PAGE, variables)["products"]


def walk_forward(gql: GraphQLClient, size: int, order: dict[str, str]) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        result = page(gql, first=size, after=after, order=order)
        seen += [edge["node"]["slug"] for edge in result["edges"]]
        if not result["pageInfo"]["hasNextPage"]:
            return seen
        after = result["pageInfo"]["endCursor"]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_walking_pages_of_tied_prices_returns_every_product_exactly_once(
    gql: GraphQLClient, direction: str
) -> None:
    products = [product_create(price=["1.00", "2.00"][i % 2]) for i in range(7)]
    order = {"field": "PRICE", "direction": direction}
    expected = sorted(products, key=lambda p: (p.price, p.pk), reverse=direction == "DESC")
    assert walk_forward(gql, 2, order) == [p.slug for p in expected]


def test_walking_backwards_with_last_and_before_mirrors_forward_pages(gql: GraphQLClient) -> None:
    for i in range(5):
        product_create(name=f"p{i}", slug=f"p{i}")
    order = {"field": "NAME", "direction": "ASC"}
    last_page = page(gql, last=2, order=order)
    assert [e["node"]["slug"] for e in last_page["edges"]] == ["p3", "p4"]
    assert last_page["pageInfo"]["hasPreviousPage"] is True
    previous = page(gql, last=2, before=last_page["pageInfo"]["startCursor"], order=order)
    assert [e["node"]["slug"] for e in previous["edges"]] == ["p1", "p2"]
    assert previous["pageInfo"]["hasNextPage"] is True
    first = page(gql, last=2, before=previous["pageInfo"]["startCursor"], order=order)
    assert [e["node"]["slug"] for e in first["edges"]] == ["p0"]
    assert first["pageInfo"]["hasPreviousPage"] is False


def test_rows_inserted_between_requests_do_not_shift_the_next_page(gql: GraphQLClient) -> None:
    for i in range(4):
        product_create(name=f"m{i}", slug=f"m{i}")
    order = {"field": "NAME", "direction": "ASC"}
    first = page(gql, first=2, order=order)
    assert [e["node"]["slug"] for e in first["edges"]] == ["m0", "m1"]
    product_create(name="a-new", slug="a-new")  # sorts before the cursor: must not appear
    product_create(name="m1b", slug="m1b")  # sorts after the cursor: must appear
    second = page(gql, first=10, after=first["pageInfo"]["endCursor"], order=order)
    assert [e["node"]["slug"] for e in second["edges"]] == ["m1b", "m2", "m3"]


def test_a_cursor_is_valid_only_for_the_order_it_was_issued_for(gql: GraphQLClient) -> None:
    product_create()
    product_create()
    by_price = page(gql, first=1, order={"field": "PRICE", "direction": "ASC"})
    cursor = by_price["pageInfo"]["endCursor"]
    body = gql.post(PAGE, {"first": 1, "after": cursor, "order": {"field": "NAME"}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another list or another order" in body["errors"][0]["message"]
    body = gql.post(
        PAGE, {"first": 1, "after": cursor, "order": {"field": "PRICE", "direction": "DESC"}}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_product_cursor_is_refused_by_the_categories_connection(gql: GraphQLClient) -> None:
    product_create()
    cursor = page(gql, first=1)["pageInfo"]["endCursor"]
    codes = gql.error_codes(
        "query($a: String) { categories(first: 1, after: $a) { totalCount } }", {"a": cursor}
    )
    assert codes == ["BAD_USER_INPUT"]


def test_children_connection_pages_with_its_own_cursors(gql: GraphQLClient) -> None:
    root = category_create(slug="root")
    for i in range(3):
        category_create(slug=f"c{i}", name=f"c{i}", parent=root)
    query = """query($after: String) { category(slug: "root") {
        children(first: 2, after: $after) { nodes { slug } pageInfo { hasNextPage endCursor } }
    } }"""
    first = gql.data(query)["category"]["children"]
    assert [c["slug"] for c in first["nodes"]] == ["c0", "c1"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = gql.data(query, {"after": first["pageInfo"]["endCursor"]})["category"]["children"]
    assert [c["slug"] for c in second["nodes"]] == ["c2"]
    assert second["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    "arguments",
    ["first: 0", "first: -1", "first: 101", "last: 0", "last: 101", "", "first: 1, last: 1"],
)
def test_page_size_outside_1_to_100_or_ambiguous_is_refused_never_clamped(
    gql: GraphQLClient, arguments: str
) -> None:
    product_create()  # also creates a category, so the nested children field runs
    call = f"({arguments})" if arguments else ""
    for query in (
        f"{{ products{call} {{ nodes {{ id }} }} }}",
        f"{{ categories{call} {{ nodes {{ id }} }} }}",
        f"{{ categories(first: 1) {{ nodes {{ children{call} {{ totalCount }} }} }} }}",
    ):
        assert gql.error_codes(query) == ["BAD_USER_INPUT"], query


def test_total_count_is_computed_only_when_selected(gql: GraphQLClient, count_queries: Any) -> None:
    product_create()
    with count_queries() as without_count:
        gql.data("{ products(first: 5) { nodes { name } } }")
    with count_queries() as with_count:
        gql.data("{ products(first: 5) { totalCount nodes { name } } }")
    with count_queries() as only_count:
        gql.data("{ products(first: 5) { totalCount } }")
    with count_queries() as searched_count:
        gql.data('{ products(first: 5, filter: {search: "product"}) { totalCount } }')
    assert (without_count.count, with_count.count, only_count.count) == (1, 2, 1)
    # The whole catalog's length is summed from the facet counts, a search's counted.
    assert '"catalog_productfacetcount"' in only_count.captured_queries[0]["sql"]
    assert "COUNT(*)" in searched_count.captured_queries[0]["sql"]
    assert all("OFFSET" not in q["sql"] for q in with_count.captured_queries)


def test_a_relevance_cursor_is_valid_only_for_the_search_it_was_issued_for(
    gql: GraphQLClient,
) -> None:
    product_create(name="Lamp", slug="lamp")
    product_create(name="Floor lamp", slug="floor")
    query = """query($search: String!, $after: String) { products(first: 1, after: $after,
        filter: {search: $search}) { nodes { slug } pageInfo { endCursor } } }"""
    cursor = gql.data(query, {"search": "lamp"})["products"]["pageInfo"]["endCursor"]
    assert gql.data(query, {"search": "lamp", "after": cursor})["products"]["nodes"]
    body = gql.post(query, {"search": "floor", "after": cursor})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another list or another order" in body["errors"][0]["message"]


def test_walking_search_results_by_relevance_returns_each_match_once(gql: GraphQLClient) -> None:
    """Relevance ranks are floats: the cursor must round-trip them exactly."""
    product_create(name="Lamp", slug="lamp")
    product_create(name="Lamp lamp shade", slug="shade")
    product_create(name="Desk", slug="desk", description="with a lamp")
    product_create(name="Floor lamp", slug="floor")
    product_create(name="Sofa", slug="sofa")
    query = """query($after: String) { products(first: 1, after: $after,
        filter: {search: "lamp"}) { nodes { slug } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        result = gql.data(query, {"after": after})["products"]
        seen += [node["slug"] for node in result["nodes"]]
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    everything = gql.data('{ products(first: 10, filter: {search: "lamp"}) { nodes { slug } } }')
    assert seen == [node["slug"] for node in everything["products"]["nodes"]]
    assert sorted(seen) == ["desk", "floor", "lamp", "shade"]
    assert seen[-1] == "desk"  # a description match ranks below name matches


def test_a_page_after_a_cursor_is_one_row_value_bound_the_composite_index_serves(
    gql: GraphQLClient, count_queries: Any
) -> None:
    for _ in range(5):
        product_create()
    end_cursor = page(gql, first=2)["pageInfo"]["endCursor"]
    with count_queries() as captured:
        page(gql, first=2, after=end_cursor)
    assert captured.count == 1
    sql = captured.captured_queries[0]["sql"]
    assert '("catalog_product"."created_at", "catalog_product"."id") < (' in sql
    with connection.cursor() as cursor:
        # Five rows would be read by a sequential scan; the question is whether the index can.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "catalog_prod_pub_created_idx" in plan
    assert "Index Cond: (ROW(created_at, id) < ROW(" in plan


def test_a_cursor_writes_every_key_kind_as_before_and_reads_it_back() -> None:
    # The bytes are pinned: a cursor issued before a deploy must still be read after it.
    order = KeysetOrder(
        name="Thing:MIXED:ASC",
        keys=(
            SortKey("price", Decimal),
            SortKey("created_at", datetime),
            SortKey("name", str),
            SortKey("rank", float),
            SortKey("id", int),
        ),
        descending=False,
    )
    created = datetime(2025, 1, 12, 13, 41, 15, 123456, tzinfo=UTC)
    row = SimpleNamespace(price=Decimal("19.90"), created_at=created, name="Mug", rank=0.25, id=7)
    written = json.dumps(
        {"o": order.name, "k": ["19.90", created.isoformat(), "Mug", 0.25, 7]},
        separators=(",", ":"),
    )

    cursor = cursor_encode(row, order=order)  # type: ignore[arg-type]

    assert base64.urlsafe_b64decode(cursor).decode() == written
    values = cursor_decode(cursor, order=order, argument="after")
    assert values == (Decimal("19.90"), created, "Mug", 0.25, 7)
