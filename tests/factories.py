"""Plain factory functions: keyword arguments with sensible defaults, unique slugs and SKUs.

Other test folders import them: ``from tests.factories import product_create``.
"""

import itertools
from decimal import Decimal
from typing import Any

from backend.accounts.models import User
from backend.catalog.models import Category, Product
from backend.orders.models import Order, OrderItem

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


def user_create(*, email: str | None = None, password: str | None = None, **fields: Any) -> User:
    """Without ``password`` the account gets an unusable one: hashing costs ~100 ms a user,
    and tests sign in with ``force_login``."""
    return User.objects.create_user(email or f"user{_next()}@example.com", password, **fields)


def category_create(
    *,
    name: str | None = None,
    slug: str | None = None,
    parent: Category | None = None,
    **fields: Any,
) -> Category:
    n = _next()
    return Category.objects.create(
        name=name or f"Category {n}", slug=slug or f"category-{n}", parent=parent, **fields
    )


def product_create(
    *,
    name: str | None = None,
    slug: str | None = None,
    sku: str | None = None,
    category: Category | None = None,
    price: Decimal | str = "10.00",
    stock_quantity: int = 10,
    **fields: Any,
) -> Product:
    n = _next()
    return Product.objects.create(
        name=name or f"Product {n}",
        slug=slug or f"product-{n}",
        sku=sku or f"SKU-{n:06d}",
        category=category or category_create(),
        price=Decimal(price),
        stock_quantity=stock_quantity,
        **fields,
    )


def varied_shop_create() -> None:
    """Sixty products over five categories, of a few words each, prices from 1 to 6,000, some
    sold out and some unpublished: searches whose lists differ in size, categories and prices."""
    categories = [category_create(name=f"Aisle {n}") for n in range(5)]
    words = ["lamp", "chair", "table", "brass", "oak", "wool"]
    for n in range(60):
        product_create(
            name=f"{words[n % 6].title()} {words[(n * 5 + 1) % 6]} {n}",
            category=categories[n * 7 % 5],
            price=f"{1 + n * n * 1.7:.2f}",
            stock_quantity=n % 4,
            is_published=n % 9 != 0,
        )


def lamp_shop_create() -> dict[str, Category]:
    """The catalog the facet, highlight and suggestion tests read, on every transport: lamps
    and chairs in two leaves of one department (Home), a rug in a category of its own; one lamp
    unpublished, two products sold out, one name holding markup to escape."""
    home = category_create(name="Home")
    lighting = category_create(name="Lighting", parent=home)
    seating = category_create(name="Seating", parent=home)
    rugs = category_create(name="Rugs")
    for name, category, price, stock, published in [
        ("Brass lamp", lighting, "12.00", 3, True),
        ("Desk lamp", lighting, "19.99", 0, True),
        ("Floor lamp", lighting, "45.00", 1, True),
        ("Prototype lamp", lighting, "14.00", 9, False),
        ("Oak chair", seating, "89.00", 2, True),
        ("Lamp <b>table</b> & stool", seating, "150.00", 0, True),
        ("Wool rug", rugs, "240.00", 5, True),
    ]:
        product_create(
            name=name, category=category, price=price, stock_quantity=stock, is_published=published
        )
    return {"home": home, "lighting": lighting, "seating": seating, "rugs": rugs}


def order_create(
    *,
    customer: User | None = None,
    products: list[tuple[Product, int]] | None = None,
    idempotency_key: str | None = None,
    currency: str = "USD",
    **fields: Any,
) -> Order:
    """An order with consistent lines and totals; the number comes from the database sequence.

    Writes rows directly (no stock reservation): for tests of the data layer and read paths.
    """
    customer = customer or user_create()
    lines = products or []
    subtotal = sum((product.price * quantity for product, quantity in lines), Decimal("0.00"))
    order = Order.objects.create(
        customer=customer,
        email=fields.pop("email", customer.email),
        currency=currency,
        subtotal=subtotal,
        total=fields.pop("total", subtotal),
        idempotency_key=idempotency_key or f"key-{_next()}",
        request_fingerprint=fields.pop("request_fingerprint", "0" * 64),
        **fields,
    )
    OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            product=product,
            product_name=product.name,
            product_sku=product.sku,
            unit_price=product.price,
            quantity=quantity,
            line_total=product.price * quantity,
        )
        for product, quantity in lines
    )
    order.refresh_from_db(fields=["number"])
    return order
