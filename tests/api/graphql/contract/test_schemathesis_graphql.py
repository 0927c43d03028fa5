"""Property-based contract test of /graphql/ against the checked-in ``schema.graphql``: every
query and mutation schemathesis generates (valid documents and invalid ones) gets no 5xx, and
every error carries an ``extensions.code``. Anonymously and as staff (who reach the mutations'
services), on the test database; bounded by ``max_examples`` per operation and viewer."""

from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from backend.accounts.roles import Role
from backend.accounts.tokens import access_token_create
from tests.api.rest.conftest import user_in_role
from tests.factories import category_create, order_create, product_create
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
APP = WSGIHandler()

# The Decimal scalar: amounts as clients send them (strings, and the numbers Strawberry also
# accepts), plus malformed and extreme ones, which must be refused with a coded error. The
# schema's other custom scalar, DateTime, has a strategy built into schemathesis.
_AMOUNTS = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False
)
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        _AMOUNTS.map(str).map(nodes.String),
        st.integers(min_value=-(10**12), max_value=10**12).map(nodes.Int),
        st.sampled_from(
            ["", "abc", "1.2.3", "NaN", "-Infinity", "1e-999999", "1e999999", "²", " 1"]
        ).map(nodes.String),
    ),
)

SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")


# Passed to this test's cases only: registered with @schemathesis.check it would join the
# default checks of every schemathesis test, the REST one included (whose errors are problem
# details, not GraphQL errors).
def coded_errors_and_no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx; a GraphQL response's every error has ``extensions.code``."""
    assert response.status_code < 500, f"server error {response.status_code}: {response.text}"
    body = response.json()
    uncoded = [
        error
        for error in body.get("errors") or ()
        if not (error.get("extensions") or {}).get("code")
    ]
    assert not uncoded, f"errors without extensions.code: {uncoded}"
    return None


@pytest.fixture(params=["anonymous", "staff"])
def viewer_headers(
    request: pytest.FixtureRequest, db: None, in_test_transaction: None
) -> dict[str, str]:
    """A few rows, so that generated queries reach resolvers with data and not only empty
    pages, and the viewer's headers."""
    root = category_create(name="Home", slug="home")
    leaf = category_create(name="Lighting", slug="lighting", parent=root)
    products = [
        product_create(name=f"Lamp {index}", slug=f"lamp-{index}", category=leaf)
        for index in range(3)
    ]
    if request.param == "anonymous":
        return {}
    staff = user_in_role(Role.STAFF, is_staff=True)
    order_create(customer=staff, products=[(products[0], 1)])
    return {"Authorization": f"Bearer {access_token_create(staff)}"}


@SCHEMA.parametrize()
@settings(
    max_examples=15,  # per operation and viewer: bounded, so `make test` stays quick
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_graphql_endpoint_answers_every_generated_operation_with_coded_errors(
    case: Any, viewer_headers: dict[str, str]
) -> None:
    case.call_and_validate(
        app=APP,
        base_url="http://testserver/graphql/",
        headers=viewer_headers,
        checks=[coded_errors_and_no_server_error],
    )
