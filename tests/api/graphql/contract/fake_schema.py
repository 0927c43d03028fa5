"""A small stand-alone schema with a Relay-shaped connection, to test the limits in isolation."""

import strawberry
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import path
from graphql import GraphQLError
from strawberry.django.views import GraphQLView

from backend.api.graphql.limits import limit_extensions


def _touch_database() -> None:
    """One SQL statement, so tests can tell whether execution happened."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@strawberry.type(description="A page position.")
class PageInfo:
    has_next_page: bool


@strawberry.type(description="A thing in a tree.")
class Item:
    name: str

    @strawberry.field
    def parent(self) -> "Item":
        return Item(name=f"parent of {self.name}")

    @strawberry.field
    def children(self, first: int | None = None, last: int | None = None) -> "ItemConnection":
        return _page(first or last or 1)


@strawberry.type
class ItemEdge:
    cursor: str
    node: Item


@strawberry.type
class ItemConnection:
    edges: list[ItemEdge]
    nodes: list[Item]
    page_info: PageInfo
    total_count: int


def _page(size: int) -> ItemConnection:
    items = [Item(name=f"item {index}") for index in range(size)]
    return ItemConnection(
        edges=[ItemEdge(cursor=str(index), node=item) for index, item in enumerate(items)],
        nodes=items,
        page_info=PageInfo(has_next_page=False),
        total_count=size,
    )


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int | None = None, last: int | None = None) -> ItemConnection:
        _touch_database()
        return _page(min(first or last or 100, 100))

    @strawberry.field
    def item(self) -> Item:
        return Item(name="root")

    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("password=hunter2 leaked from an unexpected failure")

    @strawberry.field
    def staff_only(self) -> str:
        raise PermissionDenied("Staff only.")

    @strawberry.field
    def out_of_stock(self) -> str:
        raise GraphQLError("Out of stock.", extensions={"code": "OUT_OF_STOCK"})


schema = strawberry.Schema(query=Query, extensions=limit_extensions())

urlpatterns = [path("graphql/", GraphQLView.as_view(schema=schema))]
