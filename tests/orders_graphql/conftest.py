"""Helpers for the orders GraphQL tests: real HTTP POSTs to /graphql/ with Bearer tokens."""

import json
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings
from strawberry.relay import to_base64

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create
from tests.factories import user_create


@pytest.fixture(autouse=True)
def instant_payments(settings: Settings) -> None:
    """The payment gateway answers at once (its simulated latency is for the real worker)."""
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0


class GraphQLClient:
    """Posts JSON to the real ``/graphql/`` endpoint as ``user`` (anonymous when None)."""

    def __init__(self, user: User | None) -> None:
        self.client = Client()
        self.user = user

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token_create(self.user)}"} if self.user else {}
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code in {200, 400}, response.content[:500]
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a response that must have no errors."""
        body = self.post(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        """The ``extensions.code`` of each top-level error of a response that must fail."""
        body = self.post(query, variables)
        assert body.get("errors"), body
        return [error["extensions"]["code"] for error in body["errors"]]


def gid(type_name: str, pk: int) -> str:
    return to_base64(type_name, pk)


@pytest.fixture
def customer(db: None) -> User:
    return user_create()


@pytest.fixture
def other_customer(db: None) -> User:
    return user_create()


@pytest.fixture
def staff(db: None) -> User:
    return user_create(is_staff=True)


@pytest.fixture
def as_customer(customer: User) -> GraphQLClient:
    return GraphQLClient(customer)


@pytest.fixture
def as_other_customer(other_customer: User) -> GraphQLClient:
    return GraphQLClient(other_customer)


@pytest.fixture
def as_staff(staff: User) -> GraphQLClient:
    return GraphQLClient(staff)


@pytest.fixture
def as_anonymous(db: None) -> GraphQLClient:
    return GraphQLClient(None)
