"""Accounts test helpers: a throwaway signing key, a Bearer GraphQL client, a fake clock."""

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from backend.accounts import throttling
from tests.graphql_client import GraphQLClient


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


@pytest.fixture
def gql(db: None) -> GraphQLClient:
    return GraphQLClient()
