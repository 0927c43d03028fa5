"""roles_sync and demo_load: idempotent, and the roles carry exactly their permissions."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import override_settings

from backend.accounts.models import User
from backend.accounts.roles import ROLE_PERMISSIONS, Role, roles_sync
from backend.api.management.commands.demo_load import DEMO_ADMIN_EMAIL
from backend.catalog.models import Category, Product
from tests.factories import user_create

pytestmark = pytest.mark.django_db


def group_permissions() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.all()
    }


def test_roles_sync_is_idempotent() -> None:
    call_command("roles_sync", verbosity=0)
    first = group_permissions()
    roles_sync()
    assert group_permissions() == first
    assert Group.objects.count() == len(ROLE_PERMISSIONS)


def test_roles_sync_restores_permissions_removed_by_hand() -> None:
    roles_sync()
    Group.objects.get(name=Role.STAFF.value).permissions.clear()
    roles_sync()
    assert group_permissions()[Role.STAFF.value] == set(ROLE_PERMISSIONS[Role.STAFF])


def test_staff_may_manage_the_catalog_and_orders_and_customers_may_not() -> None:
    roles_sync()
    staff = user_create(is_staff=True)
    staff.groups.add(Group.objects.get(name=Role.STAFF.value))
    customer = user_create()
    customer.groups.add(Group.objects.get(name=Role.CUSTOMER.value))
    staff, customer = User.objects.get(pk=staff.pk), User.objects.get(pk=customer.pk)
    for permission in ("catalog.change_product", "catalog.add_category", "orders.view_order"):
        assert staff.has_perm(permission)
        assert not customer.has_perm(permission)
    assert group_permissions()[Role.CUSTOMER.value] == set()
    assert customer.get_all_permissions() == set()


@override_settings(DEBUG=True)
def test_demo_load_twice_does_not_duplicate_anything() -> None:
    call_command("demo_load", verbosity=0)
    counts = (Category.objects.count(), Product.objects.count(), User.objects.count())
    call_command("demo_load", verbosity=0)
    assert (Category.objects.count(), Product.objects.count(), User.objects.count()) == counts
    assert counts[0] > 0
    assert counts[1] > 0
    admin = User.objects.get(email__iexact=DEMO_ADMIN_EMAIL)
    assert admin.is_superuser
    assert admin.is_staff


@override_settings(DEBUG=False)
def test_demo_load_refuses_when_debug_is_off() -> None:
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_load", verbosity=0)
    assert not User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL).exists()
