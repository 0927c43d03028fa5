"""The product admin writes through the catalog services; stock is edited as a change from the
quantity the page showed, so units that checkouts take meanwhile are neither lost nor invented."""

import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from backend.accounts.models import User
from backend.catalog.admin import ProductAdminForm
from backend.catalog.models import Category, Product
from backend.orders.services import OrderLine, order_place
from tests.conftest import QueryCounter
from tests.factories import category_create, product_create, user_create
from tests.orders.conftest import threads_run

CHANGELIST = "admin:catalog_product_changelist"


def checkout(product: Product, quantity: int, *, key: str = "checkout") -> None:
    """A customer places an order through the orders service (it takes the stock)."""
    order_place(
        customer=user_create(), lines=[OrderLine(product.pk, quantity)], idempotency_key=key
    )


def stock_shown(page: HttpResponse, initial_name: str) -> int:
    """The quantity a rendered page carries back in its hidden initial input."""
    found = re.search(
        rf'<input type="hidden" name="{initial_name}" value="(\d+)"', page.content.decode()
    )
    assert found, f"the page has no hidden {initial_name}"
    return int(found.group(1))


def list_row_post(product: Product, *, shown: int | None, **typed: Any) -> dict[str, str]:
    """The changelist's bulk-edit POST for one row, as the browser sends it."""
    return list_rows_post((product, shown, typed))


def list_rows_post(*rows: tuple[Product, int | None, dict[str, Any]]) -> dict[str, str]:
    """The changelist's bulk-edit POST, as the browser sends it: one (product, quantity the
    page showed, typed values) per row, in the order the page listed them."""
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(len(rows)),
        "_save": "Save",
    }
    for index, (product, shown, typed) in enumerate(rows):
        row = {
            "id": str(product.pk),
            "price": str(product.price),
            "stock_quantity": str(shown),
            "is_published": "on",
        }
        row.update({name: str(value) for name, value in typed.items()})
        data.update({f"form-{index}-{name}": value for name, value in row.items()})
        if shown is not None:
            data[f"initial-form-{index}-stock_quantity"] = str(shown)
    return data


def stock_of(product: Product) -> int:
    return Product.objects.values_list("stock_quantity", flat=True).get(pk=product.pk)


@pytest.mark.django_db
class TestStockEditsAfterACheckout:
    """The page was drawn, then a checkout took units, then the edit was saved."""

    def test_a_list_edit_adds_the_typed_change_to_what_the_checkout_left(
        self, admin_client: Client
    ) -> None:
        product = product_create(stock_quantity=10)
        page = admin_client.get(reverse(CHANGELIST))
        shown = stock_shown(page, "initial-form-0-stock_quantity")
        checkout(product, 3)

        response = admin_client.post(
            reverse(CHANGELIST), list_row_post(product, shown=shown, stock_quantity=15)
        )

        assert response.status_code == 302
        assert (shown, stock_of(product)) == (10, 12)  # +5 on the 7 left, not a stale 15

    def test_a_list_edit_of_another_field_leaves_the_stock_the_checkout_left(
        self, admin_client: Client
    ) -> None:
        product = product_create(stock_quantity=10, price="3.00")
        checkout(product, 3)

        response = admin_client.post(
            reverse(CHANGELIST), list_row_post(product, shown=10, price="4.50")
        )

        assert response.status_code == 302
        product.refresh_from_db()
        assert (product.price, product.stock_quantity) == (Decimal("4.50"), 7)

    def test_a_change_page_edit_adds_the_typed_change_to_what_the_checkout_left(
        self, admin_client: Client
    ) -> None:
        product = product_create(stock_quantity=10, name="Teapot")
        url = reverse("admin:catalog_product_change", args=[product.pk])
        shown = stock_shown(admin_client.get(url), "initial-stock_quantity")
        checkout(product, 4)

        response = admin_client.post(
            url,
            {
                "name": "Blue teapot",
                "slug": product.slug,
                "sku": product.sku,
                "category": product.category_id,
                "description": "",
                "price": "10.00",
                "stock_quantity": "8",
                "initial-stock_quantity": str(shown),
                "is_published": "on",
            },
        )

        assert response.status_code == 302
        product.refresh_from_db()
        assert (product.name, product.stock_quantity) == ("Blue teapot", 4)  # -2 on 6

    @pytest.mark.parametrize(
        ("taken", "shown", "typed", "error"),
        [
            # Removing 5 of the 10 shown, when the checkout left 3.
            (7, 10, 5, "Only 3 units are in stock now (this page showed 10)"),
            # An absolute quantity without the one shown: it cannot be turned into a change.
            (3, None, 10, "reload the page"),
        ],
    )
    def test_an_edit_that_cannot_be_applied_as_a_change_is_a_form_error(
        self, admin_client: Client, taken: int, shown: int | None, typed: int, error: str
    ) -> None:
        product = product_create(stock_quantity=10)
        checkout(product, taken)

        response = admin_client.post(
            reverse(CHANGELIST), list_row_post(product, shown=shown, stock_quantity=typed)
        )

        assert response.status_code == 200
        assert error in str(response.context["cl"].formset.errors[0]["stock_quantity"])
        assert stock_of(product) == 10 - taken


@pytest.mark.django_db
def test_a_checkout_between_validation_and_save_rolls_the_whole_edit_back(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form saw 10 units and allowed removing 8; a checkout of 5 then lands before the
    save, so the stock service refuses: nothing of the edit is stored and the page says why."""
    product = product_create(stock_quantity=10, price="3.00")
    validate = ProductAdminForm.clean

    def validate_then_checkout(form: ProductAdminForm) -> dict[str, Any]:
        cleaned_data = validate(form)
        checkout(product, 5)
        return cleaned_data

    monkeypatch.setattr(ProductAdminForm, "clean", validate_then_checkout)

    response = admin_client.post(
        reverse(CHANGELIST),
        list_row_post(product, shown=10, stock_quantity=2, price="9.00"),
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Nothing was saved: Only 5 units are in stock; cannot remove 8."]
    product.refresh_from_db()
    assert (product.price, product.stock_quantity) == (Decimal("3.00"), 5)


@pytest.mark.django_db
def test_a_list_save_locks_its_rows_in_one_statement_before_writing_one(
    admin_client: Client, count_queries: type[QueryCounter]
) -> None:
    lower, higher = product_create(stock_quantity=10), product_create(stock_quantity=10)
    post = list_rows_post(
        (higher, 10, {"stock_quantity": 12}), (lower, 10, {"stock_quantity": 9, "price": "4.00"})
    )

    with count_queries() as queries:
        response = admin_client.post(reverse(CHANGELIST), post)

    assert response.status_code == 302
    statements = [query["sql"] for query in queries.captured_queries]
    writes = [sql for sql in statements if sql.startswith("UPDATE")]
    first_write = statements.index(writes[0])
    (row_lock,) = [sql for sql in statements[:first_write] if sql.endswith("FOR UPDATE")]
    assert f"IN ({higher.pk}, {lower.pk}) ORDER BY 1 ASC FOR UPDATE" in row_lock
    # Stock of each row as a change, and the lower row's price through product_update.
    assert len(writes) == 3
    assert (stock_of(lower), stock_of(higher)) == (9, 12)


@pytest.mark.django_db
def test_a_category_added_and_renamed_in_the_admin_goes_through_the_services(
    admin_client: Client,
) -> None:
    shoes = category_create(name="Shoes")
    fields = {"name": "Running", "slug": "running", "description": "", "position": 0}

    added = admin_client.post(reverse("admin:catalog_category_add"), {**fields, "parent": shoes.pk})
    running = Category.objects.get(slug="running")
    renamed = admin_client.post(
        reverse("admin:catalog_category_change", args=[running.pk]),
        {**fields, "name": "Trail running", "parent": shoes.pk},
    )

    assert (added.status_code, renamed.status_code) == (302, 302)
    running.refresh_from_db()
    assert (running.name, running.path) == ("Trail running", f"/{shoes.pk}/{running.pk}/")


@pytest.mark.django_db
def test_a_product_added_in_the_admin_is_created_by_the_service(admin_client: Client) -> None:
    category = category_create()
    response = admin_client.post(
        reverse("admin:catalog_product_add"),
        {
            "name": "Kettle",
            "slug": "kettle",
            "sku": "KET-1",
            "category": category.pk,
            "description": "",
            "price": "12.10",
            "stock_quantity": "6",
            "is_published": "on",
        },
    )
    assert response.status_code == 302
    kettle = Product.objects.get(sku="KET-1")
    assert (kettle.price, kettle.stock_quantity, kettle.category) == (Decimal("12.10"), 6, category)


@pytest.mark.django_db(transaction=True)
def test_an_admin_stock_edit_racing_checkouts_loses_and_invents_no_units() -> None:
    """Each round: the page shows 10, then the admin saves +5 while four buyers take 2 units
    each, all released together on their own connections; stock must end at 10 + 5 - 8."""
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.com", "pw-for-tests-only"))
    buyers = [user_create() for _ in range(4)]
    for round_number in range(3):
        product = product_create(stock_quantity=10)

        def act(index: int, product: Product = product, round_number: int = round_number) -> Any:
            if index == 0:
                return client.post(
                    reverse(CHANGELIST), list_row_post(product, shown=10, stock_quantity=15)
                ).status_code
            return order_place(
                customer=buyers[index - 1],
                lines=[OrderLine(product.pk, 2)],
                idempotency_key=f"race-{round_number}-{index}",
            ).pk

        admin_status, *orders = threads_run(5, act)

        assert admin_status == 302
        assert all(isinstance(order_id, int) for order_id in orders), orders
        assert stock_of(product) == 10 + 5 - 4 * 2


def until_a_session_waits_for_this_one() -> None:
    """Block until another session waits for a lock this connection's transaction holds.

    ``pg_blocking_pids`` reads the lock table live (``pg_stat_activity`` would be a snapshot
    taken once per transaction) and names only this database's sessions that this one blocks.
    """
    with connection.cursor() as cursor:
        for _ in range(3000):
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted "
                "AND pg_backend_pid() = ANY (pg_blocking_pids(pid)))"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no session ever waited for this one's locks")


@pytest.mark.django_db(transaction=True)
def test_a_list_save_of_several_rows_and_a_checkout_of_them_both_finish(
    admin_client: Client,
) -> None:
    """A checkout locks its products in ascending id; the page lists the same two products
    the other way round and the admin saves both rows. The checkout holds the lower id's row
    when the save starts and goes on only once the save waits for it: a save locking rows in
    the order the page listed them holds the higher id by then, and PostgreSQL aborts one of
    the two as a deadlock. In id order the save waits before it holds anything."""
    lower, higher = product_create(stock_quantity=10), product_create(stock_quantity=10)
    buyer = user_create()
    checkout_holds_lower = threading.Event()

    def pause_after_the_first_stock_update(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        result = execute(sql, params, many, context)
        if sql.lstrip().startswith("UPDATE catalog_product") and not checkout_holds_lower.is_set():
            checkout_holds_lower.set()
            until_a_session_waits_for_this_one()
        return result

    def act(index: int) -> Any:
        if index == 0:
            with connection.execute_wrapper(pause_after_the_first_stock_update):
                return order_place(
                    customer=buyer,
                    lines=[OrderLine(lower.pk, 2), OrderLine(higher.pk, 3)],
                    idempotency_key="both",
                ).pk
        assert checkout_holds_lower.wait(timeout=30), "the checkout never took its first row"
        post = list_rows_post(
            (higher, 10, {"stock_quantity": 15}), (lower, 10, {"stock_quantity": 15})
        )
        return admin_client.post(reverse(CHANGELIST), post).status_code

    order_id, admin_status = threads_run(2, act)

    assert isinstance(order_id, int), order_id
    assert admin_status == 302, admin_status
    assert (stock_of(lower), stock_of(higher)) == (10 - 2 + 5, 10 - 3 + 5)
