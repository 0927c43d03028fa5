"""Orders through both APIs, for every kind of viewer: the same orders in the same order
(newest first), the same detail, the same outcome of every action, the same error codes.

One difference is kept on purpose (docs/decisions/0019): without any token GraphQL's
``orders`` is the empty list and REST's ``/orders`` a 401; both show no order.
"""

import pytest

from backend.accounts.policies import is_staff_user
from backend.orders.models import Order
from tests.api.parity.conftest import REFUSED_TOKEN, ROLES, Outcome, World, both, gid

pytestmark = pytest.mark.django_db

STAFF_ROLES = {"staff", "superuser"}


def expected_orders(world: World, role: str, status: str | None = None) -> Outcome:
    user = world.users[role]
    orders = Order.objects.order_by("-created_at", "-id")
    if not is_staff_user(user):
        orders = orders.filter(customer=user)
    if status is not None:
        orders = orders.filter(status=status)
    return Outcome(
        rows=tuple(gid("Order", order.pk) for order in orders),
        facts=tuple(order.status for order in orders),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("status", [None, "PENDING", "PAID", "DELIVERED"])
def test_order_list(world: World, role: str, status: str | None) -> None:
    graphql, rest = both(world, role)
    answer = graphql.orders(status=status)
    if role == "anonymous":
        assert answer == Outcome()
        assert rest.orders(status=status) == Outcome(error="UNAUTHENTICATED")
        return
    assert answer == rest.orders(status=status) == expected_orders(world, role, status)


@pytest.mark.parametrize("role", ROLES)
def test_the_customer_filter_is_staff_only_on_both(world: World, role: str) -> None:
    customer = world.users["customer"]
    assert customer is not None
    graphql, rest = both(world, role)
    answer = graphql.orders(customer=customer.pk)
    if role == "anonymous":
        assert rest.orders(customer=customer.pk) == Outcome(error="UNAUTHENTICATED")
        assert answer == Outcome(error="FORBIDDEN")
        return
    assert answer == rest.orders(customer=customer.pk)
    if role in STAFF_ROLES:
        assert answer == expected_orders(world, "customer")
    else:
        assert answer == Outcome(error="FORBIDDEN")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", ["pending", "others"])
def test_order_detail(world: World, role: str, key: str) -> None:
    order = world.orders[key]
    graphql, rest = both(world, role)
    answer = graphql.order(order.pk)
    if role == "anonymous":
        assert answer == Outcome()
        assert rest.order(order.pk) == Outcome(error="UNAUTHENTICATED")
        return
    assert answer == rest.order(order.pk)
    owner = world.users["customer" if key == "pending" else "other_customer"]
    if role in STAFF_ROLES or world.users[role] == owner:
        assert answer == Outcome(rows=(gid("Order", order.pk),), facts=(order.status,))
    else:
        assert answer == Outcome()  # GraphQL's null, REST's 404 NOT_FOUND


# (action, order, what each role gets: a status reached or an error code)
ACTIONS: list[tuple[str, str, dict[str, str]]] = [
    (
        "cancel",
        "pending",
        {
            "anonymous": "UNAUTHENTICATED",
            "customer": "CANCELLED",
            "other_customer": "NOT_FOUND",
            "staff": "CANCELLED",
            "superuser": "CANCELLED",
        },
    ),
    (
        "cancel",
        "shipped",
        {
            "anonymous": "UNAUTHENTICATED",
            "customer": "ORDER_TRANSITION_INVALID",
            "other_customer": "NOT_FOUND",
            "staff": "ORDER_TRANSITION_INVALID",
            "superuser": "ORDER_TRANSITION_INVALID",
        },
    ),
    (
        "pay",
        "pending",
        {
            "anonymous": "UNAUTHENTICATED",
            "customer": "PENDING",  # the charge runs in the background
            "other_customer": "NOT_FOUND",
            "staff": "FORBIDDEN",  # only the owner pays
            "superuser": "FORBIDDEN",
        },
    ),
    (
        "ship",
        "paid",
        {
            "anonymous": "UNAUTHENTICATED",
            "customer": "FORBIDDEN",
            "other_customer": "FORBIDDEN",
            "staff": "SHIPPED",
            "superuser": "SHIPPED",
        },
    ),
    (
        "deliver",
        "paid",
        {
            "anonymous": "UNAUTHENTICATED",
            "customer": "FORBIDDEN",
            "other_customer": "FORBIDDEN",
            "staff": "ORDER_TRANSITION_INVALID",
            "superuser": "ORDER_TRANSITION_INVALID",
        },
    ),
]
STATUSES = {"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "EXPIRED"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("action", "key", "expected"), ACTIONS, ids=[f"{a}-{k}" for a, k, _ in ACTIONS]
)
def test_order_actions(
    world: World, role: str, action: str, key: str, expected: dict[str, str], rolled_back: type
) -> None:
    """Each API acts on the same world: the first one's change is rolled back."""
    order = world.orders[key]
    graphql, rest = both(world, role)
    with rolled_back():
        through_graphql = graphql.order_action(action, order.pk)
    with rolled_back():
        through_rest = rest.order_action(action, order.pk)
    want = expected[role]
    assert through_graphql == through_rest
    if want in STATUSES:
        assert through_graphql == Outcome(rows=(gid("Order", order.pk),), facts=(want,))
    else:
        assert through_graphql == Outcome(error=want)
    order.refresh_from_db()
    assert order.status == world.orders[key].status  # rolled back: nothing leaked


@pytest.mark.parametrize("read", ["list", "detail", "action"])
def test_a_refused_token_is_unauthenticated_on_both(world: World, read: str) -> None:
    order = world.orders["pending"]
    graphql, rest = both(world, "customer", token=REFUSED_TOKEN)
    answers = {
        "list": lambda api: api.orders(),
        "detail": lambda api: api.order(order.pk),
        "action": lambda api: api.order_action("cancel", order.pk),
    }[read]
    assert answers(graphql) == answers(rest) == Outcome(error="UNAUTHENTICATED")
