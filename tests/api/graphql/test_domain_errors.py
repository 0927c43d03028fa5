"""Every code of every domain reaches a GraphQL client as a coded payload error (a 403 code as
a top-level FORBIDDEN), with the argument path camelCased and the code's extras as fields.

Each case replaces the service one real mutation calls with one that raises the code, and
sends the mutation through ``/graphql/`` as a client would.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from typing import Any

import pytest
from strawberry import relay

from backend.accounts import services as account_services
from backend.accounts.errors import AccountError, AccountErrorCode
from backend.api.graphql.enums import graphql_enum
from backend.catalog import services as catalog_services
from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.core.errors import DomainError, ErrorCode
from backend.orders import services as order_services
from backend.orders.errors import OrderError, OrderErrorCode
from tests.factories import user_create
from tests.graphql_client import GraphQLClient


@dataclass(frozen=True)
class Case:
    service: tuple[Any, str]  # (module, function) the mutation calls
    error: Callable[..., DomainError]
    extras: dict[str, Any]  # what the service raises with the code
    mutation: str
    shown: dict[str, Any]  # the payload error's fields besides code and message


ACCOUNTS = Case(
    service=(account_services, "token_revoke"),
    error=AccountError,
    extras={"field": "refresh_token", "retry_after": 7},
    mutation='mutation { tokenRevoke(refreshToken: "r") { ok errors { field message code '
    "retryAfter } } }",
    shown={"field": "refreshToken", "retryAfter": 7},
)
CATALOG = Case(
    service=(catalog_services, "category_create"),
    error=CatalogError,
    extras={"field": "parent", "available_quantity": 4},
    mutation='mutation { categoryCreate(input: {name: "N", slug: "n"}) { category { id } '
    "errors { field message code availableQuantity } } }",
    shown={"field": "parent", "availableQuantity": 4},
)
ORDERS = Case(
    service=(order_services, "order_cancel"),
    error=OrderError,
    extras={
        "field": "lines.0.product_id",
        "available_quantity": 2,
        "from_status": "PENDING",
        "to_status": "PAID",
    },
    mutation=f'mutation {{ orderCancel(id: "{relay.GlobalID("Order", "1")}") {{ order {{ id }} '
    "errors { field message code availableQuantity available from to } } }",
    shown={
        "field": "lines.0.productId",
        "availableQuantity": 2,
        "available": 2,
        "from": "PENDING",
        "to": "PAID",
    },
)
CASES = [
    *((code, ACCOUNTS) for code in AccountErrorCode),
    *((code, CATALOG) for code in CatalogErrorCode),
    *((code, ORDERS) for code in OrderErrorCode),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "case"), CASES, ids=[f"{type(code).__name__}.{code.name}" for code, _ in CASES]
)
def test_every_domain_error_code_is_a_coded_graphql_error(
    code: ErrorCode, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**arguments: Any) -> None:
        raise case.error(code, "Refused.", **case.extras)

    monkeypatch.setattr(*case.service, refuse)
    client = GraphQLClient(user=user_create(is_staff=True, is_superuser=True))

    if code.status is HTTPStatus.FORBIDDEN:
        assert client.error_codes(case.mutation) == ["FORBIDDEN"]
        return
    payload = client.mutate(case.mutation)
    (error,) = payload.pop("errors")
    assert error == {"code": code.name, "message": "Refused.", **case.shown}
    assert set(payload.values()) <= {None, False}  # the result field of a refused mutation


def test_a_domain_enum_exposed_without_every_description_fails_at_import() -> None:
    class Colour(Enum):
        RED = "red"
        BLUE = "blue"

    with pytest.raises(ValueError, match=r"missing \[<Colour.BLUE: 'blue'>\]"):
        graphql_enum(Colour, name="Colour", description="A colour.", values={Colour.RED: "Red."})
