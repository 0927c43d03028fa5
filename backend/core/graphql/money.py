"""``Money``: an exact amount with its currency, as storefronts expect (Shopify's MoneyV2)."""

from decimal import Decimal

import strawberry
from django.conf import settings


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
