"""``orders``, ``order``, ``node`` and ``nodes``: who sees which order, filters, paging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts.models import User
from backend.orders.models import Order, OrderEvent, OrderStatus
from tests.api.graphql.orders.conftest import GraphQLClient, gid
from tests.factories import order_create, product_create, user_create

pytestmark = pytest.mark.django_db

ORDER = "query ($id: ID!) { order(id: $id) { id number } }"
NODE = "query ($id: ID!) { node(id: $id) { id ... on Order { number } } }"
NODES = "query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Order { number } } }"
ORDERS = """
query ($filter: OrderFilter, $first: Int, $after: String, $last: Int, $before: String) {
  orders(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    nodes { number }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def numbers(client: GraphQLClient, **variables: object) -> list[int]:
    page = client.data(ORDERS, {"first": 100, **variables})["orders"]
    return [node["number"] for node in page["nodes"]]


def test_customer_cannot_read_another_customers_order_by_any_route(
    customer: User, as_other_customer: GraphQLClient
) -> None:
    theirs = order_create(customer=customer)
    mine = order_create(customer=as_other_customer.user)
    theirs_id, mine_id = gid("Order", theirs.pk), gid("Order", mine.pk)

    assert as_other_customer.data(ORDER, {"id": theirs_id}) == {"order": None}
    assert as_other_customer.data(NODE, {"id": theirs_id}) == {"node": None}
    assert as_other_customer.data(NODES, {"ids": [theirs_id, mine_id]}) == {
        "nodes": [None, {"id": mine_id, "number": mine.number}]
    }
    assert numbers(as_other_customer) == [mine.number]


def test_customer_cannot_reach_another_customers_items_or_events_by_node(
    customer: User, as_other_customer: GraphQLClient
) -> None:
    theirs = order_create(customer=customer, products=[(product_create(), 1)])
    event = OrderEvent.objects.create(order=theirs, to_status=OrderStatus.PENDING)
    ids = [gid("OrderItem", theirs.items.get().pk), gid("OrderEvent", event.pk)]

    assert as_other_customer.data(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}
    ) == {"nodes": [None, None]}


def test_customer_reads_their_own_order_by_id_and_by_node(as_customer: GraphQLClient) -> None:
    order = order_create(customer=as_customer.user)
    order_id = gid("Order", order.pk)

    assert as_customer.data(ORDER, {"id": order_id}) == {
        "order": {"id": order_id, "number": order.number}
    }
    assert as_customer.data(NODE, {"id": order_id}) == {
        "node": {"id": order_id, "number": order.number}
    }


def test_staff_see_every_order_newest_first(
    customer: User, other_customer: User, as_staff: GraphQLClient
) -> None:
    first = order_create(customer=customer)
    second = order_create(customer=other_customer)
    third = order_create(customer=customer)

    assert numbers(as_staff) == [third.number, second.number, first.number]
    assert as_staff.data(ORDER, {"id": gid("Order", first.pk)})["order"]["number"] == first.number


def test_anonymous_viewers_get_no_orders_like_me_gets_null(
    customer: User, as_anonymous: GraphQLClient
) -> None:
    order = order_create(customer=customer)

    assert as_anonymous.data(ORDERS, {"first": 10})["orders"]["nodes"] == []
    assert as_anonymous.data(ORDER, {"id": gid("Order", order.pk)}) == {"order": None}


def test_a_refused_token_is_unauthenticated_not_an_empty_history(customer: User) -> None:
    client = GraphQLClient()
    response = client.client.post(
        "/graphql/",
        data={"query": "{ orders(first: 5) { nodes { number } } }"},
        content_type="application/json",
        headers={"Authorization": "Bearer not-a-jwt"},
    )

    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]


def test_orders_filter_by_status_and_creation_time(as_customer: GraphQLClient) -> None:
    now = timezone.now()
    old = order_create(customer=as_customer.user)
    Order.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=10))
    paid = order_create(customer=as_customer.user, status=OrderStatus.PAID)
    pending = order_create(customer=as_customer.user)

    assert numbers(as_customer, filter={"status": "PAID"}) == [paid.number]
    assert numbers(
        as_customer, filter={"createdAt": {"gte": (now - timedelta(days=1)).isoformat()}}
    ) == [pending.number, paid.number]
    assert numbers(
        as_customer, filter={"createdAt": {"lte": (now - timedelta(days=5)).isoformat()}}
    ) == [old.number]


def test_staff_filter_orders_by_customer(
    customer: User, other_customer: User, as_staff: GraphQLClient
) -> None:
    order_create(customer=customer)
    wanted = order_create(customer=other_customer)

    assert numbers(as_staff, filter={"customer": gid("User", other_customer.pk)}) == [wanted.number]


def test_customers_may_not_filter_by_customer(as_customer: GraphQLClient) -> None:
    other = user_create()

    codes = as_customer.error_codes(
        ORDERS, {"first": 5, "filter": {"customer": gid("User", other.pk)}}
    )

    assert codes == ["FORBIDDEN"]


def test_orders_page_forwards_and_backwards_with_keyset_cursors(
    as_customer: GraphQLClient,
) -> None:
    orders = [order_create(customer=as_customer.user) for _ in range(5)]
    # Same creation time for all: the id alone must keep the order total and stable.
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(created_at=timezone.now())
    newest_first = [o.number for o in reversed(orders)]

    page1 = as_customer.data(ORDERS, {"first": 2})["orders"]
    page2 = as_customer.data(ORDERS, {"first": 2, "after": page1["pageInfo"]["endCursor"]})[
        "orders"
    ]
    page3 = as_customer.data(ORDERS, {"first": 2, "after": page2["pageInfo"]["endCursor"]})[
        "orders"
    ]
    back = as_customer.data(ORDERS, {"last": 2, "before": page3["pageInfo"]["startCursor"]})[
        "orders"
    ]

    pages = [[n["number"] for n in p["nodes"]] for p in (page1, page2, page3)]
    assert [number for page in pages for number in page] == newest_first
    assert page1["totalCount"] == 5
    assert (page1["pageInfo"]["hasNextPage"], page3["pageInfo"]["hasNextPage"]) == (True, False)
    assert [n["number"] for n in back["nodes"]] == pages[1]


def test_orders_without_first_or_last_is_bad_user_input(as_customer: GraphQLClient) -> None:
    assert as_customer.error_codes("{ orders { nodes { number } } }") == ["BAD_USER_INPUT"]


def test_a_cursor_of_another_list_is_refused(as_customer: GraphQLClient) -> None:
    order_create(customer=as_customer.user)
    product_create()
    product_cursor = as_customer.data("{ products(first: 1) { pageInfo { endCursor } } }")[
        "products"
    ]["pageInfo"]["endCursor"]

    assert as_customer.error_codes(ORDERS, {"first": 1, "after": product_cursor}) == [
        "BAD_USER_INPUT"
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OrderStatus.PENDING, ["PAID", "CANCELLED", "EXPIRED"]),
        (OrderStatus.PAID, ["SHIPPED", "CANCELLED"]),
        (OrderStatus.SHIPPED, ["DELIVERED"]),
        (OrderStatus.DELIVERED, []),
        (OrderStatus.CANCELLED, []),
        (OrderStatus.EXPIRED, []),
    ],
)
def test_next_statuses_follow_the_transition_table(
    as_customer: GraphQLClient, status: OrderStatus, expected: list[str]
) -> None:
    order = order_create(customer=as_customer.user, status=status)

    result = as_customer.data(
        "query ($id: ID!) { order(id: $id) { status nextStatuses } }",
        {"id": gid("Order", order.pk)},
    )

    assert result == {"order": {"status": status.value, "nextStatuses": expected}}


def test_customers_see_a_staff_actor_as_null_and_staff_see_it(
    customer: User, staff: User, as_customer: GraphQLClient, as_staff: GraphQLClient
) -> None:
    order = order_create(customer=customer)
    OrderEvent.objects.create(order=order, to_status=OrderStatus.PENDING, actor=customer)
    OrderEvent.objects.create(
        order=order, from_status=OrderStatus.PENDING, to_status=OrderStatus.CANCELLED, actor=staff
    )
    query = (
        "query ($id: ID!) { order(id: $id) { events(first: 5) { totalCount "
        "nodes { fromStatus toStatus actor { email } } } } }"
    )

    as_seen_by_customer = as_customer.data(query, {"id": gid("Order", order.pk)})
    as_seen_by_staff = as_staff.data(query, {"id": gid("Order", order.pk)})

    events = as_seen_by_customer["order"]["events"]
    assert events["totalCount"] == 2
    assert events["nodes"] == [
        {"fromStatus": None, "toStatus": "PENDING", "actor": {"email": customer.email}},
        {"fromStatus": "PENDING", "toStatus": "CANCELLED", "actor": None},
    ]
    assert as_seen_by_staff["order"]["events"]["nodes"][1]["actor"] == {"email": staff.email}
