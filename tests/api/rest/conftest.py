"""REST shim test helpers: real HTTP requests to /api/v1/ with Bearer tokens, as clients send."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.test.client import Client as DjangoClient
from pytest_django.fixtures import Settings

from backend.accounts.models import User
from backend.accounts.roles import Role, roles_sync
from backend.accounts.tokens import access_token_create
from tests.factories import user_create

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def instant_payments(settings: Settings) -> None:
    """No simulated payment latency (throttle counters live in the test's rolled-back database)."""
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0


class RestClient:
    """JSON requests to the real URL routes as ``user`` (anonymous when None)."""

    def __init__(self, user: User | None) -> None:
        self.client: DjangoClient = Client()
        self.user = user

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        all_headers = dict(headers or {})
        if self.user is not None:
            all_headers.setdefault("Authorization", f"Bearer {access_token_create(self.user)}")
        data = json.dumps(body) if body is not None else None
        return getattr(self.client, method)(
            path,
            data=data if method != "get" else body,
            content_type="application/json",
            headers=all_headers,
        )

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("get", path, params, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("post", path, body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("patch", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("delete", path, **kw)


def user_in_role(role: Role, **fields: Any) -> User:
    roles_sync()
    user = user_create(**fields)
    user.groups.add(Group.objects.get(name=role.value))
    return user


@pytest.fixture
def staff(db: None) -> RestClient:
    return RestClient(user_in_role(Role.STAFF, is_staff=True))


@pytest.fixture
def customer(db: None) -> RestClient:
    return RestClient(user_in_role(Role.CUSTOMER))


@pytest.fixture
def anonymous(db: None) -> RestClient:
    return RestClient(None)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is RFC 9457 problem details with this status and code; returns the body."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert {"type", "title", "detail", "errors"} <= body.keys()
    return body
