"""The three roles as Django groups. Customer is every account's default; admin is superuser.

Permissions are Django model permissions (``app_label.codename``) so the admin site, GraphQL
and REST check the same thing.
"""

from enum import Enum

from django.contrib.auth.models import Group, Permission
from django.db import transaction


class Role(Enum):
    """The roles; each value is the name of its Django group. The GraphQL enum ``Role``
    describes each."""

    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"


# Customers act on their own orders through object-level rules in the services, so the
# customer group carries no model-wide permission.
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.CUSTOMER: [],
    Role.STAFF: [
        "catalog.add_category",
        "catalog.change_category",
        "catalog.delete_category",
        "catalog.view_category",
        "catalog.add_product",
        "catalog.change_product",
        "catalog.delete_product",
        "catalog.view_product",
        "orders.view_order",
        "orders.change_order",
        "orders.view_orderitem",
        "orders.view_orderevent",
        "accounts.view_user",
    ],
    Role.ADMIN: [],  # admins are superusers: every permission, without listing them
}


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the role groups and set exactly their permissions; safe to run any number of times.

    Returns the number of permissions each group holds afterwards.
    """
    result: dict[str, int] = {}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        permissions = [_permission(name) for name in codenames]
        group.permissions.set(permissions)
        result[role.value] = len(permissions)
    return result


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)
