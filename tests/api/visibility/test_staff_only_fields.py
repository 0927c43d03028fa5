"""Staff-only facts (exact stock, who on the staff acted on an order) on every transport.

The rules are ``catalog.policies.stock_visible_to`` and ``orders.policies.actor_visible_to``
(both built on ``accounts.policies.is_staff_user``); each test asks one transport, GraphQL
over HTTP, REST or the WebSocket subscription (live and replayed events), as each kind of
viewer: anonymous, a customer, staff, and a superuser without the ``is_staff`` flag (staff too).
"""

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.channels.testing import GraphQLWebsocketCommunicator
from strawberry.relay import to_base64

from backend.accounts.models import User
from backend.accounts.policies import is_staff_user
from backend.catalog.models import Product
from backend.catalog.policies import stock_visible_to
from backend.orders.models import Order, OrderEvent, OrderStatus
from backend.orders.policies import actor_visible_to
from backend.orders.services import order_transition
from tests.api.rest.conftest import RestClient, assert_problem
from tests.api.websocket.conftest import bearer
from tests.factories import order_create, product_create, user_create
from tests.graphql_client import GraphQLClient

VIEWERS = ["anonymous", "customer", "staff", "superuser"]
STAFF_LIKE = {"staff", "superuser"}


def viewer_create(kind: str) -> User | None:
    return {
        "anonymous": lambda: None,
        "customer": user_create,
        "staff": lambda: user_create(is_staff=True),
        "superuser": lambda: user_create(is_superuser=True),  # is_staff stays False
    }[kind]()


# --- The rules themselves -------------------------------------------------------------------


class FakeUser:
    """A viewer with any combination of the flags the rules read."""

    def __init__(self, pk: int, active: bool, staff: bool, superuser: bool) -> None:
        self.pk, self.is_active, self.is_staff, self.is_superuser = pk, active, staff, superuser
        self.is_authenticated = True


viewers = st.one_of(
    st.just(AnonymousUser()),
    st.builds(FakeUser, st.integers(1, 5), st.booleans(), st.booleans(), st.booleans()),
)


@settings(max_examples=200, deadline=None)
@given(viewer=viewers, actor_id=st.none() | st.integers(1, 5))
def test_the_rules_are_the_one_staff_definition(viewer: Any, actor_id: int | None) -> None:
    staff = bool(
        viewer.is_authenticated and viewer.is_active and (viewer.is_staff or viewer.is_superuser)
    )
    assert is_staff_user(viewer) is staff
    assert stock_visible_to(viewer) is staff
    own = viewer.is_authenticated and viewer.is_active and viewer.pk == actor_id
    assert actor_visible_to(viewer, actor_id) is (actor_id is not None and (staff or own))


# --- Exact stock: GraphQL over HTTP and REST ------------------------------------------------


@pytest.fixture
def stocked(db: None) -> Product:
    return product_create(stock_quantity=37)


@pytest.mark.parametrize("kind", VIEWERS)
def test_graphql_shows_stock_quantity_to_staff_only(kind: str, stocked: Product) -> None:
    client = GraphQLClient(user=viewer_create(kind))
    data = client.data(
        "query ($id: ID!) { product(id: $id) { inStock stockQuantity } "
        "products(first: 5) { nodes { stockQuantity } } }",
        {"id": to_base64("Product", stocked.pk)},
    )
    expected = 37 if kind in STAFF_LIKE else None
    assert data["product"] == {"inStock": True, "stockQuantity": expected}
    assert data["products"]["nodes"] == [{"stockQuantity": expected}]


@pytest.mark.parametrize("kind", VIEWERS)
def test_rest_shows_stock_quantity_to_staff_only(kind: str, stocked: Product) -> None:
    client = RestClient(viewer_create(kind))
    listed = client.get("/api/v1/products")
    one = client.get(f"/api/v1/products/{stocked.pk}")
    assert listed.status_code == one.status_code == 200
    expected = 37 if kind in STAFF_LIKE else None
    assert [row["stock_quantity"] for row in listed.json()["results"]] == [expected]
    assert one.json()["stock_quantity"] == expected
    assert one.json()["in_stock"] is True


# --- INSUFFICIENT_STOCK: how many are left is said to staff only ----------------------------

SIGNED_IN = ["customer", "staff", "superuser"]
ORDER_CREATE = """
mutation ($input: OrderCreateInput!) {
  orderCreate(input: $input) { order { id } errors { field message code available } }
}"""


@pytest.mark.parametrize("kind", SIGNED_IN)
@pytest.mark.parametrize("left", [0, 1, 7, 98])
def test_graphql_insufficient_stock_names_the_units_left_to_staff_only(
    kind: str, left: int, db: None
) -> None:
    product = product_create(stock_quantity=left)
    client = GraphQLClient(user=viewer_create(kind))
    line = {"productId": to_base64("Product", product.pk), "quantity": left + 1}
    (error,) = client.mutate(ORDER_CREATE, {"input": {"idempotencyKey": "k", "lines": [line]}})[
        "errors"
    ]
    assert error["code"] == "INSUFFICIENT_STOCK"
    if kind in STAFF_LIKE:
        assert error["available"] == left
        assert f"Only {left} units" in error["message"]
    else:
        assert error["available"] is None
        assert str(left) not in error["message"].replace(str(product.pk), "")
    assert not Order.objects.exists()


@pytest.mark.parametrize("kind", SIGNED_IN)
@pytest.mark.parametrize("left", [0, 3, 98])
def test_rest_insufficient_stock_names_the_units_left_to_staff_only(
    kind: str, left: int, db: None
) -> None:
    product = product_create(stock_quantity=left)
    client = RestClient(viewer_create(kind))
    response = client.post(
        "/api/v1/orders",
        {"lines": [{"product_id": product.pk, "quantity": left + 1}]},
        headers={"Idempotency-Key": "k"},
    )
    body = assert_problem(response, 409, "INSUFFICIENT_STOCK")
    text = " ".join([body["detail"], *(e["message"] for e in body["errors"])])
    text = text.replace(str(product.pk), "")
    assert (str(left) in text) is (kind in STAFF_LIKE)
    assert not Order.objects.exists()


# --- Who acted on an order: GraphQL over HTTP -----------------------------------------------


@pytest.fixture
def shipped_by_staff(db: None) -> tuple[Order, User, User]:
    """A customer's order they placed (their event) and a staff member then cancelled."""
    customer, clerk = user_create(), user_create(is_staff=True)
    order = order_create(customer=customer)
    OrderEvent.objects.create(order=order, to_status=OrderStatus.PENDING, actor=customer)
    order_transition(order_id=order.pk, to_status=OrderStatus.CANCELLED, actor=clerk)
    return order, customer, clerk


ORDER_EVENTS = """
query ($id: ID!) {
  node(id: $id) { ... on Order { events(first: 5) { nodes { actor { email } } } } }
}"""


@pytest.mark.parametrize("kind", VIEWERS)
def test_graphql_shows_a_staff_actor_to_staff_only(
    kind: str, shipped_by_staff: tuple[Order, User, User]
) -> None:
    order, customer, clerk = shipped_by_staff
    user = customer if kind == "customer" else viewer_create(kind)
    data = GraphQLClient(user=user).data(ORDER_EVENTS, {"id": to_base64("Order", order.pk)})
    if kind == "anonymous":
        assert data["node"] is None  # the order itself is not theirs to see
        return
    actors = [node["actor"] for node in data["node"]["events"]["nodes"]]
    if kind == "customer":
        assert actors == [{"email": customer.email}, None]
    else:
        assert actors == [{"email": customer.email}, {"email": clerk.email}]


# --- Who acted on an order: the WebSocket, live and replayed --------------------------------

FOLLOW = """
subscription ($orderId: ID!, $since: ID) {
  orderStatusChanged(orderId: $orderId, since: $since) {
    status
    event { actor { id email roles } }
    order { items { product { stockQuantity } } }
  }
}"""


def ws_client(init: dict[str, str]) -> GraphQLWebsocketCommunicator:
    from channels.routing import URLRouter
    from django.urls import path

    from backend.api.graphql.websocket import graphql_websocket_app
    from backend.api.schema import schema

    app = URLRouter([path("graphql/", graphql_websocket_app(schema))])
    return GraphQLWebsocketCommunicator(app, "/graphql/", connection_params=init)


async def changes(client: GraphQLWebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    received = []
    for _ in range(count):
        message = await client.receive_json_from(timeout=3)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        received.append(message["payload"]["data"]["orderStatusChanged"])
    return received


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_process_layer_and_cache")
@pytest.mark.parametrize("kind", ["customer", "staff", "superuser"])
async def test_websocket_events_show_a_staff_actor_and_stock_to_staff_only(kind: str) -> None:
    customer = await database_sync_to_async(user_create)()
    clerk = await database_sync_to_async(user_create)(is_staff=True)
    product = await database_sync_to_async(product_create)(stock_quantity=37)
    order = await database_sync_to_async(order_create)(customer=customer, products=[(product, 1)])
    created = await OrderEvent.objects.acreate(
        order=order, to_status=OrderStatus.PENDING, actor=customer
    )
    # Made while nobody listened: comes back through the `since` replay.
    await database_sync_to_async(order_transition)(
        order_id=order.pk, to_status=OrderStatus.PAID, actor=clerk
    )
    viewer = customer if kind == "customer" else await database_sync_to_async(viewer_create)(kind)
    assert viewer is not None

    async with ws_client(bearer(viewer)) as client:
        variables = {
            "orderId": to_base64("Order", order.pk),
            "since": to_base64("OrderEvent", created.pk),
        }
        await client.send_json_to(
            {"id": "1", "type": "subscribe", "payload": {"query": FOLLOW, "variables": variables}}
        )
        (replayed,) = await changes(client, 1)
        await asyncio.sleep(0.2)  # the subscription joins the order's group
        await database_sync_to_async(order_transition)(
            order_id=order.pk, to_status=OrderStatus.SHIPPED, actor=clerk
        )
        (live,) = await changes(client, 1)

    staff_sees = kind in STAFF_LIKE
    for change in (replayed, live):
        actor = change["event"]["actor"]
        if staff_sees:
            assert actor["email"] == clerk.email
            assert actor["roles"] == ["STAFF"]
        else:
            assert actor is None
        stock = change["order"]["items"][0]["product"]["stockQuantity"]
        assert stock == (37 if staff_sees else None)
    assert (replayed["status"], live["status"]) == ("PAID", "SHIPPED")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_process_layer_and_cache")
async def test_an_anonymous_socket_gets_no_event_at_all() -> None:
    customer = await database_sync_to_async(user_create)()
    order = await database_sync_to_async(order_create)(customer=customer)
    created = await OrderEvent.objects.acreate(
        order=order, to_status=OrderStatus.PENDING, actor=customer
    )
    await database_sync_to_async(order_transition)(order_id=order.pk, to_status=OrderStatus.PAID)

    async with ws_client({}) as client:
        variables = {
            "orderId": to_base64("Order", order.pk),
            "since": to_base64("OrderEvent", created.pk),
        }
        await client.send_json_to(
            {"id": "1", "type": "subscribe", "payload": {"query": FOLLOW, "variables": variables}}
        )
        closed = await client.receive_output(3)
    assert closed["type"] == "websocket.close"
    assert closed["code"] == 4403
