"""The admin's query strings as a hostile staff member or a forged link would write them: every
registered changelist with every lookup of its list filters and date hierarchy, and every
autocomplete, answer a page, a redirect or a 4xx, never a server error."""

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.test import Client
from django.urls import reverse

from backend.accounts.models import User
from backend.core.admin import LookupValuesAdminMixin
from tests.factories import order_create, product_create

pytestmark = pytest.mark.django_db

# Values the database cannot hold (a NUL, years outside Python's dates, integers past bigint)
# and their ordinary neighbours.
PAYLOADS = ("\x00", "a\x00b", "0", "-1", "99999999999999999999", "1" * 400, "2026-13-45", "x")
# The lookups Django's list filters and date hierarchy write, and transforms a hand-made link
# may add to a list filter's field (Django allows any lookup on one).
LOOKUPS = ("exact", "gte", "lt", "in", "isnull", "id__exact", "year", "month", "day", "date")
REGISTERED = list(admin.site._registry.items())


@pytest.fixture
def superuser_client() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("root@example.com", "pw-for-tests-only"))
    return client


def _lookup_fields(model_admin: admin.ModelAdmin) -> list[str]:
    fields = [name for name in model_admin.list_filter if isinstance(name, str)]
    return fields + ([model_admin.date_hierarchy] if model_admin.date_hierarchy else [])


def test_every_model_admin_reads_its_query_string_through_the_guard() -> None:
    assert REGISTERED
    for model, model_admin in REGISTERED:
        assert isinstance(model_admin, LookupValuesAdminMixin), model


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[model.__name__ for model, _ in REGISTERED]
)
def test_no_lookup_value_is_a_server_error(
    superuser_client: Client, model: type, model_admin: admin.ModelAdmin
) -> None:
    """Before, a NUL in ``status__exact`` and a year of 0 or of 20 digits failed the order and
    order event changelists (a 500 in 22 of these requests)."""
    order_create(products=[(product_create(), 1)])
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    parameters = ["q", "o", "p"] + [
        f"{field}__{lookup}" for field in _lookup_fields(model_admin) for lookup in LOOKUPS
    ]
    refused = 0
    for parameter in parameters:
        for payload in PAYLOADS:
            response = superuser_client.get(url, {parameter: payload})
            assert response.status_code < 500, (parameter, payload)
            refused += response.status_code == 302 and f"{ERROR_FLAG}=1" in response["Location"]
    assert refused, "no payload was an invalid lookup: the loop tried nothing hostile"


def test_a_nul_or_a_bad_year_is_an_invalid_lookup(superuser_client: Client) -> None:
    order_create(products=[(product_create(), 1)])
    url = reverse("admin:orders_orderevent_changelist")
    for parameter, value in [("to_status__exact", "a\x00b"), ("created_at__year", "0")]:
        response = superuser_client.get(url, {parameter: value})
        assert (response.status_code, response["Location"]) == (302, f"{url}?{ERROR_FLAG}=1")
    listed = superuser_client.get(url, {"created_at__year": "2026"})
    assert listed.status_code == 200


@pytest.mark.parametrize(
    ("model", "field_name"),
    [
        (model, field)
        for model, model_admin in REGISTERED
        for field in model_admin.autocomplete_fields
    ],
)
def test_an_autocomplete_term_holding_a_nul_finds_nothing(
    superuser_client: Client, model: type, field_name: str
) -> None:
    product_create()
    query = {"app_label": model._meta.app_label, "model_name": model._meta.model_name}
    query["field_name"] = field_name
    for term in ("\x00", "a\x00b"):
        response = superuser_client.get(reverse("admin:autocomplete"), {**query, "term": term})
        assert response.status_code == 200
        assert response.json()["results"] == []
    assert superuser_client.get(reverse("admin:autocomplete"), query).json()["results"]


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[model.__name__ for model, _ in REGISTERED]
)
def test_an_action_on_rows_that_are_no_ids_is_a_warning(
    superuser_client: Client, model: type, model_admin: admin.ModelAdmin
) -> None:
    """Before, ``_selected_action=%00`` with "delete selected" failed the users' page."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    actions = model_admin.get_actions(superuser_client.get(url).wsgi_request)
    for action in actions:
        for payload in PAYLOADS:
            for confirm in ({}, {"post": "yes"}, {"select_across": "1"}):
                body = {"action": action, "_selected_action": [payload, "1"], **confirm}
                response = superuser_client.post(url, body)
                assert response.status_code < 500, (action, payload, confirm)
    if "delete_selected" in actions:
        body = {"action": "delete_selected", "_selected_action": ["a\x00b"], "post": "yes"}
        response = superuser_client.post(url, body, follow=True)
        assert "The selection names no rows." in response.content.decode()
