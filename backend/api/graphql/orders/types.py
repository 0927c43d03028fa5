"""GraphQL types of orders: ``Order``, ``OrderItem``, ``OrderEvent``, their enums and errors.

Visibility: ``OrderType.get_queryset`` applies ``selectors.orders_visible_to``, so ``order``,
``orders``, ``node`` and ``nodes`` all answer "not found" for another customer's order.

Batching: columns and relations come through the strawberry-django optimizer (each computed
field states what it reads); ``items`` is one prefetch for the whole page and ``events`` one
window-function statement for every order on the page (plus one GROUP BY for ``totalCount``
when selected), so a page of orders costs the same number of statements whatever its size.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry
import strawberry_django
from django.db.models import Count, QuerySet
from strawberry import Info
from strawberry.extensions import FieldExtension

from backend.api.graphql.accounts.types import UserType
from backend.api.graphql.catalog.types import ProductType
from backend.api.graphql.enums import graphql_enum
from backend.api.graphql.fields import row_field
from backend.api.graphql.ids import ModelNode
from backend.api.graphql.money import Money
from backend.api.graphql.pagination import (
    AfterArgument,
    BeforeArgument,
    FirstArgument,
    KeysetConnection,
    KeysetOrder,
    LastArgument,
    SortKey,
    nested_connection_load,
)
from backend.api.graphql.payloads import errors_field
from backend.api.graphql.permissions import viewer
from backend.orders import selectors, services
from backend.orders.errors import OrderErrorCode
from backend.orders.models import Order, OrderEvent, OrderItem
from backend.orders.models import OrderStatus as OrderStatusChoice
from backend.orders.policies import actor_visible_to

# The model's choices themselves, so the GraphQL enum cannot drift from the database values.
OrderStatus = graphql_enum(
    OrderStatusChoice,
    name="OrderStatus",
    description="Where an order is in its process. PENDING -> PAID | CANCELLED | EXPIRED; "
    "PAID -> SHIPPED | CANCELLED; SHIPPED -> DELIVERED.",
    values={
        OrderStatusChoice.PENDING: "Placed, stock reserved, awaiting payment; expires if unpaid.",
        OrderStatusChoice.PAID: "Paid; awaiting shipment.",
        OrderStatusChoice.SHIPPED: "Handed to the carrier.",
        OrderStatusChoice.DELIVERED: "Delivered to the customer (final).",
        OrderStatusChoice.CANCELLED: "Cancelled by the customer or staff; stock returned (final).",
        OrderStatusChoice.EXPIRED: "Not paid in time; stock returned (final).",
    },
)

graphql_enum(
    OrderErrorCode,
    name="OrderErrorCode",
    description="Why an order mutation was refused.",
    values={
        OrderErrorCode.EMPTY_ORDER: "The order has no lines.",
        OrderErrorCode.QUANTITY_INVALID: "A quantity is below 1 or above the per-line maximum.",
        OrderErrorCode.DUPLICATE_PRODUCT: "A product appears on two lines; add the quantities.",
        OrderErrorCode.TOO_MANY_ITEMS: "More lines than an order may have (ORDER_MAX_LINES).",
        OrderErrorCode.PRODUCT_UNAVAILABLE: "A product does not exist or is not published.",
        OrderErrorCode.INSUFFICIENT_STOCK: "Not enough units in stock; `availableQuantity` says "
        "how many to staff (null for customers, who are not told stock levels).",
        OrderErrorCode.TOO_MANY_PENDING_ORDERS: "The customer already has as many unpaid (PENDING) "
        "orders as allowed (ORDER_MAX_PENDING_PER_CUSTOMER); pay or cancel one first.",
        OrderErrorCode.UNPAID_UNITS_LIMIT: "A line would take the units of its product held in "
        "the customer's unpaid orders above ORDER_MAX_UNPAID_UNITS_PER_PRODUCT.",
        OrderErrorCode.AMOUNT_TOO_LARGE: "The order total exceeds the largest storable amount.",
        OrderErrorCode.IDEMPOTENCY_KEY_INVALID: "The idempotency key is empty or too long.",
        OrderErrorCode.IDEMPOTENCY_KEY_REUSED: "The idempotency key was used for a different "
        "order.",
        OrderErrorCode.ORDER_TRANSITION_INVALID: "The order's status does not allow this change; "
        "`from` and `to` name the refused move.",
        OrderErrorCode.NOT_FOUND: "No order with this id is visible to the viewer.",
        OrderErrorCode.PERMISSION_DENIED: "Never in a payload: the API reports this as a "
        "top-level FORBIDDEN error.",
    },
)

EVENT_ORDER = KeysetOrder(name="OrderEvent:ID:ASC", keys=(SortKey("id", int),), descending=False)
ORDER_ORDER = KeysetOrder(
    name="Order:CREATED_AT:DESC",
    keys=(SortKey("created_at", datetime), SortKey("id", int)),
    descending=True,
)


def _status(value: str | None) -> Any:
    return None if value is None else OrderStatus(value)


class OrderPartNode(ModelNode):
    """A node of a row that belongs to one order (an item, an event): visible exactly when its
    order is (``node(id)`` included)."""

    @classmethod
    def get_queryset(
        cls, queryset: QuerySet[OrderItem | OrderEvent], info: Info, **kwargs: Any
    ) -> QuerySet:
        return queryset.filter(order__in=selectors.orders_visible_to(viewer(info)))


@strawberry_django.type(
    OrderItem,
    name="OrderItem",
    description="One line of an order: what was bought, as it was at purchase time.",
)
class OrderItemType(OrderPartNode):
    product_name: strawberry.auto = strawberry_django.field(
        description="The product's name when the order was placed."
    )
    product_sku: strawberry.auto = strawberry_django.field(
        description="The product's SKU when the order was placed."
    )
    quantity: strawberry.auto = strawberry_django.field(description="Units ordered.")
    product: ProductType | None = strawberry_django.field(
        description="The product now; null if it was deleted or is no longer visible to the "
        "viewer. The snapshot fields stay correct either way."
    )

    @strawberry_django.field(
        only=["unit_price", "order__currency"],
        select_related=["order"],
        description="Price of one unit at purchase time, in the order's currency.",
    )
    def unit_price(self, root: OrderItem) -> Money:
        return Money(amount=root.unit_price, currency=root.order.currency)

    @strawberry_django.field(
        only=["line_total", "order__currency"],
        select_related=["order"],
        description="Unit price times quantity, in the order's currency.",
    )
    def line_total(self, root: OrderItem) -> Money:
        return Money(amount=root.line_total, currency=root.order.currency)


class ActorVisibility(FieldExtension):
    """``OrderEvent.actor`` is null unless ``policies.actor_visible_to`` lets the viewer see
    that user. Checked per viewer on the event itself, not only by the prefetch's queryset:
    a subscription reads an event once for every socket following the order (customer and
    staff alike) with its actor joined, so this is the one place the rule can apply to all."""

    def resolve(
        self, next_: Callable[..., Any], source: OrderEvent, info: Info, **kwargs: Any
    ) -> Any:
        if not actor_visible_to(viewer(info), source.actor_id):
            return None  # not even loaded
        return next_(source, info, **kwargs)


@strawberry_django.type(
    OrderEvent,
    name="OrderEvent",
    description="One status change of an order, in the order's audit log.",
)
class OrderEventType(OrderPartNode):
    note: strawberry.auto = strawberry_django.field(
        description="Why it happened, when recorded (for example the payment reference)."
    )
    created_at: strawberry.auto = strawberry_django.field(description="When it happened.")
    actor: UserType | None = strawberry_django.field(
        description="Who made the change; null for the system (payment, expiry) or when the "
        "viewer may not see that user (customers see only themselves).",
        extensions=[ActorVisibility()],
    )

    @row_field(
        only=["from_status"], description="The status before; null for the order's creation."
    )
    def from_status(self, root: OrderEvent) -> OrderStatus | None:  # type: ignore[valid-type]
        return _status(root.from_status)

    @row_field(only=["to_status"], description="The status after.")
    def to_status(self, root: OrderEvent) -> OrderStatus:  # type: ignore[valid-type]
        return _status(root.to_status)


@strawberry.type(name="OrderEventConnection", description="A page of order events, oldest first.")
class OrderEventConnection(KeysetConnection[OrderEventType]):
    fixed_order = EVENT_ORDER


@strawberry_django.type(
    Order,
    name="Order",
    description="A customer's order. Visible only to its customer and to staff.",
)
class OrderType(ModelNode):
    number: strawberry.auto = strawberry_django.field(
        description="The public order number (unique, increasing, not the id)."
    )
    email: strawberry.auto = strawberry_django.field(
        description="Where order emails go (the customer's email when the order was placed)."
    )
    currency: strawberry.auto = strawberry_django.field(
        description="ISO 4217 currency code of every amount of the order."
    )
    created_at: strawberry.auto = strawberry_django.field(description="When it was placed.")
    updated_at: strawberry.auto = strawberry_django.field(description="When it last changed.")
    customer: UserType = strawberry_django.field(description="Who placed it.")
    # A list, not a connection: order_place refuses more than ORDER_MAX_LINES lines (50 by
    # default), so the list is bounded at write time, and every storefront shows all lines.
    items: list[OrderItemType] = strawberry_django.field(
        description="The order's lines in the order the customer gave them; at most "
        "ORDER_MAX_LINES (50 by default), so not paginated."
    )

    @row_field(only=["status"], description="The current status.")
    def status(self, root: Order) -> OrderStatus:  # type: ignore[valid-type]
        return _status(root.status)

    @row_field(only=["subtotal", "currency"], description="Sum of the line totals.")
    def subtotal(self, root: Order) -> Money:
        return Money(amount=root.subtotal, currency=root.currency)

    @row_field(only=["total", "currency"], description="The amount to pay.")
    def total(self, root: Order) -> Money:
        return Money(amount=root.total, currency=root.currency)

    @row_field(
        only=["status"],
        description="The statuses this order may move to next (at most three), from the order "
        "process; empty once it is DELIVERED, CANCELLED or EXPIRED.",
    )
    def next_statuses(self, root: Order) -> list[OrderStatus]:  # type: ignore[valid-type]
        return [_status(status) for status in services.order_next_statuses(root)]

    @strawberry_django.field(only=["id"], description="The status changes, oldest first.")
    async def events(
        self,
        root: Order,
        info: Info,
        first: FirstArgument = None,
        after: AfterArgument = None,
        last: LastArgument = None,
        before: BeforeArgument = None,
    ) -> OrderEventConnection:
        return await nested_connection_load(
            info,
            parent_pk=root.pk,
            connection=OrderEventConnection,
            queryset=OrderEvent.objects.all(),  # the parent order is already visible
            parent_field="order_id",
            counts=_event_counts,
            loader_name="order_events",
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Order], info: Info, **kwargs: Any) -> QuerySet:
        """The one visibility rule for ``order``, ``orders``, ``node`` and ``nodes``: staff see
        every order, a customer their own, anonymous none. Another customer's order is simply
        not found, never "forbidden": its existence is not theirs to learn."""
        # ``&`` merges the rule's WHERE into this queryset (no subquery), so the customer's
        # list can walk orders_order_customer_idx in keyset order.
        return queryset & selectors.orders_visible_to(viewer(info))


def _event_counts(order_ids: list[int]) -> dict[int, int]:
    rows = (
        OrderEvent.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(count=Count("id"))
        .values_list("order_id", "count")
    )
    return dict(rows)


@strawberry.type(name="OrderConnection", description="A page of orders, newest first.")
class OrderConnection(KeysetConnection[OrderType]):
    fixed_order = ORDER_ORDER


@strawberry.type(name="OrderError", description="A business failure of an order mutation.")
class OrderErrorType:
    field: str | None = strawberry.field(
        description="The input path at fault, e.g. `lines.2.quantity`; null when the request "
        "as a whole was refused."
    )
    message: str = strawberry.field(description="Human-readable explanation, in English.")
    code: OrderErrorCode = strawberry.field(description="Machine-readable reason.")

    @strawberry.field(
        description="Units in stock; set with INSUFFICIENT_STOCK, and only for staff.",
        deprecation_reason="Use `availableQuantity`, the name CatalogError uses too.",
    )
    def available(self) -> int | None:
        return self.available_quantity

    from_status: OrderStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        name="from",
        description="The order's status; set with ORDER_TRANSITION_INVALID only.",
    )
    to_status: OrderStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        name="to",
        description="The refused target status; set with ORDER_TRANSITION_INVALID only.",
    )
    available_quantity: int | None = strawberry.field(
        default=None, description="Units in stock; set with INSUFFICIENT_STOCK, and only for staff."
    )


@strawberry.type(description="Result of an order mutation.")
class OrderPayload:
    order: OrderType | None = strawberry.field(
        default=None, description="The order after the change; null on failure."
    )
    errors: list[OrderErrorType] = errors_field(
        "Business failures; empty on success (at most one)."
    )
