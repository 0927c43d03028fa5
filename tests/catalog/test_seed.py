"""manage.py seed: a deterministic, idempotent benchmark catalog that leaves other data alone."""

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.postgres.search import SearchQuery
from django.core.management import CommandError, call_command
from django.db import connection

from backend.catalog.models import Category, Product
from backend.catalog.seeding import (
    CATEGORY_SLUG_PREFIX,
    PRODUCT_SKU_PREFIX,
    catalog_seed,
    category_tree_generate,
    product_rows_generate,
)

pytestmark = pytest.mark.django_db


def seed(products: int = 200, categories: int = 20, *extra: str) -> str:
    out = StringIO()
    call_command(
        "seed", "--products", str(products), "--categories", str(categories), *extra, stdout=out
    )
    return out.getvalue()


def seed_categories() -> list[Category]:
    return list(Category.objects.filter(slug__startswith=CATEGORY_SLUG_PREFIX))


def seed_products():  # type: ignore[no-untyped-def]
    return Product.objects.filter(sku__startswith=PRODUCT_SKU_PREFIX)


def product_index_definitions() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_product'"
        )
        return dict(cursor.fetchall())


def test_seed_creates_exactly_the_requested_counts() -> None:
    seed(200, 20)
    assert len(seed_categories()) == 20
    assert seed_products().count() == 200


def test_seed_builds_a_category_tree_at_least_three_levels_deep() -> None:
    seed(200, 20)
    categories = seed_categories()
    assert max(category.depth for category in categories) >= 3
    assert sum(category.parent_id is None for category in categories) >= 1
    by_id = {category.id: category for category in categories}
    for category in categories:
        if category.parent_id is not None:
            # The trigger built the path from the parent inserted before it.
            assert category.path == f"{by_id[category.parent_id].path}{category.id}/"


def test_seed_products_have_a_category_two_decimal_prices_and_stock() -> None:
    seed(200, 20)
    seed_category_ids = {category.id for category in seed_categories()}
    products = list(seed_products())
    for product in products:
        assert product.category_id in seed_category_ids
        assert product.price >= Decimal("0")
        assert product.price.as_tuple().exponent == -2
        assert product.stock_quantity >= 0
        assert product.description
    assert len({product.price for product in products}) > 50  # varied, not a constant
    assert any(product.stock_quantity == 0 for product in products)
    assert any(product.stock_quantity > 0 for product in products)
    assert len({p.slug for p in products}) == len({p.sku for p in products}) == 200


def test_seed_products_are_found_by_full_text_search() -> None:
    seed(200, 20)
    product = seed_products().order_by("sku").first()
    assert product is not None
    word = product.name.split()[-1]  # the product noun, e.g. "Jacket"
    found = Product.objects.filter(search_vector=SearchQuery(word, config="english"))
    assert found.filter(pk=product.pk).exists()


def test_seeding_twice_with_the_same_arguments_inserts_nothing() -> None:
    seed(200, 20)
    before = list(seed_products().order_by("sku").values_list("sku", "name", "price"))
    output = seed(200, 20)
    assert "0 categories and 0 products created" in output
    assert list(seed_products().order_by("sku").values_list("sku", "name", "price")) == before
    assert len(seed_categories()) == 20
    seed(100, 10)  # smaller counts never delete
    assert seed_products().count() == 200
    assert len(seed_categories()) == 20


def test_seeding_more_adds_only_the_missing_rows() -> None:
    seed(200, 20)
    first = list(
        seed_products().order_by("sku").values_list("sku", "name", "price", "stock_quantity")
    )
    seed(350, 30)
    assert seed_products().count() == 350
    assert len(seed_categories()) == 30
    again = list(
        seed_products().order_by("sku").values_list("sku", "name", "price", "stock_quantity")
    )
    assert again[:200] == first


def test_seed_leaves_the_demo_catalog_untouched(settings: Any) -> None:
    settings.DEBUG = True  # demo_load refuses to run otherwise; the test runner turns it off
    call_command("demo_load", stdout=StringIO())
    categories = list(Category.objects.values_list("id", "slug", "name", "parent_id", "path"))
    products = list(Product.objects.values_list("id", "sku", "name", "price", "stock_quantity"))
    seed(200, 20)
    seed(200, 20)
    non_seed_categories = Category.objects.exclude(slug__startswith=CATEGORY_SLUG_PREFIX)
    non_seed_products = Product.objects.exclude(sku__startswith=PRODUCT_SKU_PREFIX)
    assert list(non_seed_categories.values_list("id", "slug", "name", "parent_id", "path")) == (
        categories
    )
    assert (
        list(non_seed_products.values_list("id", "sku", "name", "price", "stock_quantity"))
        == products
    )


def test_index_rebuild_leaves_the_product_indexes_as_the_model_declares() -> None:
    before = product_index_definitions()
    catalog_seed(products=200, categories=20, rebuild_indexes=True)
    after = product_index_definitions()
    assert after == before  # same names, same definitions
    assert {index.name for index in Product._meta.indexes} <= set(after)


def test_seed_refuses_an_existing_seed_catalog_made_with_another_seed() -> None:
    seed(20, 5)
    with pytest.raises(CommandError, match="another --seed"):
        seed(20, 5, "--seed", "1")
    assert seed_products().count() == 20


def test_generation_is_deterministic_and_independent_of_where_a_run_starts() -> None:
    assert category_tree_generate(count=30, seed=3) == category_tree_generate(count=30, seed=3)
    assert category_tree_generate(count=10, seed=3) == category_tree_generate(count=30, seed=3)[:10]
    assert category_tree_generate(count=10, seed=3) != category_tree_generate(count=10, seed=4)
    whole = list(product_rows_generate(start=0, stop=3000, seed=7, category_ids=[1, 2, 3]))
    tail = list(product_rows_generate(start=1500, stop=3000, seed=7, category_ids=[1, 2, 3]))
    assert len(whole) == 3000
    assert tail == whole[1500:]
