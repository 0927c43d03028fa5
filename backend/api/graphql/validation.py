"""Validation cached per parsed document, found by the document's identity.

Strawberry's ``ValidationCache`` keys an ``lru_cache`` by the document itself, and graphql-core
hashes a ``DocumentNode`` by walking its whole tree on every request, hit or miss (its cost:
docs/performance.md, "Levers"). The parse cache
(``backend.api.graphql.documents``) already hands out the same document object for the same
query text, so its identity is the key here. An
entry keeps its document alive, so an identity is never reused while it is cached.
"""

from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

from asgiref.sync import sync_to_async
from graphql import DocumentNode, GraphQLError, GraphQLSchema, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from backend.api.graphql.errors import BAD_USER_INPUT

# Distinct documents whose validation is kept, per process.
DOCUMENT_CACHE_SIZE = 256

ValidationKey = tuple[int, int, tuple[type, ...]]


class DocumentValidationCache(SchemaExtension):
    """Validates each (schema, parsed document, validation rules) once per process.

    The rules are part of the key, so a document cached under one limit setting is validated
    again under another (tests/api/graphql/contract/test_endpoint_limits.py). The cached errors
    are shared between requests, as with Strawberry's cache: whoever adds to them must do so
    idempotently.
    """

    _results: ClassVar[dict[ValidationKey, tuple[GraphQLSchema, DocumentNode, list[GraphQLError]]]]
    _results = {}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # Already set: refused before validation (backend.api.graphql.limits).
        if context.pre_execution_errors is None:
            errors = self._cached_errors()
            context.pre_execution_errors = self._validate() if errors is None else errors
        yield

    def _key(self) -> ValidationKey:
        context = self.execution_context
        assert context.graphql_document is not None  # Strawberry validates only what parsed
        return (id(context.schema._schema), id(context.graphql_document), context.validation_rules)

    def _cached_errors(self) -> list[GraphQLError] | None:
        entry = self._results.get(self._key())
        return None if entry is None else entry[2]

    def _validate(self) -> list[GraphQLError]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        assert document is not None
        errors = validate_document(schema, document, context.validation_rules)
        if len(self._results) >= DOCUMENT_CACHE_SIZE:
            self._results.clear()
        self._results[self._key()] = (schema, document, errors)
        return errors


class OffLoopDocumentValidationCache(DocumentValidationCache):
    """The variant for operations run on an event loop (every WebSocket operation, and HTTP
    documents with async fields): a validation not cached yet runs in a worker thread, so a
    large document never holds the loop (and every socket of the process) while graphql-core
    walks it."""

    async def on_validate(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context
        if context.pre_execution_errors is None:
            errors = self._cached_errors()
            if errors is None:
                errors = await sync_to_async(self._validate, thread_sensitive=False)()
            context.pre_execution_errors = errors
        yield


class NoNulInStrings(ValidationRule):
    """A string literal of the document may not hold a NUL (``"\\u0000"``): PostgreSQL refuses
    it in text, so a slug or an email carrying one would fail in SQL. Variables are checked
    when the request body is decoded (``backend.api.graphql.body``), and over the WebSocket
    when a ``subscribe`` message arrives (``backend.api.websocket``)."""

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if "\x00" in node.value:
            self.report_error(
                GraphQLError(
                    "A string in the document contains a NUL (U+0000) character.",
                    node,
                    extensions={"code": BAD_USER_INPUT},
                )
            )
