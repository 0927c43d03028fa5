"""Parsing a query text, once per distinct text, within the size, token and field limits.

Every parse in Nexus goes through ``parsed_document``, so every one is bounded: a text over
``GRAPHQL_MAX_QUERY_BYTES`` is refused before the parser sees it (``MAX_QUERY_BYTES_EXCEEDED``),
and its tokens are read by a regular expression, in C, before graphql-core's parser (which runs
in Python and costs far more per token) builds any: more than ``GRAPHQL_MAX_TOKENS`` is
refused (``MAX_TOKENS_EXCEEDED``). A parsed document is analysed at once
(``backend.api.graphql.analysis``: expanded size, depth, aliases), so the limits can refuse it
before graphql-core's validation walks it.

A text over ``GRAPHQL_MAX_FIELDS`` by its selections alone is not parsed at all: the selection
reader reads its selection structure from the tokens, and the same analysis of that skeleton
(equal to the analysis of the parse, tested against graphql-core on generated documents)
refuses it. The reader gives up on anything it cannot read exactly, and a document within the
limit is always parsed by graphql-core, so an accepted document is never the reader's.

The cache is keyed by a digest of the text and the token and field limits, never by the text
itself, and bounded both in entries and in the bytes of the texts it holds: a client sending
endless unique large documents only evicts, it pays what it would pay uncached. A parse error is
cached like a document, so one request never parses the same text twice before refusing it.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter

from django.conf import settings
from graphql import (
    DefinitionNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    Source,
    parse,
)
from graphql.language.parser import MAX_NESTING_DEPTH

from backend.api.graphql.analysis import DocumentAnalysis, analyse
from backend.api.graphql.errors import (
    MAX_QUERY_BYTES_EXCEEDED,
    OPERATION_RESOLUTION_FAILURE,
    error_code_for,
)

# Distinct documents kept parsed per process, and the bytes of text they may hold together
# (the parsed tree is about ten times its text). A storefront sends a few dozen.
DOCUMENT_CACHE_SIZE = 256
DOCUMENT_CACHE_BYTES = 4 * 1024 * 1024

# GraphQL's lexical grammar, one token per match, for reading the tokens in C before the parser
# builds any of them: graphql-core's lexer and parser run in Python per token, so a text at the
# token limit would cost its whole parse to refuse (docs/performance.md, "Refused documents").
# Each match is the ignored run (white space, commas, comments) before a token, taken
# possessively, and the token as its group; the ignored run at the end of a text matches with an
# empty group.
_TOKEN = re.compile(
    r"""
    (?:[\s,\ufeff]+|\#[^\n\r]*)*+
    (
      \"\"\"(?:\\\"\"\"|\\|\"(?!\"\")|[^\"\\])*\"\"\"   # block string
    | \"(?:[^\"\\\n\r]|\\.)*\"                            # string
    | \.\.\.
    | -?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?
    | [_A-Za-z][_0-9A-Za-z]*
    | .                                                     # a punctuator (or a lexer error)
    )?
    """,
    re.VERBOSE | re.DOTALL,
)
_TOKEN_TEXT = itemgetter(1)
# Only the name alternative matches a token starting with one of these.
_NAME_START = frozenset("_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_OPERATION_TYPES = {operation.value: operation for operation in OperationType}
# Tokens opening and closing a list or an object value (or a list type).
_VALUE_OPENERS = frozenset("{[")
_VALUE_CLOSERS = frozenset("}]")


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A text's document and its analysis. A text over ``GRAPHQL_MAX_FIELDS`` by its selections
    alone is not parsed: ``document`` is then its selection skeleton (``selection_skeleton``),
    which the field limit refuses before anything validates or executes it (the limit is part
    of the cache key, so a document is never looked up under a limit it was not read for)."""

    document: DocumentNode
    analysis: DocumentAnalysis


# What a text parses to, and the bytes of the text (a parse error holds the text too).
_Entry = tuple[ParsedDocument | GraphQLError, int]
# A digest of the text, and the token and field limits it was read under.
_Key = tuple[bytes, int, int]


def query_digest(*parts: str) -> bytes:
    """A digest of the texts, for cache keys (never the raw text)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.digest()


class _DocumentCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: _Key) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: _Key, entry: _Entry) -> None:
        if entry[1] > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = entry
            self._bytes += entry[1]
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_cache = _DocumentCache(DOCUMENT_CACHE_SIZE, DOCUMENT_CACHE_BYTES)


def oversized_query_error(query: str) -> GraphQLError | None:
    """The error for a text over ``GRAPHQL_MAX_QUERY_BYTES``, or None; O(1) for a huge text."""
    max_bytes: int = settings.GRAPHQL_MAX_QUERY_BYTES
    # A str never has more characters than its UTF-8 encoding has bytes: the length alone
    # refuses a huge text without encoding it.
    if len(query) <= max_bytes and len(query.encode("utf-8", "surrogatepass")) <= max_bytes:
        return None
    return GraphQLError(
        f"The query text is over the maximum of {max_bytes} bytes: send a smaller document "
        "(variables do not count).",
        extensions={"code": MAX_QUERY_BYTES_EXCEEDED, "maximumBytes": max_bytes},
    )


def parsed_document(query: str) -> ParsedDocument:
    """The parsed and analysed ``query``; raises a coded ``GraphQLError`` when it is over the
    size limit, over the token limit or not valid syntax."""
    if (error := oversized_query_error(query)) is not None:
        raise error
    key = _cache_key(query)
    entry = _cache.get(key)
    if entry is None:
        entry = _parse(query, max_tokens=key[1], max_fields=key[2])
        _cache.put(key, entry)
    if isinstance(entry[0], GraphQLError):
        raise entry[0].with_traceback(None)  # a shared error: keep no frames alive
    return entry[0]


def unparsable_query_error(query: str) -> GraphQLError | None:
    """The coded error refusing ``query`` before validation (over the size or token limit, or
    not valid syntax), from the cache when the text was seen; None when it parses."""
    try:
        parsed_document(query)
    except GraphQLError as error:
        if not (error.extensions or {}).get("code"):  # a shared error: coded once, idempotently
            error.extensions = {**(error.extensions or {}), "code": error_code_for(error)}
        return error
    return None


def operation_resolution_error(query: str, operation_name: str | None) -> GraphQLError | None:
    """The GraphQL spec's GetOperation, for every transport: the error refusing a request whose
    ``operation_name`` does not pick one operation of ``query``, coded
    ``OPERATION_RESOLUTION_FAILURE``; None when it picks one, or when the text does not parse
    (its own errors answer).

    Without a name the document must define exactly one operation: Strawberry would run the
    first of several. A name must be one of the document's operations'.
    """
    try:
        document = parsed_document(query).document
    except GraphQLError:
        return None
    names = [
        definition.name.value if definition.name else None
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if operation_name is None:
        if len(names) == 1:
            return None
        message = (
            "The document defines several operations: name one in `operationName`."
            if names
            else "The document defines no operation."
        )
    elif operation_name in names:
        return None
    else:
        message = f"The document defines no operation named {operation_name!r}."
    return GraphQLError(message, extensions={"code": OPERATION_RESOLUTION_FAILURE})


def is_cached(query: str) -> bool:
    """Whether ``parsed_document(query)`` would answer without parsing."""
    if oversized_query_error(query) is not None:
        return True
    return _cache.get(_cache_key(query)) is not None


def _cache_key(query: str) -> _Key:
    return (query_digest(query), settings.GRAPHQL_MAX_TOKENS, settings.GRAPHQL_MAX_FIELDS)


def _tokens(query: str, max_tokens: int) -> list[str]:
    """The text of every token of ``query``, as graphql-core's lexer reads them (tested), read
    in C without building any; raises graphql-core's own error when there are more than
    ``max_tokens`` (every token but the end of the text counts), having read one more."""
    matches = list(islice(_TOKEN.finditer(query), max_tokens + 1))
    if len(matches) > max_tokens and (first_over := matches[max_tokens]).group(1):
        raise GraphQLSyntaxError(
            Source(query),
            first_over.start(1),
            f"Document contains more than {max_tokens} tokens. Parsing aborted.",
        )
    tokens: list[str] = list(map(_TOKEN_TEXT, matches))
    while tokens and not tokens[-1]:  # the ignored run at the end of the text
        tokens.pop()
    return tokens


class _UnreadableError(Exception):
    """The tokens are not an executable document the selection reader can read exactly."""


class _SelectionReader:
    """Reads the selection structure of an executable document from its tokens, without
    graphql-core's parser: the definitions (operation type and name, fragment name and type
    condition), and in every selection set each field (name, alias, directives), fragment
    spread (name, directives) and inline fragment (type condition, directives). Arguments,
    variable definitions and descriptions are stepped over; locations are not kept.

    That is everything ``analyse`` reads, so the analysis of what it reads is the analysis of
    the parsed document (tests/api/graphql/contract/test_selection_reader.py). Anything else (a
    type-system definition, a token out of place, nesting deeper than graphql-core parses)
    raises ``_UnreadableError``: the text is then parsed. The tokens between parentheses are
    not checked, so a text over the field limit with a mistake in an argument gets
    ``MAX_FIELDS_EXCEEDED`` rather than graphql-core's syntax error: as with the token limit,
    the limit answers first. Iterative, so a deep text cannot exhaust the stack.
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = [*tokens, ""]  # "" ends the text: no token is empty
        self.position = 0
        self.nesting = 0  # open selection sets, lists and objects, as graphql-core counts them
        self.names: dict[str, NameNode] = {}

    def peek(self) -> str:
        return self.tokens[self.position]

    def take(self) -> str:
        token = self.tokens[self.position]
        if not token:
            raise _UnreadableError
        self.position += 1
        return token

    def expect(self, token: str) -> None:
        if self.take() != token:
            raise _UnreadableError

    def name(self, token: str | None = None) -> NameNode:
        """The name ``token`` spells, the next token's by default (one node per name)."""
        token = token or self.take()
        if token[0] not in _NAME_START:
            raise _UnreadableError
        node = self.names.get(token)
        if node is None:
            node = self.names[token] = NameNode(value=token)
        return node

    def enter_selection_set(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING_DEPTH:
            raise _UnreadableError  # graphql-core refuses it as nested too deeply

    def document(self) -> DocumentNode:
        definitions: list[DefinitionNode] = []
        while self.peek():
            definitions.append(self.definition())
        if not definitions:
            raise _UnreadableError
        return DocumentNode(definitions=tuple(definitions))

    def definition(self) -> DefinitionNode:
        if self.peek() == "{":
            return OperationDefinitionNode(
                operation=OperationType.QUERY, selection_set=self.selection_set()
            )
        if self.peek()[:1] == '"' and len(self.peek()) > 1:  # a description
            self.position += 1
        keyword = self.name().value
        if keyword == "fragment":
            name = self.name()
            if name.value == "on" or self.name().value != "on":
                raise _UnreadableError
            return FragmentDefinitionNode(
                name=name,
                type_condition=NamedTypeNode(name=self.name()),
                directives=self.directives(),
                selection_set=self.selection_set(),
            )
        operation = _OPERATION_TYPES.get(keyword)
        if operation is None:
            raise _UnreadableError
        name = self.name() if self.peek()[:1] in _NAME_START else None
        self.skip_parenthesised()  # variable definitions
        return OperationDefinitionNode(
            operation=operation,
            name=name,
            directives=self.directives(),
            selection_set=self.selection_set(),
        )

    def directives(self) -> tuple[DirectiveNode, ...]:
        directives = []
        while self.peek() == "@":
            self.position += 1
            directives.append(DirectiveNode(name=self.name()))
            self.skip_parenthesised()  # arguments
        return tuple(directives)

    def skip_parenthesised(self) -> None:
        """Steps over arguments or variable definitions, if they start here: values and types
        hold no selection, whatever braces they contain."""
        if self.peek() != "(":
            return
        self.position += 1
        if self.peek() == ")":
            raise _UnreadableError  # graphql-core requires at least one
        parentheses, values = 1, 0
        while parentheses:
            token = self.take()
            if token == "(":
                parentheses += 1
            elif token == ")":
                parentheses -= 1
            elif token in _VALUE_OPENERS:
                values += 1
                if self.nesting + values > MAX_NESTING_DEPTH:
                    raise _UnreadableError  # graphql-core refuses it as nested too deeply
            elif token in _VALUE_CLOSERS:
                values -= 1

    def selection_set(self) -> SelectionSetNode:
        """The selection set opening here, with every set nested in it."""
        self.expect("{")
        self.enter_selection_set()
        root: list[SelectionNode] = []
        open_sets = [root]
        while open_sets:
            token = self.take()
            if token == "}":
                open_sets.pop()
                self.nesting -= 1
                continue
            selections = open_sets[-1]
            inner: list[SelectionNode] = []
            if token == "...":
                condition = None
                if self.peek() == "on":
                    self.position += 1
                    condition = NamedTypeNode(name=self.name())
                elif self.peek()[:1] in _NAME_START:
                    selections.append(
                        FragmentSpreadNode(name=self.name(), directives=self.directives())
                    )
                    continue
                selections.append(
                    InlineFragmentNode(
                        type_condition=condition,
                        directives=self.directives(),
                        selection_set=SelectionSetNode(selections=inner),
                    )
                )
                self.expect("{")
            elif token[0] in _NAME_START:
                alias, name = None, self.name(token)
                if self.peek() == ":":
                    self.position += 1
                    alias, name = name, self.name()
                self.skip_parenthesised()  # arguments
                directives = self.directives()
                if self.peek() != "{":
                    selections.append(FieldNode(alias=alias, name=name, directives=directives))
                    continue
                self.position += 1
                selections.append(
                    FieldNode(
                        alias=alias,
                        name=name,
                        directives=directives,
                        selection_set=SelectionSetNode(selections=inner),
                    )
                )
            else:
                raise _UnreadableError
            self.enter_selection_set()
            open_sets.append(inner)
        return SelectionSetNode(selections=root)


def selection_skeleton(tokens: list[str]) -> DocumentNode | None:
    """The selection structure of the document ``tokens`` spell (see ``_SelectionReader``),
    or None when it is not one the reader reads exactly."""
    try:
        return _SelectionReader(tokens).document()
    except _UnreadableError:
        return None


def _parse(query: str, *, max_tokens: int, max_fields: int) -> _Entry:
    text_bytes = len(query.encode("utf-8", "surrogatepass"))
    try:
        tokens = _tokens(query, max_tokens)
    except GraphQLError as error:
        return (error, text_bytes)
    # A text whose selections alone are over the field limit is refused without being parsed:
    # the analysis of its skeleton is the analysis of its parse (see _SelectionReader).
    skeleton = selection_skeleton(tokens)
    if skeleton is not None and (analysis := analyse(skeleton)).fields > max_fields:
        return (ParsedDocument(skeleton, analysis), text_bytes)
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError as error:
        # Kept too: the schema's execution-mode check and the parse step of the same request
        # share one parse, refused or not.
        return (error, text_bytes)
    return (ParsedDocument(document, analyse(document)), text_bytes)
