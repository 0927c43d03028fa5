"""Every mutation's payload, from one call to a domain service: the GraphQL side of the error
model (docs/decisions/0018-one-error-model.md).

A ``DomainError`` becomes the payload's ``errors``, one per failure, with its ``field`` path
camelCased as GraphQL names arguments (``lines.2.product_id`` -> ``lines.2.productId``) and
its extras as the error type's fields of the same names. A code whose HTTP status is 403 is
a top-level FORBIDDEN error instead, like every other permission failure.

``mutation_payload`` is the one place that happens; ``result_payload`` (the service returns the
object the payload shows) and ``effect_payload`` (the service returns nothing the payload
shows) are its two common shapes.
"""

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, get_args, get_type_hints

import strawberry
from strawberry.utils.str_converters import to_camel_case

from backend.api.graphql.errors import ForbiddenError
from backend.core.errors import DomainError


def errors_field(description: str = "Business failures; empty on success.") -> Any:
    """A payload's ``errors`` field (``errors: list[CatalogErrorType] = errors_field()``)."""
    return strawberry.field(default_factory=list, description=description)


def graphql_field_path(field: str | None) -> str | None:
    """A domain argument path in GraphQL's names; None (the request as a whole) stays None."""
    return None if field is None else to_camel_case(field)


def payload_errors[E](error: DomainError, error_type: type[E]) -> list[E]:
    """``error`` as GraphQL error objects of ``error_type`` (``CatalogError``, ``OrderError``...).

    The type declares ``field``, ``message``, ``code`` and every extra its domain's codes
    carry, by the extra's own name; an extra it lacks is a TypeError, not a silent drop.
    """
    return [
        error_type(
            field=graphql_field_path(detail.field),
            message=detail.message,
            code=detail.code,
            **detail.extras,
        )
        for detail in error.details
    ]


def mutation_payload[P](payload_type: type[P], run: Callable[[], P]) -> P:
    """``run()``, the success payload; a ``DomainError`` it raises becomes ``payload_type``
    with ``errors`` set and every other field at its default (null, or false for ``ok``)."""
    try:
        return run()
    except DomainError as error:
        if error.code.status is HTTPStatus.FORBIDDEN:
            raise ForbiddenError(error.message) from None
        return payload_type(errors=payload_errors(error, _error_type(payload_type)))  # type: ignore[call-arg]


def _error_type(payload_type: type[Any]) -> type[Any]:
    """The element type of a payload's ``errors: list[...]``."""
    (error_type,) = get_args(get_type_hints(payload_type)["errors"])
    return error_type  # type: ignore[no-any-return]


def result_payload[P](payload_type: type[P], field: str, run: Callable[[], object]) -> P:
    """``payload_type`` with ``field`` set to what ``run()`` returns (the object the service
    saved); a ``DomainError`` as in ``mutation_payload``."""
    return mutation_payload(payload_type, lambda: payload_type(**{field: run()}))


def effect_payload[P](payload_type: type[P], run: Callable[[], object], **fields: Any) -> P:
    """``run()`` for its effect, then ``payload_type(**fields)`` (``ok=True``, the deleted id);
    a ``DomainError`` as in ``mutation_payload``."""

    def run_then_payload() -> P:
        run()
        return payload_type(**fields)

    return mutation_payload(payload_type, run_then_payload)
