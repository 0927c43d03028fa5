"""Publishing order status changes to WebSocket subscribers through the Channels layer.

Guarantees:
- The orders domain sends ``order_event_committed`` only once the transition's transaction
  commits (``backend.orders.events``); this module's receiver, connected when the API app is
  ready (so in web, ws and worker processes alike), publishes it. A channel-layer outage is
  logged, never raised: the status change is saved and ``OrderEvent`` stays the source of
  truth (subscribers catch up with ``since``).
- A message carries ids only (``event_id``, ``order_id``, ``to_status``), and ``committed_at``
  (epoch seconds, stamped by the publisher, which runs right after the commit) for the fan-out
  latency metric; subscribers read the event and its order from the database, so nothing
  stale or private travels through Redis.
- Every event goes to the order's group ``order.<id>`` and to the staff group that feeds
  ``orderEvents``.
- In a process that traces, the publish is a span (``send order.event``) whose W3C trace
  context each message carries (``backend.api.graphql.tracing``): the subscriber's span around
  the ``next`` frame it sends is its child.

The layer is ``channels_redis`` when ``REDIS_URL`` is set (Daphne and Celery workers are then
separate processes sharing it) and the in-memory layer otherwise, which only reaches
subscribers in the same process: the embedded single-process default.
"""

import logging
import time
from typing import Any, NotRequired, TypedDict

from asgiref.sync import async_to_sync
from celery.signals import worker_process_init
from channels.layers import get_channel_layer

from backend.api.graphql.tracing import channel_publish_span

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
    committed_at: float
    trace_context: NotRequired[dict[str, str]]  # only from a process that traces


def order_group(order_id: int) -> str:
    """The Channels group of one order's subscribers."""
    return f"order.{order_id}"


def order_event_publish(*, event_id: int, order_id: int, to_status: str) -> None:
    """Send one event to the order's group and the staff group; logs (never raises) failures.

    Called right after the event's commit: the time now is its ``committed_at``."""
    committed_at = time.time()
    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS configured: nobody can be listening
        return

    async def send_to_groups(trace_context: dict[str, str]) -> None:
        for group, message_type in (
            (order_group(order_id), ORDER_EVENT_MESSAGE_TYPE),
            (STAFF_GROUP, STAFF_EVENT_MESSAGE_TYPE),
        ):
            message: OrderEventMessage = {
                "type": message_type,
                "event_id": event_id,
                "order_id": order_id,
                "to_status": str(to_status),
                "committed_at": committed_at,
            }
            if trace_context:
                message["trace_context"] = trace_context
            await layer.group_send(group, dict(message))

    attributes = {"nexus.order.id": order_id, "nexus.order_event.id": event_id}
    try:
        with channel_publish_span(ORDER_EVENT_MESSAGE_TYPE, attributes) as trace_context:
            # Both sends in one call: outside Daphne (a Celery worker, a management command)
            # each async_to_sync call runs a new event loop, and channels_redis opens a
            # connection per loop.
            async_to_sync(send_to_groups)(trace_context)
    except Exception:  # the order is committed; a lost push is recovered by `since` replay
        logger.exception("publishing order event %s failed", event_id)


def order_event_committed_publish(
    sender: Any, *, event_id: int, order_id: int, to_status: str, **kwargs: Any
) -> None:
    """The ``order_event_committed`` receiver (sent once the transaction committed): publish the
    event to its groups."""
    order_event_publish(event_id=event_id, order_id=order_id, to_status=to_status)


@worker_process_init.connect
def channel_layer_warm(**kwargs: object) -> None:
    """Resolve the channel layer in each process that runs tasks, before its first task.

    Workers publish order events (payment, expiry). Resolving the layer imports channels_redis
    and redis.asyncio and builds the layer, which would otherwise delay the first event a
    worker publishes. Each process builds its own layer (after the fork), so no two share one
    channels_redis client prefix.
    """
    layer = get_channel_layer()
    logger.info("channel layer ready: %s", type(layer).__name__)
