"""A connection's optimizer hints are computed once per document and reused
(``QuerySetOptimizer.optimize_selection``), and reusing them changes no statement."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import print_ast
from strawberry_django import optimizer as strawberry_django_optimizer
from strawberry_django.optimizer import DjangoOptimizerExtension

from backend.api.graphql import optimizer
from backend.api.graphql.optimizer import QuerySetOptimizer
from tests.api.graphql.catalog.test_catalog_queries import global_id
from tests.api.graphql.catalog.test_compiled_completion import SHAPES, VARIABLES
from tests.api.graphql.contract.test_client_operations import (
    STOREFRONT_OPERATIONS,
    documents,
    with_fragments,
)

# The fast paths' own effects (decision 0020): run with NEXUS_FAST_PATHS on.
pytestmark = pytest.mark.fast_paths


def statements(client: Client, query: str, variables: dict[str, Any]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables}),
            content_type="application/json",
        )
    assert response.status_code in {200, 400}
    return [query["sql"] for query in captured.captured_queries]


def computed_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    def optimize_selection(
        self: QuerySetOptimizer, queryset: Any, *, info: Any, selection: Any
    ) -> Any:
        return DjangoOptimizerExtension.optimize(self, queryset, info)

    monkeypatch.setattr(QuerySetOptimizer, "optimize_selection", optimize_selection)


CASES = {
    **{
        name: (print_ast(with_fragments(documents()[name])), VARIABLES[name])
        for name in sorted(STOREFRONT_OPERATIONS)
    },
    **{shape: (query, {"yes": True}) for shape, query in SHAPES.items()},
    "a product by slug with its category": (
        '{ product(slug: "lamp-3") { name price { amount } category { name parent { name } } } }',
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reused_hints_run_the_same_statements_as_hints_computed_afresh(
    catalog: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    query, variables = CASES[case]
    variables = {**variables, "id": global_id("Product", catalog["products"][1].pk)}
    client = Client()
    statements(client, query, variables)  # computes and keeps the hints
    reused = statements(client, query, variables)
    computed_afresh(monkeypatch)
    assert reused == statements(client, query, variables)


@pytest.fixture
def hint_walks(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How often a selection was walked for hints from here on (nested walks not counted),
    whether by ``optimize_selection`` or by strawberry-django's own ``optimize``."""
    walks = 0
    depth = 0
    walk = strawberry_django_optimizer._get_model_hints

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal walks, depth
        walks += depth == 0
        depth += 1
        try:
            return walk(*args, **kwargs)
        finally:
            depth -= 1

    monkeypatch.setattr(optimizer, "_get_model_hints", counted)
    monkeypatch.setattr(strawberry_django_optimizer, "_get_model_hints", counted)
    QuerySetOptimizer._hints.clear()
    return lambda: walks


@pytest.mark.parametrize(
    ("query", "variable_sets"),
    [
        (
            "query($slug: String!) { product(slug: $slug) { name category { name } } }",
            [{"slug": slug} for slug in ("lamp-1", "lamp-2", "lamp-3")],
        ),
        (
            "query($n: Int!) { products(first: $n) { nodes { name category { name } } } }",
            [{"n": size} for size in (1, 5, 3)],
        ),
    ],
    ids=["product by slug", "product page"],
)
def test_a_selection_is_walked_once_per_document_whatever_its_variables(
    catalog: dict[str, Any],
    hint_walks: Callable[[], int],
    query: str,
    variable_sets: list[dict[str, Any]],
) -> None:
    for variables in variable_sets:
        statements(Client(), query, variables)
    assert hint_walks() == 1


def test_a_selection_with_directives_is_walked_on_every_request(
    catalog: dict[str, Any],
    hint_walks: Callable[[], int],
) -> None:
    """``@include`` may select another column or join on the next request."""
    query = """query($yes: Boolean!) { products(first: 3) {
        nodes { name category @include(if: $yes) { name } } } }"""
    with_category = statements(Client(), query, {"yes": True})
    without = statements(Client(), query, {"yes": False})
    assert "catalog_category" in with_category[0]
    assert "catalog_category" not in without[0]
    assert hint_walks() == 2
