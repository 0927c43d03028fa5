"""A page of orders costs a fixed number of SQL statements, whatever its size."""

from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings

from backend.accounts.models import User
from backend.orders.models import OrderEvent, OrderStatus
from tests.api.graphql.orders.conftest import GraphQLClient
from tests.conftest import QueryCounter
from tests.factories import order_create, product_create

pytestmark = pytest.mark.django_db

ORDERS_DEEP = """
query ($first: Int!) {
  orders(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id number status email createdAt nextStatuses
        subtotal { amount currency } total { amount currency }
        customer { id email }
        items {
          id productName productSku quantity
          unitPrice { amount currency } lineTotal { amount currency }
          product { id sku name }
        }
        events(first: 10) {
          totalCount
          nodes { id fromStatus toStatus note createdAt actor { id email } }
        }
      }
    }
  }
}"""


def orders_with_items_and_events(customer: User, staff: User, count: int) -> None:
    products = [product_create(stock_quantity=100) for _ in range(3)]
    for index in range(count):
        order = order_create(
            customer=customer,
            products=[(products[index % 3], 1), (products[(index + 1) % 3], 2)],
        )
        OrderEvent.objects.create(order=order, to_status=OrderStatus.PENDING, actor=customer)
        OrderEvent.objects.create(
            order=order, from_status=OrderStatus.PENDING, to_status=OrderStatus.PAID, actor=staff
        )


def statements(
    client: GraphQLClient, count_queries: Callable[[], QueryCounter], first: int
) -> tuple[int, int]:
    with count_queries() as counter:
        page = client.data(ORDERS_DEEP, {"first": first})["orders"]
    return counter.count, len(page["edges"])


# The request's user (1), orders page (1), totalCount (1), items (1), their products (1),
# customers (1), events page (1), events totalCount (1), event actors (1).
EXPECTED_STATEMENTS = 9


@pytest.mark.parametrize("viewer", ["customer", "staff"])
def test_a_page_of_orders_costs_the_same_statements_for_1_or_50_orders(
    customer: User,
    staff: User,
    count_queries: Callable[[], QueryCounter],
    viewer: str,
    settings: Settings,
) -> None:
    # 50 orders x 10 events is over the default static cost ceiling, which is not under test.
    settings.GRAPHQL_MAX_COST = 10_000
    orders_with_items_and_events(customer, staff, 50)
    client = GraphQLClient(user=customer if viewer == "customer" else staff)

    one, one_edges = statements(client, count_queries, 1)
    fifty, fifty_edges = statements(client, count_queries, 50)

    assert (one_edges, fifty_edges) == (1, 50)
    assert one == fifty == EXPECTED_STATEMENTS
