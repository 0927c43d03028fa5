"""Rules the OpenAPI document states and the server applies alike (what schemathesis's
``positive_data_acceptance`` and ``negative_data_rejection`` need): a body member the operation
does not define is refused, a price is plain digits with at most two decimals, no input string
holds a NUL, an order has 1 to ORDER_MAX_LINES lines, a search holds a word. Each tried with
many members, against the document itself and the server."""

import re
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest
import yaml
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.api.rest.framework import NO_NUL_PATTERN
from backend.catalog.models import Category, Product
from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import category_create

pytestmark = pytest.mark.django_db

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DOCUMENT = yaml.safe_load(
    (django_settings.BASE_DIR / "docs" / "openapi.yaml").read_text(encoding="utf-8")
)
COMPONENTS = DOCUMENT["components"]["schemas"]
REQUEST_COMPONENTS = {name: schema for name, schema in COMPONENTS.items() if "Request" in name}


def test_every_request_body_object_refuses_members_it_does_not_define() -> None:
    assert REQUEST_COMPONENTS
    for name, schema in REQUEST_COMPONENTS.items():
        assert schema.get("additionalProperties") is False, name


def _strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for prop in schema.get("properties", {}).values():
        for variant in prop.get("oneOf", [prop]):
            if variant.get("type") == "string" and not variant.get("readOnly"):
                found.append(variant)
    return found


def test_every_free_text_input_states_the_nul_rule() -> None:
    strings = [s for schema in REQUEST_COMPONENTS.values() for s in _strings(schema)]
    assert strings
    for string in strings:
        if "enum" in string or string.get("maxLength") == 0:  # a choice; the blank variant
            continue
        assert "pattern" in string, string
        assert re.search(string["pattern"], "a\x00b") is None, string
    assert any(s.get("pattern") == NO_NUL_PATTERN for s in strings)


def test_the_document_states_the_order_lines_and_price_rules() -> None:
    lines = COMPONENTS["OrderCreateRequest"]["properties"]["lines"]
    assert (lines["minItems"], lines["maxItems"]) == (1, django_settings.ORDER_MAX_LINES)
    amount = COMPONENTS["MoneyInputRequest"]["properties"]["amount"]
    assert amount["pattern"] == r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def product_body(category: Category, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Shoe",
        "slug": "shoe",
        "sku": "SHOE-1",
        "price": {"amount": "10.00", "currency": "USD"},
        "category": category.pk,
        **fields,
    }


member_names = st.text(min_size=1, max_size=12).filter(
    lambda name: (
        "\x00" not in name
        and name
        not in {"name", "slug", "sku", "description", "price", "category", "stock_quantity"}
        | {"is_published"}
    )
)


@given(name=member_names, value=st.none() | st.integers() | st.text(max_size=5))
@BOUNDED
def test_an_unknown_body_member_is_refused_naming_it(
    staff: RestClient, name: str, value: Any
) -> None:
    category = category_create()
    body = assert_problem(
        staff.post("/api/v1/products", product_body(category, **{name: value})), 400, "INVALID"
    )
    assert [error["field"] for error in body["errors"]] == [name]
    assert not Product.objects.exists()


@given(
    where=st.sampled_from(["price", "line", "order", "stock", "category", "token"]),
    name=st.sampled_from(["extra", "id", "currency_code", "Quantity", " name"]),
)
@BOUNDED
def test_unknown_members_are_refused_in_every_body_and_nested_object(
    staff: RestClient, where: str, name: str
) -> None:
    category = category_create()
    requests = {
        "price": (
            "/api/v1/products",
            product_body(category, price={"amount": "1.00", "currency": "USD", name: 1}),
            f"price.{name}",
        ),
        "line": (
            "/api/v1/orders",
            {"lines": [{"product_id": 1, "quantity": 1, name: 1}]},
            f"lines.0.{name}",
        ),
        "order": ("/api/v1/orders", {"lines": [{"product_id": 1, "quantity": 1}], name: 1}, name),
        "stock": ("/api/v1/products/1/stock-adjust", {"delta": 1, name: 1}, name),
        "category": ("/api/v1/categories", {"name": "A", "slug": "a", name: 1}, name),
        "token": ("/api/v1/auth/token", {"email": "a@example.com", "password": "x", name: 1}, name),
    }
    path, body, field = requests[where]
    headers = {"Idempotency-Key": "contract-rules"} if path == "/api/v1/orders" else None
    response = staff.post(path, body, headers=headers)
    problem = assert_problem(response, 400, "INVALID")
    assert field in [error["field"] for error in problem["errors"]]


bad_amounts = st.one_of(
    st.decimals(min_value=Decimal("-9999999999.99"), max_value=Decimal("-0.01"), places=2).map(str),
    st.integers(0, 10**9).map(lambda n: f"{n}.{'5' * 3}"),  # a third decimal
    st.integers(10**10, 10**12).map(str),  # 11 digits and more
    st.sampled_from(["1e2", "1E+2", "+1.00", ".5", "5.", "1.5e1", "100e-2", "-0"]),
)


@given(amount=bad_amounts)
@BOUNDED
def test_a_price_the_document_forbids_is_price_invalid(staff: RestClient, amount: str) -> None:
    category = category_create()
    body = product_body(category, price={"amount": amount, "currency": "USD"})
    problem = assert_problem(staff.post("/api/v1/products", body), 400, "PRICE_INVALID")
    assert [error["field"] for error in problem["errors"]] == ["price.amount"]
    assert not Product.objects.exists()


@given(amount=st.from_regex(r"\A[0-9]{1,10}(\.[0-9]{1,2})?\Z"))
@BOUNDED
def test_a_price_the_document_allows_is_stored(staff: RestClient, amount: str) -> None:
    Product.objects.all().delete()
    category = category_create()
    response = staff.post(
        "/api/v1/products", product_body(category, price={"amount": amount, "currency": "USD"})
    )
    assert response.status_code == 201, response.content
    assert Decimal(response.json()["price"]["amount"]) == Decimal(amount)


def _search_documented_valid(text: str) -> bool:
    r"""Whether the document's ``search`` pattern admits ``text``, read as a client's JSON
    Schema validator reads it: ECMA-262, where \w is ASCII (Python's re reads \w as Unicode,
    as the server's words are, and would agree with the server whatever the document says)."""
    pattern = next(
        parameter["schema"]["pattern"]
        for parameter in DOCUMENT["paths"]["/api/v1/products"]["get"]["parameters"]
        if parameter["name"] == "search"
    )
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid(text)


@given(text=st.text(st.characters(categories=["P", "S", "Z"]), min_size=1, max_size=20))
@BOUNDED
def test_a_search_without_a_word_is_refused_and_the_document_says_so(
    anonymous: RestClient, text: str
) -> None:
    assume_no_word = not _search_documented_valid(text)
    response = anonymous.get("/api/v1/products", {"search": text})
    assert (response.status_code == 400) is assume_no_word, (text, response.content)


@pytest.mark.parametrize("word", ["café", "日本", "٣", "Ωmega", "_", "²"])
def test_a_search_with_a_word_of_any_script_is_accepted_and_the_document_says_so(
    anonymous: RestClient, word: str
) -> None:
    assert _search_documented_valid(f"-{word}-")
    assert anonymous.get("/api/v1/products", {"search": f"-{word}-"}).status_code == 200
