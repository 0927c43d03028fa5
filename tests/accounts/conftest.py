"""Accounts test helpers: a throwaway signing key, a Bearer GraphQL client, a fake clock."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from backend.accounts import throttling


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache; no test sees another's failures."""
    cache.clear()
    yield
    cache.clear()


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The throttle's clock, moved by hand instead of sleeping."""
    fake = FakeClock()
    monkeypatch.setattr(throttling, "now", lambda: fake.now)
    return fake


class GraphQLClient:
    """Posts JSON to the real ``/graphql/`` endpoint, optionally with a Bearer token."""

    def __init__(self) -> None:
        self.client = Client()

    def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code in {200, 400}, response.content[:500]
        return response.json()

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        body = self.post(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
def gql(db: None) -> GraphQLClient:
    return GraphQLClient()
