"""GraphQL over HTTP at /graphql/: the response media type a client asks for, and its status.

``application/graphql-response+json``: a request error (refused before execution) is a 4xx
without ``data``; a result with ``data`` (even ``null``) is a 200. ``application/json`` keeps
what existing clients read: every GraphQL result a 200 with ``data``. The live audit of the
specification's reference suite is in test_graphql_http_audit.py.
"""

import itertools
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from backend.api.graphql.media_types import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
    request_error_status,
    response_media_type,
)
from tests.factories import product_create

pytestmark = pytest.mark.django_db

GRAPHQL_RESPONSE_CONTENT_TYPE = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def post(query: Any, accept: str | None, **fields: Any) -> Any:
    headers = {"accept": accept} if accept is not None else {}
    return Client().post(
        "/graphql/",
        json.dumps({"query": query, **fields}),
        content_type="application/json",
        headers=headers,
    )


# --- Negotiation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", APPLICATION_JSON),  # no Accept: application/json
        ("application/json", APPLICATION_JSON),
        ("application/json; charset=utf-8", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),  # wildcards never select the newer type
        ("application/*", APPLICATION_JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, {APPLICATION_JSON};q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"{APPLICATION_JSON}, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),  # a tie
        (f"{APPLICATION_JSON}, {GRAPHQL_RESPONSE_JSON};q=0.5", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, */*", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, */*;q=0.1", GRAPHQL_RESPONSE_JSON),
        (f"{APPLICATION_JSON};q=0, */*", None),  # the specific range decides json's q
        (f"{APPLICATION_JSON};q=0, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        ("text/html", None),
        ("image/png, application/xml", None),
        ("application/json;q=0", None),
        ("application/json;q=abc", None),  # a malformed q is no preference, not an error
        ("application/json;q=2", None),
        (";;,,", None),
    ],
)
def test_the_response_type_is_negotiated_from_accept(accept: str, expected: str | None) -> None:
    assert response_media_type(accept) == expected


MEDIA_RANGES = st.sampled_from(
    [GRAPHQL_RESPONSE_JSON, APPLICATION_JSON, "application/*", "*/*", "text/html", "image/*"]
)
QUALITIES = st.sampled_from(["", ";q=0", ";q=0.1", ";q=0.5", ";q=0.9", ";q=1", ";q=x"])
ACCEPT_RANGES = st.lists(st.tuples(MEDIA_RANGES, QUALITIES).map("".join), max_size=6)


@HYPOTHESIS
@given(ranges=ACCEPT_RANGES, order=st.randoms(use_true_random=False))
def test_negotiation_does_not_depend_on_the_order_of_ranges(ranges: list[str], order: Any) -> None:
    shuffled = list(ranges)
    order.shuffle(shuffled)
    assert response_media_type(", ".join(ranges)) == response_media_type(", ".join(shuffled))


@HYPOTHESIS
@given(ranges=ACCEPT_RANGES)
def test_the_newer_type_is_chosen_only_when_named(ranges: list[str]) -> None:
    chosen = response_media_type(", ".join(ranges))
    if chosen == GRAPHQL_RESPONSE_JSON:
        assert any(r.startswith(GRAPHQL_RESPONSE_JSON) for r in ranges)
    if not ranges:
        assert chosen == APPLICATION_JSON  # no Accept header at all
    elif not any(r.startswith(GRAPHQL_RESPONSE_JSON) for r in ranges):
        json_accepted = any(
            r.split(";")[0] in {APPLICATION_JSON, "application/*", "*/*"} for r in ranges
        )
        assert chosen in ({APPLICATION_JSON, None} if json_accepted else {None})


@HYPOTHESIS
@given(accept=st.text(max_size=80))
def test_any_accept_header_gets_an_answer_never_an_error(accept: str) -> None:
    assert response_media_type(accept) in {APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, None}


@pytest.mark.parametrize(
    "accept", ["text/html", "image/png", "application/xml", "application/json;q=0", "text/*"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_accept_naming_no_type_served_is_406_before_any_work(
    accept: str, method: str, count_queries: Any, settings: Settings
) -> None:
    settings.GRAPHQL_INTROSPECTION = False  # no GraphiQL for text/html either
    with count_queries() as queries:
        if method == "GET":
            response = Client().get(
                "/graphql/", {"query": "{ __typename }"}, headers={"accept": accept}
            )
        else:
            response = post("{ products(first: 5) { nodes { name } } }", accept)
    assert response.status_code == 406
    assert queries.count == 0


# --- Status codes and bodies --------------------------------------------------------------------

DEEP = "{ products(first: 1) { nodes { category { " + "parent { " * 9 + "name" + " }" * 13
ALIASED = "{ " + " ".join(f'p{index}: product(slug: "x") {{ name }}' for index in range(16)) + " }"
# Refused before execution: parse, validation, variable coercion, limits.
REQUEST_ERRORS = {
    "parse": ("{", {}, "GRAPHQL_PARSE_FAILED"),
    "parse, bad token": ("{ 8f31403dfe }", {}, "GRAPHQL_PARSE_FAILED"),
    "unknown field": ("{ nonsense }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "unused variable": ("query Q($id: ID!) { __typename }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "missing argument": ("{ node { id } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "variable coercion": (
        "query Q($n: Int!) { products(first: $n) { totalCount } }",
        {"variables": {"n": "ten"}},
        "BAD_USER_INPUT",
    ),
    "missing variable": (
        "query Q($n: Int!) { products(first: $n) { totalCount } }",
        {},
        "BAD_USER_INPUT",
    ),
    "depth": (DEEP, {}, "MAX_DEPTH_EXCEEDED"),
    "aliases": (ALIASED, {}, "MAX_ALIASES_EXCEEDED"),
    "tokens": ("{ " + "__typename " * 2500 + "}", {}, "MAX_TOKENS_EXCEEDED"),
    "cost": (
        "{ categories(first: 100) { nodes { children(first: 100) { nodes { name } } } } }",
        {},
        "MAX_COST_EXCEEDED",
    ),
    "introspection": ("{ __schema { types { name } } }", {}, "INTROSPECTION_DISABLED"),
}


@pytest.mark.parametrize(("query", "fields", "code"), REQUEST_ERRORS.values(), ids=REQUEST_ERRORS)
def test_a_request_error_is_400_without_data_when_asked_for_graphql_response_json(
    query: str, fields: dict[str, Any], code: str, settings: Settings, count_queries: Any
) -> None:
    settings.GRAPHQL_INTROSPECTION = False
    with count_queries() as queries:
        response = post(query, GRAPHQL_RESPONSE_JSON, **fields)
    assert response.status_code == 400
    assert response["Content-Type"] == GRAPHQL_RESPONSE_CONTENT_TYPE
    body = response.json()
    assert "data" not in body
    codes = [error["extensions"]["code"] for error in body["errors"]]
    assert codes
    assert set(codes) == {code}
    assert queries.count == 0  # refused before any SQL

    # application/json: the same errors, with the 200 and `"data": null` clients already read.
    legacy = post(query, APPLICATION_JSON, **fields)
    assert legacy.status_code == 200
    assert legacy["Content-Type"] == APPLICATION_JSON
    assert legacy.json() == {"data": None, **body}


@HYPOTHESIS
# An empty query is no GraphQL request, and a body holding a NUL or a lone surrogate is refused
# while it is decoded, before any GraphQL (tests/api/graphql/contract/test_crafted_inputs.py).
@given(
    query=st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1, max_size=60
    )
)
def test_both_media_types_carry_the_same_result_and_only_the_status_differs(query: str) -> None:
    """Whatever the document: application/json is always a 200 with ``data``; the newer type
    is a 400 exactly when ``data`` is absent, and otherwise the same body as a 200."""
    legacy, current = post(query, APPLICATION_JSON), post(query, GRAPHQL_RESPONSE_JSON)
    assert legacy.status_code == 200
    legacy_body, body = legacy.json(), current.json()
    assert "data" in legacy_body
    assert all(error["extensions"]["code"] for error in body.get("errors", []))
    if "data" in body:
        assert current.status_code == 200
        assert body == legacy_body
    else:
        assert current.status_code == 400
        assert body == {key: value for key, value in legacy_body.items() if key != "data"}
        assert legacy_body["data"] is None


@pytest.mark.parametrize(
    ("query", "data"),
    [
        # A field error beside data: a partial result.
        ('{ node(id: "not-an-id") { id } __typename }', {"node": None, "__typename": "Query"}),
        # A field error reaching the root: data is null, but the request was executed.
        ('{ categories(after: "x") { totalCount } }', None),
    ],
)
def test_an_execution_error_is_200_with_its_data(query: str, data: Any) -> None:
    response = post(query, GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 200
    assert response["Content-Type"] == GRAPHQL_RESPONSE_CONTENT_TYPE
    body = response.json()
    assert body["data"] == data
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]
    assert all(error["path"] for error in body["errors"])


@pytest.mark.parametrize("accept", [None, APPLICATION_JSON, "*/*", GRAPHQL_RESPONSE_JSON])
def test_a_successful_query_is_200_in_the_negotiated_type(accept: str | None) -> None:
    product_create(name="Lamp")
    response = post("{ products(first: 1) { nodes { name } } }", accept)
    assert response.status_code == 200
    expected = (
        GRAPHQL_RESPONSE_CONTENT_TYPE if accept == GRAPHQL_RESPONSE_JSON else "application/json"
    )
    assert response["Content-Type"] == expected
    assert response.json()["data"] == {"products": {"nodes": [{"name": "Lamp"}]}}


@pytest.mark.parametrize("accept", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
def test_an_exception_escaping_the_operation_is_a_masked_internal_error(
    accept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strawberry returns an exception raised outside field resolution (by the executor or an
    extension) without the error policy seeing it: it must still read as the server's fault."""
    from backend.api.graphql.execution import CompilingExecutor

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection to postgres://nexus:secret@db failed")

    monkeypatch.setattr(CompilingExecutor, "execute_operation", failing)
    response = post("{ __typename }", accept)
    body = response.json()
    assert body["errors"] == [
        {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ]
    assert b"secret" not in response.content
    assert response.status_code == (500 if accept == GRAPHQL_RESPONSE_JSON else 200)


def test_request_error_status_is_500_only_when_the_server_failed() -> None:
    def errors(*codes: str) -> list[dict[str, Any]]:
        return [{"message": "m", "extensions": {"code": code}} for code in codes]

    assert request_error_status(errors("GRAPHQL_PARSE_FAILED")) == 400
    assert request_error_status(errors("MAX_COST_EXCEEDED", "BAD_USER_INPUT")) == 400
    assert request_error_status(errors("BAD_USER_INPUT", "INTERNAL_SERVER_ERROR")) == 500


NOT_GRAPHQL_REQUESTS = {
    "no query": ({"variables": {}}, "BAD_REQUEST_BODY"),
    "empty query": ({"query": ""}, "BAD_REQUEST_BODY"),
    "query not a string": ({"query": ["{ __typename }"]}, "BAD_REQUEST_BODY"),
    "variables not an object": ({"query": "{ __typename }", "variables": "{}"}, "BAD_REQUEST_BODY"),
    "extensions not an object": ({"query": "{ __typename }", "extensions": 1}, "BAD_REQUEST_BODY"),
    "a batch": ([{"query": "{ __typename }"}], "BAD_REQUEST_BODY"),
    "unknown operation": (
        {"query": "query A { __typename }", "operationName": "B"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "several operations, none named": (
        {"query": "query A { __typename } query B { __typename }"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "no operation, only a fragment": (
        {"query": "fragment F on Query { __typename }"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "a name, the operation anonymous": (
        {"query": "{ __typename }", "operationName": "A"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "several operations, name null": (
        {"query": "query A { __typename } mutation B { __typename }", "operationName": None},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "subscription over POST": (
        {"query": "subscription { orderStatusChanged(orderId: 1) { __typename } }"},
        "OPERATION_NOT_SUPPORTED",
    ),
}


def assert_refused(response: Any, accept: str | None, code: str) -> dict[str, Any]:
    """A 400 whose body is one GraphQL error coded ``code``, in the negotiated media type:
    without ``data`` in the newer type, with ``"data": null`` in application/json."""
    assert response.status_code == 400, response.content
    newer = accept is not None and response_media_type(accept) == GRAPHQL_RESPONSE_JSON
    expected_type = GRAPHQL_RESPONSE_CONTENT_TYPE if newer else APPLICATION_JSON
    assert response["Content-Type"] == expected_type
    body = response.json()
    assert [error["extensions"]["code"] for error in body["errors"]] == [code]
    assert body["errors"][0]["message"]
    assert ("data" in body) is not newer
    assert body.get("data") is None
    return body


ACCEPTS = st.sampled_from(
    [None, APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, "*/*", f"{GRAPHQL_RESPONSE_JSON}, */*;q=0.5"]
)


@pytest.mark.parametrize(("body", "code"), NOT_GRAPHQL_REQUESTS.values(), ids=NOT_GRAPHQL_REQUESTS)
@pytest.mark.parametrize("accept", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
def test_a_request_that_is_not_a_graphql_request_is_a_coded_400(
    body: Any, code: str, accept: str
) -> None:
    response = Client().post(
        "/graphql/", json.dumps(body), content_type="application/json", headers={"accept": accept}
    )
    assert_refused(response, accept, code)


# Bodies refused while they are decoded, one strategy per class.
_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12)
NOT_UTF8 = st.tuples(
    st.binary(max_size=12), st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80"])
).map(lambda parts: b'{"query": "{ __typename }", "x": "' + parts[0] + parts[1] + b'"}')
NOT_AN_OBJECT = st.one_of(
    _TEXT, st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
).map(lambda value: json.dumps(value).encode())
WITH_NUL = st.tuples(
    _TEXT, _TEXT, st.sampled_from(["query", "variables", "key", "extensions"])
).map(
    lambda parts: json.dumps(
        {
            "query": "{ __typename }" + (parts[0] + "\x00" if parts[2] == "query" else ""),
            "variables": {"v": parts[0] + "\x00" + parts[1]} if parts[2] == "variables" else {},
            "extensions": {parts[1] + "\x00": 1} if parts[2] == "key" else {"e": [parts[0]]},
            **({"operationName": "\x00"} if parts[2] == "extensions" else {}),
        }
    ).encode()
)
TOO_DEEP = st.tuples(st.integers(33, 3000), st.sampled_from(["[", '{"a":'])).map(
    lambda parts: (
        b'{"query": "{ __typename }", "variables": {"v": '
        + (parts[1] * parts[0]).encode()
        + (b"1" if parts[1] != "[" else b"")
        + (b"]" if parts[1] == "[" else b"}") * parts[0]
        + b"}}"
    )
)
NOT_JSON = st.one_of(
    st.sampled_from([b"", b"{", b'{"query": }', b"{'query': 1}", b"query { a }", b"[1,]", b"NaN"]),
    _TEXT.map(lambda text: b'{"query": ' + text.encode() + b"x"),
)
REFUSED_BODIES = st.one_of(NOT_UTF8, NOT_AN_OBJECT, WITH_NUL, TOO_DEEP, NOT_JSON)


@HYPOTHESIS
@given(body=REFUSED_BODIES, accept=ACCEPTS)
def test_a_body_refused_while_decoded_is_a_coded_400_in_the_negotiated_type(
    body: bytes, accept: str | None, count_queries: Any
) -> None:
    headers = {"accept": accept} if accept is not None else {}
    with count_queries() as queries:
        response = Client().post(
            "/graphql/", body, content_type="application/json", headers=headers
        )
    assert_refused(response, accept, "BAD_REQUEST_BODY")
    assert queries.count == 0  # refused before any SQL


@HYPOTHESIS
@given(
    parameter=st.sampled_from(["variables", "extensions"]),
    value=st.one_of(
        st.sampled_from(["{", "[1,", "1", '"text"', "null", '{"a": "\\u0000"}', "[[[[" * 10]),
        _TEXT.map(lambda text: "}" + text),
    ),
    accept=ACCEPTS,
)
def test_get_json_parameters_refused_while_decoded_are_a_coded_400(
    parameter: str, value: str, accept: str | None
) -> None:
    headers = {"accept": accept} if accept is not None else {}
    query = {"query": "{ __typename }", parameter: value}
    response = Client().get("/graphql/", query, headers=headers)
    assert_refused(response, accept, "BAD_REQUEST_BODY")


# --- Request parameters and methods ---------------------------------------------------------------

NOT_STRINGS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
).filter(lambda value: value is not None)


@HYPOTHESIS
@given(
    operation_name=NOT_STRINGS, accept=st.sampled_from([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
)
def test_an_operation_name_that_is_not_a_string_is_400(operation_name: Any, accept: str) -> None:
    response = post("query Q { __typename }", accept, operationName=operation_name)
    assert response.status_code == 400
    assert b"operationName" in response.content


@pytest.mark.parametrize(
    "accept", [None, APPLICATION_JSON, GRAPHQL_RESPONSE_JSON], ids=["none", "json", "graphql"]
)
def test_a_get_query_is_answered_in_the_negotiated_type(accept: str | None) -> None:
    headers = {"accept": accept} if accept else {}
    response = Client().get("/graphql/", {"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": {"cost": {"requestedQueryCost": 0, "maximumAvailable": 1000}},
    }


GET_REFUSED = [
    "mutation { __typename }",
    'mutation M { tokenCreate(input: {email: "a@example.com", password: "x"}) { token } }',
    'subscription { orderStatusChanged(orderId: "T3JkZXI6MQ==") { status } }',
]


@pytest.mark.parametrize("query", GET_REFUSED)
@pytest.mark.parametrize("accept", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
def test_a_mutation_or_subscription_sent_with_get_is_405_allowing_post(
    query: str, accept: str, count_queries: Any
) -> None:
    with count_queries() as queries:
        response = Client().get("/graphql/", {"query": query}, headers={"accept": accept})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert queries.count == 0


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405_naming_get_and_post(method: str) -> None:
    response = getattr(Client(enforce_csrf_checks=False), method)("/graphql/")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"


def test_graphiql_and_the_newer_type_coexist(settings: Settings) -> None:
    """An HTML page for browsers where introspection is allowed; a client naming the JSON types
    still gets JSON from the same URL."""
    settings.GRAPHQL_INTROSPECTION = True
    page = Client().get("/graphql/", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert b"graphiql" in page.content.lower()
    for accept in itertools.permutations([GRAPHQL_RESPONSE_JSON, "text/html"]):
        response = Client().get(
            "/graphql/", {"query": "{ __typename }"}, headers={"accept": ", ".join(accept)}
        )
        assert response["Content-Type"] == GRAPHQL_RESPONSE_CONTENT_TYPE
