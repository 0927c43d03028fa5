"""Orders, their lines and their audit log. Transitions live in ``services.py``."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Func, Q, Value

ORDER_NUMBER_SEQUENCE = "orders_order_number_seq"


class OrderStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PAID = "PAID", "Paid"
    SHIPPED = "SHIPPED", "Shipped"
    DELIVERED = "DELIVERED", "Delivered"
    CANCELLED = "CANCELLED", "Cancelled"
    EXPIRED = "EXPIRED", "Expired"


MONEY = {"max_digits": 12, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0.00"))]}


class Order(models.Model):
    # Public, human-facing number from a PostgreSQL sequence: gap-tolerant, never reused,
    # and not the primary key, so it reveals nothing about the internal id space.
    number = models.BigIntegerField(
        unique=True,
        editable=False,
        db_default=Func(Value(ORDER_NUMBER_SEQUENCE), function="nextval"),
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,  # order history outlives account changes
        related_name="orders",
        db_index=False,  # covered by orders_order_customer_idx
    )
    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=16, choices=OrderStatus, default=OrderStatus.PENDING)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    idempotency_key = models.CharField(max_length=255)
    # sha256 of the normalised lines: a replay with the same key must carry the same request.
    request_fingerprint = models.CharField(max_length=64)
    # Set once the confirmation email went out, so a redelivered task does not send it twice.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"], name="orders_order_idempotency_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="orders_order_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(total__gte=0),
                name="orders_order_amounts_not_negative",
            ),
        ]
        indexes = [
            # Serves a customer's order history, newest first, keyset by id.
            models.Index(
                fields=["customer", "-created_at", "-id"], name="orders_order_customer_idx"
            ),
            # Serves the staff list filtered by status, newest first.
            models.Index(fields=["status", "-created_at", "-id"], name="orders_order_status_idx"),
            # Serves the expiry job: PENDING orders older than the cut-off, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(status=OrderStatus.PENDING),
                name="orders_order_pending_idx",
            ),
            # Serves order_place's count of the customer's unpaid orders: a few entries per
            # customer, however long their history.
            models.Index(
                fields=["customer"],
                condition=Q(status=OrderStatus.PENDING),
                name="orders_order_unpaid_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.number}"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items", db_index=False)
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.SET_NULL,  # deleting a product never breaks order history
        null=True,
        blank=True,
        related_name="order_items",
    )
    # Snapshot at purchase: later catalog edits do not rewrite what the customer bought.
    product_name = models.CharField(max_length=200)
    product_sku = models.CharField("SKU", max_length=64)
    unit_price = models.DecimalField(**MONEY)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Also serves the items of an order (order_id is its leading column).
            models.UniqueConstraint(
                fields=["order", "product"], name="orders_orderitem_product_unique"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="orders_orderitem_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(line_total=F("unit_price") * F("quantity")),
                name="orders_orderitem_line_total_exact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_sku}"


class OrderEvent(models.Model):
    """One status change of an order: the audit log and the replay source for subscriptions."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    from_status = models.CharField(  # noqa: DJ001  NULL means "no previous status" (creation)
        max_length=16, choices=OrderStatus, null=True, blank=True
    )
    to_status = models.CharField(max_length=16, choices=OrderStatus)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # Serves an order's events in order, and replay of the events after a given id.
            models.Index(fields=["order", "id"], name="orders_orderevent_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} -> {self.to_status}"


class PaymentOutcome(models.TextChoices):
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    DECLINED = "DECLINED", "Declined"
    FAILED = "FAILED", "Failed (gateway error, retried)"


class PaymentAttempt(models.Model):
    """One call to the payment gateway for an order, whatever its outcome."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="payment_attempts", db_index=False
    )
    outcome = models.CharField(max_length=16, choices=PaymentOutcome)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    gateway_reference = models.CharField(max_length=128, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=PaymentOutcome.values),
                name="orders_payattempt_outcome_ok",
            ),
        ]
        indexes = [
            # Serves an order's payment attempts in order.
            models.Index(fields=["order", "id"], name="orders_payattempt_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.outcome}"


class StockAlert(models.Model):
    """The order that took a product's stock below the low-stock threshold.

    Written in the order's own transaction, so the alert cannot be lost between commit and
    dispatch, and ``sent_at`` makes the email task idempotent.
    """

    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False)
    stock_quantity = models.IntegerField(help_text="Stock left right after the order.")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Also serves the alerts of an order (order_id is its leading column).
            models.UniqueConstraint(fields=["order", "product"], name="orders_stockalert_unique"),
        ]
        indexes = [
            # Serves a product's alert history, newest first.
            models.Index(fields=["product", "-id"], name="orders_stockalert_product_idx"),
        ]

    def __str__(self) -> str:
        return f"Stock alert: product {self.product_id} at {self.stock_quantity}"
