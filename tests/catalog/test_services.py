"""The write services' guarantees below GraphQL: races the database catches become typed errors."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.catalog.models import Category, Product
from backend.catalog.services import (
    catalog_errors,
    category_delete,
    category_update,
    product_create,
    product_stock_adjust,
    products_lock,
)
from tests.conftest import QueryCounter
from tests.factories import category_create
from tests.factories import product_create as product_row


@pytest.mark.django_db
def test_a_unique_violation_the_validation_did_not_see_is_slug_taken() -> None:
    """A concurrent insert can win between full_clean and INSERT: the constraint decides."""
    taken = product_row(slug="trail-shoe")
    with pytest.raises(CatalogError) as raised, catalog_errors(), transaction.atomic():
        Product.objects.create(
            name="Copy", slug="trail-shoe", sku="OTHER", price="1.00", category=taken.category
        )
    assert (raised.value.code, raised.value.field) == (CatalogErrorCode.SLUG_TAKEN, "slug")


@pytest.mark.django_db
def test_a_cycle_the_trigger_refuses_is_category_cycle() -> None:
    parent = category_create()
    child = category_create(parent=parent)
    with (
        pytest.raises(CatalogError) as raised,
        catalog_errors(),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE catalog_category SET parent_id = %s WHERE id = %s", [child.pk, parent.pk]
        )
    assert (raised.value.code, raised.value.field) == (CatalogErrorCode.CATEGORY_CYCLE, "parent")
    assert Category.objects.get(pk=parent.pk).parent_id is None


@pytest.mark.django_db
def test_catalog_errors_are_validation_errors_for_existing_callers() -> None:
    product = product_row()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        category_delete(category=product.category)


@pytest.mark.django_db
def test_a_create_failing_on_several_fields_reports_each() -> None:
    taken = product_row(slug="taken", sku="TAKEN")
    with pytest.raises(CatalogError) as raised:
        product_create(
            name="",
            slug="taken",
            sku="TAKEN",
            price=Decimal("-1"),
            category=taken.category,
        )
    assert sorted((d.field or "", d.code.value) for d in raised.value.details) == [
        ("name", "INVALID"),
        ("price", "PRICE_INVALID"),
        ("sku", "SKU_TAKEN"),
        ("slug", "SLUG_TAKEN"),
    ]
    assert Product.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_move_rolls_back_the_rename_sent_with_it() -> None:
    parent = category_create(name="Apparel")
    child = category_create(parent=parent)
    with pytest.raises(CatalogError):
        category_update(category=parent, name="Renamed", parent=child)
    assert Category.objects.get(pk=parent.pk).name == "Apparel"


@pytest.mark.django_db
def test_stock_adjust_of_a_missing_product_is_not_found() -> None:
    with pytest.raises(CatalogError) as raised:
        product_stock_adjust(product_id=10**9, delta=1)
    assert (raised.value.code, raised.value.field) == (CatalogErrorCode.NOT_FOUND, "id")


@pytest.mark.django_db
def test_stock_adjust_is_one_statement_when_it_succeeds(
    count_queries: type[QueryCounter],
) -> None:
    product = product_row(stock_quantity=2)
    with count_queries() as queries:
        assert product_stock_adjust(product_id=product.pk, delta=-2) == 0
    # SAVEPOINT and RELEASE around the conditional UPDATE ... RETURNING (the test transaction).
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert queries.count == 3


@pytest.mark.django_db
def test_products_lock_is_one_statement_locking_in_ascending_id(
    count_queries: type[QueryCounter],
) -> None:
    first, second, third = (product_row() for _ in range(3))
    with count_queries() as queries:
        products_lock(product_ids=[third.pk, first.pk, second.pk, 10**9])
    (statement,) = [q["sql"] for q in queries.captured_queries]
    # Rows are locked as the sort returns them: ORDER BY the id (column 1), then FOR UPDATE.
    locking = (
        r'^SELECT "catalog_product"\."id" AS "pk" FROM "catalog_product" WHERE .* '
        r"ORDER BY 1 ASC FOR UPDATE$"
    )
    assert re.match(locking, statement), statement


SPACES = [" ", "\t", "\n", "\u00a0", "\u3000", " \r\n "]


@pytest.mark.django_db
@pytest.mark.parametrize("space", SPACES)
def test_typed_text_loses_its_surrounding_whitespace_on_create_and_update(space: str) -> None:
    """What Django's forms and DRF do before a service sees the text, the service does itself,
    so GraphQL, REST and the admin store the same value."""
    category = category_create(name="Lamps", slug="lamps")
    product = product_create(
        name=f"{space}Desk lamp{space}",
        slug=f"{space}desk-lamp{space}",
        sku=f"{space}LAMP-1{space}",
        price=Decimal("10"),
        category=category,
        description=f"{space}Bright.{space}",
    )
    stored = Product.objects.values("name", "slug", "sku", "description").get(pk=product.pk)
    assert stored == {
        "name": "Desk lamp",
        "slug": "desk-lamp",
        "sku": "LAMP-1",
        "description": "Bright.",
    }
    category_update(category=category, name=f"{space}Lighting{space}", slug=f"{space}light")
    assert Category.objects.values_list("name", "slug").get(pk=category.pk) == (
        "Lighting",
        "light",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("space", SPACES)
def test_a_name_sku_or_slug_of_whitespace_alone_is_blank(space: str) -> None:
    category = category_create(name="Lamps", slug="lamps")
    with pytest.raises(CatalogError) as raised:
        product_create(name=space * 3, slug=space, sku=space, price=Decimal("1"), category=category)
    assert sorted((d.field or "", d.code.value) for d in raised.value.details) == [
        ("name", "INVALID"),
        ("sku", "INVALID"),
        ("slug", "INVALID"),
    ]
    with pytest.raises(CatalogError) as raised:
        category_update(category=category, name=space)
    assert [(d.field, d.code.value) for d in raised.value.details] == [("name", "INVALID")]
    assert Category.objects.get(pk=category.pk).name == "Lamps"
    assert not Product.objects.exists()
