"""Helpers for catalog GraphQL tests: every request goes through the real HTTP path."""

import json
from typing import Any

import pytest
from django.test import Client

from tests.factories import user_create


class GraphQLClient:
    """Posts JSON to ``/graphql/`` with Django's test client and decodes the answer."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.last_status = 0

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
        )
        self.last_status = response.status_code
        assert response.status_code in {200, 400}, response.content[:500]
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a response that must have no errors."""
        body = self.post(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        """The ``extensions.code`` of each error of a response that must fail."""
        body = self.post(query, variables)
        assert body.get("errors"), body
        return [error["extensions"]["code"] for error in body["errors"]]


@pytest.fixture
def gql(db: None) -> GraphQLClient:
    """An anonymous storefront client."""
    return GraphQLClient(Client())


@pytest.fixture
def staff_gql(db: None) -> GraphQLClient:
    client = Client()
    client.force_login(user_create(is_staff=True))
    return GraphQLClient(client)
