"""The error every catalog write service raises for a business failure, and its codes."""

from http import HTTPStatus

from django.core.exceptions import ValidationError

from backend.core.errors import DomainError, ErrorCode


class CatalogErrorCode(ErrorCode):
    """Stable codes clients branch on; the GraphQL enum of the same name describes each.

    NOT_FOUND is a 404 for the object a request addresses; a transport reports a missing
    referenced object (a product's ``category``) as its client's bad input instead.
    """

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND", HTTPStatus.NOT_FOUND
    SLUG_TAKEN = "SLUG_TAKEN", HTTPStatus.CONFLICT
    SKU_TAKEN = "SKU_TAKEN", HTTPStatus.CONFLICT
    PRICE_INVALID = "PRICE_INVALID"
    CATEGORY_CYCLE = "CATEGORY_CYCLE"
    CATEGORY_NOT_EMPTY = "CATEGORY_NOT_EMPTY", HTTPStatus.CONFLICT
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK", HTTPStatus.CONFLICT


class CatalogError(DomainError, ValidationError):
    """A refused catalog write (a create can fail on several fields at once); INSUFFICIENT_STOCK
    carries ``available_quantity``.

    Also a Django ``ValidationError``, deliberately: the catalog is the domain the admin edits,
    and Django's form machinery (``ModelForm`` clean, the admin's change form) shows a
    ``ValidationError`` raised by a service it calls as a form error instead of a server error.
    The transports match ``DomainError`` first, so they never see it as a plain validation error.
    """
