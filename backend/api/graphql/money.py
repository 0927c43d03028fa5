"""``Money``: an exact amount with its currency, as storefronts expect (Shopify's MoneyV2)."""

from decimal import Decimal

import strawberry
from django.conf import settings
from strawberry.types.scalar import ScalarDefinition

from backend.core.numbers import decimal_parse


@strawberry.type(description="An exact amount of money in a currency.")
class Money:
    amount: Decimal = strawberry.field(
        description='The amount as a decimal string (e.g. "19.99"), never a float.'
    )
    currency: str = strawberry.field(description='ISO 4217 currency code, e.g. "USD".')

    @classmethod
    def in_store_currency(cls, amount: Decimal) -> "Money":
        """Catalog prices are all in the store's single currency (``STORE_CURRENCY``)."""
        return cls(amount=amount, currency=settings.STORE_CURRENCY)


# Read as before the bounds: productCreate answers PRICE_INVALID for them, a filter INVALID.
_NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})


def _decimal_parse_value(value: object) -> Decimal:
    """A ``Decimal`` variable: a numeral string ("19.99") or a JSON number, in the range
    ``backend.core.numbers`` reads (so "1e-999999" or a million digits are refused as
    BAD_USER_INPUT before they reach PostgreSQL)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Decimal cannot represent {type(value).__name__} values.")
    try:
        text = value if isinstance(value, str) else repr(value)
    except ValueError:  # an int with more digits than Python converts
        raise ValueError("The number is out of range.") from None
    if text in _NON_FINITE:
        return Decimal(text)  # a number to Decimal's eyes; each service refuses it in its words
    return decimal_parse(text)


# Strawberry's own Decimal scalar (same name and description in the schema), with bounds.
DECIMAL_SCALAR = ScalarDefinition(
    name="Decimal",
    description="Decimal (fixed-point)",
    specified_by_url=None,
    serialize=str,
    parse_value=_decimal_parse_value,
    parse_literal=None,
    origin=Decimal,
)
