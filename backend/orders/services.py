"""Order business rules: placing, the status machine, payment, expiry and notifications.

Every transport (GraphQL, REST, Celery tasks, admin) calls these functions. Guarantees:

- Stock never goes negative and is never oversold: each product is decremented by one
  conditional ``UPDATE ... WHERE stock_quantity >= qty``, products in ascending id order so
  concurrent orders take row locks in the same order and cannot deadlock.
- An order never half-exists: placing and every transition run in one transaction.
- Side effects (emails, payment) are Celery tasks sent through the task outbox after commit
  (``backend.core.outbox``): a rolled back change sends nothing, a broker outage or restart
  loses nothing, and each task is idempotent, as the outbox's at-least-once delivery needs.
"""

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from backend.accounts.policies import STAFF_FLAGS, is_staff_user
from backend.catalog.models import Product
from backend.catalog.policies import stock_visible_to
from backend.core.outbox import task_send_after_commit
from backend.core.text import text_problem
from backend.orders import tasks as order_tasks
from backend.orders.errors import OrderError, OrderErrorCode
from backend.orders.events import order_event_publish_on_commit
from backend.orders.models import (
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    PaymentAttempt,
    PaymentOutcome,
    StockAlert,
)
from backend.orders.payments import GatewayError, PaymentGateway
from backend.orders.selectors import orders_visible_to

logger = logging.getLogger(__name__)

# The whole order process. Anything not listed is refused with ORDER_TRANSITION_INVALID.
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}
# Entering one of these puts the ordered units back on sale.
RESTOCKING_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.EXPIRED})
# 12 digits, 2 decimals: the MONEY columns' limit.
MAX_AMOUNT = Decimal("9999999999.99")
IDEMPOTENCY_KEY_MAX_LENGTH = 255
_IDEMPOTENCY_KEY_FIELD = Order._meta.get_field("idempotency_key")  # max_length: the above

Actor = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One requested line: a product and how many units."""

    product_id: int
    quantity: int


# --- Reading --------------------------------------------------------------------------------


def order_next_statuses(order: Order) -> list[OrderStatus]:
    """The statuses the order may move to next, in declaration order; reads only ``status``."""
    allowed = ORDER_TRANSITIONS[OrderStatus(order.status)]
    return [status for status in OrderStatus if status in allowed]


# --- Placing --------------------------------------------------------------------------------


def order_place(
    *, customer: AbstractBaseUser, lines: Sequence[OrderLine], idempotency_key: str
) -> Order:
    """Place a PENDING order for ``customer``, taking the stock it needs, or refuse it whole.

    Raises ``OrderError`` (nothing persisted) for bad input, unavailable products and missing
    stock (``available_quantity`` says how many units are left). The same ``idempotency_key``
    with the same lines returns the order already placed, even when both requests race: the
    unique constraint on (customer, key) makes the second insert wait for the first and fail,
    and the second request then returns the first's order without touching stock. The same key
    with different lines is refused with ``IDEMPOTENCY_KEY_REUSED``. What the customer may
    hold unpaid is limited: see ``_unpaid_limits_check``.

    Statements: one idempotency lookup, the order insert, the customer's row lock, one read of
    their unpaid orders, one UPDATE per product, one items insert, one totals update, one
    event insert (plus one alert insert per product whose stock this order took below
    ``STOCK_LOW_THRESHOLD``).
    """
    _order_lines_validate(lines=lines, idempotency_key=idempotency_key)
    fingerprint = _lines_fingerprint(lines)
    existing = Order.objects.filter(customer=customer, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _order_replay(existing, fingerprint)

    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the outer one usable
                order = Order.objects.create(
                    customer=customer,
                    email=customer.email,
                    status=OrderStatus.PENDING,
                    currency=settings.STORE_CURRENCY,
                    subtotal=Decimal("0.00"),
                    total=Decimal("0.00"),
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
        except IntegrityError:
            # A concurrent request with the same key committed first; it is now visible.
            winner = Order.objects.filter(
                customer=customer, idempotency_key=idempotency_key
            ).first()
            if winner is None:
                raise
            return _order_replay(winner, fingerprint)

        # After the insert: a request that lost the idempotency race above replays the first
        # order, never counts it against its own limits.
        _unpaid_limits_check(customer=customer, lines=lines)
        items, low_stock = _stock_take(order=order, lines=lines)
        subtotal = sum((item.line_total for item in items), Decimal("0.00"))
        if subtotal > MAX_AMOUNT:
            raise OrderError(
                OrderErrorCode.AMOUNT_TOO_LARGE,
                f"The order total {subtotal} exceeds the maximum of {MAX_AMOUNT}.",
                field="lines",
            )
        OrderItem.objects.bulk_create(items)
        order.subtotal = order.total = subtotal
        order.save(update_fields=["subtotal", "total", "updated_at"])
        OrderEvent.objects.create(
            order=order, from_status=None, to_status=OrderStatus.PENDING, actor=customer
        )
        for product_id, stock_left in low_stock:
            alert = StockAlert.objects.create(
                product_id=product_id, order=order, stock_quantity=stock_left
            )
            task_send_after_commit(order_tasks.stock_low_alert, alert.pk)
    logger.info("order #%s placed: %d lines, total %s", order.number, len(items), order.total)
    return order


def _order_lines_validate(*, lines: Sequence[OrderLine], idempotency_key: str) -> None:
    """Refuse malformed input before touching the database."""
    if not idempotency_key.strip() or text_problem(_IDEMPOTENCY_KEY_FIELD, idempotency_key):
        raise OrderError(
            OrderErrorCode.IDEMPOTENCY_KEY_INVALID,
            f"The idempotency key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters, "
            "none of them NUL.",
            field="idempotency_key",
        )
    if not lines:
        raise OrderError(
            OrderErrorCode.EMPTY_ORDER, "An order needs at least one line.", field="lines"
        )
    if len(lines) > settings.ORDER_MAX_LINES:
        raise OrderError(
            OrderErrorCode.TOO_MANY_ITEMS,
            f"An order has at most {settings.ORDER_MAX_LINES} lines; got {len(lines)}.",
            field="lines",
        )
    seen: set[int] = set()
    for index, line in enumerate(lines):
        if not 1 <= line.quantity <= settings.ORDER_MAX_QUANTITY_PER_LINE:
            raise OrderError(
                OrderErrorCode.QUANTITY_INVALID,
                f"Quantity must be between 1 and {settings.ORDER_MAX_QUANTITY_PER_LINE}.",
                field=f"lines.{index}.quantity",
            )
        if line.product_id in seen:
            raise OrderError(
                OrderErrorCode.DUPLICATE_PRODUCT,
                "Each product may appear on one line only; add the quantities instead.",
                field=f"lines.{index}.product_id",
            )
        seen.add(line.product_id)


# The customer's unpaid holdings, PENDING orders including the one being placed: the first
# row (product NULL) counts the orders, then one row per product of the new order with the
# units those orders already hold. Table names from model metadata; values are parameters.
_UNPAID_HOLDINGS_SQL = f"""
    WITH pending AS (
        SELECT id FROM {Order._meta.db_table} WHERE customer_id = %s AND status = %s
    )
    SELECT NULL, count(*) FROM pending
    UNION ALL
    SELECT product_id, sum(quantity) FROM {OrderItem._meta.db_table}
     WHERE order_id IN (SELECT id FROM pending) AND product_id = ANY(%s)
     GROUP BY product_id
"""


def _unpaid_limits_check(*, customer: AbstractBaseUser, lines: Sequence[OrderLine]) -> None:
    """Refuse an order that would let the customer hold more than the store allows unpaid.

    At most ``ORDER_MAX_PENDING_PER_CUSTOMER`` PENDING orders (this one included) and at most
    ``ORDER_MAX_UNPAID_UNITS_PER_PRODUCT`` units of one product across them, so no account
    reserves a product's stock for ``ORDER_PENDING_TTL_MINUTES`` without paying. Staff
    placing an order are customers like any other: the limit protects other buyers' stock,
    whoever holds it.

    Runs before any stock is taken, inside the placing transaction. The customer's row lock
    (``FOR NO KEY UPDATE``: it does not block inserts that reference the row) serialises
    their concurrent placements, and the count is a statement of its own after the lock, so
    under READ COMMITTED it sees every order committed by whoever held the lock before:
    two concurrent orders cannot both pass on the same last free place.
    """
    # Evaluated for its lock alone.
    get_user_model().objects.select_for_update(no_key=True).filter(pk=customer.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            _UNPAID_HOLDINGS_SQL,
            [customer.pk, OrderStatus.PENDING.value, [line.product_id for line in lines]],
        )
        held = dict(cursor.fetchall())
    pending, limit = held.pop(None), settings.ORDER_MAX_PENDING_PER_CUSTOMER
    if pending > limit:
        raise OrderError(
            OrderErrorCode.TOO_MANY_PENDING_ORDERS,
            f"You have {pending - 1} unpaid orders and may have at most {limit} at once: pay "
            "or cancel one before placing another.",
        )
    limit = settings.ORDER_MAX_UNPAID_UNITS_PER_PRODUCT
    for index, line in enumerate(lines):
        if held.get(line.product_id, 0) + line.quantity > limit:
            raise OrderError(
                OrderErrorCode.UNPAID_UNITS_LIMIT,
                f"You may hold at most {limit} unpaid units of product {line.product_id}; "
                f"your unpaid orders already hold {held.get(line.product_id, 0)}.",
                field=f"lines.{index}.quantity",
            )


def _lines_fingerprint(lines: Sequence[OrderLine]) -> str:
    """sha256 of the lines sorted by product: the same request in any line order matches."""
    normalised = sorted((line.product_id, line.quantity) for line in lines)
    return hashlib.sha256(json.dumps(normalised).encode()).hexdigest()


def _order_replay(order: Order, fingerprint: str) -> Order:
    if order.request_fingerprint != fingerprint:
        raise OrderError(
            OrderErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was already used for a different order.",
            field="idempotency_key",
        )
    logger.info("order #%s replayed for a repeated idempotency key", order.number)
    return order


# Table name from model metadata; every value is a query parameter.
_STOCK_TAKE_SQL = f"""
    UPDATE {Product._meta.db_table}
       SET stock_quantity = stock_quantity - %s
     WHERE id = %s AND stock_quantity >= %s AND is_published
 RETURNING name, sku, price, stock_quantity
"""
_STOCK_READ_SQL = f"SELECT stock_quantity, is_published FROM {Product._meta.db_table} WHERE id = %s"


def _stock_take(
    *, order: Order, lines: Sequence[OrderLine]
) -> tuple[list[OrderItem], list[tuple[int, int]]]:
    """Decrement stock for every line, ascending product id; snapshot each product.

    Returns the unsaved items and the (product id, stock left) pairs whose decrement crossed
    below the low-stock threshold. Raises ``OrderError`` on the first product that cannot be
    sold; the caller's transaction then undoes the decrements already made.
    """
    threshold = settings.STOCK_LOW_THRESHOLD
    items: list[OrderItem] = []
    low_stock: list[tuple[int, int]] = []
    positions = {line.product_id: index for index, line in enumerate(lines)}
    with connection.cursor() as cursor:
        for line in sorted(lines, key=lambda line: line.product_id):
            cursor.execute(_STOCK_TAKE_SQL, [line.quantity, line.product_id, line.quantity])
            row = cursor.fetchone()
            if row is None:
                _stock_refusal_raise(
                    cursor,
                    line=line,
                    field=f"lines.{positions[line.product_id]}.product_id",
                    customer=order.customer,
                )
            name, sku, price, stock_left = row
            items.append(
                OrderItem(
                    order=order,
                    product_id=line.product_id,
                    product_name=name,
                    product_sku=sku,
                    unit_price=price,
                    quantity=line.quantity,
                    line_total=price * line.quantity,
                )
            )
            if stock_left < threshold <= stock_left + line.quantity:
                low_stock.append((line.product_id, stock_left))
    items.sort(key=lambda item: positions[item.product_id])  # the customer's line order
    return items, low_stock


def _stock_refusal_raise(
    cursor: Any, *, line: OrderLine, field: str, customer: AbstractBaseUser
) -> None:
    """Say why the conditional UPDATE matched nothing: gone, unpublished or short of stock.

    How many units are left is said only to a customer who may see stock (staff): to anyone
    else, quoting it would let them read the shop's inventory one refusal at a time.
    """
    cursor.execute(_STOCK_READ_SQL, [line.product_id])
    row = cursor.fetchone()
    if row is None or not row[1]:
        raise OrderError(
            OrderErrorCode.PRODUCT_UNAVAILABLE,
            f"Product {line.product_id} is not available.",
            field=field,
        )
    if stock_visible_to(customer):
        raise OrderError(
            OrderErrorCode.INSUFFICIENT_STOCK,
            f"Only {row[0]} units of product {line.product_id} are available.",
            field=field,
            available_quantity=row[0],
        )
    raise OrderError(
        OrderErrorCode.INSUFFICIENT_STOCK,
        f"Not enough units of product {line.product_id} are in stock.",
        field=field,
    )


# --- The status machine ---------------------------------------------------------------------


def order_transition(
    *,
    order_id: int,
    to_status: OrderStatus,
    actor: AbstractBaseUser | None = None,
    note: str = "",
) -> Order:
    """Move an order to ``to_status`` if ``ORDER_TRANSITIONS`` allows it; the only writer of status.

    Holds the order's row lock for the whole transaction, so concurrent transitions of one
    order serialise and the second sees the first's result (a repeated move is refused with
    ``ORDER_TRANSITION_INVALID``). Restocks on CANCELLED/EXPIRED, one UPDATE per product in
    ascending id order (products deleted since are skipped), writes an ``OrderEvent`` and
    dispatches the notification tasks after commit. No permission check: see the wrappers.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise OrderError(OrderErrorCode.NOT_FOUND, "Order not found.", field="id")
        _order_move(order=order, to_status=to_status, actor=actor, note=note)
        if to_status in RESTOCKING_STATUSES:
            _stock_return(order_ids=[order.pk])
    return order


def _order_move(
    *, order: Order, to_status: OrderStatus, actor: AbstractBaseUser | None, note: str
) -> None:
    """The status change itself, on an order whose row lock the caller holds; no restock."""
    from_status = OrderStatus(order.status)
    if to_status not in ORDER_TRANSITIONS[from_status]:
        raise OrderError(
            OrderErrorCode.ORDER_TRANSITION_INVALID,
            f"An order cannot move from {from_status} to {to_status}.",
            field="status",
            from_status=from_status,
            to_status=to_status,
        )
    order.status = to_status
    order.save(update_fields=["status", "updated_at"])
    event = OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=to_status, actor=actor, note=note
    )
    order_event_publish_on_commit(event_id=event.pk, order_id=order.pk, to_status=to_status)
    if to_status == OrderStatus.PAID:
        task_send_after_commit(order_tasks.order_confirmation_send, order.pk)
    logger.info("order #%s moved %s -> %s", order.number, from_status, to_status)


def _stock_return(*, order_ids: Sequence[int]) -> None:
    """Put the orders' units back on sale: one UPDATE per product, in ascending product id.

    The same lock order as ``order_place``, even across many orders, so a restock and a
    checkout never wait on each other in a cycle. Products deleted since are skipped.
    """
    quantities = (
        OrderItem.objects.filter(order_id__in=order_ids, product__isnull=False)
        .values("product_id")
        .annotate(quantity=Sum("quantity"))
        .order_by("product_id")
        .values_list("product_id", "quantity")
    )
    for product_id, quantity in quantities:
        # F() arithmetic in the database: never a read-modify-write of a stale count.
        Product.objects.filter(pk=product_id).update(stock_quantity=F("stock_quantity") + quantity)


def order_cancel(*, order_id: int, actor: AbstractBaseUser) -> Order:
    """Cancel: the owner or staff, while the table allows it (PENDING or PAID); restocks."""
    _order_access_check(order_id=order_id, actor=actor, owner_allowed=True, staff_allowed=True)
    return order_transition(order_id=order_id, to_status=OrderStatus.CANCELLED, actor=actor)


def order_ship(*, order_id: int, actor: AbstractBaseUser) -> Order:
    """Mark a PAID order SHIPPED: staff only."""
    _order_access_check(order_id=order_id, actor=actor, owner_allowed=False, staff_allowed=True)
    return order_transition(order_id=order_id, to_status=OrderStatus.SHIPPED, actor=actor)


def order_deliver(*, order_id: int, actor: AbstractBaseUser) -> Order:
    """Mark a SHIPPED order DELIVERED: staff only."""
    _order_access_check(order_id=order_id, actor=actor, owner_allowed=False, staff_allowed=True)
    return order_transition(order_id=order_id, to_status=OrderStatus.DELIVERED, actor=actor)


def order_pay(*, order_id: int, actor: AbstractBaseUser) -> Order:
    """Start paying a PENDING order: the owner only. Returns it still PENDING.

    The charge runs in the ``payment_process`` task after commit; the order becomes PAID, or
    a declined ``PaymentAttempt`` is recorded and it stays PENDING (payable again until it
    expires). A non-PENDING order is refused with ``ORDER_TRANSITION_INVALID``.
    """
    _order_access_check(order_id=order_id, actor=actor, owner_allowed=True, staff_allowed=False)
    order = Order.objects.get(pk=order_id)
    if order.status != OrderStatus.PENDING:
        raise OrderError(
            OrderErrorCode.ORDER_TRANSITION_INVALID,
            f"Only a pending order can be paid; this one is {order.status}.",
            field="status",
            from_status=order.status,
            to_status=OrderStatus.PAID,
        )
    task_send_after_commit(order_tasks.payment_process, order.pk)
    logger.info("order #%s payment requested", order.number)
    return order


def _order_access_check(
    *, order_id: int, actor: AbstractBaseUser, owner_allowed: bool, staff_allowed: bool
) -> None:
    """Refuse an actor who may not act on the order.

    A customer asking about an order that is not theirs gets NOT_FOUND, never
    PERMISSION_DENIED: whether another customer's order exists is not theirs to learn.
    """
    owner_id = (
        orders_visible_to(actor).filter(pk=order_id).values_list("customer_id", flat=True).first()
    )
    if owner_id is None:
        raise OrderError(OrderErrorCode.NOT_FOUND, "Order not found.", field="id")
    is_owner = owner_id == actor.pk
    if (owner_allowed and is_owner) or (staff_allowed and is_staff_user(actor)):
        return
    raise OrderError(
        OrderErrorCode.PERMISSION_DENIED, "You may not do this to this order.", field="id"
    )


# --- Payment --------------------------------------------------------------------------------


def order_payment_charge(*, order_id: int, gateway: PaymentGateway) -> Order | None:
    """Charge a PENDING order once and mark it PAID; a no-op for any other status.

    The order's row lock is held across the gateway call, so two deliveries of the same task
    cannot both charge: the second waits, then finds the order PAID and returns None. A
    worker that dies during the call leaves nothing behind (its transaction rolls back) though
    the gateway may have charged: the redelivered task asks again with the same idempotency
    key (``payment_idempotency_key``), and the gateway answers with that charge instead of
    taking another. A decline records a DECLINED attempt and leaves the order PENDING. A
    ``GatewayError`` records a FAILED attempt and propagates, so the task retries.
    """
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().filter(pk=order_id).first()
            if order is None or order.status != OrderStatus.PENDING:
                logger.info(
                    "payment skipped for order id %s: %s",
                    order_id,
                    "not found" if order is None else f"#{order.number} is {order.status}",
                )
                return None
            result = gateway.charge(order=order, idempotency_key=payment_idempotency_key(order))
            PaymentAttempt.objects.create(
                order=order,
                outcome=PaymentOutcome.SUCCEEDED if result.succeeded else PaymentOutcome.DECLINED,
                amount=order.total,
                currency=order.currency,
                gateway_reference=result.reference,
                message=result.message,
            )
            if not result.succeeded:
                logger.info("order #%s payment declined: %s", order.number, result.message)
                return order
            return order_transition(
                order_id=order.pk,
                to_status=OrderStatus.PAID,
                note=f"Payment {result.reference}",
            )
    except GatewayError as error:
        failed = Order.objects.filter(pk=order_id).first()
        if failed is not None:
            PaymentAttempt.objects.create(
                order=failed,
                outcome=PaymentOutcome.FAILED,
                amount=failed.total,
                currency=failed.currency,
                message=str(error),
            )
            logger.warning("order #%s payment gateway error: %s", failed.number, error)
        raise


def payment_idempotency_key(order: Order) -> str:
    """The key the gateway knows this payment of ``order`` by: the same for every try until
    the gateway decides, a new one once it has declined (paying again is a new payment). A
    FAILED attempt (the gateway could not decide) keeps the key, so its retry cannot charge
    twice. One query."""
    declined = PaymentAttempt.objects.filter(order=order, outcome=PaymentOutcome.DECLINED).count()
    return f"order-{order.pk}-payment-{declined + 1}"


# --- Expiry ---------------------------------------------------------------------------------


def orders_expire(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Expire PENDING orders older than ``ORDER_PENDING_TTL_MINUTES``, restocking them.

    Works in batches, one transaction each, locking the batch with ``SKIP LOCKED``: two runs
    at once take disjoint orders, and the status filter is re-checked on the locked row, so
    no order is expired, or restocked, twice. Returns how many this run expired.
    """
    cutoff = (now or timezone.now()) - timedelta(minutes=settings.ORDER_PENDING_TTL_MINUTES)
    size = batch_size or settings.ORDER_EXPIRE_BATCH_SIZE
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                Order.objects.select_for_update(skip_locked=True)
                .filter(status=OrderStatus.PENDING, created_at__lt=cutoff)
                .order_by("created_at")[:size]
            )
            for order in batch:
                _order_move(
                    order=order,
                    to_status=OrderStatus.EXPIRED,
                    actor=None,
                    note=f"Unpaid after {settings.ORDER_PENDING_TTL_MINUTES} minutes.",
                )
            # One restock pass for the whole batch, in product order (see _stock_return).
            _stock_return(order_ids=[order.pk for order in batch])
        expired += len(batch)
        if len(batch) < size:
            return expired


# --- Notifications --------------------------------------------------------------------------


def order_confirmation_send(*, order_id: int) -> bool:
    """Email the customer the order summary once; False when it was already sent.

    The row lock and ``confirmation_sent_at`` make a redelivered task a no-op. If the commit
    fails after the email left, a retry may send it again: at-least-once, never zero.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.confirmation_sent_at is not None:
            logger.info("confirmation for order id %s not sent: already sent or gone", order_id)
            return False
        lines = [
            f"  {item.quantity} x {item.product_name} ({item.product_sku}) "
            f"@ {item.unit_price} = {item.line_total} {order.currency}"
            for item in order.items.all()
        ]
        body = "\n".join(
            [
                f"Thank you for your order #{order.number}.",
                "",
                *lines,
                "",
                f"Total: {order.total} {order.currency}",
                f"Status: {order.get_status_display()}",
            ]
        )
        EmailMessage(subject=f"Order #{order.number} confirmed", body=body, to=[order.email]).send()
        order.confirmation_sent_at = timezone.now()
        order.save(update_fields=["confirmation_sent_at", "updated_at"])
    logger.info("order #%s confirmation sent to %s", order.number, order.email)
    return True


def stock_alert_send(*, stock_alert_id: int) -> bool:
    """Email staff that a product fell below the threshold; once per alert, False if repeated.

    One alert exists per crossing (written by the order that crossed), so staff get one email
    per drop below the threshold, not one per order.
    """
    with transaction.atomic():
        alert = (
            StockAlert.objects.select_for_update(of=("self",))
            .select_related("product", "order")
            .filter(pk=stock_alert_id)
            .first()
        )
        if alert is None or alert.sent_at is not None:
            logger.info("stock alert %s not sent: already sent or gone", stock_alert_id)
            return False
        recipients = settings.STAFF_ALERT_EMAILS or list(
            get_user_model()
            .objects.filter(STAFF_FLAGS, is_active=True)
            .order_by("pk")
            .values_list("email", flat=True)
        )
        if recipients:
            EmailMessage(
                subject=f"Low stock: {alert.product.name} ({alert.product.sku})",
                body=(
                    f"Order #{alert.order.number} left {alert.stock_quantity} units of "
                    f"{alert.product.name} ({alert.product.sku}); the threshold is "
                    f"{settings.STOCK_LOW_THRESHOLD}."
                ),
                to=recipients,
            ).send()
        else:
            logger.warning("stock alert %s has no recipient: set STAFF_ALERT_EMAILS", alert.pk)
        alert.sent_at = timezone.now()
        alert.save(update_fields=["sent_at"])
    logger.info(
        "order #%s low-stock alert for %s sent to %d recipients",
        alert.order.number,
        alert.product.sku,
        len(recipients),
    )
    return True
