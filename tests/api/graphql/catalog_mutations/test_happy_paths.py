"""Staff manage the catalog: each mutation does what it says and reports no errors."""

from decimal import Decimal

from backend.catalog.models import Category, Product
from tests.api.graphql.catalog_mutations import operations as op
from tests.api.graphql.catalog_mutations.conftest import GraphQLClient, gid
from tests.factories import category_create, order_create, product_create


def test_staff_creates_a_category_under_a_parent(staff_gql: GraphQLClient) -> None:
    parent = category_create()
    variables = {
        "input": {
            "name": "Trail",
            "slug": "trail",
            "description": "Off-road",
            "parent": gid(parent),
            "position": 2,
        }
    }
    payload = staff_gql.mutate(op.CATEGORY_CREATE, variables)
    assert payload["errors"] == []
    created = Category.objects.get(slug="trail")
    assert payload["category"] == {
        "id": gid(created),
        "name": "Trail",
        "slug": "trail",
        "description": "Off-road",
        "position": 2,
        "parent": {"id": gid(parent)},
    }
    assert created.path == f"{parent.path}{created.pk}/"


def test_staff_renames_a_category_and_leaves_omitted_fields_alone(
    staff_gql: GraphQLClient,
) -> None:
    category = category_create(description="Kept", position=4)
    variables = {"id": gid(category), "input": {"name": "Footwear", "slug": "footwear"}}
    payload = staff_gql.mutate(op.CATEGORY_UPDATE, variables)
    assert payload["errors"] == []
    category.refresh_from_db()
    assert (category.name, category.slug, category.description, category.position) == (
        "Footwear",
        "footwear",
        "Kept",
        4,
    )


def test_staff_moves_a_category_with_its_subtree(staff_gql: GraphQLClient) -> None:
    apparel = category_create()
    shoes = category_create(parent=apparel)
    trail = category_create(parent=shoes)
    sale = category_create()
    variables = {"id": gid(shoes), "input": {"parent": gid(sale), "position": 1}}
    payload = staff_gql.mutate(op.CATEGORY_UPDATE, variables)
    assert payload["errors"] == []
    assert payload["category"]["parent"] == {"id": gid(sale)}
    trail.refresh_from_db()
    assert trail.path == f"/{sale.pk}/{shoes.pk}/{trail.pk}/"
    assert Category.objects.get(pk=shoes.pk).position == 1


def test_staff_moves_a_category_to_the_top_level(staff_gql: GraphQLClient) -> None:
    shoes = category_create(parent=category_create())
    payload = staff_gql.mutate(op.CATEGORY_UPDATE, {"id": gid(shoes), "input": {"parent": None}})
    assert payload["errors"] == []
    assert payload["category"]["parent"] is None
    assert Category.objects.get(pk=shoes.pk).path == f"/{shoes.pk}/"


def test_staff_deletes_an_empty_category(staff_gql: GraphQLClient) -> None:
    category = category_create()
    payload = staff_gql.mutate(op.CATEGORY_DELETE, {"id": gid(category)})
    assert payload == {"deletedId": gid(category), "errors": []}
    assert not Category.objects.filter(pk=category.pk).exists()


def test_staff_creates_a_product(staff_gql: GraphQLClient) -> None:
    category = category_create()
    variables = {
        "input": {
            "name": "Trail shoe",
            "slug": "trail-shoe",
            "sku": "TRAIL-1",
            "price": "89.90",
            "category": gid(category),
            "stockQuantity": 7,
            "isPublished": False,
        }
    }
    payload = staff_gql.mutate(op.PRODUCT_CREATE, variables)
    assert payload["errors"] == []
    product = Product.objects.get(sku="TRAIL-1")
    assert payload["product"] == {
        "id": gid(product),
        "name": "Trail shoe",
        "slug": "trail-shoe",
        "sku": "TRAIL-1",
        "description": "",
        "isPublished": False,
        "stockQuantity": 7,
        "price": {"amount": "89.90", "currency": "USD"},
        "category": {"id": gid(category)},
    }
    assert product.price == Decimal("89.90")


def test_a_price_with_trailing_zeros_is_the_same_amount(staff_gql: GraphQLClient) -> None:
    product = product_create()
    payload = staff_gql.mutate(op.PRODUCT_UPDATE, {"id": gid(product), "input": {"price": "5.500"}})
    assert payload["errors"] == []
    product.refresh_from_db()
    assert product.price == Decimal("5.50")


def test_staff_updates_a_product_and_moves_it_to_another_category(
    staff_gql: GraphQLClient,
) -> None:
    product = product_create(price="10.00", description="Kept")
    target = category_create()
    variables = {
        "id": gid(product),
        "input": {"price": "12.50", "name": "Renamed", "category": gid(target)},
    }
    payload = staff_gql.mutate(op.PRODUCT_UPDATE, variables)
    assert payload["errors"] == []
    assert payload["product"]["price"]["amount"] == "12.50"
    product.refresh_from_db()
    assert (product.name, product.price, product.category_id, product.description) == (
        "Renamed",
        Decimal("12.50"),
        target.pk,
        "Kept",
    )


def test_staff_deletes_a_product_and_orders_keep_their_lines(staff_gql: GraphQLClient) -> None:
    product = product_create()
    order = order_create(products=[(product, 2)])
    payload = staff_gql.mutate(op.PRODUCT_DELETE, {"id": gid(product)})
    assert payload == {"deletedId": gid(product), "errors": []}
    assert not Product.objects.filter(pk=product.pk).exists()
    line = order.items.get()
    assert (line.product_id, line.product_sku, line.quantity) == (None, product.sku, 2)


def test_staff_adjusts_stock_up_and_down_to_exactly_zero(staff_gql: GraphQLClient) -> None:
    product = product_create(stock_quantity=5)
    payload = staff_gql.mutate(op.PRODUCT_STOCK_ADJUST, {"id": gid(product), "delta": 3})
    assert payload["errors"] == []
    assert payload["product"]["stockQuantity"] == 8
    payload = staff_gql.mutate(op.PRODUCT_STOCK_ADJUST, {"id": gid(product), "delta": -8})
    assert payload["errors"] == []
    assert payload["product"]["stockQuantity"] == 0
    assert Product.objects.get(pk=product.pk).stock_quantity == 0
