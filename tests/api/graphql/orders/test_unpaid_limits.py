"""``orderCreate`` refusals of the unpaid-order limits: payload errors with a code and field."""

import pytest
from pytest_django.fixtures import Settings

from tests.api.graphql.orders.conftest import GraphQLClient
from tests.api.graphql.orders.test_order_create import create, database_state, lines_input
from tests.factories import product_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_limits(settings: Settings) -> None:
    settings.ORDER_MAX_PENDING_PER_CUSTOMER = 2
    settings.ORDER_MAX_UNPAID_UNITS_PER_PRODUCT = 5


@pytest.mark.parametrize("client", ["as_customer", "as_staff"])
def test_an_order_past_the_pending_limit_is_refused_in_the_payload(
    client: str, request: pytest.FixtureRequest
) -> None:
    gql: GraphQLClient = request.getfixturevalue(client)
    mug = product_create(stock_quantity=50)
    for key in ("a", "b"):
        assert create(gql, lines_input((mug, 1), key=key))["errors"] == []
    before = database_state()

    result = create(gql, lines_input((mug, 1), key="c"))

    assert result["order"] is None
    assert [(e["code"], e["field"], e["available"]) for e in result["errors"]] == [
        ("TOO_MANY_PENDING_ORDERS", None, None)
    ]
    assert "at most 2" in result["errors"][0]["message"]
    assert database_state() == before
    # The same request again (a client retry of an order that was placed) still replays.
    assert create(gql, lines_input((mug, 1), key="b"))["errors"] == []


def test_units_past_the_unpaid_units_limit_are_refused_naming_the_line(
    as_customer: GraphQLClient,
) -> None:
    mug, tea = product_create(stock_quantity=50), product_create(stock_quantity=50)
    assert create(as_customer, lines_input((mug, 4), key="a"))["errors"] == []
    before = database_state()

    result = create(as_customer, lines_input((tea, 5), (mug, 2), key="b"))

    assert result["order"] is None
    assert [(e["code"], e["field"]) for e in result["errors"]] == [
        ("UNPAID_UNITS_LIMIT", "lines.1.quantity")
    ]
    assert database_state() == before
