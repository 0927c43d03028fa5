"""Typed order errors: every refusal a transport shows a client, with a stable code."""

from enum import StrEnum


class OrderErrorCode(StrEnum):
    EMPTY_ORDER = "EMPTY_ORDER"
    QUANTITY_INVALID = "QUANTITY_INVALID"
    DUPLICATE_PRODUCT = "DUPLICATE_PRODUCT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    PRODUCT_UNAVAILABLE = "PRODUCT_UNAVAILABLE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    TOO_MANY_PENDING_ORDERS = "TOO_MANY_PENDING_ORDERS"
    UNPAID_UNITS_LIMIT = "UNPAID_UNITS_LIMIT"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ORDER_TRANSITION_INVALID = "ORDER_TRANSITION_INVALID"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"


class OrderError(Exception):
    """A refused order operation. Raised before or inside the transaction, so nothing persists.

    ``field`` is the input path the client should highlight (``lines.2.quantity``);
    ``available`` is set for ``INSUFFICIENT_STOCK`` when the customer may see stock (staff);
    ``from_status``/``to_status`` for ``ORDER_TRANSITION_INVALID``.
    """

    def __init__(
        self,
        code: OrderErrorCode,
        message: str,
        *,
        field: str | None = None,
        available: int | None = None,
        from_status: str | None = None,
        to_status: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.available = available
        self.from_status = from_status
        self.to_status = to_status

    def __repr__(self) -> str:
        return f"OrderError({self.code}, {self.message!r}, field={self.field!r})"
