"""How much of scenario (a)'s cost is Strawberry and graphql-core alone.

Scenario (a)'s exact document (``bench.scenarios.LIST_QUERY``) against a plain Strawberry
schema of the same shape, answered from objects in memory: no Django, no database, no
strawberry-django, the same parse and validation caches as the API. Prints the median CPU time
of one execution; docs/performance.md compares it with the API's.

    .venv/bin/python bench/strawberry_floor.py
"""

import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from bench.scenarios import LIST_QUERY


@strawberry.type
class Money:
    amount: Decimal
    currency: str


@strawberry.type
class Category:
    id: strawberry.ID
    name: str


@strawberry.type
class Product:
    id: strawberry.ID
    name: str
    slug: str
    price: Money
    category: Category


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo


EDGES = [
    ProductEdge(
        cursor=f"cursor-{index}",
        node=Product(
            id=strawberry.ID(f"UHJvZHVjdDo{index}"),
            name=f"Product {index}",
            slug=f"product-{index}",
            price=Money(amount=Decimal("9.99"), currency="USD"),
            category=Category(id=strawberry.ID("Q2F0ZWdvcnk6MQ=="), name="Lamps"),
        ),
    )
    for index in range(100)
]


@strawberry.type
class Query:
    @strawberry.field
    async def products(self, first: int, after: str | None = None) -> ProductConnection:
        return ProductConnection(
            edges=EDGES[:first], page_info=PageInfo(has_next_page=True, end_cursor="cursor")
        )


schema = strawberry.Schema(Query, extensions=[ParserCache, ValidationCache])


async def cpu_ms_per_execution(rounds: int = 5, executions: int = 300) -> list[float]:
    for _ in range(50):
        result = await schema.execute(LIST_QUERY, variable_values={"first": 20})
        assert not result.errors, result.errors
    timings = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(executions):
            await schema.execute(LIST_QUERY, variable_values={"first": 20})
        timings.append((time.process_time() - started) / executions * 1000)
    return timings


if __name__ == "__main__":
    timings = asyncio.run(cpu_ms_per_execution())
    print(
        f"plain Strawberry, scenario (a)'s document, 20 edges: median "
        f"{statistics.median(timings):.2f} ms of CPU per execution "
        f"({', '.join(f'{t:.2f}' for t in timings)})"
    )
