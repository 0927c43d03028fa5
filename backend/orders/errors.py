"""The error every order service raises for a refused operation, and its codes."""

from http import HTTPStatus

from backend.core.errors import DomainError, ErrorCode


class OrderErrorCode(ErrorCode):
    """Stable codes clients branch on; the GraphQL enum of the same name describes each."""

    EMPTY_ORDER = "EMPTY_ORDER"
    QUANTITY_INVALID = "QUANTITY_INVALID"
    DUPLICATE_PRODUCT = "DUPLICATE_PRODUCT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK", HTTPStatus.CONFLICT
    TOO_MANY_PENDING_ORDERS = "TOO_MANY_PENDING_ORDERS", HTTPStatus.CONFLICT
    UNPAID_UNITS_LIMIT = "UNPAID_UNITS_LIMIT", HTTPStatus.CONFLICT
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED", HTTPStatus.CONFLICT
    ORDER_TRANSITION_INVALID = "ORDER_TRANSITION_INVALID", HTTPStatus.CONFLICT
    NOT_FOUND = "NOT_FOUND", HTTPStatus.NOT_FOUND
    PERMISSION_DENIED = "PERMISSION_DENIED", HTTPStatus.FORBIDDEN


class OrderError(DomainError):
    """A refused order operation. ``field`` is the argument path at fault (``lines.2.quantity``);
    INSUFFICIENT_STOCK carries ``available_quantity`` when the customer may see stock (staff),
    ORDER_TRANSITION_INVALID ``from_status`` and ``to_status``."""
