"""Helpers for catalog GraphQL tests: every request goes through the real HTTP path."""

import pytest
from django.test import Client

from tests.factories import user_create
from tests.graphql_client import GraphQLClient


@pytest.fixture
def gql(db: None) -> GraphQLClient:
    """An anonymous storefront client."""
    return GraphQLClient(Client())


@pytest.fixture
def staff_gql(db: None) -> GraphQLClient:
    client = Client()
    client.force_login(user_create(is_staff=True))
    return GraphQLClient(client)
