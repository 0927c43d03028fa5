"""The storefront's operations in graphql/ are valid against schema.graphql and affordable.

All .graphql files there form one pool of documents, as graphql-codegen reads them: an
operation file may spread any fragment defined in the pool.
"""

import pytest
from django.conf import settings
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    OperationDefinitionNode,
    Visitor,
    build_schema,
    parse,
    validate,
    visit,
)

from backend.api.graphql.limits import query_cost
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
OPERATIONS_DIR = ROOT / "graphql"
STOREFRONT_OPERATIONS = {
    "ProductListPage",
    "ProductDetail",
    "CategoryTree",
    "ProductSearch",
    "ProductSuggest",
}


def documents() -> dict[str, DocumentNode]:
    return {
        path.stem: parse(path.read_text(encoding="utf-8"))
        for path in sorted(OPERATIONS_DIR.glob("*.graphql"))
    }


def fragment_pool() -> dict[str, FragmentDefinitionNode]:
    pool: dict[str, FragmentDefinitionNode] = {}
    for document in documents().values():
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                assert definition.name.value not in pool, (
                    f"fragment {definition.name.value} defined twice"
                )
                pool[definition.name.value] = definition
    return pool


class _SpreadCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def spread_names(document: DocumentNode) -> set[str]:
    collector = _SpreadCollector()
    visit(document, collector)
    return collector.names


def with_fragments(document: DocumentNode) -> DocumentNode:
    """``document`` plus the fragments it spreads, transitively, from the pool."""
    pool = fragment_pool()
    included = {d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    needed: list[FragmentDefinitionNode] = []
    pending = [document]
    while pending:
        for name in sorted(spread_names(pending.pop()) - included):
            assert name in pool, f"fragment {name} is not defined in graphql/"
            included.add(name)
            needed.append(pool[name])
            pending.append(DocumentNode(definitions=(pool[name],)))
    return DocumentNode(definitions=(*document.definitions, *needed))


def operation_files() -> list[str]:
    return [
        name
        for name, document in documents().items()
        if any(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    ]


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def test_the_storefront_operations_exist_one_per_file_named_after_it() -> None:
    assert set(operation_files()) == STOREFRONT_OPERATIONS
    for name in operation_files():
        operations = [
            d for d in documents()[name].definitions if isinstance(d, OperationDefinitionNode)
        ]
        assert [operation.name.value for operation in operations] == [name]


@pytest.mark.parametrize("name", sorted(STOREFRONT_OPERATIONS))
def test_operation_validates_against_the_committed_schema(
    contract: GraphQLSchema, name: str
) -> None:
    errors = validate(contract, with_fragments(documents()[name]))
    assert not errors, [error.message for error in errors]


@pytest.mark.parametrize("name", sorted(STOREFRONT_OPERATIONS))
def test_operation_with_its_default_page_sizes_is_within_the_cost_budget(
    contract: GraphQLSchema, name: str
) -> None:
    cost = query_cost(contract, with_fragments(documents()[name]), variables={})
    assert 0 < cost <= settings.GRAPHQL_MAX_COST


def test_every_fragment_in_the_pool_is_used() -> None:
    used: set[str] = set()
    for name in operation_files():
        full = with_fragments(documents()[name])
        used |= {d.name.value for d in full.definitions if isinstance(d, FragmentDefinitionNode)}
    assert set(fragment_pool()) == used
