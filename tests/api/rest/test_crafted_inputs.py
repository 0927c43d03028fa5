"""Crafted REST inputs are a 400 (or a problem+json 404 for a URL naming nothing), never a 500,
and change nothing: each class of finding 7 and of the schemathesis run, tried with many members.

Classes: numbers written with other scripts' digits, superscripts, exponents or a million digits
(ids, ``page_size``, price and category filters); NUL characters (JSON bodies, the
Idempotency-Key header, path segments); JSON nested thousands deep or not UTF-8; values of the
wrong JSON type (``"slug": 0``); empty and repeated query parameters; URLs under /api/ that name
no route, with a newline or NUL in them.
"""

import base64
import json
import unicodedata
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.catalog.models import Category, Product
from backend.orders.models import Order
from tests.api.rest.conftest import PROBLEM, RestClient, assert_problem
from tests.factories import category_create, product_create

pytestmark = pytest.mark.django_db

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters Python calls digits that are not ASCII: other scripts' digits (int() reads them),
# superscripts and circled digits (str.isdigit says yes, int() refuses them).
NON_ASCII_DIGITS = [
    c
    for c in map(chr, range(0x80, 0x10000))
    if (c.isdigit() or c.isdecimal() or unicodedata.category(c) == "No")
]
non_ascii_digits = st.text(st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=4)
# Numbers no bounded parser should read: exponents PostgreSQL's numeric cannot hold, digit
# strings longer than int() converts, special values, non-ASCII digits mixed into ASCII ones.
unreadable_numbers = st.one_of(
    st.integers(1001, 10**7).map(lambda n: f"1e-{n}"),
    st.integers(1001, 10**7).map(lambda n: f"1e{n}"),
    st.integers(65, 10**6).map(lambda n: "9" * n),
    st.sampled_from(["NaN", "-Infinity", "Infinity", "1_000", " 1", "1 ", "0x10", "1e", "."]),
    st.tuples(st.integers(0, 99), non_ascii_digits).map(lambda t: f"{t[0]}{t[1]}"),
    non_ascii_digits,
)
nul_texts = st.tuples(st.text(max_size=10), st.text(max_size=10)).map(
    lambda parts: f"{parts[0]}\x00{parts[1]}"
)


@given(value=unreadable_numbers)
@BOUNDED
def test_unreadable_page_size_is_a_400_naming_it(anonymous: RestClient, value: str) -> None:
    body = assert_problem(anonymous.get("/api/v1/products", {"page_size": value}), 400, "INVALID")
    assert [error["field"] for error in body["errors"]] == ["page_size"]


@given(size=st.integers(1, 100))
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_page_size_in_range_is_read(anonymous: RestClient, size: int) -> None:
    response = anonymous.get("/api/v1/products", {"page_size": str(size)})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("parameter", ["price_min", "price_max", "category"])
@given(value=st.one_of(unreadable_numbers, st.just("")))
@BOUNDED
def test_unreadable_filter_is_a_400_naming_it(
    anonymous: RestClient, parameter: str, value: str
) -> None:
    body = assert_problem(anonymous.get("/api/v1/products", {parameter: value}), 400, "INVALID")
    assert [error["field"] for error in body["errors"]] == [parameter]


@given(
    low=st.decimals(min_value=-9999999999, max_value=9999999999, places=2),
    high=st.decimals(min_value=-9999999999, max_value=9999999999, places=2),
)
@BOUNDED
def test_price_bounds_in_range_are_read(anonymous: RestClient, low: Any, high: Any) -> None:
    response = anonymous.get("/api/v1/products", {"price_min": str(low), "price_max": str(high)})
    # An inverted range is the client's mistake too (400); nothing else may be refused.
    assert response.status_code == (200 if low <= high else 400), response.content


@pytest.mark.parametrize("parameter", ["price_min", "page_size", "ordering", "category"])
def test_a_repeated_parameter_is_refused(anonymous: RestClient, parameter: str) -> None:
    response = anonymous.client.get(f"/api/v1/products?{parameter}=1&{parameter}=2")
    body = assert_problem(response, 400, "INVALID")
    assert [error["field"] for error in body["errors"]] == [parameter]


def test_a_repeatable_parameter_may_repeat(customer: RestClient) -> None:
    assert customer.get("/api/v1/orders?status=PAID&status=SHIPPED").status_code == 200


@given(segment=st.one_of(non_ascii_digits, nul_texts, st.just("1\n"), st.just("1%0A")))
@BOUNDED
def test_an_id_that_is_not_ascii_digits_names_nothing(staff: RestClient, segment: str) -> None:
    product = product_create()
    category = category_create()
    for collection in ("products", "orders", "categories"):
        path = f"/api/v1/{collection}/{quote(segment, safe='%')}"
        response = staff.client.get(path, headers={"Authorization": _bearer(staff)})
        assert_problem(response, 404, "NOT_FOUND")
    # and the objects with ASCII ids are still there
    assert staff.get(f"/api/v1/products/{product.pk}").status_code == 200
    assert staff.get(f"/api/v1/categories/{category.pk}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/1%0A",
        "/api/v1/%0A",
        "/api/nowhere",
        "/api/v2/products",
        "/api/schema/extra",
        "/api/v1/categories/a%00b",
        "/api/v1/categories/" + "9" * 5000,
    ],
)
def test_every_unknown_api_url_is_a_problem_404(anonymous: RestClient, path: str) -> None:
    assert_problem(anonymous.client.get(path), 404, "NOT_FOUND")


def test_html_404_stays_outside_the_api() -> None:
    response = Client().get("/nowhere")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith(PROBLEM)


def _bearer(client: RestClient) -> str:
    from backend.accounts.tokens import access_token_create

    assert client.user is not None
    return f"Bearer {access_token_create(client.user)}"


@given(field=st.sampled_from(["name", "slug", "description"]), text=nul_texts)
@BOUNDED
def test_nul_in_a_category_is_refused_and_nothing_is_written(
    staff: RestClient, field: str, text: str
) -> None:
    before = Category.objects.count()
    body = {"name": "Shoes", "slug": "shoes", "description": "", field: text}
    response = staff.post("/api/v1/categories", body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    assert Category.objects.count() == before


def product_body(category: Category) -> dict[str, Any]:
    """A valid product for POST /api/v1/products, for a test to spoil one field of."""
    return {
        "name": "Shoe",
        "slug": "shoe",
        "sku": "SHOE-1",
        "price": {"amount": "10.00", "currency": "USD"},
        "category": category.pk,
    }


@given(
    field=st.sampled_from(["name", "slug", "sku", "description"]),
    value=st.one_of(
        st.integers(-(2**63), 2**64 - 1),
        st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.integers(0, 9)),
    ),
)
@BOUNDED
def test_a_string_field_refuses_other_json_types(staff: RestClient, field: str, value: Any) -> None:
    category = category_create()
    before = Product.objects.count()
    body = {**product_body(category), field: value}
    problem = assert_problem(staff.post("/api/v1/products", body), 400, "INVALID")
    assert [error["field"] for error in problem["errors"]] == [field]
    assert Product.objects.count() == before


@given(
    field=st.sampled_from(["category", "stock_quantity"]),
    value=st.one_of(
        # NUL and lone surrogates: the body is refused as a whole, tested above.
        st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"])),
        st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(2**63, 2**64 - 1),  # beyond: not JSON the parser reads (PARSE_ERROR)
    ),
)
@BOUNDED
def test_an_integer_field_refuses_other_json_types_and_out_of_range(
    staff: RestClient, field: str, value: Any
) -> None:
    category = category_create()
    body = {**product_body(category), field: value}
    problem = assert_problem(staff.post("/api/v1/products", body), 400, "INVALID")
    assert [error["field"] for error in problem["errors"]] == [field]
    assert not Product.objects.exists()


@given(amount=unreadable_numbers)
@BOUNDED
def test_an_unreadable_price_is_refused(staff: RestClient, amount: str) -> None:
    category = category_create()
    body = {
        "name": "Shoe",
        "slug": "shoe",
        "sku": "SHOE-1",
        "price": {"amount": amount, "currency": "USD"},
        "category": category.pk,
    }
    response = staff.post("/api/v1/products", body)
    assert response.status_code == 400, response.content
    assert not Product.objects.exists()


@given(key=nul_texts)
@BOUNDED
def test_nul_in_the_idempotency_key_is_refused(customer: RestClient, key: str) -> None:
    product = product_create(stock_quantity=5)
    response = customer.post(
        "/api/v1/orders",
        {"lines": [{"product_id": product.pk, "quantity": 1}]},
        headers={"Idempotency-Key": key},
    )
    assert_problem(response, 400, "IDEMPOTENCY_KEY_INVALID")
    assert not Order.objects.exists()
    product.refresh_from_db()
    assert product.stock_quantity == 5


@given(depth=st.integers(33, 5000), opener=st.sampled_from(["[", '{"a":']))
@BOUNDED
def test_json_nested_too_deep_is_a_400(anonymous: RestClient, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = opener * depth + ("1" if opener != "[" else "") + closer * depth
    response = anonymous.client.post("/api/v1/auth/token", body, content_type="application/json")
    assert_problem(response, 400, "PARSE_ERROR")


@given(body=st.binary(min_size=1, max_size=40))
@BOUNDED
def test_a_body_that_is_not_utf8_json_is_a_400(anonymous: RestClient, body: bytes) -> None:
    response = anonymous.client.post(
        "/api/v1/auth/token", b'{"email": "' + body + b'\xff"}', content_type="application/json"
    )
    assert_problem(response, 400, "PARSE_ERROR")


def test_nul_anywhere_in_a_json_body_is_a_400(anonymous: RestClient) -> None:
    body = json.dumps({"email": "a@example.com", "password": "x\x00y"})
    response = anonymous.client.post("/api/v1/auth/token", body, content_type="application/json")
    assert_problem(response, 400, "PARSE_ERROR")


# A list's first ordering column, per endpoint and ``ordering``: a forged cursor's position must
# be a value of it. Text with a NUL, numerals the column cannot hold, words where a number goes.
CURSOR_ORDERINGS = [
    ("/api/v1/products", {"ordering": "price"}),
    ("/api/v1/products", {"ordering": "-name"}),
    ("/api/v1/products", {"ordering": "updated"}),
    ("/api/v1/products", {"ordering": "relevance", "search": "lamp"}),
    ("/api/v1/categories", {"ordering": "path"}),
    ("/api/v1/categories", {"ordering": "position"}),
    ("/api/v1/orders", {}),
]
forged_positions = st.one_of(
    nul_texts,
    unreadable_numbers,
    st.sampled_from(["x", "None", "1.5|2", "[1]", "2026-13-01", "0001-01-01T00:00:00+14:00"]),
    st.integers(2**31, 2**70).map(str),
)


@pytest.mark.parametrize(("path", "params"), CURSOR_ORDERINGS)
@given(position=forged_positions, reverse=st.booleans())
@BOUNDED
def test_a_forged_cursor_position_is_a_400_not_a_server_error(
    staff: RestClient, path: str, params: dict[str, str], position: str, reverse: bool
) -> None:
    """DRF's cursor carries the first ordering column's value as text, and a client can write
    its own: a price of 1e999999999, a name holding a NUL or a position of "x" failed the
    page's statement (500). Such a cursor is invalid, as a mangled one is."""
    product_create(name="Lamp", price="5.00")
    token = urlencode({"p": position, **({"r": "1"} if reverse else {})})
    cursor = base64.b64encode(token.encode("utf-8", "surrogatepass")).decode()
    response = staff.get(path, {**params, "cursor": cursor})
    if response.status_code == 200:  # a value of the column, if an odd one: an ordinary page
        return
    body = assert_problem(response, 400, "INVALID")
    assert [error["field"] for error in body["errors"]] == ["cursor"]


def test_the_next_cursor_of_every_ordering_still_pages(staff: RestClient) -> None:
    for n in range(3):
        product_create(name=f"Lamp {n}", price=f"{n}.50")
    for path, params in CURSOR_ORDERINGS[:-1]:
        first = staff.get(path, {**params, "page_size": 1}).json()
        assert first["next"], (path, params)
        second = staff.get(first["next"])
        assert second.status_code == 200, (path, params, second.content[:300])
        assert second.json()["results"] != first["results"]
