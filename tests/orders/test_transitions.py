"""The status machine: every (from, to) pair, restocking, permissions and visibility."""

import itertools

import pytest
from django.contrib.auth.models import AnonymousUser

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.orders.errors import OrderError, OrderErrorCode
from backend.orders.models import Order, OrderEvent, OrderStatus
from backend.orders.selectors import orders_visible_to
from backend.orders.services import (
    ORDER_TRANSITIONS,
    OrderLine,
    order_cancel,
    order_deliver,
    order_next_statuses,
    order_pay,
    order_place,
    order_ship,
    order_transition,
)
from tests.factories import product_create, user_create

pytestmark = pytest.mark.django_db

ALLOWED = {
    (OrderStatus.PENDING, OrderStatus.PAID),
    (OrderStatus.PENDING, OrderStatus.CANCELLED),
    (OrderStatus.PENDING, OrderStatus.EXPIRED),
    (OrderStatus.PAID, OrderStatus.SHIPPED),
    (OrderStatus.PAID, OrderStatus.CANCELLED),
    (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
}
ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))


def _order_in(status: OrderStatus, customer: User, product: Product) -> Order:
    """A real placed order (3 units taken), then forced to ``status`` as the fixture state."""
    order = order_place(customer=customer, lines=[OrderLine(product.pk, 3)], idempotency_key="t")
    Order.objects.filter(pk=order.pk).update(status=status)
    return order


def test_the_table_is_exactly_the_issues_process() -> None:
    assert {(a, b) for a, targets in ORDER_TRANSITIONS.items() for b in targets} == ALLOWED
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert len(ALL_PAIRS) == 36


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS, ids=lambda s: str(s))
def test_every_transition_pair_is_allowed_or_refused_as_the_table_says(
    customer: User, product: Product, from_status: OrderStatus, to_status: OrderStatus
) -> None:
    order = _order_in(from_status, customer, product)
    events_before = OrderEvent.objects.filter(order=order).count()

    if (from_status, to_status) in ALLOWED:
        moved = order_transition(order_id=order.pk, to_status=to_status, note="test")
        assert moved.status == to_status
        assert Order.objects.get(pk=order.pk).status == to_status
        event = OrderEvent.objects.filter(order=order).last()
        assert (event.from_status, event.to_status, event.note) == (from_status, to_status, "test")
    else:
        with pytest.raises(OrderError) as refused:
            order_transition(order_id=order.pk, to_status=to_status)
        error = refused.value
        assert error.code == OrderErrorCode.ORDER_TRANSITION_INVALID
        assert (error.extras["from_status"], error.extras["to_status"]) == (from_status, to_status)
        assert Order.objects.get(pk=order.pk).status == from_status
        assert OrderEvent.objects.filter(order=order).count() == events_before

    product.refresh_from_db()
    restocked = to_status in {OrderStatus.CANCELLED, OrderStatus.EXPIRED} and (
        (from_status, to_status) in ALLOWED
    )
    assert product.stock_quantity == (10 if restocked else 7)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OrderStatus.PENDING, [OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED]),
        (OrderStatus.PAID, [OrderStatus.SHIPPED, OrderStatus.CANCELLED]),
        (OrderStatus.SHIPPED, [OrderStatus.DELIVERED]),
        (OrderStatus.DELIVERED, []),
        (OrderStatus.CANCELLED, []),
        (OrderStatus.EXPIRED, []),
    ],
)
def test_next_statuses_come_from_the_table(
    status: OrderStatus, expected: list[OrderStatus]
) -> None:
    assert order_next_statuses(Order(status=status)) == expected


def test_cancelling_restocks_and_skips_products_deleted_since(customer: User) -> None:

    kept, deleted = product_create(stock_quantity=5), product_create(stock_quantity=5)
    order = order_place(
        customer=customer,
        lines=[OrderLine(kept.pk, 2), OrderLine(deleted.pk, 1)],
        idempotency_key="c",
    )
    deleted.delete()

    order_cancel(order_id=order.pk, actor=customer)

    kept.refresh_from_db()
    assert kept.stock_quantity == 5
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


def test_a_transition_of_a_missing_order_is_not_found() -> None:
    with pytest.raises(OrderError) as refused:
        order_transition(order_id=987654321, to_status=OrderStatus.PAID)
    assert refused.value.code == OrderErrorCode.NOT_FOUND


def test_owner_may_cancel_while_pending_and_while_paid(customer: User, product: Product) -> None:
    order = _order_in(OrderStatus.PAID, customer, product)
    cancelled = order_cancel(order_id=order.pk, actor=customer)
    assert cancelled.status == OrderStatus.CANCELLED
    assert OrderEvent.objects.filter(order=order).last().actor_id == customer.pk


def test_owner_cannot_cancel_a_shipped_order(customer: User, product: Product) -> None:
    order = _order_in(OrderStatus.SHIPPED, customer, product)
    with pytest.raises(OrderError) as refused:
        order_cancel(order_id=order.pk, actor=customer)
    assert refused.value.code == OrderErrorCode.ORDER_TRANSITION_INVALID


def test_customer_cannot_learn_that_another_customers_order_exists(
    customer: User, product: Product
) -> None:
    order = _order_in(OrderStatus.PAID, customer, product)
    stranger = user_create()
    for action in (order_cancel, order_pay, order_ship, order_deliver):
        with pytest.raises(OrderError) as refused:
            action(order_id=order.pk, actor=stranger)
        assert refused.value.code == OrderErrorCode.NOT_FOUND
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_customer_cannot_ship_or_deliver_their_own_order(customer: User, product: Product) -> None:
    order = _order_in(OrderStatus.PAID, customer, product)
    for action in (order_ship, order_deliver):
        with pytest.raises(OrderError) as refused:
            action(order_id=order.pk, actor=customer)
        assert refused.value.code == OrderErrorCode.PERMISSION_DENIED


def test_staff_ship_deliver_and_cancel_any_order(
    customer: User, staff: User, product: Product
) -> None:
    shipped = _order_in(OrderStatus.PAID, customer, product)
    assert order_ship(order_id=shipped.pk, actor=staff).status == OrderStatus.SHIPPED
    assert order_deliver(order_id=shipped.pk, actor=staff).status == OrderStatus.DELIVERED
    Order.objects.filter(pk=shipped.pk).update(status=OrderStatus.PENDING)
    assert order_cancel(order_id=shipped.pk, actor=staff).status == OrderStatus.CANCELLED


def test_staff_cannot_pay_for_a_customer(customer: User, staff: User, product: Product) -> None:
    order = _order_in(OrderStatus.PENDING, customer, product)
    with pytest.raises(OrderError) as refused:
        order_pay(order_id=order.pk, actor=staff)
    assert refused.value.code == OrderErrorCode.PERMISSION_DENIED


def test_paying_an_order_that_is_not_pending_is_refused(customer: User, product: Product) -> None:
    order = _order_in(OrderStatus.CANCELLED, customer, product)
    with pytest.raises(OrderError) as refused:
        order_pay(order_id=order.pk, actor=customer)
    assert refused.value.code == OrderErrorCode.ORDER_TRANSITION_INVALID
    assert (refused.value.extras["from_status"], refused.value.extras["to_status"]) == (
        "CANCELLED",
        "PAID",
    )


def test_customers_see_their_own_orders_staff_see_all(
    customer: User, staff: User, product: Product, count_queries
) -> None:
    mine = _order_in(OrderStatus.PENDING, customer, product)
    other = order_place(
        customer=user_create(), lines=[OrderLine(product.pk, 1)], idempotency_key="o"
    )

    with count_queries() as queries:
        assert list(orders_visible_to(customer).values_list("pk", flat=True)) == [mine.pk]
        assert set(orders_visible_to(staff).values_list("pk", flat=True)) == {mine.pk, other.pk}
        assert list(orders_visible_to(AnonymousUser())) == []
    assert queries.count == 2  # the visibility rule itself reads nothing
