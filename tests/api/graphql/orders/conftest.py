"""Helpers for the orders GraphQL tests: real HTTP POSTs to /graphql/ with Bearer tokens."""

import pytest
from pytest_django.fixtures import Settings
from strawberry.relay import to_base64

from backend.accounts.models import User
from tests.factories import user_create
from tests.graphql_client import GraphQLClient


@pytest.fixture(autouse=True)
def instant_payments(settings: Settings) -> None:
    """The payment gateway answers at once (its simulated latency is for the real worker)."""
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0


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
    return GraphQLClient(user=customer)


@pytest.fixture
def as_other_customer(other_customer: User) -> GraphQLClient:
    return GraphQLClient(user=other_customer)


@pytest.fixture
def as_staff(staff: User) -> GraphQLClient:
    return GraphQLClient(user=staff)


@pytest.fixture
def as_anonymous(db: None) -> GraphQLClient:
    return GraphQLClient()
