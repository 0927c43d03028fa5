"""Validation cached per parsed document, found by the document's identity.

Strawberry's ``ValidationCache`` keys an ``lru_cache`` by the document itself, and graphql-core
hashes a ``DocumentNode`` by walking its whole tree: 18 microseconds for the product list
page's document, on every request, hit or miss. The parse cache (``ParserCache``) already hands
out the same document object for the same query text, so its identity is the key here. An
entry keeps its document alive, so an identity is never reused while it is cached.
"""

from collections.abc import Iterator
from typing import ClassVar

from graphql import DocumentNode, GraphQLError, GraphQLSchema, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from backend.core.graphql.errors import BAD_USER_INPUT

# Distinct documents whose parse (``ParserCache``, backend/schema.py) and validation are kept,
# per process.
DOCUMENT_CACHE_SIZE = 256

ValidationKey = tuple[int, int, tuple[type, ...]]


class DocumentValidationCache(SchemaExtension):
    """Validates each (schema, parsed document, validation rules) once per process.

    The rules are part of the key, so a document cached under one limit setting is validated
    again under another (tests/graphql_contract/test_endpoint_limits.py). The cached errors
    are shared between requests, as with Strawberry's cache: whoever adds to them must do so
    idempotently.
    """

    _results: ClassVar[dict[ValidationKey, tuple[GraphQLSchema, DocumentNode, list[GraphQLError]]]]
    _results = {}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema = context.schema._schema
        document = context.graphql_document
        assert document is not None  # Strawberry validates only what parsed
        key = (id(schema), id(document), context.validation_rules)
        entry = self._results.get(key)
        if entry is None:
            if len(self._results) >= DOCUMENT_CACHE_SIZE:
                self._results.clear()
            errors = validate_document(schema, document, context.validation_rules)
            entry = (schema, document, errors)
            self._results[key] = entry
        context.pre_execution_errors = entry[2]
        yield


class NoNulInStrings(ValidationRule):
    """A string literal of the document may not hold a NUL (``"\\u0000"``): PostgreSQL refuses
    it in text, so a slug or an email carrying one would fail in SQL. Variables are checked
    when the request body is decoded (``backend.core.graphql.body``)."""

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if "\x00" in node.value:
            self.report_error(
                GraphQLError(
                    "A string in the document contains a NUL (U+0000) character.",
                    node,
                    extensions={"code": BAD_USER_INPUT},
                )
            )
