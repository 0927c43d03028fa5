"""Decoding a GraphQL request's JSON (a POST body, or GET's ``variables``/``extensions``).

Refused with a 400 before any GraphQL work: what ``backend.core.json_input`` refuses (not
UTF-8 JSON, nested too deep, a NUL in a string), and JSON that is not an object (a string, a
number, null: Strawberry reads the body as a mapping and failed with a 500).
"""

from typing import Any

from cross_web import DjangoHTTPRequestAdapter, HTTPException

from backend.core.json_input import JSONInputError, json_input_decode


def graphql_json_decode(data: str | bytes) -> dict[str, Any] | list[Any]:
    """The decoded object (a list is a batch, which the view refuses on its own terms)."""
    try:
        decoded = json_input_decode(data)
    except JSONInputError as error:
        raise HTTPException(400, str(error)) from None
    if not isinstance(decoded, dict | list):
        raise HTTPException(400, "The JSON must be an object.")
    return decoded


class UndecodedBodyRequestAdapter(DjangoHTTPRequestAdapter):
    """Hands the view the body's bytes: the default adapter decodes them as UTF-8 itself and
    a body that is not UTF-8 escaped as a 500; ``graphql_json_decode`` refuses it with a 400."""

    @property
    def body(self) -> bytes:
        return self.request.body
