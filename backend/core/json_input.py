"""JSON a client sends, decoded within bounds, for every transport (GraphQL and REST bodies).

Refused before any work: bytes that are not UTF-8 JSON, nesting deeper than any input needs
(a 5,000-deep list took Python's ``json`` into a RecursionError; orjson stops at 1,024 levels
without recursing in Python, and the check here stops far earlier, so nothing after it recurses
deep), and a NUL character in any string or key (PostgreSQL refuses it in text; no input of
the API can carry one).
"""

import orjson

# Levels of arrays and objects, the outermost included. The deepest input of either API is a
# few levels (a GraphQL filter holding a range, a REST order's lines); 32 leaves room to spare.
JSON_MAX_DEPTH = 32


class JSONInputError(ValueError):
    """The JSON is refused; the message says why, for the client."""


def json_input_decode(data: str | bytes) -> object:
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as error:  # not UTF-8, not JSON, or nested over 1,024
        raise JSONInputError(f"The body is not valid UTF-8 JSON: {error}") from None
    problem = json_input_problem(decoded)
    if problem is not None:
        raise JSONInputError(problem)
    return decoded


def json_input_problem(decoded: object) -> str | None:
    """The first reason to refuse JSON a client sent, already decoded (a WebSocket message),
    or None; walks it without recursion."""
    pending: list[tuple[object, int, str]] = [(decoded, 1, "")]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return f"`{path or '.'}` contains a NUL (U+0000) character."
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > JSON_MAX_DEPTH:
            return f"The JSON is nested deeper than {JSON_MAX_DEPTH} levels at `{path}`."
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and "\x00" in key:
                return f"A key in `{path or '.'}` contains a NUL (U+0000) character."
            pending.append((item, depth + 1, f"{path}.{key}" if path else str(key)))
    return None
