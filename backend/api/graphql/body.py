"""Decoding a GraphQL request's JSON (a POST body, or GET's ``variables``/``extensions``).

Refused with a 400 before any GraphQL work: what ``backend.core.json_input`` refuses (not
UTF-8 JSON, nested too deep, a NUL in a string), and JSON that is not an object (a string, a
number, null: Strawberry reads the body as a mapping and failed with a 500). The view answers
every such refusal as a GraphQL error coded ``BAD_REQUEST_BODY``, in the negotiated media type.
"""

from typing import Any

from cross_web import DjangoHTTPRequestAdapter, HTTPException

from backend.api.graphql.errors import BAD_REQUEST_BODY
from backend.core.json_input import JSONInputError, json_input_decode


class RequestRefusedError(HTTPException):
    """A 400 for a request refused before any GraphQL work; the view answers it as a GraphQL
    error whose ``extensions.code`` is ``code`` (Strawberry answers an HTTPException in plain
    text, which a GraphQL client cannot read)."""

    def __init__(self, reason: str, code: str = BAD_REQUEST_BODY) -> None:
        super().__init__(400, reason)
        self.code = code


def graphql_json_decode(data: str | bytes) -> dict[str, Any] | list[Any]:
    """The decoded object (a list is a batch, which the view refuses on its own terms)."""
    try:
        decoded = json_input_decode(data)
    except JSONInputError as error:
        raise RequestRefusedError(str(error)) from None
    if not isinstance(decoded, dict | list):
        raise RequestRefusedError("The JSON must be an object.")
    return decoded


class UndecodedBodyRequestAdapter(DjangoHTTPRequestAdapter):
    """Hands the view the body's bytes: the default adapter decodes them as UTF-8 itself and
    a body that is not UTF-8 escaped as a 500; ``graphql_json_decode`` refuses it with a 400."""

    @property
    def body(self) -> bytes:
        return self.request.body
