"""GraphQL's metrics extension (backend/api/graphql/metrics.py): durations by bounded operation
name, errors by code, and the static cost QueryCostLimiter computed."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from backend.api.graphql import metrics

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def durations(name: str) -> float:
    return sample(
        "nexus_graphql_operation_duration_seconds_count",
        operation_name=name,
        operation_type="query",
    )


def post(query: str, operation_name: str | None = None) -> dict[str, Any]:
    body = {"query": query, "operationName": operation_name}
    response = Client(HTTP_HOST="localhost").post(
        "/graphql/", json.dumps(body), content_type="application/json"
    )
    return response.json()


@pytest.fixture
def fresh_operation_names() -> Iterator[None]:
    """The names seen so far by this process are the test's own."""
    seen = set(metrics._operation_names)
    metrics._operation_names.clear()
    yield
    metrics._operation_names.clear()
    metrics._operation_names.update(seen)


def test_an_operation_is_timed_under_its_name_or_anonymous(fresh_operation_names: None) -> None:
    named, anonymous = durations("ProductsPage"), durations("anonymous")

    post("query ProductsPage { __typename }", "ProductsPage")
    post("{ __typename }")

    assert durations("ProductsPage") == named + 1
    assert durations("anonymous") == anonymous + 1


def test_names_that_are_not_graphql_names_or_too_long_are_other(
    fresh_operation_names: None,
) -> None:
    long_name = "Q" * (metrics.OPERATION_NAME_MAX_LENGTH + 1)
    assert metrics.operation_name_label(long_name) == "other"
    assert metrics.operation_name_label("Q" * metrics.OPERATION_NAME_MAX_LENGTH) != "other"
    assert metrics.operation_name_label("not-a-name") == "other"
    assert metrics.operation_name_label("1Query") == "other"
    before = durations("other")

    post(f"query {long_name} {{ __typename }}", long_name)

    assert durations("other") == before + 1
    assert durations(long_name) == 0


def test_names_beyond_the_first_distinct_ones_are_other(
    fresh_operation_names: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "OPERATION_NAMES_MAX", 2)
    labels = [metrics.operation_name_label(f"Page{number}") for number in range(4)]
    assert labels == ["Page0", "Page1", "other", "other"]
    assert metrics.operation_name_label("Page0") == "Page0"  # already seen: still itself


def test_errors_are_counted_by_their_code() -> None:
    code = {"code": "GRAPHQL_VALIDATION_FAILED", "operation_type": "query"}
    before = sample("nexus_graphql_errors_total", **code)

    result = post("query Broken { noSuchField }", "Broken")

    assert result["errors"][0]["extensions"]["code"] == code["code"]
    assert sample("nexus_graphql_errors_total", **code) == before + 1


def test_a_parse_error_is_counted_without_an_operation_type() -> None:
    code = {"code": "GRAPHQL_PARSE_FAILED", "operation_type": "unknown"}
    before = sample("nexus_graphql_errors_total", **code)

    post("query {")

    assert sample("nexus_graphql_errors_total", **code) == before + 1


def test_the_cost_observed_is_the_cost_the_response_reports() -> None:
    count = sample("nexus_graphql_query_cost_count", operation_type="query")
    total = sample("nexus_graphql_query_cost_sum", operation_type="query")

    result = post("query Page { products(first: 7) { edges { node { id } } } }", "Page")

    reported = result["extensions"]["cost"]["requestedQueryCost"]
    assert reported > 1
    assert sample("nexus_graphql_query_cost_count", operation_type="query") == count + 1
    assert sample("nexus_graphql_query_cost_sum", operation_type="query") == total + reported
