"""The one GraphQL test client: JSON to the real ``/graphql/`` endpoint through Django's test
client, the answer decoded."""

import json
from typing import Any

from django.test import Client

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create


class GraphQLClient:
    """Signed in by ``client``'s session (``force_login``), as ``user`` (a fresh bearer token
    on every request), per request with ``token=``, or not at all."""

    def __init__(self, client: Client | None = None, *, user: User | None = None) -> None:
        self.client = client or Client()
        self.user = user
        self.last_status = 0

    def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        if token is None and self.user is not None:
            token = access_token_create(self.user)
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"} if token is not None else {},
        )
        self.last_status = response.status_code
        assert response.status_code in {200, 400}, response.content[:500]
        return response.json()

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The ``data`` of a response that must have no errors."""
        body = self.post(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        """The ``extensions.code`` of each top-level error of a response that must fail."""
        body = self.post(query, variables)
        assert body.get("errors"), body
        return [error["extensions"]["code"] for error in body["errors"]]

    def mutate(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The single root field's payload of a response that has no top-level errors."""
        (payload,) = self.data(query, variables).values()
        return payload
