"""Accounts test helpers: a throwaway signing key, a Bearer GraphQL client, a fake clock."""

import pytest

from backend.accounts import throttling
from tests.graphql_client import GraphQLClient


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
