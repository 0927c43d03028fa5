"""``POST /api/v1/orders`` refusals of the unpaid-order limits: 409 problem details."""

import pytest
from pytest_django.fixtures import Settings

from backend.orders.models import Order
from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import product_create


@pytest.fixture(autouse=True)
def small_limits(settings: Settings) -> None:
    settings.ORDER_MAX_PENDING_PER_CUSTOMER = 2
    settings.ORDER_MAX_UNPAID_UNITS_PER_PRODUCT = 5


def _place(client: RestClient, lines: list[tuple[int, int]], key: str) -> object:
    body = {"lines": [{"product_id": pk, "quantity": quantity} for pk, quantity in lines]}
    return client.post("/api/v1/orders", body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize("client", ["customer", "staff"])
def test_an_order_past_the_pending_limit_is_a_409_problem(
    client: str, request: pytest.FixtureRequest
) -> None:
    rest: RestClient = request.getfixturevalue(client)
    product = product_create(stock_quantity=50)
    first = _place(rest, [(product.pk, 1)], "a")
    assert first.status_code == 201, first.content
    assert _place(rest, [(product.pk, 1)], "b").status_code == 201

    body = assert_problem(_place(rest, [(product.pk, 1)], "c"), 409, "TOO_MANY_PENDING_ORDERS")

    assert [(e["field"], e["code"]) for e in body["errors"]] == [(None, "TOO_MANY_PENDING_ORDERS")]
    assert Order.objects.count() == 2
    product.refresh_from_db()
    assert product.stock_quantity == 48
    replay = _place(rest, [(product.pk, 1)], "a")  # a retry of a placed order still answers
    assert (replay.status_code, replay.json()["id"]) == (201, first.json()["id"])


def test_units_past_the_unpaid_units_limit_are_a_409_problem_naming_the_line(
    customer: RestClient,
) -> None:
    mug, tea = product_create(stock_quantity=50), product_create(stock_quantity=50)
    assert _place(customer, [(mug.pk, 4)], "a").status_code == 201

    response = _place(customer, [(tea.pk, 5), (mug.pk, 2)], "b")

    body = assert_problem(response, 409, "UNPAID_UNITS_LIMIT")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("lines.1.quantity", "UNPAID_UNITS_LIMIT")
    ]
    assert Order.objects.count() == 1
