"""Catalog mutations are staff-only: anyone else gets a top-level error and nothing changes."""

from typing import Any

import pytest

from backend.api.schema import schema
from backend.catalog.models import Category, Product
from tests.api.graphql.catalog_mutations import operations as op
from tests.api.graphql.catalog_mutations.conftest import GraphQLClient, catalog_snapshot, gid
from tests.factories import category_create, product_create


def every_mutation(category: Category, product: Product) -> list[tuple[str, dict[str, Any]]]:
    """One valid request per catalog mutation: only the caller's role can make it fail."""
    return [
        (op.CATEGORY_CREATE, {"input": {"name": "New", "slug": "new"}}),
        (op.CATEGORY_UPDATE, {"id": gid(category), "input": {"name": "Renamed"}}),
        (op.CATEGORY_DELETE, {"id": gid(category_create())}),
        (
            op.PRODUCT_CREATE,
            {
                "input": {
                    "name": "New",
                    "slug": "new",
                    "sku": "NEW-1",
                    "price": "1.00",
                    "category": gid(category),
                }
            },
        ),
        (op.PRODUCT_UPDATE, {"id": gid(product), "input": {"price": "2.00"}}),
        (op.PRODUCT_DELETE, {"id": gid(product)}),
        (op.PRODUCT_STOCK_ADJUST, {"id": gid(product), "delta": -1}),
    ]


@pytest.mark.parametrize("index", range(7))
def test_customer_calling_a_staff_mutation_is_forbidden_and_nothing_changes(
    customer_gql: GraphQLClient, index: int
) -> None:
    product = product_create()
    query, variables = every_mutation(product.category, product)[index]
    before = catalog_snapshot()
    body = customer_gql.post(query, variables)
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert catalog_snapshot() == before


@pytest.mark.parametrize("index", range(7))
def test_anonymous_caller_is_unauthenticated_and_nothing_changes(
    anonymous_gql: GraphQLClient, index: int
) -> None:
    product = product_create()
    query, variables = every_mutation(product.category, product)[index]
    before = catalog_snapshot()
    body = anonymous_gql.post(query, variables)
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
    assert catalog_snapshot() == before


@pytest.mark.parametrize(
    ("field", "permission"),
    [
        ("categoryCreate", "catalog.add_category"),
        ("categoryUpdate", "catalog.change_category"),
        ("categoryDelete", "catalog.delete_category"),
        ("productCreate", "catalog.add_product"),
        ("productUpdate", "catalog.change_product"),
        ("productDelete", "catalog.delete_product"),
        ("productStockAdjust", "catalog.change_product"),
    ],
)
def test_each_mutation_states_its_permission_in_the_schema(field: str, permission: str) -> None:
    description = schema._schema.mutation_type.fields[field].description  # type: ignore[union-attr]
    assert description.endswith(f"Requires permission: {permission}.")
