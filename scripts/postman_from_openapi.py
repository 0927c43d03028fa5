#!/usr/bin/env python
"""Generate the Postman collection and environment for the REST shim from docs/openapi.yaml.

    scripts/postman_from_openapi.py docs/openapi.yaml docs/postman

One request per OpenAPI operation (folders by tag, named by the operation's summary, bodies
from its first request example), in the order of ``STEPS``: a scenario that newman runs top to
bottom (``make api-check``, tests/api/rest/test_newman.py). It logs in as the demo admin, creates
what it needs (a category, a product, an order), walks the order through its statuses and
deletes what it created, so it can run again on the same database. Each request asserts the
status its step expects and that the status is one the operation documents; the collection
asserts that no response is a 5xx. The "Log in" request stores ``accessToken`` in a collection
variable that every other request authenticates with. Output is deterministic, so a regenerated
file diffs cleanly.
"""

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

METHODS = ("get", "post", "put", "patch", "delete")
# Postman's dynamic variable: a fresh value per request, so slugs and SKUs never collide.
UNIQUE = "{{$guid}}"
TOKENS = {"accessToken": "body.access_token", "refreshToken": "body.refresh_token"}


@dataclass(frozen=True)
class Step:
    """What one request does in the scenario: the status it expects and the data it passes on."""

    status: int
    body: Any = None  # None: the operation's first request example
    path: Mapping[str, str] = field(default_factory=dict)  # path parameter -> value
    query: Mapping[str, str] = field(default_factory=dict)  # query parameters sent
    store: Mapping[str, str] = field(default_factory=dict)  # collection variable -> JS on `body`
    checks: Mapping[str, str] = field(default_factory=dict)  # test name -> JS boolean on `body`
    code: str | None = None  # the problem `code` a refusal must carry


# Run order. Folders follow their tags' first steps, so each tag's steps are contiguous. Logging
# out (revoking the refresh token) leaves the access token valid for its few minutes' lifetime.
STEPS: dict[str, Step] = {
    "auth_token_create": Step(
        200, body={"email": "{{email}}", "password": "{{password}}"}, store=TOKENS
    ),
    "auth_refresh_create": Step(200, body={"refresh_token": "{{refreshToken}}"}, store=TOKENS),
    "auth_revoke_create": Step(204, body={"refresh_token": "{{refreshToken}}"}),
    "categories_list": Step(200, store={"productCategoryId": "body.results[0].id"}),
    "categories_create": Step(
        201,
        body={"name": "Newman", "slug": f"newman-{UNIQUE}", "parent": None},
        store={"categoryId": "body.id"},
    ),
    "categories_retrieve": Step(200, path={"id_or_slug": "{{categoryId}}"}),
    "categories_partial_update": Step(200, path={"id_or_slug": "{{categoryId}}"}),
    "categories_destroy": Step(204, path={"id_or_slug": "{{categoryId}}"}),
    "products_list": Step(
        200,
        query={"in_stock": "true", "facets": "true"},
        store={"orderProductId": "body.results.find(p => p.is_published).id"},
        checks={
            "every product counted in stock": "body.facets.in_stock.count >= body.results.length"
        },
    ),
    "products_create": Step(
        201,
        body={
            "name": "Newman test product",
            "slug": f"newman-{UNIQUE}",
            "sku": f"NEWMAN-{UNIQUE}",
            "price": {"amount": "9.90", "currency": "USD"},
            "category": "{{productCategoryId}}",
            "stock_quantity": 10,
        },
        store={"productId": "body.id"},
    ),
    "products_retrieve": Step(200, path={"id": "{{productId}}"}),
    "products_partial_update": Step(200, path={"id": "{{productId}}"}),
    "products_stock_adjust_create": Step(
        200,
        body={"delta": 5},
        path={"id": "{{productId}}"},
        checks={"5 units received": "body.stock_quantity === 15"},
    ),
    "products_suggest_retrieve": Step(
        200,
        query={"prefix": "newman"},
        checks={"the new product is suggested": "body.results.includes('Newman test product')"},
    ),
    "products_destroy": Step(204, path={"id": "{{productId}}"}),
    "orders_create": Step(
        201,
        body={"lines": [{"product_id": "{{orderProductId}}", "quantity": 1}]},
        store={"orderId": "body.id"},
    ),
    "orders_retrieve": Step(200, path={"id": "{{orderId}}"}),
    # Without a broker the charge runs in-process before the response: the order is PAID next.
    "orders_pay_create": Step(200, path={"id": "{{orderId}}"}),
    "orders_ship_create": Step(
        200, path={"id": "{{orderId}}"}, checks={"shipped": "body.status === 'SHIPPED'"}
    ),
    "orders_deliver_create": Step(
        200, path={"id": "{{orderId}}"}, checks={"delivered": "body.status === 'DELIVERED'"}
    ),
    "orders_cancel_create": Step(409, path={"id": "{{orderId}}"}, code="ORDER_TRANSITION_INVALID"),
    "orders_list": Step(
        200,
        query={"status": "DELIVERED"},
        checks={
            "only delivered orders": "body.results.every(o => o.status === 'DELIVERED')",
            "the delivered order is listed": "body.results.some(o => "
            "o.id === Number(pm.collectionVariables.get('orderId')))",
        },
    ),
}


def _query_parameter(parameter: dict[str, Any], step: Step) -> dict[str, Any]:
    """Sent when the step gives a value; otherwise listed, disabled, for Postman users."""
    name = parameter["name"]
    entry = {
        "key": name,
        "value": step.query.get(name, ""),
        "description": parameter.get("description", ""),
    }
    if name not in step.query:
        entry["disabled"] = True
    return entry


def _url(path: str, operation: dict[str, Any], step: Step) -> dict[str, Any]:
    postman_path = re.sub(r"\{([^}]+)\}", r":\1", path)
    parameters = operation.get("parameters", [])
    query = [_query_parameter(p, step) for p in parameters if p["in"] == "query"]
    variables = [
        {"key": p["name"], "value": step.path[p["name"]]} for p in parameters if p["in"] == "path"
    ]
    sent = "&".join(f"{name}={value}" for name, value in step.query.items())
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}" + postman_path + (f"?{sent}" if sent else ""),
        "host": ["{{baseUrl}}"],
        "path": postman_path.strip("/").split("/"),
    }
    if query:
        url["query"] = query
    if variables:
        url["variable"] = variables
    return url


def _body(operation: dict[str, Any], step: Step) -> dict[str, Any] | None:
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None:
        return None
    examples = media.get("examples") or {}
    value = step.body
    if value is None:
        value = next(iter(examples.values()))["value"] if examples else {}
    # Ids are JSON numbers: `"{{productId}}"` unquoted sends `12`, not `"12"`.
    raw = re.sub(r'"(\{\{\w+Id\}\})"', r"\1", json.dumps(value, indent=2))
    return {"mode": "raw", "raw": raw, "options": {"raw": {"language": "json"}}}


def _tests(operation: dict[str, Any], step: Step) -> list[str]:
    documented = sorted(int(status) for status in operation["responses"])
    if step.status not in documented:
        raise ValueError(f"{operation['operationId']}: {step.status} is not documented")
    lines = [
        f"pm.test('status {step.status}', () => pm.response.to.have.status({step.status}));",
        "pm.test('status is documented', () => "
        f"pm.expect(pm.response.code).to.be.oneOf({documented}));",
    ]
    if step.store or step.checks or step.code:
        lines.append("const body = pm.response.json();")
    if step.code:
        lines.append(
            f"pm.test('code {step.code}', () => pm.expect(body.code).to.eql('{step.code}'));"
        )
    for name, condition in step.checks.items():
        lines.append(f"pm.test({json.dumps(name)}, () => pm.expect({condition}).to.be.true);")
    for variable, expression in step.store.items():
        lines.append(f"pm.collectionVariables.set('{variable}', {expression});")
    return lines


def _item(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    step = STEPS[operation["operationId"]]
    headers = [{"key": "Accept", "value": "application/json"}]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
            headers.append({"key": "Idempotency-Key", "value": UNIQUE})
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": headers,
        "url": _url(path, operation, step),
        "description": operation.get("description", ""),
    }
    body = _body(operation, step)
    if body is not None:
        request["body"] = body
    if not any(operation.get("security") or [{}]):  # [{}]: public, no credentials at all
        request["auth"] = {"type": "noauth"}
    return {
        "name": operation["summary"],
        "id": operation["operationId"],
        "request": request,
        "event": [
            {
                "listen": "test",
                "script": {"type": "text/javascript", "exec": _tests(operation, step)},
            }
        ],
    }


def collection_from_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    operations = {
        operation["operationId"]: (path, method, operation)
        for path, path_item in schema["paths"].items()
        for method in METHODS
        if (operation := path_item.get(method)) is not None
    }
    missing, unknown = set(operations) - set(STEPS), set(STEPS) - set(operations)
    if missing or unknown:
        raise ValueError(f"STEPS must name every operation: missing {missing}, unknown {unknown}")
    folders: dict[str, list[dict[str, Any]]] = {}
    previous_tag = None
    for operation_id in STEPS:
        path, method, operation = operations[operation_id]
        tag = (operation.get("tags") or ["api"])[0]
        if tag != previous_tag and tag in folders:
            raise ValueError(f"STEPS: the {tag} steps must be contiguous (folders run in order)")
        folders.setdefault(tag, []).append(_item(path, method, operation))
        previous_tag = tag
    return {
        "info": {
            "name": schema["info"]["title"],
            "description": schema["info"].get("description", ""),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
        },
        # Runs after every request: whatever the input, the server never answers 5xx.
        "event": [
            {
                "listen": "test",
                "script": {
                    "type": "text/javascript",
                    "exec": [
                        "pm.test('no server error', () => "
                        "pm.expect(pm.response.code).to.be.below(500));"
                    ],
                },
            }
        ],
        "variable": [
            {"key": variable, "value": ""}
            for variable in sorted({v for step in STEPS.values() for v in step.store})
        ],
        "item": [{"name": tag, "item": items} for tag, items in folders.items()],
    }


def environment() -> dict[str, Any]:
    return {
        "name": "Nexus local (make run; demo_load's DEBUG-only admin)",
        "values": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8000", "enabled": True},
            {"key": "email", "value": "admin@nexus.local", "enabled": True},
            {"key": "password", "value": "nexus-demo-admin", "type": "secret", "enabled": True},
        ],
    }


def main(schema_path: str, out_dir: str) -> None:
    schema = yaml.safe_load(Path(schema_path).read_text())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in (
        ("nexus.postman_collection.json", collection_from_openapi(schema)),
        ("nexus.postman_environment.json", environment()),
    ):
        (out / name).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
