"""order_place: validation, snapshots, totals, idempotency and low-stock alerts."""

from decimal import Decimal

import pytest
from django.core import mail
from django.test import override_settings

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.orders.errors import OrderError, OrderErrorCode
from backend.orders.models import Order, OrderEvent, OrderItem, OrderStatus, StockAlert
from backend.orders.services import OrderLine, order_place
from tests.factories import product_create, user_create

pytestmark = pytest.mark.django_db


def _db_state() -> tuple[int, int, int, list[tuple[int, int]]]:
    stock = list(Product.objects.order_by("pk").values_list("pk", "stock_quantity"))
    return Order.objects.count(), OrderItem.objects.count(), OrderEvent.objects.count(), stock


def test_order_place_snapshots_products_and_totals_in_decimal(customer: User) -> None:
    pen = product_create(stock_quantity=10, price="1.10", name="Pen")
    ink = product_create(stock_quantity=10, price="0.35", name="Ink")

    order = order_place(
        customer=customer,
        lines=[OrderLine(ink.pk, 3), OrderLine(pen.pk, 2)],
        idempotency_key="k1",
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.number > 100000
    assert order.email == customer.email
    assert order.subtotal == order.total == Decimal("3.25")  # 3 x 0.35 + 2 x 1.10, exact
    items = list(order.items.values_list("product_name", "product_sku", "unit_price", "quantity"))
    assert items == [
        ("Ink", ink.sku, Decimal("0.35"), 3),  # the customer's line order is kept
        ("Pen", pen.sku, Decimal("1.10"), 2),
    ]
    assert list(Product.objects.filter(pk__in=[pen.pk, ink.pk]).values_list("stock_quantity"))
    pen.refresh_from_db()
    ink.refresh_from_db()
    assert (pen.stock_quantity, ink.stock_quantity) == (8, 7)
    event = order.events.get()
    assert (event.from_status, event.to_status, event.actor_id) == (
        None,
        OrderStatus.PENDING,
        customer.pk,
    )


def test_later_catalog_edits_do_not_rewrite_what_was_bought(
    customer: User, product: Product
) -> None:
    order = order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key="a")
    Product.objects.filter(pk=product.pk).update(name="Renamed", price=Decimal("99.00"))
    product.delete()

    item = OrderItem.objects.get(order=order)
    assert (item.product_id, item.product_name, item.unit_price) == (
        None,
        product.name,
        Decimal("9.99"),
    )


def test_order_place_costs_one_statement_per_product_and_no_reads(
    customer: User, count_queries
) -> None:
    products = [product_create(stock_quantity=100) for _ in range(5)]

    with count_queries() as one_line:
        order_place(customer=customer, lines=[OrderLine(products[0].pk, 1)], idempotency_key="1")
    with count_queries() as five_lines:
        order_place(
            customer=customer, lines=[OrderLine(p.pk, 1) for p in products], idempotency_key="5"
        )

    # Key lookup, 2 SAVEPOINTs (the outer one is BEGIN outside a test), INSERT order,
    # RELEASE, the customer's row lock, one read of their unpaid holdings (whatever the
    # number of lines), one UPDATE ... RETURNING per product, INSERT items, UPDATE totals,
    # INSERT event, RELEASE: the product snapshot needs no separate read.
    assert one_line.count == 12
    assert five_lines.count - one_line.count == 4


@pytest.mark.parametrize(
    ("make_lines", "code", "field"),
    [
        (lambda p, q: [], OrderErrorCode.EMPTY_ORDER, "lines"),
        (lambda p, q: [OrderLine(p.pk, 0)], OrderErrorCode.QUANTITY_INVALID, "lines.0.quantity"),
        (lambda p, q: [OrderLine(p.pk, -3)], OrderErrorCode.QUANTITY_INVALID, "lines.0.quantity"),
        (
            lambda p, q: [OrderLine(p.pk, 1), OrderLine(q.pk, 1001)],
            OrderErrorCode.QUANTITY_INVALID,
            "lines.1.quantity",
        ),
        (
            lambda p, q: [OrderLine(p.pk, 1), OrderLine(p.pk, 2)],
            OrderErrorCode.DUPLICATE_PRODUCT,
            "lines.1.product_id",
        ),
        (
            lambda p, q: [OrderLine(p.pk + 1000 + i, 1) for i in range(51)],
            OrderErrorCode.TOO_MANY_ITEMS,
            "lines",
        ),
        (
            lambda p, q: [OrderLine(p.pk, 1), OrderLine(999_999_999, 1)],
            OrderErrorCode.PRODUCT_UNAVAILABLE,
            "lines.1.product_id",
        ),
        (
            lambda p, q: [OrderLine(q.pk, 1), OrderLine(p.pk, 11)],
            OrderErrorCode.INSUFFICIENT_STOCK,
            "lines.1.product_id",
        ),
    ],
    ids=[
        "empty",
        "zero",
        "negative",
        "above-cap",
        "duplicate",
        "too-many-lines",
        "missing-product",
        "short-stock-after-a-good-line",
    ],
)
def test_bad_order_input_is_refused_and_leaves_the_database_unchanged(
    customer: User, make_lines, code: OrderErrorCode, field: str
) -> None:
    first = product_create(stock_quantity=10)
    second = product_create(stock_quantity=10)
    before = _db_state()

    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=make_lines(first, second), idempotency_key="bad")

    assert (refused.value.code, refused.value.field) == (code, field)
    assert _db_state() == before


def test_insufficient_stock_reports_the_quantity_available_to_staff_only(customer: User) -> None:
    product = product_create(stock_quantity=3)
    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=[OrderLine(product.pk, 4)], idempotency_key="s")
    assert refused.value.code == OrderErrorCode.INSUFFICIENT_STOCK
    assert "available_quantity" not in refused.value.extras
    assert "3" not in refused.value.message.replace(str(product.pk), "")

    with pytest.raises(OrderError) as refused:
        order_place(
            customer=user_create(is_staff=True),
            lines=[OrderLine(product.pk, 4)],
            idempotency_key="s",
        )
    assert refused.value.extras["available_quantity"] == 3


def test_an_unpublished_product_is_unavailable_even_with_stock(customer: User) -> None:
    hidden = product_create(stock_quantity=50, is_published=False)
    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=[OrderLine(hidden.pk, 1)], idempotency_key="u")
    assert refused.value.code == OrderErrorCode.PRODUCT_UNAVAILABLE
    hidden.refresh_from_db()
    assert hidden.stock_quantity == 50


@pytest.mark.parametrize("key", ["", "   ", "x" * 256])
def test_a_blank_or_oversized_idempotency_key_is_refused(
    customer: User, product: Product, key: str
) -> None:
    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key=key)
    assert refused.value.code == OrderErrorCode.IDEMPOTENCY_KEY_INVALID
    assert Order.objects.count() == 0


def test_an_order_total_beyond_the_money_columns_is_refused(customer: User) -> None:
    costly = product_create(stock_quantity=1000, price="9999999999.00")
    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=[OrderLine(costly.pk, 2)], idempotency_key="big")
    assert refused.value.code == OrderErrorCode.AMOUNT_TOO_LARGE
    costly.refresh_from_db()
    assert (costly.stock_quantity, Order.objects.count()) == (1000, 0)


def test_the_same_key_and_lines_return_the_same_order_without_a_second_decrement(
    customer: User,
) -> None:
    a, b = product_create(stock_quantity=10), product_create(stock_quantity=10)
    first = order_place(
        customer=customer, lines=[OrderLine(a.pk, 2), OrderLine(b.pk, 1)], idempotency_key="k"
    )
    # The same request with its lines in another order is the same request.
    again = order_place(
        customer=customer, lines=[OrderLine(b.pk, 1), OrderLine(a.pk, 2)], idempotency_key="k"
    )

    assert again.pk == first.pk
    assert Order.objects.count() == 1
    assert list(Product.objects.order_by("pk").values_list("stock_quantity", flat=True)) == [8, 9]


def test_the_same_key_with_different_lines_is_refused(customer: User, product: Product) -> None:
    order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key="k")
    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key="k")
    assert refused.value.code == OrderErrorCode.IDEMPOTENCY_KEY_REUSED
    product.refresh_from_db()
    assert (product.stock_quantity, Order.objects.count()) == (9, 1)


def test_idempotency_keys_belong_to_one_customer(product: Product) -> None:
    one, other = user_create(), user_create()
    first = order_place(customer=one, lines=[OrderLine(product.pk, 1)], idempotency_key="k")
    second = order_place(customer=other, lines=[OrderLine(product.pk, 1)], idempotency_key="k")
    assert first.pk != second.pk


@override_settings(STOCK_LOW_THRESHOLD=5, STAFF_ALERT_EMAILS=["stock@example.com"])
def test_staff_get_one_low_stock_email_when_an_order_crosses_the_threshold(
    customer: User, django_capture_on_commit_callbacks
) -> None:
    product = product_create(stock_quantity=8)
    with django_capture_on_commit_callbacks(execute=True):
        order_place(customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key="1")
    assert StockAlert.objects.count() == 0  # 6 left: still at or above the threshold

    with django_capture_on_commit_callbacks(execute=True):
        crossing = order_place(
            customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key="2"
        )
    with django_capture_on_commit_callbacks(execute=True):
        order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key="3")

    alert = StockAlert.objects.get()
    assert (alert.order_id, alert.stock_quantity, alert.sent_at is not None) == (
        crossing.pk,
        4,
        True,
    )
    assert [m.to for m in mail.outbox] == [["stock@example.com"]]
    assert str(crossing.number) in mail.outbox[0].body
