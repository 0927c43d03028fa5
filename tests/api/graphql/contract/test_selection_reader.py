"""The selection reader refuses a document over the field limit before graphql-core parses it,
and never disagrees with the parse: whenever graphql-core parses a text and the reader reads
it, the reader's skeleton has the parsed document's selection structure, so its analysis is the
parsed document's analysis and the field limit refuses exactly what it would refuse after the
parse. The reader gives up on anything else (the text is then parsed as before).
"""

from collections.abc import Callable
from itertools import pairwise
from random import Random
from typing import Any

import pytest
from django.test import override_settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.api.graphql import documents
from backend.api.graphql.analysis import DocumentAnalysis, analyse
from backend.api.schema import schema
from tests.api.graphql.contract.test_hostile_documents import (
    duplicated_fields,
    fragment_chain,
    nested_inline_fragments,
    repeated_directives,
    wide_fragment,
)
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRAPHQL_DIRECTORY = REPO_ROOT / "graphql"

# --- Executable documents as text, every construct the reader steps over included ------------

NAMES = st.sampled_from(["a", "b", "on", "query", "fragment", "true", "null", "__typename", "_x9"])
FRAGMENT_NAMES = st.sampled_from(["F", "G", "query", "true"])  # any name but `on`
# Values: braces, brackets and parentheses inside strings and nested values hold no selection.
VALUES = st.sampled_from(
    [
        "1", "-2", "3.5e2", "true", "null", "ENUM", "$v", '"s"', '""', '"a(}{)\\"b"',
        '"\\u00e9]"', '"""block{("""', '"""\n ) \\""" }\n"""', "[]", "{}",
        "[1 [2] {a: {b: [$v]}}]", '{a: {b: ["x)" {c: null}]}}',
    ]
)  # fmt: skip
# What the single spaces of a generated document become: any ignored run, or none between a
# punctuator and what follows or precedes it.
SEPARATORS = [" ", "", "\n", ",", "\t", " # { ( comment\n", "\ufeff", "\r\n"]


def respaced(text: str, random: Random) -> str:
    parts = text.split(" ")
    spaced = []
    for left, right in pairwise(parts):
        separator = random.choice(SEPARATORS)
        if not separator and _joins(left[-1:]) and _joins(right[:1]):
            separator = " "  # `a` `b` would read as `ab`
        spaced.append(left + separator)
    return "".join(spaced) + parts[-1]


def _joins(character: str) -> bool:
    return not character or character.isalnum() or character in '_"$'


ARGUMENTS = st.one_of(
    st.just(""),
    st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=3).map(
        lambda pairs: "(" + " ".join(f"{name}: {value}" for name, value in pairs) + ")"
    ),
)
DIRECTIVES = st.lists(st.tuples(NAMES, ARGUMENTS), max_size=3).map(
    lambda directives: " ".join(f"@{name}{arguments}" for name, arguments in directives)
)
VARIABLE_DEFINITIONS = st.one_of(
    st.just(""),
    st.lists(
        st.tuples(
            st.sampled_from(["", '"described" ']),
            NAMES,
            st.sampled_from(["Int", "[Int!]!", "[[In]]"]),
            st.sampled_from(["", " = 1", " = {a: [1 {b: 2}]}"]),
            DIRECTIVES,
        ),
        min_size=1,
        max_size=3,
    ).map(
        lambda definitions: (
            "("
            + " ".join(
                f"{d}${name}: {kind}{default} {dirs}"
                for d, name, kind, default, dirs in definitions
            )
            + ")"
        )
    ),
)


def selection_sets(selection: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(selection, max_size=4).map(lambda items: "{ " + " ".join(items) + " }")


LEAVES = st.one_of(
    st.tuples(st.sampled_from(["", "x: ", "on: "]), NAMES, ARGUMENTS, DIRECTIVES).map(
        lambda field: f"{field[0]}{field[1]}{field[2]} {field[3]}"
    ),
    st.tuples(FRAGMENT_NAMES, DIRECTIVES).map(lambda spread: f"...{spread[0]} {spread[1]}"),
)
SELECTIONS: st.SearchStrategy[str] = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(
            st.sampled_from(["", "y: "]), NAMES, ARGUMENTS, DIRECTIVES, selection_sets(inner)
        ).map(lambda field: f"{field[0]}{field[1]}{field[2]} {field[3]} {field[4]}"),
        st.tuples(
            st.sampled_from(["", "on Query", "on on"]), DIRECTIVES, selection_sets(inner)
        ).map(lambda fragment: f"... {fragment[0]} {fragment[1]} {fragment[2]}"),
    ),
    max_leaves=8,
)
DESCRIPTIONS = st.sampled_from(["", '"described" ', '"""a\n(fragment){"""\n'])
DEFINITIONS = st.one_of(
    selection_sets(SELECTIONS),
    st.tuples(
        DESCRIPTIONS,
        st.sampled_from(["query", "mutation", "subscription"]),
        st.sampled_from(["", "Q", "on", "fragment"]),
        VARIABLE_DEFINITIONS,
        DIRECTIVES,
        selection_sets(SELECTIONS),
    ).map(" ".join),
    st.tuples(
        DESCRIPTIONS, FRAGMENT_NAMES, st.sampled_from(["Query", "on"]), DIRECTIVES,
        selection_sets(SELECTIONS),
    ).map(lambda fragment: "{}fragment {} on {} {} {}".format(*fragment)),
)  # fmt: skip
DOCUMENTS = st.builds(
    respaced, st.lists(DEFINITIONS, min_size=1, max_size=3).map(" ".join), st.randoms()
)


# --- What the reader must agree on ---------------------------------------------------------


def structure(document: DocumentNode) -> list[Any]:
    """Everything of a document the analysis reads, as plain values."""

    def selection_set(node: SelectionSetNode | None) -> Any:
        return None if node is None else [selection(child) for child in node.selections]

    def directives(node: Any) -> list[str]:
        return [directive.name.value for directive in node.directives or ()]

    def selection(node: Any) -> Any:
        if isinstance(node, FieldNode):
            alias = node.alias.value if node.alias else None
            return (
                "field",
                alias,
                node.name.value,
                directives(node),
                selection_set(node.selection_set),
            )
        if isinstance(node, FragmentSpreadNode):
            return ("spread", node.name.value, directives(node))
        assert isinstance(node, InlineFragmentNode)
        condition = node.type_condition.name.value if node.type_condition else None
        return ("inline", condition, directives(node), selection_set(node.selection_set))

    definitions: list[Any] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name.value if definition.name else None
            definitions.append(
                (definition.operation, name, selection_set(definition.selection_set))
            )
        else:
            assert isinstance(definition, FragmentDefinitionNode)
            definitions.append(
                (
                    definition.name.value,
                    definition.type_condition.name.value,
                    selection_set(definition.selection_set),
                )
            )
    return definitions


def summary(analysis: DocumentAnalysis) -> tuple[Any, ...]:
    operations = [(operation.name, operation.summary) for operation in analysis.operations]
    return (analysis.fields, analysis.aliases, analysis.visits, operations)


def skeleton(text: str) -> DocumentNode | None:
    return documents.selection_skeleton(documents._tokens(text, 10_000))


def assert_read_as_parsed(text: str) -> None:
    """The reader reads ``text`` and agrees with graphql-core's parse of it."""
    read = skeleton(text)
    assert read is not None, text
    parsed = parse(text)
    assert structure(read) == structure(parsed)
    assert summary(analyse(read)) == summary(analyse(parsed))


@PROPERTIES
@given(text=DOCUMENTS, max_fields=st.integers(0, 40))
def test_the_reader_reads_every_executable_document_as_graphql_core_parses_it(
    text: str, max_fields: int
) -> None:
    """And so the field limit refuses a text unparsed exactly when it refuses it parsed."""
    try:
        parsed = analyse(parse(text, max_tokens=2000))
    except GraphQLSyntaxError:
        return  # separators may join tokens into a text that is not GraphQL, or too many
    assert_read_as_parsed(text)
    with override_settings(GRAPHQL_MAX_FIELDS=max_fields):
        analysis = documents.parsed_document(text).analysis
    assert analysis.fields == parsed.fields
    assert (analysis.fields > max_fields) == (parsed.fields > max_fields)


@PROPERTIES
@given(text=DOCUMENTS, data=st.data())
def test_whenever_the_reader_and_graphql_core_both_read_a_text_they_agree(
    text: str, data: st.DataObject
) -> None:
    """The same documents with a token removed, repeated or moved: most no longer parse, and
    the reader may give up on any; when both read one, they agree."""
    tokens = documents._tokens(text, 10_000)
    index = data.draw(st.integers(0, len(tokens) - 1))
    target = data.draw(st.integers(0, len(tokens)))
    edit = data.draw(st.sampled_from(["remove", "repeat", "move"]))
    edited = list(tokens)
    token = edited.pop(index) if edit != "repeat" else tokens[index]
    if edit != "remove":
        edited.insert(min(target, len(edited)), token)
    mutated = " ".join(edited)
    read = documents.selection_skeleton(edited)
    try:
        parsed = parse(mutated)
    except GraphQLSyntaxError:
        return
    if read is not None:
        assert structure(read) == structure(parsed)
        assert summary(analyse(read)) == summary(analyse(parsed))


@pytest.mark.parametrize(
    "text",
    [
        "type Query { a: Int }",  # type-system definitions are parsed
        "{ a } scalar Date",
        '"described" { a }',  # graphql-core's error, not the reader's
        "{ a(x: 1",
        "{ a() }",
        "query Q() { a }",
        "fragment on on Query { a }",
        "fragment F($v: Int) on Query { a }",
        "{ a } }",
        "",
        "# only a comment",
        "{" + " a {" * 200 + " b" + " }" * 200 + " }",  # deeper than graphql-core parses
        "{ a(x: " + "[" * 200 + "1" + "]" * 200 + ") }",
    ],
)  # fmt: skip
def test_the_reader_gives_up_on_anything_else(text: str) -> None:
    assert skeleton(text) is None


def test_the_reader_reads_as_deep_as_graphql_core_parses() -> None:
    assert_read_as_parsed("{" + " a {" * 199 + " b" + " }" * 199 + " }")
    assert_read_as_parsed("{ a(x: " + "{a: " * 199 + "1" + "}" * 199 + ") }")


def test_the_storefront_documents_are_read_as_parsed() -> None:
    fragments = (GRAPHQL_DIRECTORY / "fragments.graphql").read_text(encoding="utf-8")
    for path in sorted(GRAPHQL_DIRECTORY.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        assert_read_as_parsed(text)
        if path.name != "fragments.graphql":
            assert_read_as_parsed(text + fragments)


# --- In the request path ---------------------------------------------------------------------

FAMILIES: dict[str, Callable[[], str]] = {
    "chain": lambda: fragment_chain(4, 10),
    "wide": lambda: wide_fragment(150, 40),
    "nested inline": lambda: nested_inline_fragments(150, 20),
    "directives": lambda: repeated_directives(100, 40),
    "duplicated": lambda: duplicated_fields(100, 20),
}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text graphql-core's parser is given in the request path."""
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


@pytest.mark.parametrize("family", FAMILIES)
def test_documents_over_the_field_limit_are_refused_without_being_parsed(
    family: str, parses: list[str]
) -> None:
    query = f"# {family} never seen\n{FAMILIES[family]()}"
    assert analyse(parse(query)).fields > 2000  # the parse's own analysis refuses it too
    parses.clear()
    result = schema.execute_sync(query)
    assert result.data is None
    assert [error.extensions["code"] for error in result.errors or []] == ["MAX_FIELDS_EXCEEDED"]
    assert parses == []


def test_a_document_refused_unparsed_is_parsed_and_answered_under_a_higher_field_limit(
    parses: list[str],
) -> None:
    query = "# refused, then allowed\n" + fragment_chain(2, 11)  # 6,143 fields and spreads
    codes = [error.extensions["code"] for error in schema.execute_sync(query).errors or []]
    assert codes == ["MAX_FIELDS_EXCEEDED"]
    assert parses == []
    with override_settings(GRAPHQL_MAX_FIELDS=10_000):
        result = schema.execute_sync(query)
    assert result.errors is None
    assert result.data == {"__typename": "Query"}
    assert parses == [query]
