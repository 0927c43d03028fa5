"""The OpenAPI document: checked in, complete (summary, permission, errors) and served."""

from typing import Any

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.validation import validate_schema

from tests.api.rest.conftest import RestClient
from tests.paths import REPO_ROOT

CHECKED_IN = REPO_ROOT / "docs" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


def _generated() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_checked_in_schema_matches_the_code() -> None:
    rendered = OpenApiYamlRenderer().render(_generated(), renderer_context={}).decode()
    assert rendered == CHECKED_IN.read_text(), (
        "docs/openapi.yaml is stale: run `make openapi` and commit the result"
    )


def test_schema_is_valid_openapi() -> None:
    validate_schema(_generated())  # raises on an invalid document


def test_every_operation_has_summary_permission_and_problem_errors() -> None:
    operations = _operations(yaml.safe_load(CHECKED_IN.read_text()))
    assert len(operations) == 22  # 3 auth, 5 category, 7 product, 7 order
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        description = operation.get("description", "")
        assert "Requires " in description or "Public:" in description, where
        errors = {status: r for status, r in operation["responses"].items() if status >= "400"}
        assert errors, where
        for response in errors.values():
            assert list(response["content"]) == ["application/problem+json"], where


def test_writes_carry_request_examples() -> None:
    for path, method, operation in _operations(yaml.safe_load(CHECKED_IN.read_text())):
        body = operation.get("requestBody")
        if body:
            (media,) = body["content"].values()
            assert media.get("examples"), f"{method.upper()} {path}"


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_its_viewers_are_served(anonymous: RestClient, url: str) -> None:
    assert anonymous.get(url).status_code == 200
