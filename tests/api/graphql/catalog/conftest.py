"""Helpers for catalog GraphQL tests: every request goes through the real HTTP path."""

from typing import Any

import pytest
from django.test import Client

from tests.factories import category_create, product_create, user_create
from tests.graphql_client import GraphQLClient


@pytest.fixture
def staff_gql(db: None) -> GraphQLClient:
    client = Client()
    client.force_login(user_create(is_staff=True))
    return GraphQLClient(client)


@pytest.fixture
def catalog(db: None) -> dict[str, Any]:
    """A two-level tree with published, unpublished and sold-out products."""
    root = category_create(name="Home")
    leaf = category_create(name="Lighting", parent=root)
    other = category_create(name="Garden")
    products = [
        product_create(
            name=f"Lamp {i}",
            slug=f"lamp-{i}",
            category=leaf if i % 2 else other,
            stock_quantity=i % 3,
            is_published=i != 4,
            price=f"{10 + i}.50",
        )
        for i in range(8)
    ]
    return {"root": root, "leaf": leaf, "products": products}
