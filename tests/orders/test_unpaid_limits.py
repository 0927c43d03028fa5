"""What one customer may hold unpaid: PENDING orders, and units of one product across them.

``ORDER_MAX_PENDING_PER_CUSTOMER`` and ``ORDER_MAX_UNPAID_UNITS_PER_PRODUCT``, enforced by
``order_place`` inside its transaction: refused orders leave nothing behind, paid, cancelled
and expired orders free their places, concurrent placements cannot both take the last one,
and an idempotent replay is never counted against its own limit.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.orders.errors import OrderError, OrderErrorCode
from backend.orders.models import Order, OrderEvent, OrderItem, OrderStatus
from backend.orders.services import OrderLine, order_cancel, order_place, order_transition
from tests.factories import product_create, user_create
from tests.orders.conftest import buyer_create, threads_run

PENDING_LIMIT = 3
UNITS_LIMIT = 10
limits = override_settings(
    ORDER_MAX_PENDING_PER_CUSTOMER=PENDING_LIMIT, ORDER_MAX_UNPAID_UNITS_PER_PRODUCT=UNITS_LIMIT
)


def _db_state() -> tuple[int, int, int, list[tuple[int, int]]]:
    stock = list(Product.objects.order_by("pk").values_list("pk", "stock_quantity"))
    return Order.objects.count(), OrderItem.objects.count(), OrderEvent.objects.count(), stock


def _refusal(customer: User, lines: list[OrderLine], key: str) -> OrderError:
    before = _db_state()
    with pytest.raises(OrderError) as raised:
        order_place(customer=customer, lines=lines, idempotency_key=key)
    assert _db_state() == before  # refused whole: no order, no item, no event, no stock taken
    return raised.value


@pytest.mark.django_db
@limits
def test_the_next_order_past_the_pending_limit_is_refused_until_one_is_paid_or_cancelled() -> None:
    customer = user_create()
    product = product_create(stock_quantity=100)
    line = [OrderLine(product.pk, 1)]
    placed = [
        order_place(customer=customer, lines=line, idempotency_key=f"k{i}")
        for i in range(PENDING_LIMIT)
    ]

    error = _refusal(customer, line, "one-too-many")
    assert (error.code, error.field) == (OrderErrorCode.TOO_MANY_PENDING_ORDERS, None)
    assert f"at most {PENDING_LIMIT}" in error.message

    order_cancel(order_id=placed[0].pk, actor=customer)
    order_place(customer=customer, lines=line, idempotency_key="after-cancel")
    _refusal(customer, line, "full-again")
    order_transition(order_id=placed[1].pk, to_status=OrderStatus.PAID)
    order_place(customer=customer, lines=line, idempotency_key="after-payment")
    order_transition(order_id=placed[2].pk, to_status=OrderStatus.EXPIRED)
    order_place(customer=customer, lines=line, idempotency_key="after-expiry")
    assert Order.objects.filter(customer=customer, status=OrderStatus.PENDING).count() == 3


@pytest.mark.django_db
@limits
def test_units_held_unpaid_are_counted_per_product_across_the_customers_pending_orders() -> None:
    customer = user_create()
    pen, ink = product_create(stock_quantity=100), product_create(stock_quantity=100)
    order_place(customer=customer, lines=[OrderLine(pen.pk, 6)], idempotency_key="a")
    order_place(customer=customer, lines=[OrderLine(pen.pk, 4)], idempotency_key="b")

    error = _refusal(customer, [OrderLine(ink.pk, UNITS_LIMIT), OrderLine(pen.pk, 1)], "c")
    assert (error.code, error.field) == (OrderErrorCode.UNPAID_UNITS_LIMIT, "lines.1.quantity")
    assert "already hold 10" in error.message

    # Another product, and another customer's units of the same one, are not affected.
    order_place(customer=customer, lines=[OrderLine(ink.pk, UNITS_LIMIT)], idempotency_key="d")
    order_place(customer=user_create(), lines=[OrderLine(pen.pk, 10)], idempotency_key="a")


@pytest.mark.django_db
@limits
def test_one_line_above_the_unpaid_units_limit_is_refused_even_with_nothing_held() -> None:
    product = product_create(stock_quantity=100)
    error = _refusal(user_create(), [OrderLine(product.pk, UNITS_LIMIT + 1)], "big")
    assert (error.code, error.field) == (OrderErrorCode.UNPAID_UNITS_LIMIT, "lines.0.quantity")


@pytest.mark.django_db
@limits
def test_staff_placing_orders_are_held_to_the_same_limits() -> None:
    staff = user_create(is_staff=True, is_superuser=True)
    product = product_create(stock_quantity=100)
    for i in range(PENDING_LIMIT):
        order_place(customer=staff, lines=[OrderLine(product.pk, 1)], idempotency_key=f"s{i}")
    error = _refusal(staff, [OrderLine(product.pk, 1)], "more")
    assert error.code == OrderErrorCode.TOO_MANY_PENDING_ORDERS


@pytest.mark.django_db
@limits
def test_an_idempotent_replay_at_the_limit_returns_the_order_already_placed() -> None:
    customer = user_create()
    product = product_create(stock_quantity=100)
    lines = [OrderLine(product.pk, UNITS_LIMIT // PENDING_LIMIT)]
    placed = [
        order_place(customer=customer, lines=lines, idempotency_key=f"k{i}")
        for i in range(PENDING_LIMIT)
    ]
    before = _db_state()

    replayed = order_place(customer=customer, lines=lines, idempotency_key="k2")

    assert replayed.pk == placed[2].pk
    assert _db_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("product_id", [2**31, 2**63 - 1, 2**63, 10**30])
def test_the_unpaid_units_read_takes_any_product_id_the_stock_take_would(product_id: int) -> None:
    # The limits are read before the stock is taken: an id no bigint column can hold must
    # still be refused as the product it names, never as a database error.
    error = _refusal(user_create(), [OrderLine(product_id, 1)], "huge")
    assert (error.code, error.field) == (OrderErrorCode.PRODUCT_UNAVAILABLE, "lines.0.product_id")


@pytest.mark.django_db
def test_the_defaults_stop_one_account_reserving_a_products_whole_stock() -> None:
    # The reported abuse: three unpaid orders of 1,000 units took all 3,000.
    customer = user_create()
    product = product_create(stock_quantity=3000)
    errors = []
    for i in range(3):
        try:
            order_place(
                customer=customer, lines=[OrderLine(product.pk, 1000)], idempotency_key=f"{i}"
            )
        except OrderError as error:
            errors.append(error.code)
    assert errors == [OrderErrorCode.UNPAID_UNITS_LIMIT] * 3
    product.refresh_from_db()
    assert product.stock_quantity == 3000


# --- Many sequences of placing, paying and cancelling, against a model of the two limits ----


@dataclass
class _Model:
    """What the limits allow, computed from the orders the model knows to be pending."""

    pending: dict[int, dict[int, int]] = field(default_factory=dict)  # order pk -> units

    def refusal(self, lines: list[OrderLine]) -> OrderErrorCode | None:
        if len(self.pending) >= PENDING_LIMIT:
            return OrderErrorCode.TOO_MANY_PENDING_ORDERS
        for line in lines:
            held = sum(units.get(line.product_id, 0) for units in self.pending.values())
            if held + line.quantity > UNITS_LIMIT:
                return OrderErrorCode.UNPAID_UNITS_LIMIT
        return None


_line = st.tuples(st.integers(0, 2), st.integers(1, UNITS_LIMIT + 2))
_step = st.one_of(
    st.tuples(st.just("place"), st.lists(_line, min_size=1, max_size=3, unique_by=lambda x: x[0])),
    st.tuples(st.sampled_from(["pay", "cancel", "expire"]), st.integers(0, 10)),
)


@pytest.mark.django_db
@limits
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=12))
def test_every_placement_is_accepted_exactly_when_both_limits_allow_it(
    steps: list[tuple[str, Any]],
) -> None:
    with transaction.atomic():  # each example starts from, and leaves, an empty database
        customer = buyer_create()
        products = [product_create(stock_quantity=1000).pk for _ in range(3)]
        model = _Model()
        for number, (action, argument) in enumerate(steps):
            if action == "place":
                lines = [OrderLine(products[p], q) for p, q in argument]
                expected = model.refusal(lines)
                if expected is not None:
                    with pytest.raises(OrderError) as refused:
                        order_place(customer=customer, lines=lines, idempotency_key=f"{number}")
                    assert refused.value.code == expected, (steps, number)
                    continue
                order = order_place(customer=customer, lines=lines, idempotency_key=f"{number}")
                model.pending[order.pk] = {line.product_id: line.quantity for line in lines}
            elif model.pending:
                order_id = sorted(model.pending)[argument % len(model.pending)]
                if action == "cancel":
                    order_cancel(order_id=order_id, actor=customer)
                else:
                    target = OrderStatus.PAID if action == "pay" else OrderStatus.EXPIRED
                    order_transition(order_id=order_id, to_status=target)
                del model.pending[order_id]
        assert set(model.pending) == set(
            Order.objects.filter(customer=customer, status=OrderStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
        transaction.set_rollback(True)


# --- Concurrent placements by one customer: real PostgreSQL connections, one per thread -----


def _codes(results: list[object]) -> tuple[list[Order], list[OrderErrorCode]]:
    unexpected = [r for r in results if not isinstance(r, Order | OrderError)]
    assert unexpected == [], f"unexpected failures: {unexpected!r}"
    return (
        [r for r in results if isinstance(r, Order)],
        [r.code for r in results if isinstance(r, OrderError)],
    )


@pytest.mark.django_db(transaction=True)
@limits
def test_concurrent_orders_of_one_customer_never_pass_the_pending_limit_together() -> None:
    customer = buyer_create()
    product = product_create(stock_quantity=100)
    order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key="before")

    results = threads_run(
        10,
        lambda i: order_place(
            customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key=f"race-{i}"
        ),
    )

    orders, codes = _codes(results)
    assert (len(orders), codes) == (
        PENDING_LIMIT - 1,
        [OrderErrorCode.TOO_MANY_PENDING_ORDERS] * (10 - PENDING_LIMIT + 1),
    )
    assert Order.objects.filter(customer=customer).count() == PENDING_LIMIT
    product.refresh_from_db()
    assert product.stock_quantity == 100 - PENDING_LIMIT


@pytest.mark.django_db(transaction=True)
@override_settings(ORDER_MAX_PENDING_PER_CUSTOMER=100, ORDER_MAX_UNPAID_UNITS_PER_PRODUCT=10)
def test_concurrent_orders_of_one_customer_never_hold_more_units_than_the_limit_together() -> None:
    customer = buyer_create()
    first, second = product_create(stock_quantity=100), product_create(stock_quantity=100)

    def buy(i: int) -> Order:
        pair = [OrderLine(first.pk, 3), OrderLine(second.pk, 1)]
        return order_place(
            customer=customer,
            lines=pair if i % 2 else list(reversed(pair)),
            idempotency_key=f"units-{i}",
        )

    orders, codes = _codes(threads_run(10, buy))

    assert (len(orders), codes) == (3, [OrderErrorCode.UNPAID_UNITS_LIMIT] * 7)  # 3 x 3 <= 10
    stock = dict(Product.objects.values_list("pk", "stock_quantity"))
    assert (stock[first.pk], stock[second.pk]) == (91, 97)


@pytest.mark.django_db(transaction=True)
@limits
def test_the_same_order_sent_concurrently_for_the_last_free_place_is_placed_once() -> None:
    customer = buyer_create()
    product = product_create(stock_quantity=100)
    for i in range(PENDING_LIMIT - 1):
        order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key=f"{i}")

    results = threads_run(
        8,
        lambda i: order_place(
            customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key="retry"
        ),
    )

    orders, codes = _codes(results)
    assert codes == []  # the retries replay the order; none is refused by its own place
    assert len({order.pk for order in orders}) == 1
    product.refresh_from_db()
    assert product.stock_quantity == 100 - (PENDING_LIMIT - 1) - 2
