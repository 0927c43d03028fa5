"""Parsing a query text, once per distinct text, within the size and token limits.

Every parse in Nexus goes through ``parsed_document``, so every one is bounded: a text over
``GRAPHQL_MAX_QUERY_BYTES`` is refused before the parser sees it (``MAX_QUERY_BYTES_EXCEEDED``),
and the parser stops at ``GRAPHQL_MAX_TOKENS`` (``MAX_TOKENS_EXCEEDED``). A parsed document is
analysed at once (``backend.api.graphql.analysis``: expanded size, depth, aliases), so the
limits can refuse it before graphql-core's validation walks it.

The cache is keyed by a digest of the text and the token limit, never by the text itself, and
bounded both in entries and in the bytes of the texts it holds: a client sending endless
unique large documents only evicts, it pays what it would pay uncached. A parse error is cached
like a document, so one request never parses the same text twice before refusing it.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, Source, parse

from backend.api.graphql.analysis import DocumentAnalysis, analyse
from backend.api.graphql.errors import MAX_QUERY_BYTES_EXCEEDED, error_code_for

# Distinct documents kept parsed per process, and the bytes of text they may hold together
# (the parsed tree is about ten times its text). A storefront sends a few dozen.
DOCUMENT_CACHE_SIZE = 256
DOCUMENT_CACHE_BYTES = 4 * 1024 * 1024

# GraphQL's lexical grammar, one token per match, for counting tokens in C before the parser
# builds any of them: graphql-core's lexer and parser run in Python per token, so a text at the
# token limit would cost its whole parse to refuse (docs/performance.md, "Refused documents").
# Ignored runs (white space, commas, comments) match as one ``ignored`` group.
_TOKEN = re.compile(
    r"""
    (?P<ignored>[\s,\ufeff]+|\#[^\n\r]*)
    | \"\"\"(?:\\\"\"\"|\\|\"(?!\"\")|[^\"\\])*\"\"\"   # block string
    | \"(?:[^\"\\\n\r]|\\.)*\"                            # string
    | \.\.\.
    | -?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?
    | [_A-Za-z][_0-9A-Za-z]*
    | .                                                     # a punctuator (or a lexer error)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    document: DocumentNode
    analysis: DocumentAnalysis


# What a text parses to, and the bytes of the text (a parse error holds the text too).
_Entry = tuple[ParsedDocument | GraphQLError, int]


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
        self._entries: OrderedDict[tuple[bytes, int], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, int]) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[bytes, int], entry: _Entry) -> None:
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
    key = (query_digest(query), settings.GRAPHQL_MAX_TOKENS)
    entry = _cache.get(key)
    if entry is None:
        entry = _parse(query, max_tokens=key[1])
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


def is_cached(query: str) -> bool:
    """Whether ``parsed_document(query)`` would answer without parsing."""
    if oversized_query_error(query) is not None:
        return True
    return _cache.get((query_digest(query), settings.GRAPHQL_MAX_TOKENS)) is not None


def _token_limit_error(query: str, max_tokens: int) -> GraphQLError | None:
    """graphql-core's own error for a text of more than ``max_tokens`` tokens, found without
    parsing; None when the text is within the limit (a text with no more characters than the
    limit always is). Counts as graphql-core does: every token but the end of the text."""
    if len(query) <= max_tokens:
        return None
    tokens = 0
    for match in _TOKEN.finditer(query):
        if match.lastgroup == "ignored":
            continue
        tokens += 1
        if tokens > max_tokens:
            return GraphQLSyntaxError(
                Source(query),
                match.start(),
                f"Document contains more than {max_tokens} tokens. Parsing aborted.",
            )
    return None


def _parse(query: str, *, max_tokens: int) -> _Entry:
    text_bytes = len(query.encode("utf-8", "surrogatepass"))
    if (error := _token_limit_error(query, max_tokens)) is not None:
        return (error, text_bytes)
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError as error:
        # Kept too: the schema's execution-mode check and the parse step of the same request
        # share one parse, refused or not.
        return (error, text_bytes)
    return (ParsedDocument(document, analyse(document)), text_bytes)
