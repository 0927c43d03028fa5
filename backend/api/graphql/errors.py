"""Client-facing GraphQL errors: every one carries a stable ``extensions.code``.

Codes follow the Apollo conventions storefront clients already switch on:
``BAD_USER_INPUT`` (the request is well-formed but an argument is wrong), ``FORBIDDEN``,
``GRAPHQL_PARSE_FAILED``, ``GRAPHQL_VALIDATION_FAILED`` and ``INTERNAL_SERVER_ERROR``. A
database that cannot be reached is ``SERVICE_UNAVAILABLE`` (``backend.core.databases``): the
request answers 503, never a partial result.
"""

import re
from typing import Any

from graphql import GraphQLError

BAD_USER_INPUT = "BAD_USER_INPUT"
FORBIDDEN = "FORBIDDEN"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
MAX_QUERY_BYTES_EXCEEDED = "MAX_QUERY_BYTES_EXCEEDED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
# An operation type the transport does not serve (a query or mutation over the WebSocket).
OPERATION_NOT_SUPPORTED = "OPERATION_NOT_SUPPORTED"
# The HTTP request is not a GraphQL request: its JSON (a POST body, GET's ``variables`` or
# ``extensions``) is not UTF-8 JSON, not an object, nested too deep or holds a NUL, or its
# parameters have the wrong types, or it has no query.
BAD_REQUEST_BODY = "BAD_REQUEST_BODY"
# ``operationName`` names no operation of the document, or a document of several operations (or
# of none) has none: ``documents.operation_resolution_error``, over HTTP and WebSockets alike.
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
# What a client reads of a server fault outside DEBUG (the traceback goes to the server log).
INTERNAL_SERVER_ERROR_MESSAGE = "Internal server error."

# graphql-core's wording when a variable's VALUE is wrong (as opposed to a malformed document).
_VARIABLE_VALUE_ERRORS = re.compile(r"(got|has) invalid value|of required type .* was not provided")


class BadUserInputError(GraphQLError):
    """An argument the client sent is invalid; ``field`` names the argument when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        extensions: dict[str, Any] = {"code": BAD_USER_INPUT}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)


class ForbiddenError(GraphQLError):
    """The viewer may not use this argument or read this object."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": FORBIDDEN})


def error_code_for(error: GraphQLError) -> str:
    """The code of an error raised without one (by graphql-core or by an unexpected bug).

    Request-level errors (no ``path``) come from parsing, validation or variable coercion,
    except one with a non-GraphQL cause: an exception that escaped the operation (an extension
    or the executor failed; Strawberry then returns it without the error policy seeing it). That
    one, like an error with a ``path`` and a non-GraphQL cause, is a server fault.
    """
    if error.path is None:
        if error.message.startswith("Syntax Error"):
            # graphql-core's wording when the parser stops at the token limit (graphql_limits).
            if "tokens. Parsing aborted" in error.message:
                return MAX_TOKENS_EXCEEDED
            return GRAPHQL_PARSE_FAILED
        if error.message.startswith("Variable") and _VARIABLE_VALUE_ERRORS.search(error.message):
            return BAD_USER_INPUT
        if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
            return INTERNAL_SERVER_ERROR
        return GRAPHQL_VALIDATION_FAILED
    if error.original_error is None or isinstance(error.original_error, GraphQLError):
        return BAD_USER_INPUT
    return INTERNAL_SERVER_ERROR
