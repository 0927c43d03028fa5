"""Resource limits and error policy (backend.api.graphql.limits) on a small stand-alone schema."""

import json
from typing import Any

import pytest
from django.test import Client, override_settings
from graphql import build_schema, parse
from strawberry.types import ExecutionResult

from backend.api.graphql.limits import RequestLimits, query_cost
from tests.api.graphql.contract.fake_schema import schema

pytestmark = pytest.mark.django_db

COST_SDL = """
type Query {
  items(first: Int, last: Int): ItemConnection!
  page(first: Int): ItemPage!
  item: Item
  search: [SearchResult!]!
  byNames(names: [String!]!): [Item]!
}
union SearchResult = Item | Shelf
type Shelf { label: String! items(first: Int): ItemConnection! }
type Item { name: String! parent: Item children(first: Int, last: Int): ItemConnection! }
type ItemEdge { cursor: String! node: Item! }
type ItemConnection { edges: [ItemEdge!]! nodes: [Item!]! pageInfo: PageInfo! totalCount: Int! }
"A connection without the conventional name, recognised by its edges and pageInfo."
type ItemPage { edges: [ItemEdge!]! pageInfo: PageInfo! }
type PageInfo { hasNextPage: Boolean! }
"""
COST_SCHEMA = build_schema(COST_SDL)


def cost(query: str, variables: dict[str, Any] | None = None, operation: str | None = None) -> int:
    return query_cost(COST_SCHEMA, parse(query), variables=variables, operation_name=operation)


def run(
    query: str, variables: dict[str, Any] | None = None, operation: str | None = None
) -> ExecutionResult:
    return schema.execute_sync(query, variable_values=variables, operation_name=operation)


def codes(result: ExecutionResult) -> list[str]:
    return [error.extensions["code"] for error in result.errors or []]


def nested(depth: int) -> str:
    """``{ item { parent { ... { name } } } }``: ``depth`` levels of object fields."""
    return "{ item { " + "parent { " * (depth - 1) + "name" + " }" * depth + " }"


# --- Cost arithmetic -------------------------------------------------------------------------


def test_objects_cost_one_and_scalars_nothing() -> None:
    assert cost("{ item { name parent { name } } }") == 2
    assert cost("{ __typename }") == 0


def test_connection_costs_its_page_size_times_each_item_plus_itself_and_page_info() -> None:
    # 1 (connection) + 20 x 1 (node; the edge wrapper is free) + 1 (pageInfo)
    query = "{ items(first: 20) { edges { cursor node { name } } pageInfo { hasNextPage } } }"
    assert cost(query) == 22
    assert cost("{ items(last: 7) { nodes { name } totalCount } }") == 8


def test_plain_list_sized_by_a_list_argument_costs_per_requested_item() -> None:
    query = """query Q($names: [String!]!) {
      byNames(names: $names) { children(first: 10) { totalCount } }
    }"""
    assert cost(query, {"names": ["a", "b", "c"]}) == 3 * (1 + 1)
    assert cost('{ byNames(names: ["a", "b"]) { name } }') == 2
    assert cost("{ search { ... on Shelf { label } } }") == 1


def test_connection_without_first_or_last_is_costed_as_a_full_page_of_100() -> None:
    assert cost("{ items { nodes { name } } }") == 101


def test_nested_connections_multiply() -> None:
    # 1 + 10 x (1 item + (1 + 5 x 1))
    assert cost("{ items(first: 10) { nodes { children(first: 5) { nodes { name } } } } }") == 71


def test_connection_is_recognised_by_its_shape_not_its_name() -> None:
    assert cost("{ page(first: 30) { edges { node { name } } } }") == 31


def test_page_size_comes_from_variables_then_declared_defaults() -> None:
    query = "query Q($n: Int = 40) { items(first: $n) { nodes { name } } }"
    assert cost(query, {"n": 3}) == 4
    assert cost(query) == 41
    assert cost("query Q($n: Int) { items(first: $n) { nodes { name } } }") == 101


def test_fragments_on_the_same_type_add_up() -> None:
    query = """
    query { items(first: 10) { ...Names nodes { parent { name } } } }
    fragment Names on ItemConnection { nodes { ... on Item { parent { name } } } }
    """
    # 1 + 10 x (1 + 1) from the fragment + 10 x (1 + 1) from the direct selection
    assert cost(query) == 41


def test_fragments_on_different_types_of_a_union_cost_the_costliest_branch() -> None:
    query = """{ search {
      ... on Item { children(first: 10) { nodes { name } } }
      ... on Shelf { items(first: 50) { nodes { name } } }
    } }"""
    assert cost(query) == 1 + (1 + 50)


def test_cyclic_fragments_terminate() -> None:
    query = "{ item { ...A } } fragment A on Item { parent { ...A } }"
    assert cost(query) == 2


def test_named_operation_is_costed_alone() -> None:
    query = "query Small { item { name } } query Big { items(first: 90) { nodes { name } } }"
    assert cost(query, operation="Small") == 1
    assert cost(query, operation="Big") == 91


# --- Cost enforcement ------------------------------------------------------------------------


def test_every_response_reports_requested_cost_and_maximum_available() -> None:
    result = run("{ items(first: 20) { edges { node { name } } pageInfo { hasNextPage } } }")
    assert result.errors is None
    assert result.extensions == {"cost": {"requestedQueryCost": 22, "maximumAvailable": 1000}}


def test_query_over_budget_is_refused_before_any_sql_runs(count_queries: Any) -> None:
    within = "{ items(first: 10) { nodes { name } } }"
    over = "{ items(first: 100) { nodes { children(first: 100) { nodes { name } } } } }"
    with count_queries() as executed:
        assert run(within).errors is None
    assert executed.count == 1  # the resolver's one statement: execution is visible here
    with count_queries() as refused:
        result = run(over)
    assert refused.count == 0
    assert result.data is None
    assert codes(result) == ["MAX_COST_EXCEEDED"]
    assert "10201" in result.errors[0].message
    assert result.extensions["cost"] == {"requestedQueryCost": 10201, "maximumAvailable": 1000}


@override_settings(GRAPHQL_MAX_COST=10)
def test_cost_budget_is_configurable() -> None:
    assert codes(run("{ items(first: 10) { nodes { name } } }")) == ["MAX_COST_EXCEEDED"]
    assert run("{ items(first: 9) { nodes { name } } }").errors is None


def test_cost_uses_request_variables() -> None:
    query = """query Q($n: Int!) {
      items(first: $n) { nodes { children(first: $n) { nodes { name } } } }
    }"""
    assert run(query, {"n": 5}).extensions["cost"]["requestedQueryCost"] == 1 + 5 * (1 + 1 + 5)
    assert codes(run(query, {"n": 40})) == ["MAX_COST_EXCEEDED"]


def test_request_refused_before_execution_reports_no_cost() -> None:
    result = run("{ nope }")
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert result.extensions == {"cost": {"requestedQueryCost": None, "maximumAvailable": 1000}}


# --- Depth, aliases, tokens ------------------------------------------------------------------


def test_depth_of_ten_is_allowed_and_eleven_refused() -> None:
    assert run(nested(10)).errors is None
    assert codes(run(nested(11))) == ["MAX_DEPTH_EXCEEDED"]


def test_fifteen_aliases_are_allowed_and_sixteen_refused() -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{index}: item {{ name }}" for index in range(count)) + " }"

    assert run(aliased(15)).errors is None
    result = run(aliased(16))
    assert codes(result) == ["MAX_ALIASES_EXCEEDED"]
    assert "16 aliases" in result.errors[0].message


def test_document_over_two_thousand_tokens_is_refused_while_parsing() -> None:
    def operations(count: int) -> str:
        # Five tokens each: query, name, {, __typename, }
        return " ".join(f"query Q{index} {{ __typename }}" for index in range(count))

    assert run(operations(400), operation="Q0").data == {"__typename": "Query"}
    result = run(operations(401), operation="Q0")
    assert codes(result) == ["MAX_TOKENS_EXCEEDED"]
    assert "2000 tokens" in result.errors[0].message


@override_settings(GRAPHQL_MAX_DEPTH=2, GRAPHQL_MAX_ALIASES=1)
def test_depth_alias_and_token_limits_are_configurable() -> None:
    assert run(nested(2)).errors is None
    assert codes(run(nested(3))) == ["MAX_DEPTH_EXCEEDED"]
    assert codes(run("{ a: item { name } b: item { name } }")) == ["MAX_ALIASES_EXCEEDED"]
    with override_settings(GRAPHQL_MAX_TOKENS=10):
        assert codes(run("{ " + "__typename " * 9 + "}")) == ["MAX_TOKENS_EXCEEDED"]


# --- Introspection ---------------------------------------------------------------------------


@override_settings(GRAPHQL_INTROSPECTION=False)
def test_introspection_is_refused_when_disabled_but_typename_still_works() -> None:
    result = run("{ __schema { queryType { name } } }")
    assert set(codes(result)) == {"INTROSPECTION_DISABLED"}
    assert run("{ __typename }").data == {"__typename": "Query"}


@override_settings(GRAPHQL_INTROSPECTION=True)
def test_introspection_is_answered_when_enabled() -> None:
    assert run("{ __schema { queryType { name } } }").data == {
        "__schema": {"queryType": {"name": "Query"}}
    }


def test_introspection_defaults_to_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import backend.settings as project_settings

    monkeypatch.delenv("GRAPHQL_INTROSPECTION", raising=False)
    monkeypatch.setenv("SECRET_KEY", "test-only")
    for debug, expected in (("false", False), ("true", True)):
        monkeypatch.setenv("DEBUG", debug)
        assert importlib.reload(project_settings).GRAPHQL_INTROSPECTION is expected
    monkeypatch.undo()
    importlib.reload(project_settings)


# --- Error policy ----------------------------------------------------------------------------


@override_settings(DEBUG=False)
def test_unexpected_exception_is_masked_with_a_stable_code_in_production() -> None:
    result = run("{ boom }")
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert result.errors[0].message == "Internal server error."
    assert result.errors[0].path == ["boom"]
    assert "hunter2" not in json.dumps([error.formatted for error in result.errors])


@override_settings(DEBUG=True)
def test_unexpected_exception_keeps_its_message_in_debug_with_the_same_code() -> None:
    result = run("{ boom }")
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "hunter2" in result.errors[0].message


@override_settings(DEBUG=False)
def test_errors_written_for_the_client_are_kept_with_their_code() -> None:
    assert [(e.message, e.extensions) for e in run("{ outOfStock }").errors] == [
        ("Out of stock.", {"code": "OUT_OF_STOCK"})
    ]
    assert [(e.message, e.extensions) for e in run("{ staffOnly }").errors] == [
        ("Staff only.", {"code": "FORBIDDEN"})
    ]
    assert codes(run("{ item { nope } }")) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(run("{ item { ")) == ["GRAPHQL_PARSE_FAILED"]
    coercion = run("query Q($n: Int!) { items(first: $n) { totalCount } }", {"n": "x"})
    assert coercion.errors[0].message.startswith("Variable '$n' has invalid value")
    assert codes(coercion)[0] in {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}


# --- Over HTTP -------------------------------------------------------------------------------


@pytest.mark.urls("tests.api.graphql.contract.fake_schema")
def test_http_response_carries_the_cost_extension() -> None:
    response = Client().post(
        "/graphql/",
        {"query": "{ items(first: 2) { totalCount } }"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["extensions"]["cost"] == {
        "requestedQueryCost": 1,
        "maximumAvailable": 1000,
    }


@pytest.mark.urls("tests.api.graphql.contract.fake_schema")
def test_request_body_over_two_megabytes_is_refused_with_a_client_error() -> None:
    padding = " " * (2 * 1024 * 1024)
    body = json.dumps({"query": "{ __typename }" + padding})
    response = Client().post("/graphql/", body, content_type="application/json")
    assert response.status_code == 400
    small = Client().post(
        "/graphql/", json.dumps({"query": "{ __typename }"}), content_type="application/json"
    )
    assert small.status_code == 200


def test_validation_rules_are_the_same_classes_on_every_request_so_validation_caches_hit() -> None:
    # The limits are checked against the document's analysis, not as validation rules: changing
    # one does not change the rules, so cached validations keep hitting.
    default_rules = RequestLimits().validation_rules
    assert RequestLimits().validation_rules == default_rules
    with override_settings(GRAPHQL_MAX_DEPTH=3, GRAPHQL_MAX_ALIASES=1, GRAPHQL_MAX_FIELDS=5):
        assert RequestLimits().validation_rules == default_rules
