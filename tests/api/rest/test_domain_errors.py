"""Every code of every domain reaches a REST client as problem details with the HTTP status
the code names, the argument path in the view's wire names.

Each case replaces the service one real endpoint calls with one that raises the code, and
sends the request through ``/api/v1/`` as a client would.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from backend.accounts import services as account_services
from backend.accounts.errors import AccountError, AccountErrorCode
from backend.catalog import services as catalog_services
from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.core.errors import DomainError, ErrorCode
from backend.orders import services as order_services
from backend.orders.errors import OrderError, OrderErrorCode
from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import user_create


@dataclass(frozen=True)
class Case:
    service: tuple[Any, str]  # (module, function) the endpoint calls
    error: Callable[..., DomainError]
    extras: dict[str, Any]  # what the service raises with the code
    path: str
    body: dict[str, Any]
    wire_field: str  # the problem's field for the domain's ``field``


ACCOUNTS = Case(
    service=(account_services, "token_revoke"),
    error=AccountError,
    extras={"field": "refresh_token", "retry_after": 7},
    path="/api/v1/auth/revoke",
    body={"refresh_token": "r"},
    wire_field="refresh_token",
)
CATALOG = Case(
    service=(catalog_services, "category_create"),
    error=CatalogError,
    extras={"field": "id", "available_quantity": 4},
    path="/api/v1/categories",
    body={"name": "N", "slug": "n"},
    wire_field="id",
)
ORDERS = Case(
    service=(order_services, "order_cancel"),
    error=OrderError,
    extras={"field": "id", "from_status": "PENDING", "to_status": "PAID"},
    path="/api/v1/orders/1/cancel",
    body={},
    wire_field="id",
)
CASES = [
    *((code, ACCOUNTS) for code in AccountErrorCode),
    *((code, CATALOG) for code in CatalogErrorCode),
    *((code, ORDERS) for code in OrderErrorCode),
]


@pytest.fixture
def superuser(db: None) -> RestClient:
    return RestClient(user_create(is_staff=True, is_superuser=True))


@pytest.mark.parametrize(
    ("code", "case"), CASES, ids=[f"{type(code).__name__}.{code.name}" for code, _ in CASES]
)
def test_every_domain_error_code_is_a_problem_with_its_status(
    code: ErrorCode, case: Case, superuser: RestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**arguments: Any) -> None:
        raise case.error(code, "Refused.", **case.extras)

    monkeypatch.setattr(*case.service, refuse)
    response = superuser.post(case.path, case.body)

    # A 403 is FORBIDDEN at the top, as GraphQL answers it; errors[] keeps the domain's code.
    top_code = "FORBIDDEN" if code.status == 403 else code.value
    body = assert_problem(response, code.status, top_code)
    assert body["detail"] == "Refused."
    assert body["errors"] == [{"field": case.wire_field, "code": code.value, "message": "Refused."}]
    retry_after = case.extras.get("retry_after")
    assert response.get("Retry-After") == (str(retry_after) if retry_after else None)


def test_a_missing_referenced_object_is_bad_input_not_a_missing_resource(
    superuser: RestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**arguments: Any) -> None:
        raise CatalogError(CatalogErrorCode.NOT_FOUND, "No such parent.", field="parent")

    monkeypatch.setattr(catalog_services, "category_create", refuse)
    body = assert_problem(superuser.post(CATALOG.path, CATALOG.body), 400, "NOT_FOUND")
    assert body["errors"][0]["field"] == "parent"


def test_a_view_names_domain_arguments_its_own_way(
    superuser: RestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**arguments: Any) -> None:
        raise OrderError(
            OrderErrorCode.IDEMPOTENCY_KEY_INVALID, "Bad key.", field="idempotency_key"
        )

    monkeypatch.setattr(order_services, "order_place", refuse)
    response = superuser.post(
        "/api/v1/orders",
        {"lines": [{"product_id": 1, "quantity": 1}]},
        headers={"Idempotency-Key": "k"},
    )
    body = assert_problem(response, 400, "IDEMPOTENCY_KEY_INVALID")
    assert body["errors"][0]["field"] == "Idempotency-Key"
