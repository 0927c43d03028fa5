"""Catalog mutation test helpers: staff and customer clients on the real ``/graphql/`` path."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from strawberry import relay

from backend.accounts.roles import Role, roles_sync
from backend.catalog.models import Category, Product
from tests.factories import user_create
from tests.graphql_client import GraphQLClient


def _client_in_role(role: Role, **user_fields: Any) -> GraphQLClient:
    roles_sync()
    user = user_create(**user_fields)
    user.groups.add(Group.objects.get(name=role.value))
    client = Client()
    client.force_login(user)
    return GraphQLClient(client)


@pytest.fixture
def staff_gql(db: None) -> GraphQLClient:
    return _client_in_role(Role.STAFF, is_staff=True)


@pytest.fixture
def customer_gql(db: None) -> GraphQLClient:
    return _client_in_role(Role.CUSTOMER)


@pytest.fixture
def anonymous_gql(db: None) -> GraphQLClient:
    return GraphQLClient(Client())


def gid(instance: Category | Product) -> str:
    return str(relay.GlobalID(type(instance).__name__, str(instance.pk)))


def catalog_snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every category and product row, every column: equal before and after means unchanged."""
    return (
        list(Category.objects.order_by("pk").values()),
        list(Product.objects.order_by("pk").values()),
    )


def error_codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]
