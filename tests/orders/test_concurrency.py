"""Checkout and expiry under real concurrency: threads, each on its own PostgreSQL connection."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from backend.catalog.models import Product
from backend.orders import tasks
from backend.orders.errors import OrderError, OrderErrorCode
from backend.orders.models import Order, OrderEvent, OrderItem, OrderStatus, PaymentAttempt
from backend.orders.services import OrderLine, order_place, orders_expire
from tests.factories import product_create
from tests.orders.conftest import buyer_create, threads_run

pytestmark = pytest.mark.django_db(transaction=True)


def _outcomes(results: list[object]) -> tuple[list[Order], list[OrderError]]:
    """Split results into orders and stock refusals; anything else (a deadlock) fails here."""
    unexpected = [r for r in results if not isinstance(r, Order | OrderError)]
    assert unexpected == [], f"unexpected failures: {unexpected!r}"
    refusals = [r for r in results if isinstance(r, OrderError)]
    assert {r.code for r in refusals} <= {OrderErrorCode.INSUFFICIENT_STOCK}
    return [r for r in results if isinstance(r, Order)], refusals


def test_twenty_buyers_for_the_last_ten_units_leave_exactly_ten_orders_and_zero_stock() -> None:
    product = product_create(stock_quantity=10)
    buyers = [buyer_create() for _ in range(20)]

    results = threads_run(
        20,
        lambda i: order_place(
            customer=buyers[i], lines=[OrderLine(product.pk, 1)], idempotency_key=f"buy-{i}"
        ),
    )

    orders, refusals = _outcomes(results)
    assert (len(orders), len(refusals)) == (10, 10)
    product.refresh_from_db()
    assert product.stock_quantity == 0
    assert OrderItem.objects.filter(product=product).count() == 10
    assert Order.objects.count() == 10  # refused orders left nothing behind


def test_buyers_locking_two_products_in_opposite_orders_never_deadlock() -> None:
    first, second = product_create(stock_quantity=10), product_create(stock_quantity=10)
    buyers = [buyer_create() for _ in range(20)]

    def buy(i: int) -> Order:
        pair = [OrderLine(first.pk, 1), OrderLine(second.pk, 1)]
        return order_place(
            customer=buyers[i],
            lines=pair if i % 2 else list(reversed(pair)),
            idempotency_key=f"pair-{i}",
        )

    orders, refusals = _outcomes(threads_run(20, buy))

    assert (len(orders), len(refusals)) == (10, 10)
    stock = dict(Product.objects.values_list("pk", "stock_quantity"))
    assert (stock[first.pk], stock[second.pk]) == (0, 0)


def test_mixed_quantities_never_take_stock_below_zero() -> None:
    product = product_create(stock_quantity=25)
    buyers = [buyer_create() for _ in range(20)]

    results = threads_run(
        20,
        lambda i: order_place(
            customer=buyers[i],
            lines=[OrderLine(product.pk, 1 + i % 4)],
            idempotency_key=f"mix-{i}",
        ),
    )

    orders, _ = _outcomes(results)
    sold = sum(item.quantity for item in OrderItem.objects.filter(product=product))
    product.refresh_from_db()
    assert product.stock_quantity >= 0
    assert product.stock_quantity + sold == 25
    assert len(orders) == Order.objects.count()


def test_the_same_order_sent_concurrently_creates_one_order_and_one_decrement() -> None:
    product = product_create(stock_quantity=10)
    customer = buyer_create()

    results = threads_run(
        10,
        lambda i: order_place(
            customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key="same"
        ),
    )

    assert all(isinstance(r, Order) for r in results), results
    assert {r.pk for r in results} == {Order.objects.get().pk}
    product.refresh_from_db()
    assert product.stock_quantity == 8


def test_the_same_key_with_different_lines_concurrently_yields_one_order_and_refusals() -> None:
    product = product_create(stock_quantity=50)
    customer = buyer_create()

    results = threads_run(
        8,
        lambda i: order_place(
            customer=customer, lines=[OrderLine(product.pk, 1 + i)], idempotency_key="same"
        ),
    )

    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if isinstance(r, OrderError)]
    assert len(orders) == 1
    assert len(refusals) == 7
    assert {r.code for r in refusals} == {OrderErrorCode.IDEMPOTENCY_KEY_REUSED}
    product.refresh_from_db()
    assert product.stock_quantity == 50 - orders[0].items.get().quantity


# One customer's many stale orders are the set-up here, not the limit under test.
@override_settings(ORDER_MAX_PENDING_PER_CUSTOMER=50)
def test_two_overlapping_expiry_runs_restock_each_order_exactly_once() -> None:
    product = product_create(stock_quantity=100)
    customer = buyer_create()
    stale = [
        order_place(customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key=f"s{i}")
        for i in range(30)
    ]
    fresh = order_place(customer=customer, lines=[OrderLine(product.pk, 5)], idempotency_key="f")
    Order.objects.filter(pk__in=[o.pk for o in stale]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    product.refresh_from_db()
    assert product.stock_quantity == 100 - 60 - 5

    counts = threads_run(2, lambda i: orders_expire(batch_size=4))

    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == 30
    product.refresh_from_db()
    assert product.stock_quantity == 95  # every stale order restocked once; fresh one kept
    assert Order.objects.get(pk=fresh.pk).status == OrderStatus.PENDING
    expired_events = OrderEvent.objects.filter(to_status=OrderStatus.EXPIRED)
    assert expired_events.count() == 30
    assert expired_events.values("order").distinct().count() == 30


@override_settings(PAYMENT_GATEWAY_LATENCY_MS=200)
def test_two_simultaneous_deliveries_of_a_payment_charge_once() -> None:
    product = product_create(stock_quantity=5)
    order = order_place(
        customer=buyer_create(), lines=[OrderLine(product.pk, 1)], idempotency_key="p"
    )

    results = threads_run(2, lambda i: tasks.payment_process.apply(args=[order.pk]).result)

    assert sorted(map(str, results)) == [OrderStatus.PAID, "skipped"], results
    assert PaymentAttempt.objects.filter(order=order).count() == 1


# One customer's many stale orders are the set-up here, not the limit under test.
@override_settings(ORDER_MAX_PENDING_PER_CUSTOMER=50)
def test_expiry_restocking_while_customers_buy_the_same_products_never_deadlocks() -> None:
    products = [product_create(stock_quantity=1000) for _ in range(4)]
    owner = buyer_create()
    # Stale orders whose products interleave, so a batch touches every product.
    stale = [
        order_place(
            customer=owner,
            lines=[OrderLine(products[i % 4].pk, 1), OrderLine(products[(i + 2) % 4].pk, 1)],
            idempotency_key=f"stale-{i}",
        )
        for i in range(40)
    ]
    Order.objects.filter(pk__in=[o.pk for o in stale]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    buyers = [buyer_create() for _ in range(12)]

    def work(i: int) -> object:
        if i == 0:
            return orders_expire(batch_size=10)
        lines = [OrderLine(p.pk, 1) for p in products]
        return order_place(
            customer=buyers[i],
            lines=lines if i % 2 else list(reversed(lines)),
            idempotency_key=f"live-{i}",
        )

    results = threads_run(12, work)

    assert results[0] == 40
    assert all(isinstance(r, Order) for r in results[1:]), results
    stock = set(Product.objects.values_list("stock_quantity", flat=True))
    assert stock == {1000 - 11}  # stale units all back, each live order took one of each
