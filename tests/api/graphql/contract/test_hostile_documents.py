"""Hostile documents are refused with their limit's code, for a bounded amount of work.

Work is counted, not timed: the analysis reports how many selection nodes it visited (at most
two visits per node of the document, whatever the expansion), graphql-core's validation is never
reached for a document over a limit, and a text over the size limit never reaches a parser.
bench/hostile.py measures the CPU time of the same families.
"""

import asyncio
import json
import math
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    Lexer,
    Source,
    TokenKind,
    Visitor,
    parse,
    visit,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.api.graphql import documents, validation
from backend.api.graphql.analysis import analyse
from backend.api.schema import schema
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db

HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fragment_chain(fan_out: int, depth: int) -> str:
    """F0 selects one field; F(n) spreads F(n-1) ``fan_out`` times; the query spreads F(depth)."""
    parts = ["fragment F0 on Query { __typename }"]
    for level in range(1, depth + 1):
        spreads = " ".join([f"...F{level - 1}"] * fan_out)
        parts.append(f"fragment F{level} on Query {{ {spreads} }}")
    parts.append(f"query {{ ...F{depth} }}")
    return " ".join(parts)


def wide_fragment(width: int, uses: int) -> str:
    """One fragment of ``width`` distinct-looking fields, spread ``uses`` times."""
    fields = " ".join(f"w{index}: __typename" for index in range(width))
    return f"fragment W on Query {{ {fields} }} query {{ {' ...W' * uses} }}"


def nested_inline_fragments(nesting: int, uses: int) -> str:
    """A fragment of ``nesting`` inline fragments inside each other, spread ``uses`` times."""
    inner = "... on Query { " * nesting + "__typename" + " }" * nesting
    return f"fragment I on Query {{ {inner} }} query {{ {' ...I' * uses} }}"


def repeated_directives(directives: int, uses: int) -> str:
    """A field carrying the same directive ``directives`` times, spread ``uses`` times."""
    field = "__typename" + " @include(if: true)" * directives
    return f"fragment D on Query {{ {field} }} query {{ {' ...D' * uses} }}"


def duplicated_fields(copies: int, uses: int) -> str:
    """The same field ``copies`` times in a fragment spread ``uses`` times: graphql-core's
    OverlappingFieldsCanBeMerged compares every pair of them."""
    fields = " ".join(["products(first: 1) { totalCount }"] * copies)
    return f"fragment P on Query {{ {fields} }} query {{ {' ...P' * uses} }}"


class _SelectionCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter(self, node: Any, *_: Any) -> None:
        if isinstance(node, FieldNode | InlineFragmentNode | FragmentSpreadNode):
            self.count += 1


def selection_nodes(document: DocumentNode) -> int:
    counter = _SelectionCounter()
    visit(document, counter)
    return counter.count


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[DocumentNode]:
    """The documents graphql-core's validation is run on."""
    seen: list[DocumentNode] = []
    original = validation.validate_document

    def recording(schema_: Any, document: DocumentNode, rules: Any) -> Any:
        seen.append(document)
        return original(schema_, document, rules)

    monkeypatch.setattr(validation, "validate_document", recording)
    monkeypatch.setattr(validation.DocumentValidationCache, "_results", {})
    return seen


def error_codes(query: str) -> list[str]:
    result = schema.execute_sync(query)
    assert result.data is None
    return [error.extensions["code"] for error in result.errors or []]


def assert_refused_before_validation(query: str, validations: list[DocumentNode]) -> None:
    document = parse(query, max_tokens=2000)  # within the token limit: refused for its size
    assert error_codes(query) == ["MAX_FIELDS_EXCEEDED"]
    assert validations == []
    analysis = analyse(document)
    assert analysis.visits <= 2 * selection_nodes(document)


# --- Families over the field limit: refused by the analysis, never validated -----------------


@HYPOTHESIS
@given(fan_out=st.integers(2, 6), extra_depth=st.integers(0, 4))
def test_fragment_chains_are_refused_before_validation(
    fan_out: int, extra_depth: int, validations: list[DocumentNode]
) -> None:
    depth = math.ceil(math.log(2001, fan_out)) + extra_depth  # fan_out**depth > 2000 fields
    query = fragment_chain(fan_out, depth)
    assert_refused_before_validation(query, validations)
    assert analyse(parse(query)).fields > fan_out**depth


@HYPOTHESIS
@given(width=st.integers(20, 150), uses=st.integers(1, 150))
def test_wide_fragments_spread_past_the_field_limit_are_refused(
    width: int, uses: int, validations: list[DocumentNode]
) -> None:
    if (width + 1) * uses <= 2000:
        uses = 2000 // (width + 1) + 1
    assert_refused_before_validation(wide_fragment(width, uses), validations)


@HYPOTHESIS
@given(nesting=st.integers(1, 150), uses=st.integers(1, 300))
def test_nested_inline_fragments_spread_past_the_field_limit_are_refused(
    nesting: int, uses: int, validations: list[DocumentNode]
) -> None:
    if (nesting + 2) * uses <= 2000:
        uses = 2000 // (nesting + 2) + 1
    assert_refused_before_validation(nested_inline_fragments(nesting, uses), validations)


@HYPOTHESIS
@given(directives=st.integers(1, 100), uses=st.integers(1, 300))
def test_repeated_directives_count_towards_the_field_limit(
    directives: int, uses: int, validations: list[DocumentNode]
) -> None:
    if (directives + 2) * uses <= 2000:
        uses = 2000 // (directives + 2) + 1
    assert_refused_before_validation(repeated_directives(directives, uses), validations)


@HYPOTHESIS
@given(copies=st.integers(2, 100), uses=st.integers(1, 300))
def test_duplicated_fields_past_the_field_limit_are_refused_before_overlap_validation(
    copies: int, uses: int, validations: list[DocumentNode]
) -> None:
    if (2 * copies + 1) * uses <= 2000:
        uses = 2000 // (2 * copies + 1) + 1
    assert_refused_before_validation(duplicated_fields(copies, uses), validations)


@HYPOTHESIS
@given(fan_out=st.integers(1, 4), depth=st.integers(1, 6), cycle_back=st.integers(0, 5))
def test_fragment_cycles_terminate_and_are_reported_by_validation(
    fan_out: int, depth: int, cycle_back: int
) -> None:
    # F0 spreads a later fragment: a cycle through the chain.
    query = fragment_chain(fan_out, depth).replace(
        "fragment F0 on Query { __typename }",
        f"fragment F0 on Query {{ __typename ...F{min(cycle_back, depth)} }}",
    )
    document = parse(query)
    assert analyse(document).visits <= 2 * selection_nodes(document)
    codes = error_codes(query)
    assert codes
    assert set(codes) <= {"GRAPHQL_VALIDATION_FAILED", "MAX_FIELDS_EXCEEDED"}


def test_fields_under_the_limit_are_validated_and_answered(validations: list[DocumentNode]) -> None:
    # 512 fields and 1023 spreads (a spread counts as a selection): within the limit of 2000
    query = fragment_chain(2, 9)
    result = schema.execute_sync(query)
    assert result.errors is None
    assert result.data == {"__typename": "Query"}
    assert len(validations) == 1


def test_the_field_limit_is_a_setting(validations: list[DocumentNode]) -> None:
    from django.test import override_settings

    with override_settings(GRAPHQL_MAX_FIELDS=1000):
        assert error_codes(fragment_chain(2, 9)) == ["MAX_FIELDS_EXCEEDED"]
    assert validations == []


def test_unused_fragments_count_towards_the_field_limit(validations: list[DocumentNode]) -> None:
    # Validation walks every fragment, spread or not: an unspread chain is no cheaper.
    query = fragment_chain(4, 10).replace("query { ...F10 }", "query { __typename }")
    assert_refused_before_validation(query, validations)


# --- Token and size limits: refused while or before parsing ----------------------------------


@HYPOTHESIS
@given(extra=st.integers(1, 5000), token=st.sampled_from(["__typename", "...F", "a: b"]))
def test_documents_over_the_token_limit_are_refused_while_parsing(
    extra: int, token: str, validations: list[DocumentNode]
) -> None:
    query = "{ " + f"{token} " * (2000 + extra) + "}"
    if len(query) > 65536:
        return  # the size limit answers first (next test)
    assert error_codes(query) == ["MAX_TOKENS_EXCEEDED"]
    assert validations == []


# Texts that lex: every kind of token and ignored run GraphQL has, in any order.
LEXEMES = st.sampled_from(
    [
        "{", "}", "(", ")", "[", "]", ":", "=", "@", "$", "!", "&", "|", "...",
        "name", "_x9", "0", "-12", "3.25", "1e10", "-4.5E-3", '""', '"a \\" b"', '"\\u00e9"',
        '""" block "" \\""" ok """', '"""\n multi\n line\n"""',
        " ", "\t", ",", "\n", "\r\n", "\ufeff", "# a comment {\n",
    ]
)  # fmt: skip


def graphql_core_tokens(text: str) -> list[str]:
    """The text of every token graphql-core's lexer reads (comments are not tokens)."""
    lexer = Lexer(Source(text))
    tokens = []
    while (token := lexer.advance()).kind is not TokenKind.EOF:
        tokens.append(text[token.start : token.end])
    return tokens


def assert_tokens_read_as_graphql_core_reads_them(text: str) -> None:
    """The limit is decided by reading tokens without parsing (and the selection reader reads
    them): they must be exactly the lexer's, so no text within the limit is refused and none
    over it parses."""
    tokens = graphql_core_tokens(text)
    assert documents._tokens(text, len(tokens)) == tokens
    if tokens:
        with pytest.raises(GraphQLSyntaxError, match=f"more than {len(tokens) - 1} tokens"):
            documents._tokens(text, len(tokens) - 1)


@HYPOTHESIS
@given(parts=st.lists(LEXEMES, max_size=400), separator=st.sampled_from([" ", ""]))
def test_tokens_before_parsing_are_graphql_cores_own(parts: list[str], separator: str) -> None:
    text = separator.join(parts)
    try:
        graphql_core_tokens(text)
    except GraphQLSyntaxError:
        return  # adjacent lexemes that do not lex (`1name`, `...""`)
    assert_tokens_read_as_graphql_core_reads_them(text)


def test_storefront_documents_are_read_as_graphql_core_reads_them() -> None:
    for path in sorted(REPO_ROOT.glob("graphql/**/*.graphql")):
        assert graphql_core_tokens(path.read_text(encoding="utf-8")), path
        assert_tokens_read_as_graphql_core_reads_them(path.read_text(encoding="utf-8"))


@HYPOTHESIS
@given(extra=st.integers(1, 5000))
def test_text_over_the_token_limit_is_refused_without_being_parsed(
    extra: int, parses: list[str]
) -> None:
    query = "{ " + "__typename " * (2000 + extra) + "}"
    if len(query) > 65536:
        return
    assert error_codes(query) == ["MAX_TOKENS_EXCEEDED"]
    assert parses == []


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text any parser in the request path is given."""
    import strawberry.schema.schema as strawberry_schema

    seen: list[str] = []

    def recording(parse_function: Callable[..., Any]) -> Callable[..., Any]:
        def parse_recorded(source: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(source)
            return parse_function(source, *args, **kwargs)

        return parse_recorded

    monkeypatch.setattr(documents, "parse", recording(documents.parse))
    monkeypatch.setattr(strawberry_schema, "parse", recording(strawberry_schema.parse))
    return seen


@HYPOTHESIS
@given(
    size=st.integers(65537, 3 * 1024 * 1024),
    filler=st.sampled_from([" ", "#", "é", "\u2603", "__typename "]),
)
def test_texts_over_the_size_limit_are_refused_before_any_parse(
    size: int, filler: str, parses: list[str]
) -> None:
    query = "{ __typename }" + filler * (size // len(filler.encode()))
    if len(query.encode()) <= 65536:
        return
    assert error_codes(query) == ["MAX_QUERY_BYTES_EXCEEDED"]
    assert parses == []


def test_size_limit_counts_bytes_not_characters(parses: list[str]) -> None:
    query = "{ __typename } #" + "é" * 40000  # 40,016 characters, 80,016 bytes
    assert error_codes(query) == ["MAX_QUERY_BYTES_EXCEEDED"]
    assert parses == []


def test_size_limit_over_http_is_a_coded_error() -> None:
    body = json.dumps({"query": "{ __typename }" + " " * 70000})
    response = Client().post("/graphql/", body, content_type="application/json")
    assert response.status_code in {200, 400}
    assert [error["extensions"]["code"] for error in response.json()["errors"]] == [
        "MAX_QUERY_BYTES_EXCEEDED"
    ]


# --- Over WebSockets (schema.stream, as graphql-transport-ws calls it) -----------------------


def streamed_codes(query: str) -> list[str]:
    async def first_result() -> Any:
        results = await schema.stream(query)
        async for result in results:
            return result
        raise AssertionError("no result")

    result = asyncio.run(first_result())
    return [error.extensions["code"] for error in result.errors or []]


def test_websocket_operations_get_the_same_limits(validations: list[DocumentNode]) -> None:
    subscription_chain = fragment_chain(4, 8).replace(
        "fragment F0 on Query { __typename }", "fragment F0 on Subscription { __typename }"
    )
    for level in range(1, 9):
        subscription_chain = subscription_chain.replace(
            f"fragment F{level} on Query", f"fragment F{level} on Subscription"
        )
    subscription_chain = subscription_chain.replace("query {", "subscription {")
    assert streamed_codes(subscription_chain) == ["MAX_FIELDS_EXCEEDED"]
    assert validations == []
    assert streamed_codes("subscription { __typename }" + " " * 70000) == [
        "MAX_QUERY_BYTES_EXCEEDED"
    ]


def test_websocket_parse_and_validation_of_a_new_document_run_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: dict[str, set[int]] = {"parse": set(), "validate": set()}
    original_parse, original_validate = documents.parse, validation.validate_document

    def recording_parse(*args: Any, **kwargs: Any) -> Any:
        threads["parse"].add(threading.get_ident())
        return original_parse(*args, **kwargs)

    def recording_validate(*args: Any) -> Any:
        threads["validate"].add(threading.get_ident())
        return original_validate(*args)

    monkeypatch.setattr(documents, "parse", recording_parse)
    monkeypatch.setattr(validation, "validate_document", recording_validate)
    monkeypatch.setattr(validation.DocumentValidationCache, "_results", {})

    async def run() -> tuple[int, list[str]]:
        # A subscription field that does not exist: refused by validation, no socket needed.
        results = await schema.stream(f"subscription S{uuid.uuid4().hex} {{ noSuchField }}")
        async for result in results:
            return threading.get_ident(), [error.message for error in result.errors or []]
        raise AssertionError("no result")

    loop_thread, messages = asyncio.run(run())
    assert messages == ["Cannot query field 'noSuchField' on type 'Subscription'."]
    assert threads["parse"]
    assert threads["validate"]
    assert loop_thread not in threads["parse"] | threads["validate"]
