"""The one shape of a business failure every domain raises and every transport renders.

A domain defines its codes as an ``ErrorCode`` enum (each member names the HTTP status it
maps to) and its error as a ``DomainError`` subclass. Domains know nothing of GraphQL or
REST: ``field`` is a path in the domain's own snake_case argument names (``lines.2.quantity``)
and each transport turns it into its wire name; see docs/decisions/0018-one-error-model.md.
"""

import dataclasses
from collections.abc import Sequence
from enum import Enum
from http import HTTPStatus
from typing import Self, TypedDict, Unpack


class ErrorCode(Enum):
    """Base of every domain's error codes: the value is the stable code clients branch on,
    ``status`` the HTTP status it maps to (400 unless the member says otherwise).

    A member is ``NAME = "NAME"`` or ``NAME = "NAME", HTTPStatus.CONFLICT``.
    """

    status: HTTPStatus

    def __new__(cls, code: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> Self:
        member = object.__new__(cls)
        member._value_ = code
        member.status = status
        return member


class ErrorExtras(TypedDict, total=False):
    """Facts a client needs to act on some codes; each is set only with the codes it serves."""

    available_quantity: int  # units in stock (INSUFFICIENT_STOCK), where the viewer may see them
    from_status: str  # the current status of a refused status change
    to_status: str  # the refused target status
    retry_after: int  # seconds to wait before the next attempt (throttled codes)


@dataclasses.dataclass(frozen=True)
class ErrorDetail:
    """One failure: a code, an English message, the argument path at fault (None: the request
    as a whole) and the code's extras."""

    code: ErrorCode
    message: str
    field: str | None = None
    extras: ErrorExtras = dataclasses.field(default_factory=ErrorExtras)


class DomainError(Exception):
    """One or more business failures of a domain operation (a create can fail on several
    fields at once). Raised before or inside the operation's transaction: nothing persists.

    ``code``, ``message``, ``field`` and ``extras`` describe the first failure, the one a
    transport reports as the request's; ``details`` holds them all, the first included.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        more: Sequence[ErrorDetail] = (),
        **extras: Unpack[ErrorExtras],
    ) -> None:
        super().__init__(message)
        # Plain attributes, not properties: a subclass may also derive from an exception
        # (Django's ValidationError) whose __init__ assigns ``code`` and ``message``.
        self.details = (ErrorDetail(code, message, field, extras), *more)
        self.code = code
        self.message = message
        self.field = field
        self.extras = extras

    @classmethod
    def from_details(cls, details: Sequence[ErrorDetail]) -> Self:
        first, *rest = details
        return cls(first.code, first.message, field=first.field, more=rest, **first.extras)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r}, field={self.field!r})"
