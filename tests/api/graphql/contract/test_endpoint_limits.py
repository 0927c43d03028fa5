"""The limits and the storefront operations on the real schema, through POST /graphql/."""

import json
from typing import Any

import pytest
from django.test import Client, override_settings
from graphql import parse, print_ast

from backend.api.graphql.limits import query_cost
from backend.api.schema import schema
from tests.api.graphql.contract.test_client_operations import documents, with_fragments
from tests.factories import category_create, product_create
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db

ROOT = REPO_ROOT


def post(query: str, variables: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    response = Client().post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
    )
    return response.status_code, response.json()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture
def catalog() -> dict[str, Any]:
    shoes = category_create(name="Shoes", slug="shoes")
    running = category_create(name="Running", slug="running", parent=shoes)
    trail = product_create(name="Trail runner", slug="trail-runner", category=running)
    product_create(name="Road racer", slug="road-racer", category=running)
    return {"shoes": shoes, "running": running, "trail": trail}


def test_real_response_reports_its_cost(catalog: dict[str, Any]) -> None:
    status, body = post("{ products(first: 20) { nodes { name category { name } } } }")
    assert status == 200
    assert "errors" not in body
    # 1 connection + 20 x (product + category)
    assert body["extensions"]["cost"] == {"requestedQueryCost": 41, "maximumAvailable": 1000}


def test_real_query_over_budget_is_refused_before_any_sql(
    catalog: dict[str, Any], count_queries: Any
) -> None:
    query = """{ categories(first: 100) { nodes { children(first: 100) { nodes {
      name } } } } }"""
    with count_queries() as refused:
        _, body = post(query)
    assert refused.count == 0
    assert error_codes(body) == ["MAX_COST_EXCEEDED"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 100 * (1 + 1 + 100)
    with count_queries() as executed:
        _, body = post(
            "{ categories(first: 10) { nodes { children(first: 10) { nodes { name } } } } }"
        )
    assert "errors" not in body
    assert executed.count > 0  # the same shape within budget does reach the database


def test_nodes_by_ids_costs_per_requested_id(catalog: dict[str, Any]) -> None:
    query = "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    ids = [f"id-{index}" for index in range(30)]
    assert query_cost(schema._schema, parse(query), variables={"ids": ids}) == 30


def test_real_schema_refuses_depth_aliases_and_tokens_over_the_limits() -> None:
    deep = "{ products(first: 1) { nodes { category { " + "parent { " * 9 + "name" + " }" * 13
    assert error_codes(post(deep)[1]) == ["MAX_DEPTH_EXCEEDED"]
    aliases = (
        "{ " + " ".join(f'p{index}: product(slug: "x") {{ name }}' for index in range(16)) + " }"
    )
    assert error_codes(post(aliases)[1]) == ["MAX_ALIASES_EXCEEDED"]
    tokens = "{ " + "__typename " * 2500 + "}"
    assert error_codes(post(tokens)[1]) == ["MAX_TOKENS_EXCEEDED"]


@override_settings(GRAPHQL_INTROSPECTION=False)
def test_real_schema_refuses_introspection_when_disabled() -> None:
    codes = error_codes(post("{ __schema { types { name } } }")[1])
    assert codes
    assert set(codes) == {"INTROSPECTION_DISABLED"}


def test_real_endpoint_refuses_a_body_over_two_megabytes_with_400() -> None:
    body = json.dumps({"query": "{ __typename }" + " " * (2 * 1024 * 1024)})
    response = Client().post("/graphql/", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        ("ProductListPage", {}),
        ("ProductListPage", {"order": {"field": "PRICE", "direction": "ASC"}}),
        ("ProductDetail", {"slug": "trail-runner"}),
        ("CategoryTree", {}),
        ("ProductSearch", {"search": "trail"}),
    ],
)
def test_storefront_operation_runs_on_the_real_schema_within_budget(
    catalog: dict[str, Any], name: str, variables: dict[str, Any]
) -> None:
    document = with_fragments(documents()[name])
    status, body = post(print_ast(document), variables)
    assert status == 200
    assert "errors" not in body, body["errors"]
    assert body["data"]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == query_cost(schema._schema, document, variables=variables)
    assert cost["requestedQueryCost"] <= cost["maximumAvailable"]


def test_a_parsed_document_from_the_cache_still_obeys_a_lowered_token_limit(
    catalog: dict[str, Any],
) -> None:
    # Parses are cached per document text AND parse options, so the limit is part of the key:
    # a document accepted (and cached) under a high limit is refused once the limit drops.
    query = "{ products(first: 2) { nodes { name slug } } }"
    assert error_codes(post(query)[1]) == []
    with override_settings(GRAPHQL_MAX_TOKENS=8):
        for _ in range(2):  # a refused parse is not cached either
            status, body = post(query)
            assert status == 200
            assert error_codes(body) == ["MAX_TOKENS_EXCEEDED"]
    assert error_codes(post(query)[1]) == []


def test_a_validated_document_from_the_cache_still_obeys_a_lowered_depth_limit(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validations are cached per parsed document AND rules; the depth limit is not a rule but is
    # checked on every request against the document's analysis: the same text is validated
    # once, and a document accepted under one depth limit is refused under a lower one.
    from backend.api.graphql import validation

    validated: list[str] = []
    original = validation.validate_document

    def counting_validate(*args: Any) -> Any:
        validated.append(args[1].definitions[0].selection_set.selections[0].name.value)
        return original(*args)

    monkeypatch.setattr(validation, "validate_document", counting_validate)
    monkeypatch.setattr(validation.DocumentValidationCache, "_results", {})
    query = "{ products(first: 2) { nodes { category { parent { name } } } } }"  # depth 4
    for _ in range(3):
        assert error_codes(post(query)[1]) == []
    assert validated == ["products"]
    with override_settings(GRAPHQL_MAX_DEPTH=3):
        for _ in range(2):
            assert error_codes(post(query)[1]) == ["MAX_DEPTH_EXCEEDED"]
    assert validated == ["products"]
    assert error_codes(post(query)[1]) == []
    assert validated == ["products"]


def test_an_invalid_document_gets_the_same_errors_from_the_cache(
    catalog: dict[str, Any],
) -> None:
    query = "{ products(first: 2) { nodes { nonsense } } }"
    first, second = post(query), post(query)
    assert first == second
    assert first[0] == 200
    assert error_codes(first[1]) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "nonsense" in first[1]["errors"][0]["message"]
