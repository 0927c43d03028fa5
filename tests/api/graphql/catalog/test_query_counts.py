"""The SQL statement count of a catalog query does not depend on its page size."""

from typing import Any

import pytest

from tests.api.graphql.catalog.test_catalog_queries import global_id
from tests.factories import category_create, product_create
from tests.graphql_client import GraphQLClient

PRODUCT_PAGE = """query($n: Int!) { products(first: $n) { edges { cursor node {
  name slug price { amount currency } inStock
  category { name parent { name } productCount }
} } pageInfo { hasNextPage endCursor } } }"""


def seed_catalog(products: int) -> None:
    """Products spread over a two-level tree, so categories and parents differ per row."""
    roots = [category_create() for _ in range(3)]
    leaves = [category_create(parent=roots[i % 3]) for i in range(10)]
    for i in range(products):
        product_create(category=leaves[i % 10])


def statements(gql: GraphQLClient, count_queries: Any, query: str, variables: dict) -> int:
    with count_queries() as captured:
        gql.data(query, variables)
    assert all("OFFSET" not in q["sql"] for q in captured.captured_queries)
    return captured.count


def test_product_page_costs_2_statements_at_any_page_size(
    gql: GraphQLClient, count_queries: Any
) -> None:
    """1: products joined to category and parent (select_related); 2: productCount of every
    category on the page (one correlated-subquery statement through a DataLoader)."""
    seed_catalog(120)
    small = statements(gql, count_queries, PRODUCT_PAGE, {"n": 1})
    large = statements(gql, count_queries, PRODUCT_PAGE, {"n": 100})
    assert small == large == 2


def test_product_list_without_total_count_is_1_statement_and_2_with_it(
    gql: GraphQLClient, count_queries: Any
) -> None:
    seed_catalog(30)
    query = (
        "query($n: Int!) { products(first: $n) { %s "
        "nodes { name price { amount } category { name } } } }"
    )
    for size in (1, 30):
        assert statements(gql, count_queries, query % "", {"n": size}) == 1
        assert statements(gql, count_queries, query % "totalCount", {"n": size}) == 2


SUBTREE_PAGE = """query($n: Int!, $c: ID!, $after: String) { products(first: $n, after: $after,
    filter: {inCategory: $c}, order: {field: PRICE, direction: DESC})
    { nodes { price { amount } category { name } } pageInfo { endCursor } } }"""
# The deprecated spelling of the same filter costs the same.
DEPRECATED_SUBTREE_PAGE = SUBTREE_PAGE.replace(
    "inCategory: $c", "category: $c, includeDescendants: true"
)


@pytest.mark.parametrize("query", [SUBTREE_PAGE, DEPRECATED_SUBTREE_PAGE])
def test_subtree_page_costs_2_statements_at_any_page_size_and_keeps_its_order(
    gql: GraphQLClient, count_queries: Any, query: str
) -> None:
    """1: the subtree's category ids, so PostgreSQL plans the page with them as constants
    (``selectors.product_list``); 2: the page. The order and cursor apply as everywhere."""
    root = category_create()
    leaves = [category_create(parent=category_create(parent=root)) for _ in range(3)]
    for i in range(30):
        product_create(category=leaves[i % 3], price=f"{i + 1}.00")
    product_create(price="99.00")  # outside the subtree
    category = global_id("Category", root.pk)
    for size in (1, 30):
        assert statements(gql, count_queries, query, {"n": size, "c": category}) == 2
    first = gql.data(query, {"n": 10, "c": category})["products"]
    after = first["pageInfo"]["endCursor"]
    rest = gql.data(query, {"n": 30, "c": category, "after": after})["products"]
    prices = [node["price"]["amount"] for node in first["nodes"] + rest["nodes"]]
    assert prices == [f"{i}.00" for i in range(30, 0, -1)]


def test_subtree_of_a_missing_category_is_empty_after_one_statement(
    gql: GraphQLClient, count_queries: Any
) -> None:
    product_create()
    variables = {"n": 5, "c": global_id("Category", 999_999)}
    assert statements(gql, count_queries, SUBTREE_PAGE, variables) == 1
    assert gql.data(SUBTREE_PAGE, variables)["products"]["nodes"] == []


def test_deep_page_costs_the_same_as_the_first_page(gql: GraphQLClient, count_queries: Any) -> None:
    seed_catalog(30)
    query = """query($after: String) { products(first: 5, after: $after,
        order: {field: PRICE}) { nodes { name } pageInfo { endCursor } } }"""
    first = gql.data(query)["products"]["pageInfo"]["endCursor"]
    assert statements(gql, count_queries, query, {}) == 1
    assert statements(gql, count_queries, query, {"after": first}) == 1


def test_category_page_with_children_costs_4_statements_at_any_page_size(
    gql: GraphQLClient, count_queries: Any
) -> None:
    """1: the categories; 2: every category's first children in one window-function
    statement; 3: their totalCount in one GROUP BY; 4: productCount of all children."""
    roots = [category_create() for _ in range(12)]
    for root in roots:
        for _ in range(3):
            product_create(category=category_create(parent=root))
    query = """query($n: Int!) { categories(first: $n, filter: {topLevelOnly: true}) { nodes {
        name ancestors { name }
        children(first: 2) { totalCount nodes { name parent { name } productCount } }
    } } }"""
    small = statements(gql, count_queries, query, {"n": 1})
    large = statements(gql, count_queries, query, {"n": 12})
    # ancestors of top-level categories are empty: no statement for them.
    assert small == large == 4


def test_nodes_of_100_products_cost_1_statement(gql: GraphQLClient, count_queries: Any) -> None:
    seed_catalog(100)
    query = (
        "query($n: Int!) { products(first: $n) { nodes { name category { parent { name } } } } }"
    )
    assert statements(gql, count_queries, query, {"n": 100}) == 1


def test_every_resolver_returning_a_queryset_optimizes_it_itself() -> None:
    """The schema's optimizer has no per-field hook (backend/api/graphql/optimizer.py): that is
    sound only while every resolver returning a QuerySet is a strawberry-django field, which
    optimizes what it returns. A plain Strawberry field returning one would load row by row."""
    import inspect

    from strawberry.types.base import StrawberryObjectDefinition
    from strawberry_django.fields.field import StrawberryDjangoField

    from backend.api.schema import schema

    queryset_fields = []
    for graphql_type in schema.schema_converter.type_map.values():
        definition = graphql_type.definition
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for field in definition.fields:
            if field.base_resolver is None:
                continue
            returns = inspect.signature(field.base_resolver.wrapped_func).return_annotation
            if "QuerySet" in (returns if isinstance(returns, str) else repr(returns)):
                queryset_fields.append(field)
                assert isinstance(field, StrawberryDjangoField), (definition.name, field.name)
    assert len(queryset_fields) >= 3  # categories, products, orders at least
