"""Every REST operation accepts exactly the query parameters its OpenAPI operation documents:
an undocumented one is a 400 naming it, a documented one is never refused as unknown."""

from typing import Any
from urllib.parse import quote

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.rest.conftest import PROBLEM, RestClient
from tests.factories import category_create, order_create, product_create

UNKNOWN = "Unknown parameter: this operation does not take it."


def _operations() -> list[tuple[str, str, frozenset[str]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path, frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query"))
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in operations.items()
        if method in {"get", "post", "patch", "delete"}
    ]


OPERATIONS = _operations()


def _concrete(path: str, ids: dict[str, int]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path


@pytest.fixture
def ids(staff: RestClient) -> dict[str, int]:
    category = category_create()
    product = product_create(category=category, stock_quantity=50)
    order = order_create(customer=staff.user, products=[(product, 1)])
    return {"id": order.pk, "id_or_slug": category.pk}


def _query_refusals(response: Any) -> dict[str, str]:
    if response.status_code != 400 or response["Content-Type"] != PROBLEM:
        return {}
    return {e.get("field"): e.get("message") for e in response.json().get("errors", [])}


def test_the_document_lists_the_query_parameters_of_every_list() -> None:
    documented = {path: names for method, path, names in OPERATIONS if method == "get"}
    assert documented["/api/v1/products"] >= {"cursor", "page_size", "ordering", "search"}
    assert documented["/api/v1/orders"] >= {"cursor", "page_size", "status"}


@pytest.mark.parametrize(
    ("method", "path", "documented"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_an_undocumented_parameter_is_refused_and_a_documented_one_is_not(
    staff: RestClient, ids: dict[str, int], method: str, path: str, documented: frozenset[str]
) -> None:
    url = _concrete(path, ids)
    unknown = staff.request(method, f"{url}?colour=red", body=None if method == "get" else {})
    assert unknown.status_code == 400
    assert _query_refusals(unknown).get("colour") == UNKNOWN
    for name in documented:
        response = staff.request(method, f"{url}?{name}=", body=None if method == "get" else {})
        assert _query_refusals(response).get(name) != UNKNOWN, name


@settings(max_examples=40, deadline=None)
@given(name=st.text(min_size=0, max_size=12).filter(lambda n: "\x00" not in n))
def test_any_undocumented_name_is_refused_on_a_list(name: str) -> None:
    documented = next(d for m, p, d in OPERATIONS if m == "get" and p == "/api/v1/products")
    if name in documented or name.strip() != name or not name.isprintable():
        return  # a documented name, or one the query string does not carry verbatim
    response = RestClient(None).get(f"/api/v1/products?{quote(name)}=1")
    assert response.status_code == 400
    # A parameter with an empty name (``?=1``) is refused at the request level (field null).
    assert _query_refusals(response).get(name or None) == UNKNOWN
