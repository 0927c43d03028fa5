"""Order reads: which orders a viewer may see, filtered and ordered.

GraphQL (over HTTP and the WebSocket subscriptions), REST and the order services' own access
checks call these, so a customer sees exactly the same orders on every transport
(docs/decisions/0019-one-read-semantics.md).
"""

from collections.abc import Collection
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from backend.accounts.policies import ViewerType, is_staff_user
from backend.orders.models import Order, OrderStatus

# Newest first, the id breaking ties: every orders list (orders_order_customer_idx).
ORDERS_NEWEST_FIRST = ("-created_at", "-id")


def orders_visible_to(viewer: ViewerType) -> QuerySet[Order]:
    """Staff see every order, a signed-in customer only their own, anonymous nobody's."""
    if is_staff_user(viewer):
        return Order.objects.all()
    if not viewer.is_authenticated or not viewer.is_active:
        return Order.objects.none()
    return Order.objects.filter(customer_id=viewer.pk)


def orders_with_status(
    *, orders: QuerySet[Order], statuses: Collection[OrderStatus]
) -> QuerySet[Order]:
    """The ``orders`` in any of ``statuses``; no statuses: all of them, unfiltered.

    Served by orders_order_status_idx.
    """
    return orders.filter(status__in=statuses) if statuses else orders


def order_list(
    *,
    viewer: ViewerType,
    orders: QuerySet[Order] | None = None,
    statuses: Collection[OrderStatus] = (),
    customer_id: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Order]:
    """The ``orders`` (all by default) matching every given filter, unordered (the caller
    orders by ``ORDERS_NEWEST_FIRST`` and applies ``orders_visible_to``: GraphQL does it
    through the type, for ``node`` too).

    ``customer_id`` is a staff-only filter: anyone else gets ``PermissionDenied`` rather than
    an empty list, so a client learns its filter was not applied.
    """
    if customer_id is not None and not is_staff_user(viewer):
        raise PermissionDenied("Only staff can filter orders by customer.")
    orders = orders_with_status(
        orders=Order.objects.all() if orders is None else orders, statuses=statuses
    )
    if customer_id is not None:
        orders = orders.filter(customer_id=customer_id)
    if created_after is not None:
        orders = orders.filter(created_at__gte=created_after)
    if created_before is not None:
        orders = orders.filter(created_at__lte=created_before)
    return orders
