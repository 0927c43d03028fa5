from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from backend.accounts.models import User
from backend.accounts.roles import roles_sync
from backend.catalog.models import Category, Product

DEMO_ADMIN_EMAIL = "admin@nexus.local"
DEMO_ADMIN_PASSWORD = "nexus-demo-admin"  # printed on purpose: DEBUG-only demo data

# (slug, name, parent slug)
DEMO_CATEGORIES = [
    ("apparel", "Apparel", None),
    ("shoes", "Shoes", "apparel"),
    ("running-shoes", "Running shoes", "shoes"),
    ("jackets", "Jackets", "apparel"),
    ("electronics", "Electronics", None),
    ("audio", "Audio", "electronics"),
    ("headphones", "Headphones", "audio"),
]
# (sku, name, category slug, price, stock)
DEMO_PRODUCTS = [
    ("SHOE-RUN-001", "Trail runner", "running-shoes", "89.00", 25),
    ("SHOE-RUN-002", "Road racer", "running-shoes", "129.00", 3),
    ("SHOE-CAS-001", "Canvas sneaker", "shoes", "49.50", 40),
    ("JKT-RAIN-001", "Rain shell", "jackets", "149.00", 12),
    ("AUD-HP-001", "Noise-cancelling headphones", "headphones", "299.00", 8),
    ("AUD-HP-002", "Wired studio headphones", "headphones", "99.00", 0),
    ("AUD-SPK-001", "Portable speaker", "audio", "59.99", 30),
]


class Command(BaseCommand):
    help = "Load the small demo catalog and a demo admin (idempotent; refuses when DEBUG is off)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "demo_load creates a known admin password; it runs only with DEBUG on."
            )
        roles_sync()
        categories: dict[str, Category] = {}
        for slug, name, parent_slug in DEMO_CATEGORIES:
            categories[slug], _ = Category.objects.update_or_create(
                slug=slug, defaults={"name": name, "parent": categories.get(parent_slug or "")}
            )
        for sku, name, category_slug, price, stock in DEMO_PRODUCTS:
            Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "name": name,
                    "slug": sku.lower(),
                    "category": categories[category_slug],
                    "price": Decimal(price),
                    "stock_quantity": stock,
                },
            )
        if not User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL).exists():
            User.objects.create_superuser(DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, name="Demo admin")
        categories_total, products_total = Category.objects.count(), Product.objects.count()
        self.stdout.write(
            f"Demo catalog: {categories_total} categories, {products_total} products.\n"
            f"Demo admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD} (http://127.0.0.1:8000/admin/)"
        )
