"""Role-based access for GraphQL fields, declared next to the field and shown in its description.

    @strawberry_django.mutation(
        **requires("catalog.change_product", description="Update a product.")
    )

``requires`` returns the ``description`` (with "Requires permission: catalog.change_product."
appended, so ``schema.graphql`` documents it) and the ``extensions`` that enforce it:
- an anonymous viewer gets a top-level error with ``extensions.code = "UNAUTHENTICATED"``
  (plus ``extensions.reason``, e.g. ``TOKEN_EXPIRED``, when the request's token was refused);
- a signed-in viewer without the permission gets ``extensions.code = "FORBIDDEN"``;
- the resolver does not run in either case, so nothing changes.

A permission is a Django model permission (``app_label.codename``, granted through the role
groups in roles.py; superusers hold all) or a ``Role``: CUSTOMER means any signed-in user,
STAFF a staff user (``policies.is_staff_user``), ADMIN a superuser. Object-level rules ("a customer
reads only their own orders") belong to the owning domain's queryset, using ``is_staff_user``.
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from graphql import GraphQLError
from strawberry import Info
from strawberry.extensions.field_extension import (
    AsyncExtensionResolver,
    FieldExtension,
    SyncExtensionResolver,
)
from strawberry_django.resolvers import django_resolver

from backend.accounts.policies import ViewerType, is_staff_user
from backend.accounts.roles import Role
from backend.api.graphql.errors import ForbiddenError

UNAUTHENTICATED = "UNAUTHENTICATED"


class UnauthenticatedError(GraphQLError):
    """The field needs a signed-in viewer; ``reason`` says why a presented token was refused."""

    def __init__(self, request: HttpRequest | None) -> None:
        auth_error = getattr(request, "auth_error", None)
        extensions: dict[str, Any] = {"code": UNAUTHENTICATED}
        if auth_error is not None:
            extensions["reason"] = auth_error.code
            message = auth_error.message
        else:
            message = "Sign in first: send 'Authorization: Bearer <access token>'."
        super().__init__(message, extensions=extensions)


def viewer(info: Info) -> ViewerType:
    """The request's user (set by BearerTokenMiddleware or the session); never None."""
    return getattr(info.context.request, "user", None) or AnonymousUser()


def signed_in_viewer(info: Info) -> Any:
    """The signed-in viewer, or raise UNAUTHENTICATED (with the refused token's reason)."""
    user = viewer(info)
    if not user.is_authenticated or not user.is_active:
        raise UnauthenticatedError(info.context.request)
    return user


def has_permission(user: ViewerType, permission: str | Role) -> bool:
    """Whether ``user`` holds ``permission``; a Django permission may cost one query per user."""
    if not user.is_authenticated or not user.is_active:
        return False
    if permission == Role.CUSTOMER:
        return True
    if permission == Role.STAFF:
        return is_staff_user(user)
    if permission == Role.ADMIN:
        return bool(getattr(user, "is_superuser", False))
    return user.has_perm(permission)


def _requirement_text(permission: str | Role) -> str:
    if isinstance(permission, Role):
        return f"Requires role: {permission.value}."
    return f"Requires permission: {permission}."


class PermissionRequired(FieldExtension):
    """Refuses the field unless the viewer holds ``permission`` (see the module docstring)."""

    def __init__(self, permission: str | Role) -> None:
        super().__init__()
        self.permission = permission

    def _check(self, info: Info) -> None:
        user = signed_in_viewer(info)
        if not has_permission(user, self.permission):
            raise ForbiddenError(
                f"You do not have permission to do this. {_requirement_text(self.permission)}"
            )

    # Under the async view this runs in a worker thread: has_perm may query the database.
    @django_resolver(qs_hook=None)
    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        self._check(info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        await sync_to_async(self._check)(info)
        return await next_(source, info, **kwargs)


def requires(permission: str | Role, *, description: str) -> dict[str, Any]:
    """Keyword arguments for ``strawberry_django.field``/``mutation``: the description with
    the requirement appended, and a fresh enforcing extension (one instance per field)."""
    return {
        "description": f"{description} {_requirement_text(permission)}",
        "extensions": [PermissionRequired(permission)],
    }
