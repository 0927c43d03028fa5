#!/usr/bin/env python
"""Generate the Postman collection and environment for the REST shim from docs/openapi.yaml.

    scripts/postman_from_openapi.py docs/openapi.yaml docs/postman

One request per OpenAPI operation (folders by tag, named by the operation's summary, bodies
from its first request example). The collection authenticates every request with the
``accessToken`` collection variable, which the "Log in" request sets from its response
(and "Refresh tokens" renews). Output is deterministic, so a regenerated file diffs cleanly.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

METHODS = ("get", "post", "put", "patch", "delete")
LOGIN_OPERATIONS = {"auth_token_create", "auth_refresh_create"}
STORE_TOKENS = [
    "const body = pm.response.json();",
    "pm.test('tokens issued', () => pm.expect(pm.response.code).to.eql(200));",
    "pm.collectionVariables.set('accessToken', body.access_token);",
    "pm.collectionVariables.set('refreshToken', body.refresh_token);",
]


def _url(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    postman_path = re.sub(r"\{([^}]+)\}", r":\1", path)
    query = [
        {"key": p["name"], "value": "", "disabled": True, "description": p.get("description", "")}
        for p in operation.get("parameters", [])
        if p["in"] == "query"
    ]
    variables = [
        {"key": p["name"], "value": "1"}
        for p in operation.get("parameters", [])
        if p["in"] == "path"
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}" + postman_path,
        "host": ["{{baseUrl}}"],
        "path": postman_path.strip("/").split("/"),
    }
    if query:
        url["query"] = query
    if variables:
        url["variable"] = variables
    return url


def _body(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    examples = media.get("examples") or {}
    value = next(iter(examples.values()))["value"] if examples else {}
    if operation["operationId"] in LOGIN_OPERATIONS | {"auth_revoke_create"}:
        value = (
            {"email": "{{email}}", "password": "{{password}}"}
            if operation["operationId"] == "auth_token_create"
            else {"refresh_token": "{{refreshToken}}"}
        )
    return {
        "mode": "raw",
        "raw": json.dumps(value, indent=2),
        "options": {"raw": {"language": "json"}},
    }


def _item(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    headers = [{"key": "Accept", "value": "application/json"}]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
            headers.append({"key": "Idempotency-Key", "value": "{{$guid}}"})
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": headers,
        "url": _url(path, operation),
        "description": operation.get("description", ""),
    }
    body = _body(operation)
    if body is not None:
        request["body"] = body
    if not any(operation.get("security") or [{}]):  # [{}]: public, no credentials at all
        request["auth"] = {"type": "noauth"}
    item: dict[str, Any] = {
        "name": operation["summary"],
        "id": operation["operationId"],
        "request": request,
    }
    if operation["operationId"] in LOGIN_OPERATIONS:
        item["event"] = [
            {"listen": "test", "script": {"type": "text/javascript", "exec": STORE_TOKENS}}
        ]
    return item


def collection_from_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, path_item in schema["paths"].items():
        for method in METHODS:
            if method in path_item:
                operation = path_item[method]
                tag = (operation.get("tags") or ["api"])[0]
                folders.setdefault(tag, []).append(_item(path, method, operation))
    # Log in first (then refresh, then revoke): a runner (newman) then authenticates every
    # later request with the stored access token.
    order = sorted(folders, key=lambda tag: (tag != "auth", tag))
    for items in folders.values():
        items.sort(key=lambda item: item["id"] != "auth_token_create")
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
            {"key": "accessToken", "value": ""},
            {"key": "refreshToken", "value": ""},
        ],
        "item": [{"name": tag, "item": folders[tag]} for tag in order],
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
