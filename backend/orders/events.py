"""Publishing order status changes to WebSocket subscribers through the Channels layer.

Guarantees:
- ``order_event_publish_on_commit`` sends nothing unless the transition's transaction commits,
  and a channel-layer outage after commit is logged, never raised: the status change is saved
  and ``OrderEvent`` stays the source of truth (subscribers catch up with ``since``).
- A message carries ids only (``event_id``, ``order_id``, ``to_status``); subscribers read the
  event and its order from the database, so nothing stale or private travels through Redis.
- Every event goes to the order's group ``order.<id>`` and to the staff group that feeds
  ``orderEvents``.

The layer is ``channels_redis`` when ``REDIS_URL`` is set (Daphne and Celery workers are then
separate processes sharing it) and the in-memory layer otherwise, which only reaches
subscribers in the same process: the embedded single-process default.
"""

import logging
from functools import partial
from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Channels message types: Strawberry's consumer routes each to the ``listen_to_channel`` queues
# of that type. Two types, so a socket in both an order's group and the staff group does not
# feed one subscription the other's copy of the same event.
ORDER_EVENT_MESSAGE_TYPE = "order.event"
STAFF_EVENT_MESSAGE_TYPE = "order.staff_event"
STAFF_GROUP = "orders.staff"


class OrderEventMessage(TypedDict):
    type: str
    event_id: int
    order_id: int
    to_status: str


def order_group(order_id: int) -> str:
    """The Channels group of one order's subscribers."""
    return f"order.{order_id}"


def order_event_publish(*, event_id: int, order_id: int, to_status: str) -> None:
    """Send one event to the order's group and the staff group; logs (never raises) failures."""
    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS configured: nobody can be listening
        return

    async def send_to_groups() -> None:
        for group, message_type in (
            (order_group(order_id), ORDER_EVENT_MESSAGE_TYPE),
            (STAFF_GROUP, STAFF_EVENT_MESSAGE_TYPE),
        ):
            message: OrderEventMessage = {
                "type": message_type,
                "event_id": event_id,
                "order_id": order_id,
                "to_status": str(to_status),
            }
            await layer.group_send(group, dict(message))

    try:
        # Both sends in one call: outside Daphne (a Celery worker, a management command) each
        # async_to_sync call runs a new event loop, and channels_redis opens a connection per
        # loop.
        async_to_sync(send_to_groups)()
    except Exception:  # the order is committed; a lost push is recovered by `since` replay
        logger.exception("publishing order event %s failed", event_id)


def order_event_publish_on_commit(*, event_id: int, order_id: int, to_status: str) -> None:
    """Publish once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        partial(order_event_publish, event_id=event_id, order_id=order_id, to_status=to_status)
    )
