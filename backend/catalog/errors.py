"""The typed error every catalog write service raises for a business failure."""

from dataclasses import dataclass
from enum import Enum

import strawberry
from django.core.exceptions import ValidationError


@strawberry.enum(name="CatalogErrorCode", description="Why a catalog mutation was refused.")
class CatalogErrorCode(Enum):
    """Stable codes clients branch on (the GraphQL enum of the same name)."""

    INVALID = strawberry.enum_value(
        "INVALID", description="A value is malformed, missing or out of range (see `field`)."
    )
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="The id names no existing object of the expected type."
    )
    SLUG_TAKEN = strawberry.enum_value(
        "SLUG_TAKEN", description="Another object of this type already has this slug."
    )
    SKU_TAKEN = strawberry.enum_value(
        "SKU_TAKEN", description="Another product already has this SKU."
    )
    PRICE_INVALID = strawberry.enum_value(
        "PRICE_INVALID",
        description="The price is negative, has more than 2 decimal places or more than 12 digits.",
    )
    CATEGORY_CYCLE = strawberry.enum_value(
        "CATEGORY_CYCLE",
        description="The category would become its own parent or move under its own subtree.",
    )
    CATEGORY_NOT_EMPTY = strawberry.enum_value(
        "CATEGORY_NOT_EMPTY",
        description="The category still has products or subcategories; move or delete them first.",
    )
    INSUFFICIENT_STOCK = strawberry.enum_value(
        "INSUFFICIENT_STOCK",
        description="The adjustment would take stock below zero; `availableQuantity` says how "
        "many units there are.",
    )


@dataclass(frozen=True)
class CatalogErrorDetail:
    code: CatalogErrorCode
    message: str
    field: str | None = None  # the service argument at fault (snake_case); None: the request
    available_quantity: int | None = None  # only with INSUFFICIENT_STOCK


class CatalogError(ValidationError):
    """One or more business failures of a catalog write (a create can fail on several fields).

    ``code``, ``field`` and ``message`` describe the first; ``details`` holds them all. A
    subclass of ``ValidationError`` so callers that already handle Django validation (the
    admin, the REST shim, older callers of ``category_delete``) keep working.
    """

    def __init__(
        self,
        code: CatalogErrorCode,
        message: str,
        *,
        field: str | None = None,
        available_quantity: int | None = None,
        more: tuple[CatalogErrorDetail, ...] = (),
    ) -> None:
        super().__init__(message, code=code.value)
        # ValidationError stores a string code; ours is the enum clients see.
        self.code = code  # type: ignore[assignment]
        self.field = field
        self.details = (CatalogErrorDetail(code, message, field, available_quantity), *more)

    @classmethod
    def from_details(cls, details: list[CatalogErrorDetail]) -> "CatalogError":
        first, *rest = details
        return cls(
            first.code,
            first.message,
            field=first.field,
            available_quantity=first.available_quantity,
            more=tuple(rest),
        )
