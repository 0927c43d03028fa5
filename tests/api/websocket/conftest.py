"""Subscription test helpers: an in-process channel layer, signing key, users, orders, sockets.

Unit tests run the real ASGI consumer in-process (Channels' test communicator) on the
in-memory channel layer and the local-memory cache, whatever REDIS_URL says; the end-to-end
test (test_end_to_end.py) runs Daphne, Redis, RabbitMQ and a Celery worker for real.
"""

from collections.abc import Callable
from typing import Any

import pytest
from strawberry.channels.testing import GraphQLWebsocketCommunicator
from strawberry.relay import to_base64

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create
from backend.orders.models import Order, OrderEvent, OrderStatus
from tests.factories import order_create, product_create, user_create

SUBSCRIBE_STATUS = """
subscription Follow($orderId: ID!, $since: ID) {
  orderStatusChanged(orderId: $orderId, since: $since) {
    previousStatus
    status
    changedAt
    event { id toStatus }
    order { id number status }
  }
}
"""


@pytest.fixture(autouse=True)
def _in_process_layer_and_cache(in_process_layer_and_cache: None) -> None:
    """Every subscription unit test runs on the in-memory layer and cache."""


def order_global_id(order: Order) -> str:
    return to_base64("Order", order.pk)


def event_global_id(event: OrderEvent) -> str:
    return to_base64("OrderEvent", event.pk)


def bearer(user: User, **kwargs: Any) -> dict[str, str]:
    """A connection_init payload authenticating ``user``."""
    return {"authorization": f"Bearer {access_token_create(user, **kwargs)}"}


@pytest.fixture
def customer() -> User:
    return user_create()


@pytest.fixture
def staff() -> User:
    return user_create(is_staff=True)


@pytest.fixture
def pending_order(customer: User) -> Order:
    """A PENDING order with its creation event, as ``order_place`` leaves it."""
    order = order_create(customer=customer, products=[(product_create(), 1)])
    OrderEvent.objects.create(order=order, from_status=None, to_status=OrderStatus.PENDING)
    return order


@pytest.fixture
def asgi_app() -> Callable[[], Any]:
    """Builds the real ASGI application (after any settings the test changed)."""

    def build() -> Any:
        from channels.routing import URLRouter
        from django.urls import path

        from backend.api.graphql.websocket import graphql_websocket_app
        from backend.api.schema import schema

        return URLRouter([path("graphql/", graphql_websocket_app(schema))])

    return build


@pytest.fixture
def socket(asgi_app: Callable[[], Any]) -> Callable[..., GraphQLWebsocketCommunicator]:
    """A graphql-transport-ws client for the app; ``connection_params`` go in connection_init."""

    def open_socket(
        connection_params: dict[str, Any] | None = None, **kwargs: Any
    ) -> GraphQLWebsocketCommunicator:
        return GraphQLWebsocketCommunicator(
            asgi_app(), "/graphql/", connection_params=connection_params, **kwargs
        )

    return open_socket
