"""Orders' live updates: ``orderStatusChanged`` (owner and staff) and ``orderEvents`` (staff).

Served over WebSockets (``backend.api.graphql.websocket``); events arrive through the Channels layer
(published by ``backend.api.graphql.orders.events``) and are read back from ``OrderEvent``,
the source of truth.

Guarantees of ``orderStatusChanged``:
- In order, exactly once: every message triggers one read of the order's events after the
  last one sent (``id > last``), so a message that arrives late or twice sends nothing new,
  and an event whose message was delayed behind a later one is still sent in id order.
- No gap at the ``since`` seam: the subscriber joins the order's group BEFORE it reads the
  replay, so an event committed in between is either in the replay or read on its message.
- Through a Redis restart: once the layer is back and has joined its groups again, a
  ``layer.resumed`` message (``NexusRedisChannelLayer``) makes each subscription read the
  events after the last one it sent, the same read as for any message; ``orderEvents`` does
  the same over every order (from the newest event when it subscribed), skipping a live
  message for an event its replay already sent.
- Traced (in a process that traces): each message handled is a span, child of the span that
  published it, around its read and the ``next`` frames it sends (``channel_delivery_span``).
- Each live event's latency, from its commit to its ``next`` frame sent, is observed in
  ``nexus_subscription_fanout_seconds`` (the generator resumes once the frame is sent).
- One SQL statement per message (events with their order, its customer and the actor), and
  per process, not per socket: the sockets of one process that handle the same message with
  the same progress share that read (``_read_shared``), so an event fanned out to N sockets
  costs one statement, not N.
"""

import asyncio
from collections.abc import AsyncGenerator, Callable, Hashable
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import strawberry
from channels.db import database_sync_to_async
from django.db.models import Max
from graphql import GraphQLError
from strawberry import Info, relay

from backend.api.graphql.ids import global_id_to_pk
from backend.api.graphql.orders.events import (
    ORDER_EVENT_MESSAGE_TYPE,
    STAFF_EVENT_MESSAGE_TYPE,
    STAFF_GROUP,
    order_group,
)
from backend.api.graphql.orders.types import OrderEventType, OrderStatus, OrderType
from backend.api.graphql.permissions import ViewerType, is_staff_user, viewer
from backend.api.graphql.tracing import channel_delivery_span
from backend.api.graphql.websocket import (
    CLOSE_FORBIDDEN,
    LAYER_RESUMED_MESSAGE_TYPE,
    WebSocketContext,
)
from backend.core.metrics import subscription_fanout_observe
from backend.orders import selectors
from backend.orders.models import OrderEvent

NOT_FOUND = "NOT_FOUND"


@strawberry.type(
    name="OrderStatusChange",
    description="One status change of an order, as pushed to subscribers.",
)
class OrderStatusChange:
    event: OrderEventType = strawberry.field(
        description="The audit-log entry of the change; its id is what `since` takes."
    )
    order: OrderType = strawberry.field(description="The order, as it is right after the change.")
    previous_status: OrderStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="The status before the change; null for the order's creation."
    )
    status: OrderStatus = strawberry.field(description="The status after the change.")  # type: ignore[valid-type]
    changed_at: datetime = strawberry.field(description="When the change was committed.")

    @classmethod
    def from_event(cls, event: OrderEvent) -> "OrderStatusChange":
        return cls(
            event=event,  # type: ignore[arg-type]
            order=event.order,  # type: ignore[arg-type]
            previous_status=None if event.from_status is None else OrderStatus(event.from_status),
            status=OrderStatus(event.to_status),
            changed_at=event.created_at,
        )


def _events_with_order() -> Any:
    return OrderEvent.objects.select_related("order__customer", "actor").order_by("id")


def _order_events_after(order_id: int, after_id: int) -> list[OrderEvent]:
    return list(_events_with_order().filter(order_id=order_id, id__gt=after_id))


def _event_get(event_id: int) -> OrderEvent | None:
    return _events_with_order().filter(pk=event_id).first()


def _events_after(after_id: int, statuses: frozenset[str]) -> list[OrderEvent]:
    """Every order's events after ``after_id``, into one of ``statuses`` (empty: any)."""
    events = _events_with_order().filter(id__gt=after_id)
    return list(events.filter(to_status__in=statuses) if statuses else events)


def _last_event_id() -> int:
    return OrderEvent.objects.aggregate(last=Max("id"))["last"] or 0


# Reads in flight in this process, by what their result depends on (see _read_shared).
_reads_in_flight: dict[Hashable, asyncio.Future[Any]] = {}


async def _read_shared[T](key: Hashable, read: Callable[[], T]) -> T:
    """``read()`` on the database thread, or the result of the read with the same ``key``
    already in flight.

    ``key`` names everything the result depends on, including the message being handled: a
    read started for message M began after M's event committed, so it answers every socket
    handling M; a socket handling a later message never joins it, and misses nothing.
    """
    pending = _reads_in_flight.get(key)
    if pending is None:
        pending = asyncio.ensure_future(database_sync_to_async(read)())
        _reads_in_flight[key] = pending
        pending.add_done_callback(lambda _: _reads_in_flight.pop(key, None))
    # A socket that goes away mid-read must not cancel the read the others wait for.
    return await asyncio.shield(pending)


def _order_last_event_id(user: ViewerType, order_id: int) -> int | None:
    """The id of the order's latest event if ``user`` may see the order, else None; one query.

    0 for an order without events (every placed order has its creation event).
    """
    row = (
        selectors.orders_visible_to(user)
        .filter(pk=order_id)
        .annotate(last_event_id=Max("events__id"))
        .values_list("last_event_id", flat=True)
    )
    found = list(row)
    return None if not found else found[0] or 0


async def _signed_in_subscriber(info: Info[WebSocketContext, None]) -> ViewerType:
    """The connection's user; an anonymous connection is closed with 4403 instead.

    After the close the operation waits to be cancelled by the disconnect that follows, so
    nothing more is sent on a socket that is going away.
    """
    user = viewer(info)
    if user.is_authenticated and user.is_active:
        return user
    ws = info.context.ws
    assert ws is not None, "subscriptions are served over WebSockets only"
    await ws.close(code=CLOSE_FORBIDDEN, reason="Sign in first: connection_init authorization")
    await asyncio.get_running_loop().create_future()  # cancelled on disconnect
    raise AssertionError("unreachable")  # pragma: no cover


def _resumed(message: dict[str, Any]) -> bool:
    """The channel layer is back after an outage (``NexusRedisChannelLayer``): the messages
    sent meanwhile are lost, and the events they announced are to be read from the database."""
    return bool(message["type"] == LAYER_RESUMED_MESSAGE_TYPE)


def _ids(message: dict[str, Any]) -> dict[str, int]:
    """The span attributes of an order event's message (none for a resumed layer's)."""
    if _resumed(message):
        return {}
    return {"nexus.order.id": message["order_id"], "nexus.order_event.id": message["event_id"]}


def _read_cause(message: dict[str, Any]) -> Hashable:
    """What started a read, in ``_read_shared``'s key: the event announced, or the recovery."""
    return ("recovery", message["recovery"]) if _resumed(message) else message["event_id"]


def _next_change(info: Info[WebSocketContext, None], event: OrderEvent) -> OrderStatusChange:
    # Connection-lived DataLoaders would serve the previous event's data: start fresh.
    info.context.loaders.clear()
    return OrderStatusChange.from_event(event)


@strawberry.type(description="Live updates, over WebSockets (graphql-transport-ws at /graphql/).")
class OrdersSubscription:
    @strawberry.subscription(
        description="Each status change of one order, in order, exactly once, from now on (or "
        "from `since`). Its customer and staff only: anyone else gets a NOT_FOUND error and "
        "no events; an anonymous connection is closed with 4403. Requires role: CUSTOMER."
    )
    async def order_status_changed(
        self,
        info: Info[WebSocketContext, None],
        order_id: Annotated[
            relay.GlobalID, strawberry.argument(description="The order to follow (an Order id).")
        ],
        since: Annotated[
            relay.GlobalID | None,
            strawberry.argument(
                description="The last OrderEvent id the client has seen: the changes after it "
                "are sent first, then live ones, with no duplicate and no gap (use it when "
                "reconnecting). Omitted: live changes only."
            ),
        ] = None,
    ) -> AsyncGenerator[OrderStatusChange, None]:
        user = await _signed_in_subscriber(info)
        order_pk = global_id_to_pk(order_id, type_name="Order", field="orderId")
        since_pk = (
            None if since is None else global_id_to_pk(since, type_name="OrderEvent", field="since")
        )
        ws = info.context.ws
        assert ws is not None
        # Listen first, read second: an event committed in between reaches us either way.
        async with ws.listen_to_channel(
            ORDER_EVENT_MESSAGE_TYPE, groups=[order_group(order_pk)]
        ) as messages:
            last_event_id = await database_sync_to_async(_order_last_event_id)(user, order_pk)
            if last_event_id is None:
                raise GraphQLError("Order not found.", extensions={"code": NOT_FOUND})
            if since_pk is not None:
                last_event_id = since_pk
                for event in await database_sync_to_async(_order_events_after)(order_pk, since_pk):
                    last_event_id = event.pk
                    yield _next_change(info, event)
            async for message in messages:
                # Every socket's messages share one queue per type: keep this order's only.
                if not _resumed(message) and (
                    message["order_id"] != order_pk or message["event_id"] <= last_event_id
                ):
                    continue
                with channel_delivery_span("orderStatusChanged next", message, _ids(message)):
                    events = await _read_shared(
                        ("order", order_pk, last_event_id, _read_cause(message)),
                        partial(_order_events_after, order_pk, last_event_id),
                    )
                    for event in events:
                        last_event_id = event.pk
                        yield _next_change(info, event)
                    if events:  # resumed after the handler sent the last one's `next` frame
                        subscription_fanout_observe(message.get("committed_at"))

    @strawberry.subscription(
        description="Every order's status changes as they happen: a live feed for staff "
        "dashboards. Requires role: STAFF (others get a FORBIDDEN error; an anonymous "
        "connection is closed with 4403)."
    )
    async def order_events(
        self,
        info: Info[WebSocketContext, None],
        status: Annotated[
            list[OrderStatus] | None,  # type: ignore[valid-type]
            strawberry.argument(
                description="Only changes INTO one of these statuses; omitted or empty: all."
            ),
        ] = None,
    ) -> AsyncGenerator[OrderStatusChange, None]:
        user = await _signed_in_subscriber(info)
        if not is_staff_user(user):
            raise GraphQLError(
                "You do not have permission to do this. Requires role: STAFF.",
                extensions={"code": "FORBIDDEN"},
            )
        wanted = frozenset(item.value for item in status or ())
        ws = info.context.ws
        assert ws is not None
        async with ws.listen_to_channel(STAFF_EVENT_MESSAGE_TYPE, groups=[STAFF_GROUP]) as feed:
            # Where a replay after a channel-layer outage starts, read once the group is joined:
            # the events committed before this subscription began are not its to send.
            last_event_id = await database_sync_to_async(_last_event_id)()
            replayed: set[int] = set()
            async for message in feed:
                if _resumed(message):
                    events = await _read_shared(
                        ("events", last_event_id, wanted, _read_cause(message)),
                        partial(_events_after, last_event_id, wanted),
                    )
                    replayed = {event.pk for event in events}
                    for event in events:
                        last_event_id = event.pk
                        yield _next_change(info, event)
                    continue
                event_id = message["event_id"]
                if wanted and message["to_status"] not in wanted:
                    continue  # filtered from the message: no query for unwanted events
                if event_id in replayed:
                    continue  # committed as the layer came back: sent by the replay
                with channel_delivery_span("orderEvents next", message, _ids(message)):
                    event = await _read_shared(("event", event_id), partial(_event_get, event_id))
                    if event is not None:
                        last_event_id = max(last_event_id, event_id)
                        yield _next_change(info, event)
                        subscription_fanout_observe(message.get("committed_at"))
