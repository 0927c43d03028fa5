"""Bad input gets its own error code in the payload, on the right field, and changes nothing."""

from typing import Any

import pytest
from strawberry import relay

from tests.api.graphql.catalog_mutations import operations as op
from tests.api.graphql.catalog_mutations.conftest import (
    GraphQLClient,
    catalog_snapshot,
    error_codes,
    gid,
)
from tests.factories import category_create, product_create


def refused(
    staff_gql: GraphQLClient, query: str, variables: dict[str, Any]
) -> list[tuple[str | None, str]]:
    """Send a mutation that must fail: the payload's object is null, nothing in the catalog
    changed, and the (field, code) pairs are returned."""
    before = catalog_snapshot()
    payload = staff_gql.mutate(query, variables)
    assert payload.get("category", payload.get("product", payload.get("deletedId"))) is None
    assert catalog_snapshot() == before
    return error_codes(payload)


def product_input(**fields: Any) -> dict[str, Any]:
    category = fields.pop("category", None) or category_create()
    return {
        "input": {
            "name": "Trail shoe",
            "slug": "trail-shoe",
            "sku": "TRAIL-1",
            "price": "89.90",
            "category": gid(category),
            **fields,
        }
    }


def test_duplicate_category_slug_is_slug_taken(staff_gql: GraphQLClient) -> None:
    category_create(slug="shoes")
    variables = {"input": {"name": "Shoes again", "slug": "shoes"}}
    assert refused(staff_gql, op.CATEGORY_CREATE, variables) == [("slug", "SLUG_TAKEN")]


def test_renaming_a_category_to_a_taken_slug_is_slug_taken(staff_gql: GraphQLClient) -> None:
    category_create(slug="shoes")
    other = category_create(slug="boots")
    variables = {"id": gid(other), "input": {"slug": "shoes", "name": "Renamed"}}
    assert refused(staff_gql, op.CATEGORY_UPDATE, variables) == [("slug", "SLUG_TAKEN")]


def test_duplicate_product_slug_is_slug_taken(staff_gql: GraphQLClient) -> None:
    product_create(slug="trail-shoe")
    assert refused(staff_gql, op.PRODUCT_CREATE, product_input()) == [("slug", "SLUG_TAKEN")]


def test_duplicate_sku_is_sku_taken(staff_gql: GraphQLClient) -> None:
    product_create(sku="TRAIL-1")
    assert refused(staff_gql, op.PRODUCT_CREATE, product_input()) == [("sku", "SKU_TAKEN")]


def test_duplicate_slug_and_sku_are_both_reported(staff_gql: GraphQLClient) -> None:
    product_create(slug="trail-shoe", sku="TRAIL-1")
    assert sorted(refused(staff_gql, op.PRODUCT_CREATE, product_input())) == [
        ("sku", "SKU_TAKEN"),
        ("slug", "SLUG_TAKEN"),
    ]


def test_updating_a_product_to_a_taken_sku_is_sku_taken(staff_gql: GraphQLClient) -> None:
    product_create(sku="TAKEN")
    product = product_create()
    variables = {"id": gid(product), "input": {"sku": "TAKEN", "name": "Renamed"}}
    assert refused(staff_gql, op.PRODUCT_UPDATE, variables) == [("sku", "SKU_TAKEN")]


@pytest.mark.parametrize(
    "price",
    [
        pytest.param("-0.01", id="negative"),
        pytest.param("19.999", id="three-decimals"),
        pytest.param("12345678901.00", id="more-than-12-digits"),
        pytest.param("NaN", id="not-a-number"),
        pytest.param("Infinity", id="infinite"),
    ],
)
def test_unusable_price_is_price_invalid(staff_gql: GraphQLClient, price: str) -> None:
    codes = refused(staff_gql, op.PRODUCT_CREATE, product_input(price=price))
    assert codes == [("price", "PRICE_INVALID")]


@pytest.mark.parametrize("price", ["-5.00", "1.001"])
def test_updating_to_an_unusable_price_is_price_invalid(
    staff_gql: GraphQLClient, price: str
) -> None:
    product = product_create()
    variables = {"id": gid(product), "input": {"price": price, "name": "Renamed"}}
    codes = refused(staff_gql, op.PRODUCT_UPDATE, variables)
    assert codes == [("price", "PRICE_INVALID")]


def test_moving_a_category_under_its_own_descendant_is_category_cycle(
    staff_gql: GraphQLClient,
) -> None:
    apparel = category_create()
    shoes = category_create(parent=apparel)
    trail = category_create(parent=shoes)
    variables = {"id": gid(apparel), "input": {"parent": gid(trail), "name": "Renamed"}}
    assert refused(staff_gql, op.CATEGORY_UPDATE, variables) == [("parent", "CATEGORY_CYCLE")]


def test_making_a_category_its_own_parent_is_category_cycle(staff_gql: GraphQLClient) -> None:
    shoes = category_create()
    variables = {"id": gid(shoes), "input": {"parent": gid(shoes)}}
    assert refused(staff_gql, op.CATEGORY_UPDATE, variables) == [("parent", "CATEGORY_CYCLE")]


def test_deleting_a_category_with_products_is_category_not_empty(
    staff_gql: GraphQLClient,
) -> None:
    product = product_create()
    variables = {"id": gid(product.category)}
    assert refused(staff_gql, op.CATEGORY_DELETE, variables) == [("id", "CATEGORY_NOT_EMPTY")]


def test_deleting_a_category_with_subcategories_is_category_not_empty(
    staff_gql: GraphQLClient,
) -> None:
    parent = category_create()
    category_create(parent=parent)
    variables = {"id": gid(parent)}
    assert refused(staff_gql, op.CATEGORY_DELETE, variables) == [("id", "CATEGORY_NOT_EMPTY")]


def test_a_product_id_passed_as_category_is_invalid(staff_gql: GraphQLClient) -> None:
    product = product_create()
    variables = product_input(category=None)
    variables["input"]["category"] = gid(product)
    assert refused(staff_gql, op.PRODUCT_CREATE, variables) == [("category", "INVALID")]


def test_a_category_id_passed_as_product_is_invalid(staff_gql: GraphQLClient) -> None:
    category = category_create()
    variables = {"id": gid(category), "delta": 1}
    assert refused(staff_gql, op.PRODUCT_STOCK_ADJUST, variables) == [("id", "INVALID")]


@pytest.mark.parametrize("pk", ["999999", "99999999999999999999999"])
def test_an_id_of_no_existing_row_is_not_found(staff_gql: GraphQLClient, pk: str) -> None:
    missing = str(relay.GlobalID("Product", pk))
    assert refused(staff_gql, op.PRODUCT_DELETE, {"id": missing}) == [("id", "NOT_FOUND")]
    missing_parent = str(relay.GlobalID("Category", pk))
    variables = {"input": {"name": "Orphan", "slug": "orphan", "parent": missing_parent}}
    assert refused(staff_gql, op.CATEGORY_CREATE, variables) == [("parent", "NOT_FOUND")]


def test_removing_more_stock_than_available_is_insufficient_stock(
    staff_gql: GraphQLClient,
) -> None:
    product = product_create(stock_quantity=3)
    before = catalog_snapshot()
    payload = staff_gql.mutate(op.PRODUCT_STOCK_ADJUST, {"id": gid(product), "delta": -4})
    assert payload["product"] is None
    assert payload["errors"] == [
        {
            "field": "delta",
            "code": "INSUFFICIENT_STOCK",
            "availableQuantity": 3,
            "message": "Only 3 units are in stock; cannot remove 4.",
        }
    ]
    assert catalog_snapshot() == before


def test_an_adjustment_beyond_the_integer_range_is_invalid(staff_gql: GraphQLClient) -> None:
    product = product_create(stock_quantity=10)
    variables = {"id": gid(product), "delta": 2**31 - 1}
    assert refused(staff_gql, op.PRODUCT_STOCK_ADJUST, variables) == [("delta", "INVALID")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"slug": "not a slug!"}, "slug"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"stockQuantity": -1}, "stockQuantity"),
    ],
)
def test_malformed_product_fields_are_invalid_on_that_field(
    staff_gql: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    assert refused(staff_gql, op.PRODUCT_CREATE, product_input(**fields)) == [(field, "INVALID")]


def test_null_for_a_required_field_in_an_update_is_invalid(staff_gql: GraphQLClient) -> None:
    product = product_create()
    variables = {"id": gid(product), "input": {"name": None}}
    assert refused(staff_gql, op.PRODUCT_UPDATE, variables) == [("name", "INVALID")]
    variables = {"id": gid(product), "input": {"category": None}}
    assert refused(staff_gql, op.PRODUCT_UPDATE, variables) == [("category", "INVALID")]


def test_a_negative_category_position_is_invalid(staff_gql: GraphQLClient) -> None:
    variables = {"input": {"name": "Shoes", "slug": "shoes", "position": -1}}
    assert refused(staff_gql, op.CATEGORY_CREATE, variables) == [("position", "INVALID")]


def _nullable_fields(input_type: str) -> list[str]:
    """The fields of ``input_type`` a client may send as null, from the schema itself: a field
    added later is covered too."""
    from graphql import GraphQLInputObjectType, GraphQLNonNull, build_schema

    from backend.api.schema import schema

    graphql_type = build_schema(schema.as_str()).get_type(input_type)
    assert isinstance(graphql_type, GraphQLInputObjectType)
    return sorted(
        name
        for name, field in graphql_type.fields.items()
        if not isinstance(field.type, GraphQLNonNull)
    )


@pytest.mark.parametrize(
    ("mutation", "input_type", "target"),
    [
        (op.PRODUCT_UPDATE, "ProductUpdateInput", "product"),
        (op.CATEGORY_UPDATE, "CategoryUpdateInput", "category"),
    ],
)
def test_null_in_any_optional_update_field_is_a_field_error_or_its_documented_meaning(
    staff_gql: GraphQLClient, mutation: str, input_type: str, target: str
) -> None:
    """An optional field is left unchanged when omitted; sent as null, it reached a NOT NULL
    column (a description) and PostgreSQL refused it: INTERNAL_SERVER_ERROR, the failing row in
    the message. Null is now INVALID on that field, except where the schema gives it a meaning
    (a category's ``parent``: the top level)."""
    product = product_create()
    subject = product if target == "product" else product.category
    fields = _nullable_fields(input_type)
    assert {"description", "name", "slug"} <= set(fields)
    for field in fields:
        variables = {"id": gid(subject), "input": {field: None}}
        if target == "category" and field == "parent":
            payload = staff_gql.mutate(mutation, variables)
            assert payload["errors"] == []
            assert payload["category"]["parent"] is None
            continue
        assert refused(staff_gql, mutation, variables) == [(field, "INVALID")], field
