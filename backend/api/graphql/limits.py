"""Resource limits and error policy for the GraphQL endpoint, as Strawberry schema extensions.

``limit_extensions()`` is the one list a schema installs. Every limit is checked before any
resolver runs, so a refused request costs no SQL:

- lexer tokens (``GRAPHQL_MAX_TOKENS``): parsing aborts, code ``MAX_TOKENS_EXCEEDED``;
- query text size (``GRAPHQL_MAX_QUERY_BYTES``): refused before parsing,
  code ``MAX_QUERY_BYTES_EXCEEDED`` (``backend.api.graphql.schema``);
- fields once fragments are expanded (``GRAPHQL_MAX_FIELDS``), nesting depth
  (``GRAPHQL_MAX_DEPTH``) and aliased fields (``GRAPHQL_MAX_ALIASES``): checked against the
  document's one analysis (``backend.api.graphql.analysis``) before graphql-core validates it
  (before it parses it, when the selections alone are over the field limit:
  ``backend.api.graphql.documents``), codes ``MAX_FIELDS_EXCEEDED``, ``MAX_DEPTH_EXCEEDED``
  and ``MAX_ALIASES_EXCEEDED``;
- introspection (``GRAPHQL_INTROSPECTION``, default ``DEBUG``): ``INTROSPECTION_DISABLED``;
- static query cost (``GRAPHQL_MAX_COST``; objects 1, connections their page size times their
  items, plus the fields ``analysis.FIELD_COSTS`` prices: a product list's facets and
  totalCount, which read the whole list): ``MAX_COST_EXCEEDED``;
  every response reports
  ``extensions.cost = {requestedQueryCost, maximumAvailable}`` as Shopify's API does.

Errors are then given a stable ``extensions.code``; unexpected exceptions are masked as
``INTERNAL_SERVER_ERROR`` (their message is kept only when ``DEBUG`` is on; the traceback goes to
the server log through ``NexusSchema.process_errors``, never into a response). The same rule,
``client_error_code``, decides what the log calls a client error (``backend.api.graphql.logs``).

Settings are read per request, so ``override_settings`` and environment changes behave; the
limits are not validation rules, so the validation cache keyed on the rules keeps hitting.
"""

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied
from graphql import ExecutionResult, GraphQLError, ValidationContext, ValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension
from strawberry.relay import GlobalIDValueError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext

from backend.api.graphql.analysis import DocumentAnalysis, query_cost
from backend.api.graphql.documents import ParsedDocument, is_cached, parsed_document
from backend.api.graphql.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    INTERNAL_SERVER_ERROR_MESSAGE,
    OPERATION_NOT_SUPPORTED,
    error_code_for,
)
from backend.api.graphql.suggestions import suggestions_hide
from backend.core.databases import (
    SERVICE_UNAVAILABLE,
    SERVICE_UNAVAILABLE_MESSAGE,
    database_unavailable,
)

# Codes of the limits; the general ones (BAD_USER_INPUT, ...) live in backend.api.graphql.errors.
MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
MAX_FIELDS_EXCEEDED = "MAX_FIELDS_EXCEEDED"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


def limit_extensions() -> list[ExtensionFactory]:
    """The extensions enforcing every limit, as classes (Strawberry builds one per request)."""
    return [RequestLimits, QueryCostLimiter, ErrorPolicy]


# --- Depth, aliases, tokens, introspection ------------------------------------------------------


def _error_code(error: GraphQLError) -> str | None:
    return (error.extensions or {}).get("code")


def _stamp_code(error: GraphQLError, code: str) -> GraphQLError:
    """Give ``error`` an ``extensions.code`` unless it already has one (idempotent: validation
    errors may be shared between requests through a validation cache)."""
    if _error_code(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


class _CodingContext:
    """A ValidationContext stand-in that stamps ``code`` on every error a rule reports."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(_stamp_code(error, self._code))


def _with_code(rule: type[ValidationRule], code: str) -> type[ValidationRule]:
    class CodedRule(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodingContext(context, code))  # type: ignore[arg-type]

    CodedRule.__name__ = CodedRule.__qualname__ = f"Coded{rule.__name__}"
    return CodedRule


_introspection_rule = _with_code(NoSchemaIntrospectionCustomRule, INTROSPECTION_DISABLED)


def limit_errors(analysis: DocumentAnalysis) -> list[GraphQLError]:
    """The size, depth and alias limits the document breaks, from its analysis (settings are
    read per request). Over the field limit, that is the only error: nothing else is checked."""
    max_fields: int = settings.GRAPHQL_MAX_FIELDS
    if analysis.fields > max_fields:
        return [
            GraphQLError(
                f"The document selects {analysis.fields} fields once its fragments are "
                f"expanded, more than the maximum of {max_fields}: select fewer fields or "
                "spread fragments fewer times.",
                extensions={"code": MAX_FIELDS_EXCEEDED, "maximumFields": max_fields},
            )
        ]
    errors = []
    max_depth: int = settings.GRAPHQL_MAX_DEPTH
    for operation in analysis.operations:
        if operation.summary.depth > max_depth:
            errors.append(
                GraphQLError(
                    f"'{operation.name}' exceeds maximum operation depth of {max_depth}",
                    operation.node,
                    extensions={"code": MAX_DEPTH_EXCEEDED},
                )
            )
    max_aliases: int = settings.GRAPHQL_MAX_ALIASES
    if analysis.aliases > max_aliases:
        errors.append(
            GraphQLError(
                f"{analysis.aliases} aliases found. Allowed: {max_aliases}",
                extensions={"code": MAX_ALIASES_EXCEEDED},
            )
        )
    return errors


class RequestLimits(AddValidationRules):
    """Parses within the size and token limits (``backend.api.graphql.documents``) and checks
    the document's analysis against the field, depth and alias limits before any validation
    rule walks it; adds the introspection rule when introspection is off.

    Placed before the validation cache in the schema's extensions: a document over a limit is
    answered with the limit's error alone and graphql-core's validation never runs on it.
    """

    def __init__(self) -> None:
        super().__init__([] if settings.GRAPHQL_INTROSPECTION else [_introspection_rule])
        self.parsed: ParsedDocument | None = None

    def on_operation(self) -> Iterator[None]:
        # Strawberry parses the text itself only when on_parse refused it (below): within the
        # token limit too, so its error is the one graphql-core reports.
        self.execution_context.parse_options["max_tokens"] = settings.GRAPHQL_MAX_TOKENS
        yield from super().on_operation()

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            try:
                self.parsed = parsed_document(context.query)
            except GraphQLError:
                pass  # Strawberry's parse reports it, as a pre-execution error
            else:
                context.graphql_document = self.parsed.document
        yield

    def on_validate(self) -> Iterator[None]:
        if self.parsed is not None and (errors := limit_errors(self.parsed.analysis)):
            self.execution_context.pre_execution_errors = errors
        yield


class OffLoopRequestLimits(RequestLimits):
    """The variant for operations run on an event loop (see ``OffLoopDocumentValidationCache``):
    a text not parsed yet is parsed and analysed in a worker thread."""

    async def on_parse(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context
        if context.query and context.graphql_document is None:
            if not is_cached(context.query):
                with contextlib.suppress(GraphQLError):  # cached: reported below
                    await sync_to_async(parsed_document, thread_sensitive=False)(context.query)
            for _ in super().on_parse():  # now a cache hit
                yield


# --- Query cost ---------------------------------------------------------------------------------


# The attribute of Strawberry's ExecutionContext holding the operation's cost, for the other
# extensions (the tracing span and the metrics report it): read it through ``requested_query_cost``.
_REQUESTED_QUERY_COST = "nexus_requested_query_cost"


def requested_query_cost(context: ExecutionContext) -> int | None:
    """The static cost ``QueryCostLimiter`` computed for the operation, or ``None`` when it
    never reached execution (it did not parse or validate)."""
    return getattr(context, _REQUESTED_QUERY_COST, None)


def operation_type_name(context: ExecutionContext) -> str | None:
    """``query``, ``mutation`` or ``subscription``; ``None`` when the request has no document
    or none of its operations has the name asked for (both refused before execution)."""
    try:
        return context.operation_type.value
    except RuntimeError:
        return None


class QueryCostLimiter(SchemaExtension):
    """Costs the validated document before execution and refuses it when over budget.

    ``requestedQueryCost`` is ``null`` when the request never reached execution (it did not
    parse or validate), so no cost was computed. The cost is also left on the execution
    context (``requested_query_cost``).
    """

    def __init__(self) -> None:
        self.maximum_available: int = settings.GRAPHQL_MAX_COST
        self.requested: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        self.requested = query_cost(
            context.schema._schema,
            context.graphql_document,
            variables=context.variables,
            operation_name=context.operation_name,
        )
        setattr(context, _REQUESTED_QUERY_COST, self.requested)
        if self.requested > self.maximum_available:
            # A result set before execution makes Strawberry skip execution entirely.
            context.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        f"Query cost {self.requested} exceeds the maximum of "
                        f"{self.maximum_available}: request smaller pages (first/last), "
                        "fewer nested connections, or a product list's facets and totalCount "
                        "fewer times.",
                        extensions={
                            "code": MAX_COST_EXCEEDED,
                            "requestedQueryCost": self.requested,
                            "maximumAvailable": self.maximum_available,
                        },
                    )
                ],
            )
        yield

    def get_results(self) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": self.requested,
                "maximumAvailable": self.maximum_available,
            }
        }


# --- Error policy -------------------------------------------------------------------------------

# Exceptions whose message is written for the client, and the code they get.
CLIENT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (GlobalIDValueError, BAD_USER_INPUT),
    (PermissionDenied, FORBIDDEN),
    (InvalidOperationTypeError, OPERATION_NOT_SUPPORTED),
)


def client_error_code(error: GraphQLError) -> str | None:
    """The code of an error the client may see as is, or ``None`` for an unexpected one.

    Errors graphql-core raises itself (parsing, validation, variable coercion) and errors raised
    as ``GraphQLError`` are written for the client; so are the exceptions in ``CLIENT_ERRORS``.
    """
    if (code := _error_code(error)) is not None:
        return code
    original = error.original_error
    if database_unavailable(original):
        return SERVICE_UNAVAILABLE
    if original is not None and not isinstance(original, GraphQLError):
        for exception_type, client_code in CLIENT_ERRORS:
            if isinstance(original, exception_type):
                return client_code
        return None
    return error_code_for(error)


class ErrorPolicy(MaskErrors):
    """Every error leaves with an ``extensions.code``; unexpected exceptions are masked.

    Unexpected means raised by our code or a library rather than written for the client; those
    become ``INTERNAL_SERVER_ERROR`` with a generic message (the original message is kept when
    ``DEBUG`` is on). ``NexusSchema.process_errors`` has already logged the original with its
    traceback.
    """

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: client_error_code(error) is None,
            error_message=INTERNAL_SERVER_ERROR_MESSAGE,
        )
        self.debug: bool = settings.DEBUG

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            message=error.message if self.debug else self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": INTERNAL_SERVER_ERROR},
        )

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        # After masking, what is left was written for the client: give it its code.
        for error in getattr(self.execution_context.result, "errors", None) or ():
            if (code := client_error_code(error)) is not None:
                _stamp_code(error, code)
            if code == SERVICE_UNAVAILABLE:
                # Kept unmasked (the view answers the request with a 503 from its original
                # error), but the driver's message names hosts and ports.
                error.message = SERVICE_UNAVAILABLE_MESSAGE
            suggestions_hide(error)
