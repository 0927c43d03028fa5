"""Catalog reads through /graphql/: categories, products, visibility, Money, node/nodes."""

import base64
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from backend.catalog.models import Product
from tests.factories import category_create, product_create
from tests.graphql_client import GraphQLClient


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


PRODUCT_FIELDS = "name slug sku price { amount currency } inStock stockQuantity isPublished"


def test_product_by_slug_has_money_price_as_decimal_string_in_store_currency(
    gql: GraphQLClient,
) -> None:
    product_create(slug="lamp", price="1234.50", stock_quantity=0)
    data = gql.data('{ product(slug: "lamp") { ' + PRODUCT_FIELDS + " } }")
    assert data["product"]["price"] == {"amount": "1234.50", "currency": "USD"}
    assert data["product"]["inStock"] is False


def test_stock_quantity_is_visible_to_staff_only(
    gql: GraphQLClient, staff_gql: GraphQLClient
) -> None:
    product_create(slug="lamp", stock_quantity=7)
    query = '{ product(slug: "lamp") { stockQuantity inStock } }'
    assert gql.data(query)["product"] == {"stockQuantity": None, "inStock": True}
    assert staff_gql.data(query)["product"] == {"stockQuantity": 7, "inStock": True}


def test_unpublished_product_is_hidden_from_customers_everywhere(
    gql: GraphQLClient, staff_gql: GraphQLClient
) -> None:
    hidden = product_create(slug="secret", is_published=False)
    shown = product_create(slug="public")
    hidden_id, shown_id = global_id("Product", hidden.pk), global_id("Product", shown.pk)
    queries = {
        "by_slug": '{ product(slug: "secret") { slug } }',
        "by_id": f'{{ product(id: "{hidden_id}") {{ slug }} }}',
        "node": f'{{ node(id: "{hidden_id}") {{ id }} }}',
        "nodes": f'{{ nodes(ids: ["{hidden_id}", "{shown_id}"]) {{ id }} }}',
        "list": "{ products(first: 10) { nodes { slug } } }",
        "count": "{ products(first: 10) { totalCount } }",
    }
    customer = {name: gql.data(query) for name, query in queries.items()}
    assert customer["by_slug"]["product"] is None
    assert customer["by_id"]["product"] is None
    assert customer["node"]["node"] is None
    assert customer["nodes"]["nodes"] == [None, {"id": shown_id}]
    assert customer["list"]["products"]["nodes"] == [{"slug": "public"}]
    assert customer["count"]["products"]["totalCount"] == 1

    staff = {name: staff_gql.data(query) for name, query in queries.items()}
    assert staff["by_slug"]["product"] == {"slug": "secret"}
    assert staff["node"]["node"] == {"id": hidden_id}
    assert staff["nodes"]["nodes"] == [{"id": hidden_id}, {"id": shown_id}]
    assert staff["count"]["products"]["totalCount"] == 2


def test_node_resolves_categories_and_products_by_opaque_global_id(gql: GraphQLClient) -> None:
    category = category_create(name="Lamps")
    product = product_create(name="Desk lamp", category=category)
    data = gql.data(
        """query($c: ID!, $p: ID!) {
          c: node(id: $c) { id ... on Category { name } }
          p: node(id: $p) { id ... on Product { name category { id } } }
        }""",
        {"c": global_id("Category", category.pk), "p": global_id("Product", product.pk)},
    )
    assert data["c"]["name"] == "Lamps"
    assert data["p"]["name"] == "Desk lamp"
    assert data["p"]["category"]["id"] == data["c"]["id"]


def test_category_tree_fields_parent_children_ancestors_and_product_count(
    gql: GraphQLClient,
) -> None:
    home = category_create(name="Home", slug="home")
    lighting = category_create(name="Lighting", slug="lighting", parent=home)
    lamps = category_create(name="Lamps", slug="lamps", parent=lighting)
    category_create(name="Bulbs", slug="bulbs", parent=lighting, position=1)
    product_create(category=home)
    product_create(category=lamps)
    product_create(category=lamps)
    product_create(category=lamps, is_published=False)  # not counted for customers

    data = gql.data(
        """{ category(slug: "lighting") {
             name parent { slug } ancestors { slug } productCount
             children(first: 10) { totalCount nodes { slug productCount ancestors { slug } } }
        } }"""
    )["category"]
    assert data["parent"] == {"slug": "home"}
    assert data["ancestors"] == [{"slug": "home"}]
    assert data["productCount"] == 2
    assert data["children"]["totalCount"] == 2
    assert data["children"]["nodes"] == [
        {"slug": "lamps", "productCount": 2, "ancestors": [{"slug": "home"}, {"slug": "lighting"}]},
        {"slug": "bulbs", "productCount": 0, "ancestors": [{"slug": "home"}, {"slug": "lighting"}]},
    ]
    root = gql.data('{ category(slug: "home") { productCount ancestors { slug } } }')
    assert root["category"] == {"productCount": 3, "ancestors": []}


def test_categories_filters_top_level_only_and_by_parent(gql: GraphQLClient) -> None:
    home = category_create(name="Home")
    garden = category_create(name="Garden")
    category_create(name="Lamps", parent=home)
    top = gql.data("{ categories(first: 10, filter: {topLevelOnly: true}) { nodes { name } } }")
    assert [c["name"] for c in top["categories"]["nodes"]] == ["Garden", "Home"]
    children = gql.data(
        "query($p: ID!) { categories(first: 10, filter: {parent: $p}) { nodes { name } } }",
        {"p": global_id("Category", home.pk)},
    )
    assert children["categories"]["nodes"] == [{"name": "Lamps"}]
    assert garden.pk  # a top-level category without children still appears above


def slugs(gql: GraphQLClient, filter_literal: str, variables: dict | None = None) -> list[str]:
    declaration = "($c: ID)" if "$c" in filter_literal else ""
    query = (
        f"query{declaration} {{ products(first: 100, filter: {filter_literal}, "
        "order: {field: NAME}) { nodes { slug } } }"
    )
    nodes = gql.data(query, variables)["products"]["nodes"]
    return [p["slug"] for p in nodes]


def test_product_filters_category_subtree_price_range_and_stock(gql: GraphQLClient) -> None:
    home = category_create()
    lamps = category_create(parent=home)
    product_create(name="a", slug="a-home", category=home, price="5.00")
    product_create(name="b", slug="b-lamp", category=lamps, price="15.00", stock_quantity=0)
    product_create(name="c", slug="c-lamp", category=lamps, price="25.00")
    home_id = global_id("Category", home.pk)
    assert slugs(gql, "{category: $c}", {"c": home_id}) == ["a-home"]
    assert slugs(gql, "{category: $c, includeDescendants: true}", {"c": home_id}) == [
        "a-home",
        "b-lamp",
        "c-lamp",
    ]
    assert slugs(gql, '{price: {min: "10", max: "25.00"}}') == ["b-lamp", "c-lamp"]
    assert slugs(gql, "{inStock: true}") == ["a-home", "c-lamp"]
    assert slugs(gql, "{inStock: false}") == ["b-lamp"]


def test_product_filters_by_created_and_updated_ranges(gql: GraphQLClient) -> None:
    old = product_create(slug="old")
    product_create(slug="new")
    long_ago = timezone.now() - timedelta(days=30)
    Product.objects.filter(pk=old.pk).update(created_at=long_ago, updated_at=long_ago)
    cutoff = (timezone.now() - timedelta(days=1)).isoformat()
    assert slugs(gql, f'{{createdAt: {{gte: "{cutoff}"}}}}') == ["new"]
    assert slugs(gql, f'{{updatedAt: {{lte: "{cutoff}"}}}}') == ["old"]


def test_published_filter_is_for_staff_only(gql: GraphQLClient, staff_gql: GraphQLClient) -> None:
    product_create(slug="draft", is_published=False)
    product_create(slug="live")
    assert slugs(staff_gql, "{published: false}") == ["draft"]
    codes = gql.error_codes("{ products(first: 5, filter: {published: false}) { totalCount } }")
    assert codes == ["FORBIDDEN"]


def test_search_matches_word_prefixes_and_ranks_name_above_description(
    gql: GraphQLClient,
) -> None:
    product_create(name="Plain mug", slug="mug", description="A lamp-shaped mug")
    product_create(name="Desk lamp", slug="desk-lamp")
    product_create(name="Sofa", slug="sofa")
    data = gql.data('{ products(first: 10, filter: {search: "lam"}) { nodes { slug } } }')
    assert [p["slug"] for p in data["products"]["nodes"]] == ["desk-lamp", "mug"]


def test_search_falls_back_to_similar_names_for_typos(gql: GraphQLClient) -> None:
    product_create(name="Chandelier", slug="chandelier")
    product_create(name="Sofa", slug="sofa")
    data = gql.data('{ products(first: 10, filter: {search: "chandeleir"}) { nodes { slug } } }')
    assert [p["slug"] for p in data["products"]["nodes"]] == ["chandelier"]


def test_search_finds_by_sku(gql: GraphQLClient) -> None:
    product_create(name="Lamp", slug="lamp", sku="LMP-0042")
    product_create(name="Sofa", slug="sofa", sku="SOF-0001")
    data = gql.data('{ products(first: 10, filter: {search: "LMP"}) { nodes { slug } } }')
    assert [p["slug"] for p in data["products"]["nodes"]] == ["lamp"]


def test_products_order_by_each_field_in_both_directions_with_id_tie_breaker(
    gql: GraphQLClient,
) -> None:
    for index, (name, price) in enumerate([("b", "2.00"), ("a", "2.00"), ("c", "1.00")]):
        product = product_create(name=name, price=price)
        moment = timezone.now() - timedelta(hours=index)
        Product.objects.filter(pk=product.pk).update(created_at=moment, updated_at=moment)
    rows = list(Product.objects.values("id", "name", "price", "created_at", "updated_at"))
    for field, key in [
        ("PRICE", "price"),
        ("NAME", "name"),
        ("CREATED_AT", "created_at"),
        ("UPDATED_AT", "updated_at"),
    ]:
        for direction in ("ASC", "DESC"):
            expected = sorted(rows, key=lambda r: (r[key], r["id"]), reverse=direction == "DESC")
            data = gql.data(
                f"{{ products(first: 10, order: {{field: {field}, direction: {direction}}}) "
                "{ nodes { name } } }"
            )
            got = [p["name"] for p in data["products"]["nodes"]]
            assert got == [r["name"] for r in expected], (field, direction)
    assert Decimal(rows[0]["price"]) > 0


def test_default_order_is_newest_first(gql: GraphQLClient) -> None:
    first = product_create(name="first")
    product_create(name="second")
    Product.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=1))
    data = gql.data("{ products(first: 10) { nodes { name } } }")
    assert [p["name"] for p in data["products"]["nodes"]] == ["second", "first"]
