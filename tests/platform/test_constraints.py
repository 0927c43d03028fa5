"""Every model constraint holds at both layers: ``full_clean`` reports it as a ValidationError,
and PostgreSQL refuses a raw statement that bypasses Python with an IntegrityError."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from backend.accounts.models import User
from backend.catalog.models import Category, Product
from backend.catalog.services import category_delete
from backend.orders.models import Order, OrderItem
from tests.factories import category_create, order_create, product_create, user_create

pytestmark = pytest.mark.django_db


def assert_database_refuses(
    sql: str, params: list[object], *, constraints_immediate: bool = False
) -> None:
    """The statement fails in PostgreSQL itself; the savepoint keeps the test usable.

    ``constraints_immediate`` checks deferred constraints at the statement, not at COMMIT.
    It is a statement of its own: with server-side binding (settings) a statement that takes
    parameters cannot hold two commands."""
    with transaction.atomic(), connection.cursor() as cursor:
        if constraints_immediate:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute(sql, params)


def assert_full_clean_refuses(instance: object, field_or_message: str) -> None:
    with pytest.raises(ValidationError) as error:
        instance.full_clean()  # type: ignore[attr-defined]
    assert field_or_message in str(error.value)


# --- Product --------------------------------------------------------------------------------


def test_product_stock_below_zero_is_refused_by_full_clean() -> None:
    product = product_create()
    product.stock_quantity = -1
    assert_full_clean_refuses(product, "stock_quantity")


def test_product_stock_below_zero_is_refused_by_postgresql() -> None:
    product = product_create(stock_quantity=5)
    assert_database_refuses(
        "UPDATE catalog_product SET stock_quantity = -1 WHERE id = %s", [product.pk]
    )
    product.refresh_from_db()
    assert product.stock_quantity == 5


def test_product_stock_constraint_is_named_and_reported_by_validate_constraints() -> None:
    product = product_create()
    product.stock_quantity = -1
    with pytest.raises(ValidationError, match="Stock cannot be negative"):
        product.validate_constraints()


def test_product_negative_price_is_refused_at_both_layers() -> None:
    product = product_create()
    product.price = Decimal("-0.01")
    with pytest.raises(ValidationError, match="Price cannot be negative"):
        product.validate_constraints()
    assert_database_refuses("UPDATE catalog_product SET price = -0.01 WHERE id = %s", [product.pk])


@pytest.mark.parametrize("field", ["slug", "sku"])
def test_product_duplicate_slug_or_sku_is_refused_at_both_layers(field: str) -> None:
    first = product_create()
    second = product_create(category=first.category)
    setattr(second, field, getattr(first, field))
    assert_full_clean_refuses(second, field)
    assert_database_refuses(
        f"UPDATE catalog_product SET {field} = %s WHERE id = %s",  # field: from parametrize
        [getattr(first, field), second.pk],
    )


# --- Category -------------------------------------------------------------------------------


def test_category_duplicate_slug_is_refused_at_both_layers() -> None:
    first = category_create()
    second = category_create()
    second.slug = first.slug
    assert_full_clean_refuses(second, "slug")
    assert_database_refuses(
        "UPDATE catalog_category SET slug = %s WHERE id = %s", [first.slug, second.pk]
    )


def test_category_duplicate_path_is_refused_at_both_layers() -> None:
    first = category_create()
    second = category_create()
    second.path = first.path
    assert_full_clean_refuses(second, "path")
    assert_database_refuses(
        "UPDATE catalog_category SET path = %s WHERE id = %s", [first.path, second.pk]
    )


def test_category_as_its_own_parent_is_refused_at_both_layers() -> None:
    category = category_create()
    category.parent = category
    assert_full_clean_refuses(category, "own parent")
    assert_database_refuses(
        "UPDATE catalog_category SET parent_id = id WHERE id = %s", [category.pk]
    )


def test_category_with_products_cannot_be_deleted() -> None:
    product = product_create()
    category = product.category
    with pytest.raises(ValidationError, match="cannot be deleted"):
        category_delete(category=category)
    with pytest.raises(ProtectedError), transaction.atomic():
        category.delete()
    # Django creates foreign keys DEFERRABLE INITIALLY DEFERRED: check this one now, not at COMMIT.
    assert_database_refuses(
        "DELETE FROM catalog_category WHERE id = %s", [category.pk], constraints_immediate=True
    )
    assert Category.objects.filter(pk=category.pk).exists()


def test_category_with_subcategories_cannot_be_deleted() -> None:
    parent = category_create()
    category_create(parent=parent)
    with pytest.raises(ValidationError):
        category_delete(category=parent)
    assert Category.objects.filter(pk=parent.pk).exists()


def test_empty_category_is_deleted_by_the_service() -> None:
    category = category_create()
    category_delete(category=category)
    assert not Category.objects.filter(pk=category.pk).exists()


# --- User -----------------------------------------------------------------------------------


def test_user_email_differing_only_in_case_is_refused_at_both_layers() -> None:
    user_create(email="Ada@Example.com")
    duplicate = User(email="ada@EXAMPLE.com")
    duplicate.set_unusable_password()
    assert_full_clean_refuses(duplicate, "already exists")
    assert_database_refuses(
        "INSERT INTO accounts_user (email, name, password, is_staff, is_active, is_superuser,"
        " date_joined, token_version) VALUES (%s, '', '!', false, true, false, now(), 0)",
        ["ADA@example.COM"],
    )
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1


def test_user_manager_refuses_a_case_variant_of_an_existing_email() -> None:
    user_create(email="grace@example.com")
    with pytest.raises(ValidationError):
        user_create(email="GRACE@example.com")


# --- Order and OrderItem --------------------------------------------------------------------


def test_order_idempotency_key_is_unique_per_customer_at_both_layers() -> None:
    first = order_create(idempotency_key="checkout-1")
    again = Order(
        customer=first.customer,
        email=first.email,
        currency="USD",
        subtotal=Decimal(0),
        total=Decimal(0),
        idempotency_key="checkout-1",
        request_fingerprint=first.request_fingerprint,
    )
    assert_full_clean_refuses(again, "already exists")
    other = order_create(idempotency_key="checkout-2", customer=first.customer)
    assert_database_refuses(
        "UPDATE orders_order SET idempotency_key = 'checkout-1' WHERE id = %s", [other.pk]
    )


def test_order_same_idempotency_key_is_allowed_for_different_customers() -> None:
    order_create(idempotency_key="checkout-1")
    second = order_create(idempotency_key="checkout-1")
    assert second.pk is not None


def test_order_unknown_status_is_refused_at_both_layers() -> None:
    order = order_create()
    order.status = "LOST"
    assert_full_clean_refuses(order, "status")
    assert_database_refuses("UPDATE orders_order SET status = 'LOST' WHERE id = %s", [order.pk])


@pytest.mark.parametrize("column", ["subtotal", "total"])
def test_order_negative_amounts_are_refused_at_both_layers(column: str) -> None:
    order = order_create()
    setattr(order, column, Decimal("-1.00"))
    assert_full_clean_refuses(order, column)
    assert_database_refuses(
        f"UPDATE orders_order SET {column} = -1 WHERE id = %s",  # column is from the parameter list
        [order.pk],
    )


def _order_with_one_line() -> tuple[Order, OrderItem]:
    product = product_create(price="2.50")
    order = order_create(products=[(product, 2)])
    return order, order.items.get()


def test_order_item_quantity_zero_is_refused_at_both_layers() -> None:
    _, item = _order_with_one_line()
    item.quantity, item.line_total = 0, Decimal("0.00")
    assert_full_clean_refuses(item, "orders_orderitem_quantity_positive")
    assert_database_refuses(
        "UPDATE orders_orderitem SET quantity = 0, line_total = 0 WHERE id = %s", [item.pk]
    )


def test_order_item_line_total_must_equal_unit_price_times_quantity_at_both_layers() -> None:
    _, item = _order_with_one_line()
    assert item.line_total == Decimal("5.00")
    item.line_total = Decimal("4.99")
    assert_full_clean_refuses(item, "orders_orderitem_line_total_exact")
    assert_database_refuses(
        "UPDATE orders_orderitem SET line_total = 4.99 WHERE id = %s", [item.pk]
    )


def test_order_item_same_product_twice_in_one_order_is_refused_at_both_layers() -> None:
    order, item = _order_with_one_line()
    duplicate = OrderItem(
        order=order,
        product=item.product,
        product_name=item.product_name,
        product_sku=item.product_sku,
        unit_price=item.unit_price,
        quantity=1,
        line_total=item.unit_price,
    )
    assert_full_clean_refuses(duplicate, "already exists")
    assert_database_refuses(
        "INSERT INTO orders_orderitem (order_id, product_id, product_name, product_sku,"
        " unit_price, quantity, line_total) VALUES (%s, %s, 'x', 'x', 1, 1, 1)",
        [order.pk, item.product_id],
    )


def test_order_item_survives_its_product_being_deleted() -> None:
    order, item = _order_with_one_line()
    Product.objects.filter(pk=item.product_id).delete()
    item.refresh_from_db()
    assert item.product_id is None
    assert item.product_name
    assert order.items.count() == 1


def test_order_numbers_come_from_the_sequence_and_increase() -> None:
    first = order_create()
    second = order_create()
    assert first.number >= 100001
    assert second.number > first.number
