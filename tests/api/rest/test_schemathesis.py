"""Property-based contract test: generated requests for every operation of ``/api/schema/``,
as staff and as a customer, never get a 5xx nor a response the schema does not describe."""

from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backend.accounts.roles import Role
from backend.accounts.tokens import access_token_create
from tests.api.rest.conftest import user_in_role
from tests.factories import order_create, product_create

APP = WSGIHandler()
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", APP)
# Every check schemathesis has (negative data rejection, status code, content type, response
# schema, use after free, resource availability, ignored auth, ...) except one: "a request the
# schema allows is accepted" cannot hold for what no schema can state: an opaque cursor,
# a referenced row that does not exist (a 400 naming the field), wrong credentials.
NOT_STATABLE = [positive_data_acceptance]


@pytest.fixture(params=[Role.STAFF, Role.CUSTOMER], ids=["staff", "customer"])
def bearer(request: pytest.FixtureRequest, db: None, in_test_transaction: None) -> dict[str, str]:
    user = user_in_role(request.param, is_staff=request.param == Role.STAFF)
    product = product_create(stock_quantity=1000)  # ids 1.. exist for the generated paths
    order_create(customer=user, products=[(product, 1)])
    return {"Authorization": f"Bearer {access_token_create(user)}"}


@SCHEMA.parametrize()
@settings(
    max_examples=5,  # per operation and role: bounded, so `make test` stays quick
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, bearer: dict[str, str]) -> None:
    case.call_and_validate(app=APP, headers=bearer, excluded_checks=NOT_STATABLE)
