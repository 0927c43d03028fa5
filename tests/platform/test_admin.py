"""The admin site: usable by the staff role through its permissions, read-only where services
own the data, constant query counts on list pages, form errors (not 500s) for bad input."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from backend.accounts.models import User
from backend.accounts.roles import Role, roles_sync
from backend.catalog.models import Category
from tests.factories import category_create, order_create, product_create, user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    """A client signed in as a staff member whose rights come only from the staff group."""
    roles_sync()
    staff = user_create(is_staff=True)
    staff.groups.add(Group.objects.get(name=Role.STAFF.value))
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.com", "pw-for-tests-only"))
    return client


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:catalog_product_changelist",
        "admin:catalog_category_changelist",
        "admin:orders_order_changelist",
        "admin:orders_orderevent_changelist",
        "admin:catalog_product_add",
        "admin:catalog_category_add",
    ],
)
def test_staff_can_open_the_catalog_and_order_pages(staff_client: Client, url_name: str) -> None:
    assert staff_client.get(reverse(url_name)).status_code == 200


def test_staff_cannot_add_orders_or_edit_users(staff_client: Client) -> None:
    assert staff_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert staff_client.get(reverse("admin:accounts_user_add")).status_code == 403


def test_a_customer_is_sent_to_the_admin_login() -> None:
    client = Client()
    client.force_login(user_create())
    response = client.get(reverse("admin:catalog_product_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_order_totals_are_read_only_for_staff(staff_client: Client) -> None:
    product = product_create(price="4.00")
    order = order_create(products=[(product, 3)])
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert "total" not in form_fields
    assert "subtotal" not in form_fields
    assert "status" not in form_fields
    assert b"12.00" in response.content  # the line total is shown by the read-only inline
    posted = staff_client.post(
        reverse("admin:orders_order_change", args=[order.pk]), {"total": "0.01"}
    )
    assert posted.status_code == 403
    order.refresh_from_db()
    assert str(order.total) == "12.00"


def changelist_queries(client: Client, url_name: str, count_queries: Callable) -> tuple[int, int]:
    """(SQL statements, rows shown) for one changelist page."""
    with count_queries() as queries:
        response = client.get(reverse(url_name))
    assert response.status_code == 200
    return queries.count, len(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("url_name", "make_row"),
    [
        ("admin:catalog_product_changelist", lambda: product_create()),
        ("admin:orders_order_changelist", lambda: order_create()),
        ("admin:catalog_category_changelist", lambda: category_create(parent=category_create())),
    ],
)
def test_changelist_query_count_does_not_grow_with_rows(
    staff_client: Client, count_queries: Callable, url_name: str, make_row: Callable
) -> None:
    make_row()
    queries_for_few, few = changelist_queries(staff_client, url_name, count_queries)
    for _ in range(19):
        make_row()
    queries_for_many, many = changelist_queries(staff_client, url_name, count_queries)
    assert few <= 2
    assert many >= 20
    assert queries_for_many == queries_for_few


def test_moving_a_category_in_the_admin_rewrites_the_subtree(superuser_client: Client) -> None:
    shoes = category_create(name="Shoes")
    running = category_create(name="Running", parent=shoes)
    sale = category_create(name="Sale")
    response = superuser_client.post(
        reverse("admin:catalog_category_change", args=[shoes.pk]),
        {"name": "Shoes", "slug": shoes.slug, "parent": sale.pk, "position": 0},
    )
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.path == f"/{sale.pk}/{shoes.pk}/{running.pk}/"


def test_a_cycle_made_in_the_admin_is_a_form_error(superuser_client: Client) -> None:
    shoes = category_create(name="Shoes")
    running = category_create(name="Running", parent=shoes)
    response = superuser_client.post(
        reverse("admin:catalog_category_change", args=[shoes.pk]),
        {"name": "Shoes", "slug": shoes.slug, "parent": running.pk, "position": 0},
    )
    assert response.status_code == 200
    assert "own subtree" in str(response.context["adminform"].form.errors["parent"])
    assert Category.objects.get(pk=shoes.pk).parent_id is None


def test_the_admin_adds_a_user_and_refuses_an_email_differing_only_in_case(
    superuser_client: Client,
) -> None:
    url = reverse("admin:accounts_user_add")
    data = {
        "email": "Lin@Example.com",
        "name": "Lin",
        "usable_password": "true",
        "password1": "a-long-enough-passphrase",
        "password2": "a-long-enough-passphrase",
    }
    assert superuser_client.post(url, data).status_code == 302
    assert User.objects.get(email__iexact="lin@example.com").check_password(data["password1"])
    again = superuser_client.post(url, {**data, "email": "LIN@example.com"})
    assert again.status_code == 200
    assert again.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="lin@example.com").count() == 1


def test_admin_search_finds_products_by_sku_and_orders_by_number(staff_client: Client) -> None:
    product = product_create(name="Teapot", sku="TEA-001")
    product_create(name="Kettle")
    response = staff_client.get(reverse("admin:catalog_product_changelist"), {"q": "tea-001"})
    assert list(response.context["cl"].result_list) == [product]
    order = order_create()
    order_create()
    response = staff_client.get(reverse("admin:orders_order_changelist"), {"q": str(order.number)})
    assert list(response.context["cl"].result_list) == [order]
    # A non-numeric term is not an error on the integer column.
    assert (
        staff_client.get(reverse("admin:orders_order_changelist"), {"q": "abc"}).status_code == 200
    )


def test_products_filter_by_top_level_category_covers_the_whole_subtree(
    staff_client: Client,
) -> None:
    apparel = category_create(name="Apparel")
    deep = category_create(parent=category_create(parent=apparel))
    inside = product_create(category=deep)
    product_create()  # under another top-level category
    url = reverse("admin:catalog_product_changelist")
    response = staff_client.get(url, {"root": apparel.pk})
    assert list(response.context["cl"].result_list) == [inside]
    by_category = staff_client.get(url, {"category__id__exact": deep.pk})
    assert list(by_category.context["cl"].result_list) == [inside]


def test_negative_stock_typed_into_the_product_list_is_a_form_error(staff_client: Client) -> None:
    product = product_create(stock_quantity=7, price="3.00")
    response = staff_client.post(
        reverse("admin:catalog_product_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(product.pk),
            "form-0-price": "3.00",
            "form-0-stock_quantity": "-1",
            "form-0-is_published": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert response.context["cl"].formset.errors[0]["stock_quantity"]
    product.refresh_from_db()
    assert product.stock_quantity == 7
