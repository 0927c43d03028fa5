"""Property-based contract test: generated requests for every operation of ``/api/schema/``,
as staff and as a customer, never get a 5xx nor a response the schema does not describe, and
every request the schema allows is accepted (``positive_data_acceptance``: a 2xx, or a 401,
403, 404, 409 or 429 that the request's state, not its shape, explains)."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings

from backend.accounts.roles import Role
from backend.accounts.tokens import access_token_create
from tests.api.rest.conftest import user_in_role
from tests.factories import order_create, product_create

APP = WSGIHandler()
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", APP)


@dataclass(frozen=True)
class Caller:
    headers: dict[str, str]
    category_id: int
    product_ids: list[int]

    def product_id(self, index: int) -> int:
        """The ``index``-th product in stock, created when first asked for."""
        while len(self.product_ids) <= index:
            self.product_ids.append(product_create(stock_quantity=1000).pk)
        return self.product_ids[index]


@pytest.fixture(params=[Role.STAFF, Role.CUSTOMER], ids=["staff", "customer"])
def caller(request: pytest.FixtureRequest, db: None, in_test_transaction: None) -> Caller:
    user = user_in_role(request.param, is_staff=request.param == Role.STAFF)
    product = product_create(stock_quantity=1000, is_published=True)
    order_create(customer=user, products=[(product, 1)])
    return Caller(
        headers={"Authorization": f"Bearer {access_token_create(user)}"},
        category_id=product.category_id,
        product_ids=[product.pk],
    )


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def unstatable_rules_hold(case: Any, caller: Caller) -> None:
    """What OpenAPI cannot state, made true of a request generated as valid (the server's
    400 for each is right, and tests/api/rest/test_crafted_inputs.py tries it):
    - a reference names a row that exists: a category's parent, a product's category, an
      order line's product (any id is a valid integer; a missing row is a 400 naming it);
    - an order's lines name distinct products (JSON Schema's ``uniqueItems`` compares whole
      items, not one property of them): a repeated product is DUPLICATE_PRODUCT;
    - ``price_min`` is not above ``price_max`` (a rule between two parameters);
    - a page ``cursor`` is one the server issued: it is opaque, any other string is a 400;
    - ordering by relevance comes with a search (decision 0019: without one it is a 400).
    """
    query = case.query if isinstance(case.query, dict) else {}
    query.pop("cursor", None)
    low, high = _decimal(query.get("price_min")), _decimal(query.get("price_max"))
    if low is not None and high is not None and low > high:
        query["price_min"], query["price_max"] = query["price_max"], query["price_min"]
    if str(query.get("ordering", "")).lstrip("-") == "relevance" and not query.get("search"):
        query.pop("ordering")
    body = case.body
    if not isinstance(body, dict):
        return
    if body.get("parent") is not None:
        body["parent"] = caller.category_id
    if "category" in body:
        body["category"] = caller.category_id
    for index, line in enumerate(body.get("lines") or ()):
        if isinstance(line, dict) and "product_id" in line:
            line["product_id"] = caller.product_id(index)


@SCHEMA.parametrize()
@settings(
    max_examples=5,  # per operation and role: bounded, so `make test` stays quick
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, caller: Caller) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive:
        unstatable_rules_hold(case, caller)
    case.call_and_validate(app=APP, headers=caller.headers)
