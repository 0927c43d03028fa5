"""Order events leave the domain through one signal, sent only after their transaction commits.

The orders domain knows nothing of the transports that listen: the API's WebSocket side
connects a receiver that publishes each event to subscribers
(``backend.api.graphql.orders.events``). ``OrderEvent`` rows stay the source of truth, so a
receiver that fails loses nothing a subscriber cannot replay with ``since``.
"""

import logging
from functools import partial

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent with keyword arguments event_id, order_id and to_status.
order_event_committed = Signal()


def _order_event_committed_send(*, event_id: int, order_id: int, to_status: str) -> None:
    for receiver, error in order_event_committed.send_robust(
        sender=None, event_id=event_id, order_id=order_id, to_status=str(to_status)
    ):
        if isinstance(error, Exception):
            logger.error("order event %s receiver %r failed", event_id, receiver, exc_info=error)


def order_event_publish_on_commit(*, event_id: int, order_id: int, to_status: str) -> None:
    """Send ``order_event_committed`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(
        partial(
            _order_event_committed_send, event_id=event_id, order_id=order_id, to_status=to_status
        )
    )
