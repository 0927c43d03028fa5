"""``requires``: the permission sits next to the field, shows in its description, is enforced."""

from typing import Any

import pytest
import strawberry
import strawberry_django
from django.contrib.auth.models import AnonymousUser, Group
from django.test import RequestFactory
from strawberry.django.context import StrawberryDjangoContext

from backend.accounts.roles import Role, roles_sync
from backend.api.graphql.accounts.schema import AccountsMutation, AccountsQuery
from backend.api.graphql.permissions import is_staff_user, requires
from tests.factories import user_create

pytestmark = pytest.mark.django_db

changes: list[str] = []


@strawberry.type(description="A field guarded by a Django permission, for these tests.")
class GuardedQuery:
    @strawberry_django.field(
        **requires("catalog.change_product", description="Say the secret word.")
    )
    def secret(self) -> str:
        changes.append("resolved")
        return "swordfish"

    @strawberry_django.field(**requires(Role.ADMIN, description="Only for admins."))
    def admin_only(self) -> str:
        return "root"


guarded_schema = strawberry.Schema(query=GuardedQuery)


def _execute(query: str, user: Any, **request_attributes: Any) -> Any:
    request = RequestFactory().post("/graphql/")
    request.user = user
    for name, value in request_attributes.items():
        setattr(request, name, value)
    return guarded_schema.execute_sync(
        query,
        context_value=StrawberryDjangoContext(request=request, response=None),  # type: ignore[arg-type]
    )


def test_required_permission_appears_in_the_field_description() -> None:
    sdl = guarded_schema.as_str()
    assert '"""Say the secret word. Requires permission: catalog.change_product."""' in sdl
    assert '"""Only for admins. Requires role: admin."""' in sdl


def test_anonymous_viewer_gets_unauthenticated_and_the_resolver_does_not_run() -> None:
    changes.clear()
    result = _execute("{ secret }", AnonymousUser(), auth_error=None)
    assert result.data is None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    assert changes == []


def test_customer_without_the_permission_gets_forbidden_and_nothing_runs() -> None:
    changes.clear()
    roles_sync()
    customer = user_create()
    customer.groups.add(Group.objects.get(name="customer"))

    result = _execute("{ secret }", customer)

    assert result.errors[0].extensions == {"code": "FORBIDDEN"}
    assert "catalog.change_product" in result.errors[0].message
    assert changes == []


def test_staff_group_member_holds_the_catalog_permission() -> None:
    roles_sync()
    staff = user_create(is_staff=True)
    staff.groups.add(Group.objects.get(name="staff"))

    result = _execute("{ secret }", staff)

    assert result.errors is None
    assert result.data == {"secret": "swordfish"}


def test_role_requirement_admits_superusers_only() -> None:
    staff = user_create(is_staff=True)
    admin = user_create(is_staff=True, is_superuser=True)
    assert _execute("{ adminOnly }", staff).errors[0].extensions == {"code": "FORBIDDEN"}
    assert _execute("{ adminOnly }", admin).data == {"adminOnly": "root"}


def test_is_staff_user_needs_an_active_signed_in_staff_member() -> None:
    assert is_staff_user(user_create(is_staff=True))
    assert is_staff_user(user_create(is_superuser=True))
    assert not is_staff_user(user_create())
    assert not is_staff_user(user_create(is_staff=True, is_active=False))
    assert not is_staff_user(AnonymousUser())


def _undescribed(named: Any) -> list[str]:
    """Names of this graphql-core type's parts (fields, arguments, values) without a description."""
    missing = [] if named.description else [named.name]
    if hasattr(named, "fields"):
        for field_name, field in named.fields.items():
            if not field.description:
                missing.append(f"{named.name}.{field_name}")
            for arg_name, arg in getattr(field, "args", {}).items():
                if not arg.description:
                    missing.append(f"{named.name}.{field_name}({arg_name})")
    for value_name, value in getattr(named, "values", {}).items():
        if not value.description:
            missing.append(f"{named.name}.{value_name}")
    return missing


def test_every_accounts_type_field_argument_and_enum_value_is_described() -> None:
    schema = strawberry.Schema(query=AccountsQuery, mutation=AccountsMutation)
    missing = [
        name
        for type_name, named in schema._schema.type_map.items()
        if not type_name.startswith("__") and type_name not in {"String", "Boolean", "Int", "ID"}
        for name in _undescribed(named)
    ]
    assert missing == []
