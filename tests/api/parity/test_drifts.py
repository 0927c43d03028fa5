"""Regressions for each way REST and GraphQL used to disagree (docs/decisions/0019), and for
the domain functions that now decide each rule for both."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from strawberry.relay import from_base64

from backend.accounts.policies import roles_held
from backend.accounts.roles import Role
from backend.accounts.tokens import access_token_create
from backend.catalog import selectors as catalog_selectors
from backend.catalog.models import Product
from backend.orders import selectors as order_selectors
from tests.api.parity.conftest import Outcome, ProductQuery, World, both, gid
from tests.factories import category_create, product_create, user_create
from tests.graphql_client import GraphQLClient

pytestmark = pytest.mark.django_db


def test_rest_shows_exact_stock_to_staff_only(world: World) -> None:
    kettle = world.products["kettle"]
    for role, stock in [("customer", None), ("staff", 40), ("superuser", 40)]:
        graphql, rest = both(world, role)
        assert rest.product(kettle.pk).facts == graphql.product(kettle.pk).facts == (stock, True)


def test_a_superuser_without_the_staff_flag_is_staff_on_both(world: World) -> None:
    prototype = world.products["prototype"]
    graphql, rest = both(world, "superuser")
    assert graphql.product(prototype.pk) == rest.product(prototype.pk)
    assert graphql.product(prototype.pk).rows == (gid("Product", prototype.pk),)
    assert graphql.products(ProductQuery(published=False)).rows


def test_a_superuser_without_the_staff_flag_holds_the_staff_role() -> None:
    superuser = user_create(is_superuser=True)
    me = GraphQLClient(user=superuser).data("{ me { roles } }")["me"]
    assert me == {"roles": ["STAFF", "ADMIN"]}
    assert roles_held(user_create(is_staff=True), group_names=["customer"]) == [
        Role.CUSTOMER,
        Role.STAFF,
    ]
    assert roles_held(user_create(), group_names=[]) == []


def test_rest_orders_a_search_by_relevance_unless_asked_otherwise(world: World) -> None:
    """An older product matching by name outranks a newer one matching by description only:
    relevance and recency disagree, and REST now answers by relevance like GraphQL."""
    lamp = product_create(name="Lamp", description="")
    newer = product_create(name="Shade", description="Fits any lamp.")
    Product.objects.filter(pk=lamp.pk).update(created_at=timezone.now() - timedelta(days=9))
    graphql, rest = both(world, "anonymous")
    by_relevance = (gid("Product", lamp.pk), gid("Product", newer.pk))
    assert rest.products(ProductQuery(search="lamp")).rows == by_relevance
    assert graphql.products(ProductQuery(search="lamp")).rows == by_relevance
    newest = ProductQuery(search="lamp", sort="CREATED_AT", descending=True)
    assert rest.products(newest).rows == by_relevance[::-1]


def test_rest_refuses_relevance_without_a_search(world: World) -> None:
    response = both(world, "anonymous")[1]._request(
        "get", "/api/v1/products", {"ordering": "-relevance"}
    )
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("ordering", "INVALID")]


def test_a_category_filter_means_the_subtree_and_exact_is_explicit(world: World) -> None:
    graphql, rest = both(world, "anonymous")
    subtree = ProductQuery(in_category="shoes")  # REST ?category=, GraphQL inCategory
    exact = ProductQuery(exact_category="shoes")  # REST ?category_exact=, GraphQL category
    shoes, trail = world.categories["shoes"], world.categories["trail"]
    in_shoes = {shoes.pk, trail.pk}
    in_subtree = {
        p.pk for p in world.products.values() if p.is_published and p.category_id in in_shoes
    }
    assert {int(p) for p in _pks(rest.products(subtree))} == in_subtree
    assert graphql.products(subtree) == rest.products(subtree)
    assert graphql.products(exact) == rest.products(exact)
    assert set(graphql.products(exact).rows) < set(graphql.products(subtree).rows)


def test_the_deprecated_include_descendants_still_means_the_subtree(world: World) -> None:
    shoes = gid("Category", world.categories["shoes"].pk)
    query = """query($f: ProductFilter) { products(first: 50, filter: $f) { nodes { id } } }"""
    gql = GraphQLClient()
    old = gql.data(query, {"f": {"category": shoes, "includeDescendants": True}})
    new = gql.data(query, {"f": {"inCategory": shoes}})
    assert old == new
    both_spellings = {"category": shoes, "includeDescendants": True, "inCategory": shoes}
    assert gql.error_codes(query, {"f": both_spellings}) == ["BAD_USER_INPUT"]


def test_staff_only_filters_are_checked_by_the_selectors() -> None:
    customer, superuser = user_create(), user_create(is_superuser=True)
    for viewer in (AnonymousUser(), customer):
        with pytest.raises(PermissionDenied):
            catalog_selectors.product_list(viewer=viewer, published=False)
        with pytest.raises(PermissionDenied):
            order_selectors.order_list(viewer=viewer, customer_id=customer.pk)
    assert list(catalog_selectors.product_list(viewer=superuser, published=False)) == []
    assert list(order_selectors.order_list(viewer=superuser, customer_id=customer.pk)) == []


def test_category_counts_follow_the_viewers_product_visibility() -> None:
    root = category_create()
    leaf = category_create(parent=root)
    product_create(category=leaf)
    product_create(category=leaf, is_published=False)
    for viewer, count in [(AnonymousUser(), 1), (user_create(is_superuser=True), 2)]:
        counts = catalog_selectors.category_product_counts(category_ids=[root.pk], viewer=viewer)
        assert counts == {root.pk: count}


def _pks(outcome: Outcome) -> list[str]:
    return [from_base64(row)[1] for row in outcome.rows]


_PRODUCT_CREATE = """mutation($input: ProductCreateInput!) {
  productCreate(input: $input) { product { name slug sku description } errors { field code } } }"""


def _both_create(
    fields: dict[str, str], category: int, headers: dict[str, str], currency: str
) -> tuple[dict[str, Any], Any]:
    """The same product created through GraphQL's productCreate and REST's POST, the slug and
    SKU of each prefixed with "g" and "r"; GraphQL's payload and REST's response."""
    graphql_input = {
        **fields,
        "slug": "g" + fields["slug"].lstrip(),
        "sku": "G" + fields["sku"].lstrip(),
        "category": gid("Category", category),
    }
    body = json.dumps({"query": _PRODUCT_CREATE, "variables": {"input": graphql_input}})
    graphql = Client().post("/graphql/", body, content_type="application/json", headers=headers)
    rest_body = {
        **fields,
        "slug": "r" + fields["slug"].lstrip(),
        "sku": "R" + fields["sku"].lstrip(),
        "category": category,
        "price": {"amount": fields["price"], "currency": currency},
    }
    rest = Client().post(
        "/api/v1/products", rest_body, content_type="application/json", headers=headers
    )
    return graphql.json()["data"]["productCreate"], rest


@pytest.mark.parametrize("space", [" ", "\t\n", "\u3000"])
def test_a_product_typed_with_surrounding_whitespace_is_stored_alike_by_both(
    space: str, settings: Any
) -> None:
    """REST's fields trimmed the text and GraphQL passed it as sent: "  Lamp  " was stored as
    typed by one and trimmed by the other, and a name of spaces alone was a name only through
    GraphQL. The service trims it now, for both."""
    category = category_create().pk
    staff = user_create(is_staff=True, is_superuser=True)
    headers = {"Authorization": f"Bearer {access_token_create(staff)}"}
    padded = {
        "name": f"{space}Desk lamp{space}",
        "slug": f"{space}-lamp{space}",
        "sku": f"{space}-1{space}",
        "description": f"{space}Bright.{space}",
        "price": "10.00",
    }
    graphql, rest = _both_create(padded, category, headers, settings.STORE_CURRENCY)
    assert graphql["errors"] == []
    assert rest.status_code == 201, rest.content
    stored = Product.objects.order_by("sku").values_list("name", "slug", "sku", "description")
    assert list(stored) == [
        ("Desk lamp", "g-lamp", "G-1", "Bright."),
        ("Desk lamp", "r-lamp", "R-1", "Bright."),
    ]

    blank = {"name": space * 2, "slug": "-blank", "sku": "-2", "price": "1.00"}
    graphql, rest = _both_create(blank, category, headers, settings.STORE_CURRENCY)
    assert graphql["errors"] == [{"field": "name", "code": "INVALID"}]
    assert rest.status_code == 400
    assert [(e["field"], e["code"]) for e in rest.json()["errors"]] == [("name", "INVALID")]
    assert Product.objects.count() == 2


@pytest.mark.parametrize(
    ("amount", "graphql_stores"),
    [
        ("-1.00", None),  # negative
        ("1.005", None),  # a third decimal place
        ("12345678901", None),  # 11 digits before the point
        ("1e2", "100.00"),  # only spelled otherwise than REST's document says
        ("10.100", "10.10"),
        ("-0", "0.00"),
    ],
)
def test_both_refuse_the_same_amounts_and_differ_only_in_spelling(
    amount: str, graphql_stores: str | None, settings: Any
) -> None:
    """Decision 0019: which amounts are prices is the catalog's rule, by value, for both APIs.
    REST's document states one spelling of them and refuses the others; GraphQL's Decimal
    reads any numeral."""
    category = category_create().pk
    staff = user_create(is_staff=True, is_superuser=True)
    headers = {"Authorization": f"Bearer {access_token_create(staff)}"}
    fields = {"name": "Lamp", "slug": "-lamp", "sku": "-1", "price": amount}
    graphql, rest = _both_create(fields, category, headers, settings.STORE_CURRENCY)
    assert rest.status_code == 400
    assert [(e["field"], e["code"]) for e in rest.json()["errors"]] == [
        ("price.amount", "PRICE_INVALID")
    ]
    if graphql_stores is None:
        assert graphql["errors"] == [{"field": "price", "code": "PRICE_INVALID"}]
        assert not Product.objects.exists()
    else:
        assert graphql["errors"] == []
        assert str(Product.objects.get().price) == graphql_stores
