"""``orderCancel``, ``orderPay``, ``orderShip``, ``orderDeliver`` over HTTP."""

from collections.abc import Callable
from typing import Any

import pytest

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.orders.models import Order, OrderEvent, OrderStatus
from tests.api.graphql.orders.conftest import GraphQLClient, gid
from tests.factories import order_create, product_create

pytestmark = pytest.mark.django_db

PAYLOAD = "order { id status nextStatuses } errors { field message code available from to }"
MUTATIONS = {
    name: f"mutation ($id: ID!) {{ {name}(id: $id) {{ {PAYLOAD} }} }}"
    for name in ("orderCancel", "orderPay", "orderShip", "orderDeliver")
}
ORDER_CREATE = """
mutation ($input: OrderCreateInput!) {
  orderCreate(input: $input) { order { id } errors { code } }
}"""


def run(client: GraphQLClient, mutation: str, order: Order) -> dict[str, Any]:
    return client.data(MUTATIONS[mutation], {"id": gid("Order", order.pk)})[mutation]


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def test_customer_cancels_their_pending_order_and_the_stock_returns(
    as_customer: GraphQLClient,
) -> None:
    mug = product_create(stock_quantity=10)
    placed = as_customer.data(
        ORDER_CREATE,
        {
            "input": {
                "idempotencyKey": "c1",
                "lines": [{"productId": gid("Product", mug.pk), "quantity": 4}],
            }
        },
    )["orderCreate"]["order"]
    assert Product.objects.get(pk=mug.pk).stock_quantity == 6

    result = as_customer.data(MUTATIONS["orderCancel"], {"id": placed["id"]})["orderCancel"]

    assert result == {
        "order": {"id": placed["id"], "status": "CANCELLED", "nextStatuses": []},
        "errors": [],
    }
    assert Product.objects.get(pk=mug.pk).stock_quantity == 10


def test_staff_ship_then_deliver_a_paid_order(customer: User, as_staff: GraphQLClient) -> None:
    order = order_create(customer=customer, status=OrderStatus.PAID)

    shipped = run(as_staff, "orderShip", order)
    delivered = run(as_staff, "orderDeliver", order)

    assert (shipped["order"]["status"], shipped["errors"]) == ("SHIPPED", [])
    assert (delivered["order"]["status"], delivered["errors"]) == ("DELIVERED", [])
    assert list(
        OrderEvent.objects.filter(order=order).values_list("from_status", "to_status", "actor")
    ) == [
        ("PAID", "SHIPPED", as_staff.user.pk),
        ("SHIPPED", "DELIVERED", as_staff.user.pk),
    ]


@pytest.mark.parametrize(
    ("status", "mutation", "target"),
    [
        (OrderStatus.PENDING, "orderShip", "SHIPPED"),
        (OrderStatus.PAID, "orderDeliver", "DELIVERED"),
        (OrderStatus.DELIVERED, "orderDeliver", "DELIVERED"),
        (OrderStatus.DELIVERED, "orderCancel", "CANCELLED"),
        (OrderStatus.SHIPPED, "orderCancel", "CANCELLED"),
        (OrderStatus.EXPIRED, "orderCancel", "CANCELLED"),
    ],
)
def test_an_illegal_move_reports_from_and_to_and_changes_nothing(
    customer: User, as_staff: GraphQLClient, status: OrderStatus, mutation: str, target: str
) -> None:
    order = order_create(customer=customer, status=status)

    result = run(as_staff, mutation, order)

    assert result["order"] is None
    assert [(e["code"], e["from"], e["to"], e["field"]) for e in result["errors"]] == [
        ("ORDER_TRANSITION_INVALID", status.value, target, "status")
    ]
    assert status_of(order) == status
    assert not OrderEvent.objects.filter(order=order).exists()


def test_paying_a_cancelled_order_reports_from_and_to(as_customer: GraphQLClient) -> None:
    order = order_create(customer=as_customer.user, status=OrderStatus.CANCELLED)

    result = run(as_customer, "orderPay", order)

    assert [(e["code"], e["from"], e["to"]) for e in result["errors"]] == [
        ("ORDER_TRANSITION_INVALID", "CANCELLED", "PAID")
    ]


def test_order_pay_runs_the_payment_in_process_and_the_order_becomes_paid(
    as_customer: GraphQLClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    order = order_create(customer=as_customer.user, products=[(product_create(), 1)])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = run(as_customer, "orderPay", order)

    assert result["errors"] == []
    assert len(callbacks) >= 1  # the payment task was dispatched after commit
    after = as_customer.data(
        "query ($id: ID!) { order(id: $id) { status nextStatuses "
        "events(last: 1) { nodes { fromStatus toStatus note } } } }",
        {"id": gid("Order", order.pk)},
    )["order"]
    assert after["status"] == "PAID"
    assert after["nextStatuses"] == ["SHIPPED", "CANCELLED"]
    [event] = after["events"]["nodes"]
    assert (event["fromStatus"], event["toStatus"]) == ("PENDING", "PAID")
    assert event["note"].startswith("Payment dummy_")


def test_customer_acting_on_another_customers_order_gets_not_found(
    customer: User, as_other_customer: GraphQLClient
) -> None:
    order = order_create(customer=customer)

    for mutation in ("orderCancel", "orderPay"):
        result = run(as_other_customer, mutation, order)
        assert result["order"] is None
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("NOT_FOUND", "id")]
    assert status_of(order) == OrderStatus.PENDING


@pytest.mark.parametrize("mutation", ["orderShip", "orderDeliver"])
def test_customers_may_not_ship_or_deliver_even_their_own_order(
    as_customer: GraphQLClient, mutation: str
) -> None:
    order = order_create(customer=as_customer.user, status=OrderStatus.PAID)

    body = as_customer.post(MUTATIONS[mutation], {"id": gid("Order", order.pk)})

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "Requires role: staff." in body["errors"][0]["message"]
    assert status_of(order) == OrderStatus.PAID


def test_staff_may_not_pay_a_customers_order(customer: User, as_staff: GraphQLClient) -> None:
    order = order_create(customer=customer)

    codes = as_staff.error_codes(MUTATIONS["orderPay"], {"id": gid("Order", order.pk)})

    assert codes == ["FORBIDDEN"]
    assert status_of(order) == OrderStatus.PENDING


def test_staff_cancel_any_customers_order(customer: User, as_staff: GraphQLClient) -> None:
    order = order_create(customer=customer, status=OrderStatus.PAID)

    result = run(as_staff, "orderCancel", order)

    assert result["order"]["status"] == "CANCELLED"


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_anonymous_transitions_are_unauthenticated(
    customer: User, as_anonymous: GraphQLClient, mutation: str
) -> None:
    order = order_create(customer=customer)

    assert as_anonymous.error_codes(MUTATIONS[mutation], {"id": gid("Order", order.pk)}) == [
        "UNAUTHENTICATED"
    ]
    assert status_of(order) == OrderStatus.PENDING


def test_a_malformed_order_id_is_bad_user_input(as_staff: GraphQLClient) -> None:
    assert as_staff.error_codes(MUTATIONS["orderShip"], {"id": gid("Product", 1)}) == [
        "BAD_USER_INPUT"
    ]
