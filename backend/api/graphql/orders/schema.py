"""Orders' root fields (``OrdersQuery``, ``OrdersMutation``), merged in ``backend/api/schema.py``.

Each mutation is one call to a service in ``services.py`` (which owns the transaction and the
object-level rules) through ``mutation_payload``. Business failures come back in the payload's
``errors``; "not signed in" (``UNAUTHENTICATED``) and "not allowed" (``FORBIDDEN``) are
top-level errors with a stable ``extensions.code``, and the service is not called.
"""

from collections.abc import Callable
from typing import Annotated

import strawberry
import strawberry_django
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from strawberry import Info, relay

from backend.accounts.roles import Role
from backend.api.graphql.catalog.types import DateTimeRange
from backend.api.graphql.errors import ForbiddenError
from backend.api.graphql.ids import global_id_to_pk
from backend.api.graphql.orders.types import (
    OrderConnection,
    OrderPayload,
    OrderStatus,
    OrderType,
)
from backend.api.graphql.pagination import keyset_connection, optimize_connection
from backend.api.graphql.payloads import result_payload
from backend.api.graphql.permissions import (
    UnauthenticatedError,
    requires,
    signed_in_viewer,
    viewer,
)
from backend.orders import selectors, services
from backend.orders.models import Order
from backend.orders.models import OrderStatus as OrderStatusChoice


@strawberry.input(description="Order filters; all given conditions must hold.")
class OrderFilter:
    status: OrderStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only orders in this status."
    )
    customer: relay.GlobalID | None = strawberry.field(
        default=None, description="Staff only: only the orders of this customer (a User id)."
    )
    created_at: DateTimeRange | None = strawberry.field(
        default=None, description="When the order was placed."
    )


@strawberry.input(description="One line of a new order.")
class OrderLineInput:
    product_id: relay.GlobalID = strawberry.field(description="The product (a Product id).")
    quantity: int = strawberry.field(
        description="Units to buy, 1..ORDER_MAX_QUANTITY_PER_LINE (1000 by default)."
    )


@strawberry.input(description="A new order.")
class OrderCreateInput:
    lines: list[OrderLineInput] = strawberry.field(
        description="What to buy: 1..ORDER_MAX_LINES lines (50 by default), each product once."
    )
    idempotency_key: str = strawberry.field(
        description="A client-chosen key (1..255 characters), unique per order attempt: "
        "resending the same key with the same lines returns the order already placed; the same "
        "key with different lines is refused with IDEMPOTENCY_KEY_REUSED."
    )


OrderIdArgument = Annotated[relay.GlobalID, strawberry.argument(description="The order's id.")]


def _refuse_rejected_token(info: Info) -> None:
    """Like ``me``: no token means "nobody" (empty answers); a refused token is an error, so
    clients know to refresh instead of showing an empty order history."""
    if getattr(info.context.request, "auth_error", None) is not None:
        raise UnauthenticatedError(info.context.request)


def _orders_filtered(info: Info, filter: OrderFilter) -> QuerySet[Order]:
    """The filter as the orders selector's arguments; visibility itself is
    ``OrderType.get_queryset``."""
    created = filter.created_at or DateTimeRange()
    try:
        return selectors.order_list(
            viewer=viewer(info),
            statuses=() if filter.status is None else [OrderStatusChoice(filter.status.value)],
            customer_id=None
            if filter.customer is None
            else global_id_to_pk(filter.customer, type_name="User", field="filter.customer"),
            created_after=created.gte,
            created_before=created.lte,
        )
    except PermissionDenied as error:
        raise ForbiddenError(str(error)) from None


@strawberry.type(description="Reads of orders: the viewer's own, or every order for staff.")
class OrdersQuery:
    @keyset_connection(
        OrderConnection,
        description="Orders, newest first (the id breaks ties). Customers see their own, staff "
        "every order; empty without a token, UNAUTHENTICATED with a refused one.",
    )
    def orders(
        self,
        info: Info,
        filter: Annotated[
            OrderFilter | None, strawberry.argument(description="Which orders to list.")
        ] = None,
    ) -> QuerySet[Order]:
        _refuse_rejected_token(info)
        return optimize_connection(_orders_filtered(info, filter or OrderFilter()), info)

    @strawberry_django.field(
        description="One order by id; null if it does not exist or is not the viewer's "
        "(staff see every order)."
    )
    def order(self, info: Info, id: OrderIdArgument) -> OrderType | None:
        _refuse_rejected_token(info)
        return Order.objects.filter(  # type: ignore[return-value]
            pk=global_id_to_pk(id, type_name="Order", field="id")
        )


def _order_action(service: Callable[..., Order], info: Info, id: relay.GlobalID) -> OrderPayload:
    """One status change of the order ``id`` by the viewer, as ``service`` rules it."""
    actor = signed_in_viewer(info)
    order_id = global_id_to_pk(id, type_name="Order", field="id")
    return result_payload(OrderPayload, "order", lambda: service(order_id=order_id, actor=actor))


@strawberry.type(description="Order changes: placing an order and moving it through its process.")
class OrdersMutation:
    @strawberry_django.mutation(
        **requires(
            Role.CUSTOMER,
            description="Place an order: checks every product is published and in stock, takes "
            "the stock and snapshots names, SKUs and prices, all in one transaction; the order "
            "starts PENDING. Nothing changes on failure. A customer may hold only so many "
            "unpaid orders and units of one product (TOO_MANY_PENDING_ORDERS, "
            "UNPAID_UNITS_LIMIT).",
        )
    )
    def order_create(
        self,
        info: Info,
        input: Annotated[OrderCreateInput, strawberry.argument(description="The order to place.")],
    ) -> OrderPayload:
        lines = [
            services.OrderLine(
                product_id=global_id_to_pk(
                    line.product_id, type_name="Product", field=f"lines.{index}.productId"
                ),
                quantity=line.quantity,
            )
            for index, line in enumerate(input.lines)
        ]
        customer = signed_in_viewer(info)
        return result_payload(
            OrderPayload,
            "order",
            lambda: services.order_place(
                customer=customer, lines=lines, idempotency_key=input.idempotency_key
            ),
        )

    @strawberry_django.mutation(
        **requires(
            Role.CUSTOMER,
            description="Cancel an order and return its stock: its customer or staff, while it "
            "is PENDING or PAID.",
        )
    )
    def order_cancel(self, info: Info, id: OrderIdArgument) -> OrderPayload:
        return _order_action(services.order_cancel, info, id)

    @strawberry_django.mutation(
        **requires(
            Role.CUSTOMER,
            description="Start paying a PENDING order (its customer only). Payment runs in the "
            "background: the order is returned still PENDING and becomes PAID when the charge "
            "succeeds (follow it with the order or its events).",
        )
    )
    def order_pay(self, info: Info, id: OrderIdArgument) -> OrderPayload:
        return _order_action(services.order_pay, info, id)

    @strawberry_django.mutation(**requires(Role.STAFF, description="Mark a PAID order SHIPPED."))
    def order_ship(self, info: Info, id: OrderIdArgument) -> OrderPayload:
        return _order_action(services.order_ship, info, id)

    @strawberry_django.mutation(
        **requires(Role.STAFF, description="Mark a SHIPPED order DELIVERED.")
    )
    def order_deliver(self, info: Info, id: OrderIdArgument) -> OrderPayload:
        return _order_action(services.order_deliver, info, id)
