"""The log policy, read from the configured handler's output (JSON lines): a client's mistake
(bad input, a refused document or body, a missing or expired token, a limit, an unknown field
or id, a throttled sign-in) leaves no ERROR record and no traceback; a server fault leaves
exactly one ERROR record with one traceback, on GraphQL and on REST. Records logged during a
request carry its request id, its user and its GraphQL operation."""

import json
import time
from typing import Any, NoReturn

import pytest
from django.test import Client, override_settings
from strawberry.relay import to_base64

from backend.accounts.tokens import access_token_create
from backend.api.graphql.catalog import schema as catalog_schema
from backend.api.rest.catalog import CategoryViewSet
from tests.factories import user_create
from tests.log_capture import JsonLog

pytestmark = pytest.mark.django_db

GRAPHQL_RESPONSE = "application/graphql-response+json"


def graphql(body: bytes | str | dict[str, Any], *, headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return Client(raise_request_exception=False).post(
        "/graphql/", data, content_type="application/json", headers=headers or {}
    )


def deep(levels: int) -> str:
    return "{ categories(first: 1) { nodes " * levels + "{ id }" + " } }" * levels


def expired_token() -> str:
    return access_token_create(user_create(), now=time.time() - 3600)


GRAPHQL_CLIENT_MISTAKES: dict[str, dict[str, Any]] = {
    "invalid global id": {"body": {"query": '{ node(id: "not-a-global-id") { id } }'}},
    "id of another type": {
        "body": {"query": f'{{ category(id: "{to_base64("Order", 1)}") {{ id }} }}'}
    },
    "bad variable value": {
        "body": {
            "query": "query($n: Int) { categories(first: $n) { nodes { id } } }",
            "variables": {"n": "many"},
        }
    },
    "unknown field": {"body": {"query": "{ nope }"}},
    "syntax error": {"body": {"query": "{ categories(first: 1) { "}},
    "missing token": {
        "body": {
            "query": "mutation($input: OrderCreateInput!) { orderCreate(input: $input) "
            "{ order { id } } }",
            "variables": {
                "input": {
                    "idempotencyKey": "key-1",
                    "lines": [{"productId": to_base64("Product", 1), "quantity": 1}],
                }
            },
        }
    },
    "staff-only filter": {
        "body": {"query": "{ products(first: 5, filter: {published: false}) { totalCount } }"}
    },
    "expired token": {"body": {"query": "{ me { id } }"}, "expired": True},
    "cost over limit": {
        "body": {"query": "{ products(first: 100) { nodes { id } } }"},
        "settings": {"GRAPHQL_MAX_COST": 10},
    },
    "too deep": {"body": {"query": deep(12)}},
    "NUL in a variable": {
        "body": {
            "query": "query($s: String) "
            "{ products(first: 1, filter: {search: $s}) { nodes { id } } }",
            "variables": {"s": "a\x00b"},
        }
    },
    "body not an object": {"body": "[1, 2]"},
    "body not UTF-8": {"body": b'{"query": "\xff"}'},
    "several operations, none named": {
        "body": {"query": "query A { me { id } } query B { me { id } }"}
    },
    "refused as a request error": {
        "body": {"query": "{ nope }"},
        "headers": {"Accept": GRAPHQL_RESPONSE},
    },
}


@pytest.mark.parametrize("case", sorted(GRAPHQL_CLIENT_MISTAKES))
def test_a_graphql_client_mistake_logs_no_error_and_no_traceback(
    case: str, json_log: JsonLog
) -> None:
    spec = GRAPHQL_CLIENT_MISTAKES[case]
    headers = dict(spec.get("headers", {}))
    if spec.get("expired"):
        headers["Authorization"] = f"Bearer {expired_token()}"
    with override_settings(**spec.get("settings", {})):
        response = graphql(spec["body"], headers=headers)
    assert response.status_code in {200, 400}
    assert response.json()["errors"], response.json()
    assert json_log.errors() == []
    assert "Traceback" not in json_log.text()


def test_a_graphql_client_error_is_one_info_record_with_its_code(json_log: JsonLog) -> None:
    graphql({"query": '{ node(id: "not-a-global-id") { id } }'})
    (record,) = [r for r in json_log.records() if r["logger"] == "backend.api.graphql.logs"]
    assert record["level"] == "INFO"
    assert record["graphql_code"] == "BAD_USER_INPUT"
    assert "exception" not in record


REST_CLIENT_MISTAKES: dict[str, tuple[str, str, Any]] = {
    "unknown object": ("get", "/api/v1/categories/999999999", None),
    "unreadable page size": ("get", "/api/v1/products/?page_size=lots", None),
    "unknown route": ("get", "/api/v1/nowhere", None),
    "not signed in": ("get", "/api/v1/orders/", None),
    "body not UTF-8": ("post", "/api/v1/auth/token", b'{"email": "\xff"}'),
    "body nested too deep": ("post", "/api/v1/auth/token", "[" * 5000 + "]" * 5000),
    "invalid input": ("post", "/api/v1/auth/token", json.dumps({"email": 7})),
}


@pytest.mark.parametrize("case", sorted(REST_CLIENT_MISTAKES))
def test_a_rest_client_mistake_is_one_warning_without_traceback(
    case: str, json_log: JsonLog
) -> None:
    method, path, body = REST_CLIENT_MISTAKES[case]
    client = Client(raise_request_exception=False)
    kwargs = {"content_type": "application/json"} if body is not None else {}
    response = getattr(client, method)(path, *([body] if body is not None else []), **kwargs)
    assert 400 <= response.status_code < 500
    assert json_log.errors() == []
    assert "Traceback" not in json_log.text()
    # Django's record of the 4xx, once, inside the request's context.
    (record,) = [r for r in json_log.records() if r["logger"] == "django.request"]
    assert record["level"] == "WARNING"
    assert record["request_id"] == response["X-Request-ID"]


def test_throttled_sign_ins_log_no_error(json_log: JsonLog) -> None:
    user_create(email="target@example.com", password="correct horse battery")
    client = Client(raise_request_exception=False)
    statuses = [
        client.post(
            "/api/v1/auth/token",
            {"email": "target@example.com", "password": "wrong"},
            content_type="application/json",
        ).status_code
        for _ in range(6)
    ]
    assert 429 in statuses
    assert json_log.errors() == []
    assert "Traceback" not in json_log.text()


def _fault(*args: Any, **kwargs: Any) -> NoReturn:
    raise RuntimeError("the resolver broke")


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_a_graphql_server_fault_is_one_error_with_one_traceback(
    accept: str, json_log: JsonLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_schema, "_by_id_or_slug", _fault)
    response = graphql(
        {"query": 'query Shelf { category(slug: "x") { id } }', "operationName": "Shelf"},
        headers={"Accept": accept, "X-Request-ID": "fault-1"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    (error,) = json_log.errors()
    assert error["logger"] == "backend.api.graphql.logs"
    assert error["request_id"] == "fault-1"
    assert error["operation_name"] == "Shelf"
    assert error["exception"].count("Traceback (most recent call last)") == 1
    assert error["exception"].endswith("RuntimeError: the resolver broke")
    assert json_log.text().count("Traceback") == 1


@override_settings(DEBUG=False)
def test_a_rest_server_fault_is_one_error_with_one_traceback(
    json_log: JsonLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CategoryViewSet, "get_queryset", _fault)
    response = Client(raise_request_exception=False).get(
        "/api/v1/categories", headers={"X-Request-ID": "fault-2"}
    )
    assert response.status_code == 500
    (error,) = json_log.errors()
    assert error["request_id"] == "fault-2"
    assert error["exception"].endswith("RuntimeError: the resolver broke")
    assert json_log.text().count("Traceback") == 1


@pytest.mark.urls("tests.api.rest.faulty_urls")
@override_settings(DEBUG=False)
def test_a_fault_outside_drf_is_one_error_with_one_traceback(json_log: JsonLog) -> None:
    response = Client(raise_request_exception=False).get("/api/faulty-plain?fault=KeyError")
    assert response.status_code == 500
    (error,) = json_log.errors()
    assert error["logger"] == "django.request"
    assert "KeyError" in error["exception"]
    assert json_log.text().count("Traceback") == 1


def test_graphql_records_carry_request_id_user_and_operation(json_log: JsonLog) -> None:
    user = user_create()
    graphql(
        {"query": 'query Lookup { node(id: "nonsense") { id } }', "operationName": "Lookup"},
        headers={"Authorization": f"Bearer {access_token_create(user)}", "X-Request-ID": "gql-1"},
    )
    (record,) = [r for r in json_log.records() if r["logger"] == "backend.api.graphql.logs"]
    assert record["request_id"] == "gql-1"
    assert record["user_id"] == str(user.pk)
    assert record["operation_name"] == "Lookup"


def test_an_unnamed_operation_is_named_after_its_document(json_log: JsonLog) -> None:
    graphql({"query": 'query Lookup { node(id: "nonsense") { id } }'})
    (record,) = [r for r in json_log.records() if r["logger"] == "backend.api.graphql.logs"]
    assert record["operation_name"] == "Lookup"
