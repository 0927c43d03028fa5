"""``orderCreate`` over HTTP: stock, totals, snapshots, every refusal, idempotency."""

from decimal import Decimal
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from backend.catalog.models import Product
from backend.orders.models import Order, OrderEvent, OrderItem
from tests.api.graphql.orders.conftest import GraphQLClient, gid
from tests.factories import product_create

pytestmark = pytest.mark.django_db

ORDER_CREATE = """
mutation ($input: OrderCreateInput!) {
  orderCreate(input: $input) {
    order {
      id number status email currency nextStatuses
      subtotal { amount currency } total { amount currency }
      customer { email }
      items { productName productSku quantity unitPrice { amount currency }
              lineTotal { amount currency } product { sku } }
      events(first: 10) { nodes { fromStatus toStatus actor { email } } }
    }
    errors { field message code available from to }
  }
}"""


def lines_input(*lines: tuple[Product | int, int], key: str = "key-1") -> dict[str, Any]:
    return {
        "input": {
            "idempotencyKey": key,
            "lines": [
                {
                    "productId": gid("Product", p if isinstance(p, int) else p.pk),
                    "quantity": quantity,
                }
                for p, quantity in lines
            ],
        }
    }


def database_state() -> tuple[int, int, int, list[tuple[int, int]]]:
    """Everything orderCreate may write: orders, items, events and every stock level."""
    return (
        Order.objects.count(),
        OrderItem.objects.count(),
        OrderEvent.objects.count(),
        list(Product.objects.order_by("pk").values_list("pk", "stock_quantity")),
    )


def create(client: GraphQLClient, variables: dict[str, Any]) -> dict[str, Any]:
    return client.data(ORDER_CREATE, variables)["orderCreate"]


def test_order_create_takes_stock_totals_lines_and_snapshots_them(
    as_customer: GraphQLClient,
) -> None:
    mug = product_create(name="Mug", sku="MUG-1", price="9.99", stock_quantity=10)
    tea = product_create(name="Tea", sku="TEA-1", price="2.50", stock_quantity=20)

    result = create(as_customer, lines_input((mug, 3), (tea, 2)))

    assert result["errors"] == []
    order = result["order"]
    assert order["status"] == "PENDING"
    assert order["subtotal"] == {"amount": "34.97", "currency": "USD"}
    assert order["total"] == {"amount": "34.97", "currency": "USD"}
    assert order["email"] == order["customer"]["email"] == as_customer.user.email
    assert order["nextStatuses"] == ["PAID", "CANCELLED", "EXPIRED"]
    assert order["items"] == [
        {
            "productName": "Mug",
            "productSku": "MUG-1",
            "quantity": 3,
            "unitPrice": {"amount": "9.99", "currency": "USD"},
            "lineTotal": {"amount": "29.97", "currency": "USD"},
            "product": {"sku": "MUG-1"},
        },
        {
            "productName": "Tea",
            "productSku": "TEA-1",
            "quantity": 2,
            "unitPrice": {"amount": "2.50", "currency": "USD"},
            "lineTotal": {"amount": "5.00", "currency": "USD"},
            "product": {"sku": "TEA-1"},
        },
    ]
    assert order["events"]["nodes"] == [
        {"fromStatus": None, "toStatus": "PENDING", "actor": {"email": as_customer.user.email}}
    ]
    mug.refresh_from_db()
    tea.refresh_from_db()
    assert (mug.stock_quantity, tea.stock_quantity) == (7, 18)


def test_order_lines_keep_the_price_and_name_paid_after_the_catalog_changes(
    as_customer: GraphQLClient,
) -> None:
    mug = product_create(name="Mug", price="9.99", stock_quantity=10)
    order_id = create(as_customer, lines_input((mug, 1)))["order"]["id"]
    Product.objects.filter(pk=mug.pk).update(name="Big mug", price=Decimal("19.00"))

    order = as_customer.data(
        "query ($id: ID!) { order(id: $id) { total { amount } "
        "items { productName unitPrice { amount } } } }",
        {"id": order_id},
    )["order"]

    assert order == {
        "total": {"amount": "9.99"},
        "items": [{"productName": "Mug", "unitPrice": {"amount": "9.99"}}],
    }


def test_insufficient_stock_is_refused_and_changes_nothing(
    as_customer: GraphQLClient,
) -> None:
    plenty = product_create(stock_quantity=50)
    scarce = product_create(stock_quantity=2)
    before = database_state()

    result = create(as_customer, lines_input((plenty, 5), (scarce, 3)))

    assert result["order"] is None
    assert result["errors"] == [
        {
            "field": "lines.1.productId",
            "message": f"Not enough units of product {scarce.pk} are in stock.",
            "code": "INSUFFICIENT_STOCK",
            "available": None,  # stock levels are for staff (tests/api/visibility)
            "from": None,
            "to": None,
        }
    ]
    assert database_state() == before  # the first line's decrement was rolled back too


@pytest.mark.parametrize(
    ("quantities", "code", "field"),
    [
        ([], "EMPTY_ORDER", "lines"),
        ([0], "QUANTITY_INVALID", "lines.0.quantity"),
        ([1, -3], "QUANTITY_INVALID", "lines.1.quantity"),
        ([1001], "QUANTITY_INVALID", "lines.0.quantity"),
    ],
)
def test_bad_quantities_and_empty_orders_are_refused_in_the_payload(
    as_customer: GraphQLClient, quantities: list[int], code: str, field: str
) -> None:
    products = [product_create(stock_quantity=10) for _ in quantities]
    before = database_state()

    result = create(as_customer, lines_input(*zip(products, quantities, strict=True)))

    assert result["order"] is None
    assert [(e["code"], e["field"]) for e in result["errors"]] == [(code, field)]
    assert database_state() == before


def test_a_product_on_two_lines_is_refused(as_customer: GraphQLClient) -> None:
    mug = product_create(stock_quantity=10)
    before = database_state()

    result = create(as_customer, lines_input((mug, 1), (mug, 2)))

    assert [(e["code"], e["field"]) for e in result["errors"]] == [
        ("DUPLICATE_PRODUCT", "lines.1.productId")
    ]
    assert database_state() == before


def test_more_lines_than_order_max_lines_are_refused(
    as_customer: GraphQLClient, settings: Settings
) -> None:
    settings.ORDER_MAX_LINES = 3
    products = [product_create(stock_quantity=10) for _ in range(4)]
    before = database_state()

    result = create(as_customer, lines_input(*((p, 1) for p in products)))

    assert [(e["code"], e["field"]) for e in result["errors"]] == [("TOO_MANY_ITEMS", "lines")]
    assert database_state() == before


@pytest.mark.parametrize("reason", ["unpublished", "missing"])
def test_unpublished_or_missing_products_are_unavailable(
    as_customer: GraphQLClient, reason: str
) -> None:
    fine = product_create(stock_quantity=10)
    hidden = product_create(stock_quantity=10, is_published=False)
    target = hidden.pk if reason == "unpublished" else hidden.pk + 10_000
    before = database_state()

    result = create(as_customer, lines_input((fine, 1), (target, 1)))

    assert [(e["code"], e["field"]) for e in result["errors"]] == [
        ("PRODUCT_UNAVAILABLE", "lines.1.productId")
    ]
    assert database_state() == before


def test_the_same_key_and_lines_return_the_same_order_without_taking_stock_again(
    as_customer: GraphQLClient,
) -> None:
    mug = product_create(stock_quantity=10)
    first = create(as_customer, lines_input((mug, 4), key="checkout-7"))["order"]
    after_first = database_state()

    replay = create(as_customer, lines_input((mug, 4), key="checkout-7"))

    assert replay["errors"] == []
    assert (replay["order"]["id"], replay["order"]["number"]) == (first["id"], first["number"])
    assert database_state() == after_first
    mug.refresh_from_db()
    assert mug.stock_quantity == 6


def test_the_same_key_with_different_lines_is_refused(as_customer: GraphQLClient) -> None:
    mug = product_create(stock_quantity=10)
    create(as_customer, lines_input((mug, 1), key="checkout-8"))
    before = database_state()

    result = create(as_customer, lines_input((mug, 2), key="checkout-8"))

    assert result["order"] is None
    assert [(e["code"], e["field"]) for e in result["errors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    ]
    assert database_state() == before


def test_a_blank_idempotency_key_is_refused(as_customer: GraphQLClient) -> None:
    mug = product_create(stock_quantity=10)
    before = database_state()

    result = create(as_customer, lines_input((mug, 1), key="  "))

    assert [e["code"] for e in result["errors"]] == ["IDEMPOTENCY_KEY_INVALID"]
    assert database_state() == before


def test_anonymous_order_create_is_unauthenticated_and_changes_nothing(
    as_anonymous: GraphQLClient,
) -> None:
    mug = product_create(stock_quantity=10)
    before = database_state()

    body = as_anonymous.post(ORDER_CREATE, lines_input((mug, 1)))

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert database_state() == before


def test_a_product_id_of_another_type_is_bad_user_input(as_customer: GraphQLClient) -> None:
    variables = {
        "input": {"idempotencyKey": "k", "lines": [{"productId": gid("Order", 1), "quantity": 1}]}
    }
    before = database_state()

    body = as_customer.post(ORDER_CREATE, variables)

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "lines.0.productId"
    assert database_state() == before
