"""Crafted GraphQL inputs over HTTP are a 400 or a coded error, never a 500 or
INTERNAL_SERVER_ERROR, and change nothing (finding 7): each class tried with many members.

Classes: a JSON body that is not an object; a body that is not UTF-8; JSON nested thousands
deep; Decimal values out of any range ("1e-999999", a million digits, other scripts' digits);
NUL characters in variables and in the document's string literals; text longer than its column
(accountRegister). The services' own text check, which every transport shares, is tried
directly too.
"""

import base64
import json
from typing import Any

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.accounts.errors import AccountError
from backend.accounts.models import User
from backend.accounts.services import account_register
from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.catalog.models import Category
from backend.catalog.services import category_create
from backend.orders.errors import OrderError, OrderErrorCode
from backend.orders.models import Order
from backend.orders.services import OrderLine, order_place
from tests.factories import product_create, user_create

pytestmark = pytest.mark.django_db

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PRODUCTS_BY_PRICE = (
    "query($p: Decimal) { products(first: 1, filter: {price: {min: $p}}) { nodes { id } } }"
)
REGISTER = """mutation($email: String!, $name: String!) {
  accountRegister(input: {email: $email, password: "correct horse battery", name: $name}) {
    user { email } errors { field code message }
  }
}"""
nul_texts = st.tuples(st.text(max_size=10), st.text(max_size=10)).map(
    lambda parts: f"{parts[0]}\x00{parts[1]}"
)


def post_raw(body: bytes | str) -> Any:
    return Client(raise_request_exception=False).post(
        "/graphql/", body, content_type="application/json"
    )


def post(query: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = post_raw(json.dumps({"query": query, "variables": variables}))
    return response.status_code, response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@given(
    value=st.one_of(
        # NUL and lone surrogates (not UTF-8) are refused for themselves, tested above.
        st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"])),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )
)
@BOUNDED
def test_a_json_body_that_is_not_an_object_is_a_400(value: Any) -> None:
    response = post_raw(json.dumps(value))
    assert response.status_code == 400, response.content
    assert b"must be an object" in response.content


@given(prefix=st.binary(max_size=20), invalid=st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
@BOUNDED
def test_a_body_that_is_not_utf8_is_a_400(prefix: bytes, invalid: bytes) -> None:
    response = post_raw(b'{"query": "{ __typename }", "x": "' + prefix + invalid + b'"}')
    assert response.status_code == 400, response.content


@given(depth=st.integers(33, 5000), opener=st.sampled_from(["[", '{"a":']))
@BOUNDED
def test_variables_nested_too_deep_are_a_400(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + ("1" if opener != "[" else "") + closer * depth
    body = '{"query": "query($v: ID) { node(id: $v) { id } }", "variables": {"v": ' + nested + "}}"
    response = post_raw(body)
    assert response.status_code == 400, response.content
    assert b"nested" in response.content or b"depth" in response.content


def test_variables_nested_within_the_bound_are_executed() -> None:
    status, body = post("query($v: [ID!]!) { nodes(ids: $v) { id } }", {"v": ["UHJvZHVjdDox"]})
    assert status == 200
    assert body["data"] == {"nodes": [None]}


@given(
    value=st.one_of(
        st.integers(1001, 10**6).map(lambda n: f"1e-{n}"),
        st.integers(1001, 10**6).map(lambda n: f"1e{n}"),
        st.integers(65, 10**6).map(lambda n: "9" * n),
        st.sampled_from(["١٢", "²", "1_0", " 1", "0x1", "", "1e", "--1"]),
        st.booleans(),
        st.lists(st.integers(0, 9), max_size=3),
    )
)
@BOUNDED
def test_an_unreadable_decimal_is_bad_user_input(value: Any) -> None:
    status, body = post(PRODUCTS_BY_PRICE, {"p": value})
    assert status == 200
    assert body["data"] is None
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "$p" in body["errors"][0]["message"]


@given(value=st.decimals(min_value=-9999999999, max_value=9999999999, places=2))
@BOUNDED
def test_a_decimal_in_range_is_read(value: Any) -> None:
    status, body = post(PRODUCTS_BY_PRICE, {"p": str(value)})
    assert status == 200
    assert "errors" not in body, body


@given(text=nul_texts, variable=st.sampled_from(["email", "name"]))
@BOUNDED
def test_nul_in_a_variable_is_a_400_and_registers_nobody(text: str, variable: str) -> None:
    variables = {"email": "new@example.com", "name": "New", variable: text}
    response = post_raw(json.dumps({"query": REGISTER, "variables": variables}))
    assert response.status_code == 400, response.content
    assert f"variables.{variable}".encode() in response.content
    assert not User.objects.exists()


@given(
    before=st.text(
        st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=8
    )
)
@BOUNDED
def test_nul_in_a_string_literal_is_bad_user_input(before: str) -> None:
    query = (
        'mutation { tokenCreate(email: "' + before + '\\u0000@example.com", password: "x")'
        " { errors { code } } }"
    )
    _, body = post(query, {})
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert body.get("data") is None


# Every example signs up from the test client's address: the sign-up budget is not the subject.
@override_settings(ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP=1_000_000)
@given(
    field=st.sampled_from(["email", "name"]),
    extra=st.integers(1, 5000),
)
@BOUNDED
def test_register_text_longer_than_its_column_is_a_field_error(field: str, extra: int) -> None:
    limit = User._meta.get_field(field).max_length
    assert limit is not None
    value = "n" * (limit + extra)
    if field == "email":
        value = value[: -len("@example.com")] + "@example.com"
    variables = {"email": "new@example.com", "name": "New", field: value}
    _, body = post(REGISTER, variables)
    payload = body["data"]["accountRegister"]
    assert payload["user"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, "INVALID")]
    assert str(limit) in payload["errors"][0]["message"]
    assert not User.objects.exists()


# --- The services' text check (every transport, the admin and WebSocket variables included) --


@given(field=st.sampled_from(["name", "slug", "description"]), text=nul_texts)
@BOUNDED
def test_category_create_refuses_nul_before_any_statement(
    field: str, text: str, count_queries: Any
) -> None:
    arguments = {"name": "Shoes", "slug": "shoes", "description": "", field: text}
    with count_queries() as queries, pytest.raises(CatalogError) as refused:
        category_create(**arguments)
    assert (refused.value.code, refused.value.field) == (CatalogErrorCode.INVALID, field)
    # refused before the uniqueness query: no statement reads or writes the table
    assert not any("catalog_category" in q["sql"] for q in queries.captured_queries)
    assert not Category.objects.exists()


@override_settings(ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP=1_000_000)
@given(field=st.sampled_from(["email", "name"]), text=nul_texts)
@BOUNDED
def test_account_register_refuses_nul(field: str, text: str) -> None:
    arguments = {"email": "new@example.com", "name": "New", "ip": "192.0.2.1", field: text}
    with pytest.raises(AccountError) as refused:
        account_register(password="correct horse battery", **arguments)
    assert refused.value.field == field
    assert not User.objects.exists()


@given(key=nul_texts)
@BOUNDED
def test_order_place_refuses_nul_in_the_idempotency_key(key: str) -> None:
    customer = user_create()
    product = product_create(stock_quantity=3)
    with pytest.raises(OrderError) as refused:
        order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key=key)
    assert refused.value.code == OrderErrorCode.IDEMPOTENCY_KEY_INVALID
    assert not Order.objects.exists()


# Every field that reads a global id, with the id as $v.
ID_FIELDS = [
    "query($v: ID!) { node(id: $v) { id } }",
    "query($v: ID!) { nodes(ids: [$v]) { id } }",
    "query($v: ID!) { product(id: $v) { id } }",
    "query($v: ID!) { category(id: $v) { id } }",
    "query($v: ID!) { order(id: $v) { id } }",
    "query($v: ID!) { products(first: 1, filter: {inCategory: $v}) { nodes { id } } }",
    'mutation($v: ID!) { productUpdate(id: $v, input: {name: "x"}) { errors { code } } }',
    "mutation($v: ID!) { productStockAdjust(id: $v, delta: 1) { errors { code } } }",
    "mutation($v: ID!) { categoryUpdate(id: $v, input: {parent: $v}) { errors { code } } }",
    "mutation($v: ID!) { orderCancel(id: $v) { errors { code } } }",
    """mutation($v: ID!) { orderCreate(input: {idempotencyKey: "k",
      lines: [{productId: $v, quantity: 1}]}) { errors { code } } }""",
]
# What a global id can carry besides a primary key: digits past int()'s 4,300-digit limit,
# numerals in other forms, words, a NUL, nothing.
NODE_ID_PAYLOADS = ["1" * 5000, "1" * 65, "9" * 20, "", "0x1", "1;DROP", " 1", "-1", "1.5", "\x00"]
ID_TYPES = ["Product", "Category", "Order", "OrderEvent", "User", "Nope"]


@pytest.mark.parametrize("document", ID_FIELDS)
def test_a_global_id_carrying_anything_is_refused_or_found_never_a_server_error(
    document: str,
) -> None:
    """A 5,000-digit id reached ``int()`` (ValueError past its digit limit) and a ``User`` id
    carrying "0x1" reached the database: INTERNAL_SERVER_ERROR. Every id is now read by one
    helper (``ids.node_id_pk``) before anything else. Each field, each type, each payload."""
    staff = user_create(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    for type_name in ID_TYPES:
        for payload in NODE_ID_PAYLOADS:
            global_id = base64.b64encode(f"{type_name}:{payload}".encode()).decode()
            response = client.post(
                "/graphql/",
                json.dumps({"query": document, "variables": {"v": global_id}}),
                content_type="application/json",
            )
            assert response.status_code in {200, 400}
            found = codes(response.json())
            assert "INTERNAL_SERVER_ERROR" not in found, (type_name, payload[:20], response.json())
