"""The Celery tasks run in-process (the embedded default): after commit, idempotent."""

import pytest
from django.core import mail
from django.test import override_settings

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.orders import tasks
from backend.orders.models import (
    Order,
    OrderEvent,
    OrderStatus,
    PaymentAttempt,
    PaymentOutcome,
    StockAlert,
)
from backend.orders.payments import GatewayError
from backend.orders.services import OrderLine, order_pay, order_place
from tests.factories import product_create, user_create

pytestmark = pytest.mark.django_db(transaction=True)

NO_LATENCY = override_settings(PAYMENT_GATEWAY_LATENCY_MS=0)


def _placed(customer: User, product: Product, key: str = "k") -> Order:
    return order_place(customer=customer, lines=[OrderLine(product.pk, 2)], idempotency_key=key)


@NO_LATENCY
def test_paying_runs_the_payment_after_commit_and_confirms_by_email_once(
    customer: User, product: Product
) -> None:
    order = _placed(customer, product)

    returned = order_pay(order_id=order.pk, actor=customer)

    assert returned.status == OrderStatus.PENDING  # the charge ran after the service returned
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    attempt = PaymentAttempt.objects.get(order=order)
    assert (attempt.outcome, attempt.amount) == (PaymentOutcome.SUCCEEDED, order.total)
    event = order.events.last()
    assert (event.from_status, event.to_status) == (OrderStatus.PENDING, OrderStatus.PAID)
    assert attempt.gateway_reference in event.note
    assert order.confirmation_sent_at is not None
    assert len(mail.outbox) == 1
    confirmation = mail.outbox[0]
    assert confirmation.to == [customer.email]
    assert f"#{order.number}" in confirmation.subject
    assert product.sku in confirmation.body
    assert f"Total: {order.total} USD" in confirmation.body


@NO_LATENCY
def test_a_payment_task_delivered_twice_charges_once(customer: User, product: Product) -> None:
    order = _placed(customer, product)

    first = tasks.payment_process.apply(args=[order.pk]).get()
    second = tasks.payment_process.apply(args=[order.pk]).get()

    assert (first, second) == (OrderStatus.PAID, "skipped")
    assert PaymentAttempt.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1


@override_settings(PAYMENT_GATEWAY_LATENCY_MS=0, PAYMENT_GATEWAY_OUTCOME="decline")
def test_a_declined_payment_is_recorded_and_the_order_stays_payable(
    customer: User, product: Product
) -> None:
    order = _placed(customer, product)

    order_pay(order_id=order.pk, actor=customer)

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    attempt = PaymentAttempt.objects.get(order=order)
    assert (attempt.outcome, attempt.message) == (PaymentOutcome.DECLINED, "Card declined.")
    assert mail.outbox == []


@override_settings(PAYMENT_GATEWAY_LATENCY_MS=0, PAYMENT_GATEWAY_OUTCOME="error")
def test_a_gateway_error_is_recorded_and_does_not_fail_the_paying_request(
    customer: User, product: Product
) -> None:
    order = _placed(customer, product)

    # In-process, Celery raises Retry instead of scheduling it (a worker would retry with
    # backoff); the robust on_commit dispatch logs it, so orderPay still answers.
    returned = order_pay(order_id=order.pk, actor=customer)

    assert returned.pk == order.pk
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    attempt = PaymentAttempt.objects.get(order=order)
    assert attempt.outcome == PaymentOutcome.FAILED
    assert f"#{order.number}" in attempt.message


def test_the_payment_task_retries_gateway_errors_with_backoff_and_acks_late() -> None:
    task = tasks.payment_process
    assert task.autoretry_for == (GatewayError,)
    assert (task.acks_late, task.retry_backoff, task.max_retries) == (True, 2, 6)


def test_the_confirmation_email_is_sent_once_however_often_the_task_runs(
    customer: User, product: Product
) -> None:
    order = _placed(customer, product)

    results = [tasks.order_confirmation_send.apply(args=[order.pk]).get() for _ in range(3)]

    assert results == [True, False, False]
    assert len(mail.outbox) == 1


@override_settings(STOCK_LOW_THRESHOLD=5, STAFF_ALERT_EMAILS=[])
def test_a_low_stock_alert_reaches_active_staff_once(customer: User, staff: User) -> None:
    product = product_create(stock_quantity=6)

    _placed(customer, product)  # 4 left: the alert task runs after commit

    assert [m.to for m in mail.outbox] == [[staff.email]]
    alert_id = StockAlert.objects.get(product=product).pk
    assert tasks.stock_low_alert.apply(args=[alert_id]).get() is False
    assert len(mail.outbox) == 1


@override_settings(STOCK_LOW_THRESHOLD=5, STAFF_ALERT_EMAILS=[])
def test_a_superuser_without_the_staff_flag_is_staff_for_alerts_too(customer: User) -> None:
    """``accounts.policies.STAFF_FLAGS``: the one staff definition, for recipients as well."""
    admin = user_create(is_superuser=True)  # is_staff stays False
    user_create(is_staff=True, is_active=False)

    _placed(customer, product_create(stock_quantity=6))

    assert [m.to for m in mail.outbox] == [[admin.email]]


def test_the_expiry_task_expires_stale_orders_and_restocks(
    customer: User, product: Product
) -> None:
    order = _placed(customer, product)
    with override_settings(ORDER_PENDING_TTL_MINUTES=0):
        expired = tasks.orders_expire.apply().get()

    assert expired == 1
    order.refresh_from_db()
    product.refresh_from_db()
    assert (order.status, product.stock_quantity) == (OrderStatus.EXPIRED, 10)
