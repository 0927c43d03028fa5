"""The Postman collection covers every OpenAPI operation and is regenerated, not hand-edited.

tests/api/rest/test_newman.py runs it against a live server.
"""

import copy
import importlib.util
import json
import re
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
SCHEMA = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
COLLECTION = json.loads((ROOT / "docs" / "postman" / "nexus.postman_collection.json").read_text())


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "postman_from_openapi", ROOT / "scripts" / "postman_from_openapi.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requests() -> list[dict[str, Any]]:
    return [item for folder in COLLECTION["item"] for item in folder["item"]]


def test_every_operation_appears_in_the_collection() -> None:
    in_schema = {
        (method.upper(), path.replace("{", ":").replace("}", ""))
        for path, item in SCHEMA["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    in_collection = {
        (item["request"]["method"], "/" + "/".join(item["request"]["url"]["path"]))
        for item in _requests()
    }
    assert in_schema == in_collection


def test_collection_file_is_current() -> None:
    assert _generator().collection_from_openapi(SCHEMA) == COLLECTION, (
        "docs/postman is stale: run `make openapi`"
    )


def test_login_stores_the_token_and_other_requests_use_it() -> None:
    (login,) = [item for item in _requests() if item["id"] == "auth_token_create"]
    script = "\n".join(login["event"][0]["script"]["exec"])
    assert "pm.collectionVariables.set('accessToken', body.access_token)" in script
    assert COLLECTION["auth"]["bearer"][0]["value"] == "{{accessToken}}"
    assert COLLECTION["item"][0]["item"][0] is login  # runs first under newman
    (place,) = [item for item in _requests() if item["id"] == "orders_create"]
    assert {"key": "Idempotency-Key", "value": "{{$guid}}"} in place["request"]["header"]


def test_every_request_checks_its_status_against_the_documented_ones() -> None:
    for item in _requests():
        script = "\n".join(item["event"][0]["script"]["exec"])
        assert "pm.response.to.have.status(" in script, item["id"]
        assert "pm.test('status is documented'" in script, item["id"]


def test_an_operation_without_a_scenario_step_is_refused() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["paths"]["/api/v1/orders/{id}/refund"] = {
        "post": {**SCHEMA["paths"]["/api/v1/orders/{id}/cancel"]["post"], "operationId": "refund"}
    }
    with pytest.raises(ValueError, match=re.escape("missing {'refund'}")):
        _generator().collection_from_openapi(schema)


def test_a_step_expecting_an_undocumented_status_is_refused() -> None:
    schema = copy.deepcopy(SCHEMA)
    del schema["paths"]["/api/v1/orders/{id}/cancel"]["post"]["responses"]["409"]
    with pytest.raises(ValueError, match="orders_cancel_create: 409 is not documented"):
        _generator().collection_from_openapi(schema)
