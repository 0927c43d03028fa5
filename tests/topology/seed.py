"""What a topology's database holds before its clients arrive: the benchmark's seed catalog,
one product with stock enough for every order a test or a benchmark places, and accounts.

Run by the harness in the topology's own environment, after the compose migrate job:
``python -m tests.topology.seed '<json spec>'``; prints the stock product's id as JSON.
"""

import json
import os
import sys
from decimal import Decimal


def main(spec: dict) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    django.setup()
    from backend.accounts.services import account_create_by_staff, account_role_groups_sync
    from backend.catalog.models import Category
    from backend.catalog.seeding import catalog_seed
    from backend.catalog.services import product_create

    catalog_seed(products=spec["products"], categories=spec["categories"])
    product = product_create(
        name="Topology stock",
        slug="topology-stock",
        sku="TOPOLOGY-STOCK",
        price=Decimal("12.50"),
        category=Category.objects.order_by("pk").first(),
        stock_quantity=spec["stock"],
    )
    for email in spec["customers"]:
        account_create_by_staff(email=email, password=spec["password"])
    staff = account_create_by_staff(email=spec["staff"], password=spec["password"])
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    account_role_groups_sync(user=staff)
    return {"product": product.pk}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
