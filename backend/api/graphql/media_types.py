"""GraphQL over HTTP: which media type a response is written in, and its status code.

The GraphQL-over-HTTP specification (graphql.github.io/graphql-over-http) defines two response
media types. ``application/json`` is the legacy one: every GraphQL response is a 200, errors
and all, which is what existing clients of Nexus read. ``application/graphql-response+json`` is
the one a client asks for by name in ``Accept``: a request error (the document does not parse or
validate, a variable cannot be coerced, a limit refuses it) is a 4xx without a ``data`` entry,
so a client, a proxy or a log can tell a refused request from an executed one by its status.
A response that has ``data`` (even ``null``: a field error reached the root) is a 200.

Negotiation follows RFC 9110 with one rule from the specification's watershed: wildcards
(``*/*``, ``application/*``) select ``application/json``, the type every client understands;
``application/graphql-response+json`` is chosen only when named, and wins a tie. No ``Accept``
header means ``application/json``; an ``Accept`` naming neither is refused (406).
"""

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from graphql import GraphQLError

from backend.api.graphql.errors import INTERNAL_SERVER_ERROR

APPLICATION_JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

# Distinct Accept values whose verdict is kept per process: clients send a handful.
ACCEPT_CACHE_SIZE = 64

# Specificity of a media range that matches application/json.
_JSON_RANGES = {APPLICATION_JSON: 2, "application/*": 1, "*/*": 0}


def _quality(parameters: Iterable[str]) -> float:
    """A media range's ``q`` (1 when absent); a malformed one counts as 0, never as a 500."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


@lru_cache(maxsize=ACCEPT_CACHE_SIZE)
def response_media_type(accept: str) -> str | None:
    """The media type to answer a request whose ``Accept`` header is ``accept`` in, or ``None``
    when it accepts neither (the view answers 406)."""
    if not accept.strip():
        return APPLICATION_JSON
    graphql_response_quality = 0.0
    # (specificity, q) of the most specific range matching application/json (RFC 9110 12.5.1);
    # a range given twice counts with its higher q, so the order of ranges never matters.
    json_match = (-1, 0.0)
    for media_range in accept.split(","):
        media_type, *parameters = media_range.split(";")
        media_type = media_type.strip().lower()
        if media_type == GRAPHQL_RESPONSE_JSON:
            graphql_response_quality = max(graphql_response_quality, _quality(parameters))
        elif (specificity := _JSON_RANGES.get(media_type)) is not None:
            json_match = max(json_match, (specificity, _quality(parameters)))
    json_quality = json_match[1]
    if graphql_response_quality > 0 and graphql_response_quality >= json_quality:
        return GRAPHQL_RESPONSE_JSON
    if json_quality > 0:
        return APPLICATION_JSON
    return None


def is_request_error(data: object, errors: Iterable[GraphQLError] | None) -> bool:
    """Whether a result is a request error: refused before execution, so it has no data.

    graphql-core gives every error raised while executing a field its ``path``; errors of
    parsing, validation, variable coercion and of the limits (which refuse before execution)
    have none. A result whose ``data`` is ``null`` because a field error reached the root is an
    execution result, not a request error.
    """
    errors = list(errors or ())
    return data is None and bool(errors) and all(error.path is None for error in errors)


def request_error_status(errors: Iterable[Mapping[str, Any]]) -> int:
    """The status of a request error's response (formatted errors, each with its code): 500
    when the server failed, else 400 (the request was malformed, invalid or over a limit)."""
    codes = {(error.get("extensions") or {}).get("code") for error in errors}
    return 500 if INTERNAL_SERVER_ERROR in codes else 400
