"""GraphQL types of accounts: ``User`` (visible to itself and to staff) and the payloads."""

from datetime import datetime
from typing import Any

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import Info

from backend.accounts.errors import AccountErrorCode
from backend.accounts.models import User
from backend.accounts.policies import roles_held
from backend.accounts.roles import Role
from backend.api.graphql.enums import graphql_enum
from backend.api.graphql.ids import ModelNode
from backend.api.graphql.payloads import errors_field
from backend.api.graphql.permissions import is_staff_user, viewer

graphql_enum(
    Role,
    name="Role",
    description="A role; each is a Django group of the same name.",
    values={
        Role.CUSTOMER: "Shops and sees their own orders.",
        Role.STAFF: "Manages the catalog and every order (the is_staff flag).",
        Role.ADMIN: "Every permission (a superuser).",
    },
)

graphql_enum(
    AccountErrorCode,
    name="AccountErrorCode",
    description="Why an account or token mutation was refused.",
    values={
        AccountErrorCode.INVALID: "A value is malformed (for example, not an email address).",
        AccountErrorCode.EMAIL_TAKEN: "An account with this email address exists (compared "
        "case-insensitively).",
        AccountErrorCode.PASSWORD_TOO_SHORT: "The password is shorter than the minimum length.",
        AccountErrorCode.PASSWORD_TOO_COMMON: "The password is on the list of common passwords.",
        AccountErrorCode.PASSWORD_TOO_SIMILAR: "The password is too similar to the email address "
        "or name.",
        AccountErrorCode.PASSWORD_ENTIRELY_NUMERIC: "The password has only digits.",
        AccountErrorCode.PASSWORD_INVALID: "The password fails another password rule.",
        AccountErrorCode.INVALID_CREDENTIALS: "The email and password do not match an active "
        "account.",
        AccountErrorCode.INVALID_PASSWORD: "The current password is wrong.",
        AccountErrorCode.LOGIN_ATTEMPT_DELAYED: "Too many failed password attempts (sign-in or "
        "password change) for this account or from this address: wait retryAfter seconds "
        "before the next one.",
        AccountErrorCode.REGISTRATION_ATTEMPT_DELAYED: "Too many sign-ups from this address: "
        "wait retryAfter seconds.",
        AccountErrorCode.INVALID_REFRESH_TOKEN: "The refresh token is unknown, expired or revoked.",
        AccountErrorCode.REFRESH_TOKEN_REUSED: "The refresh token was already used: its session "
        "was revoked; log in again.",
    },
)


@strawberry_django.type(
    User,
    name="User",
    description="A person with an account. Visible only to that person and to staff.",
)
class UserType(ModelNode):
    email: str = strawberry_django.field(description="Email address; the login name.")
    name: str = strawberry_django.field(description="Display name (may be empty).")
    date_joined: datetime = strawberry_django.field(description="When the account was created.")

    @strawberry_django.field(
        only=["is_staff", "is_superuser"],
        prefetch_related=["groups"],
        description="The roles the user holds (at most the three Role values).",
    )
    def roles(self, root: User) -> list[Role]:
        return roles_held(root, group_names=[group.name for group in root.groups.all()])

    @classmethod
    def get_queryset(cls, queryset: QuerySet[User], info: Info, **kwargs: Any) -> QuerySet[User]:
        """Object-level rule: a customer sees only their own account; staff see every one."""
        user = viewer(info)
        if is_staff_user(user):
            return queryset
        if not user.is_authenticated:
            return queryset.none()
        return queryset.filter(pk=user.pk)


@strawberry.type(
    name="AccountError", description="A business failure of an account or token mutation."
)
class AccountErrorType:
    field: str | None = strawberry.field(
        description="The argument at fault (its GraphQL name); null when the request as a whole "
        "was refused."
    )
    message: str = strawberry.field(description="Human-readable explanation, in English.")
    code: AccountErrorCode = strawberry.field(description="Machine-readable reason.")
    retry_after: int | None = strawberry.field(
        default=None,
        description="Seconds to wait before trying again; set with LOGIN_ATTEMPT_DELAYED and "
        "REGISTRATION_ATTEMPT_DELAYED only.",
    )


@strawberry.type(description="Result of accountRegister.")
class AccountRegisterPayload:
    user: UserType | None = strawberry.field(
        default=None, description="The new account; null on failure."
    )
    errors: list[AccountErrorType] = errors_field()


@strawberry.type(description="A signed-in session: an access token and its refresh token.")
class TokenPayload:
    access_token: str | None = strawberry.field(
        default=None,
        description="JWT for 'Authorization: Bearer <token>'; short-lived (5 minutes by "
        "default). Null on failure.",
    )
    refresh_token: str | None = strawberry.field(
        default=None,
        description="Opaque token for tokenRefresh; single use, rotated on every refresh. Keep it "
        "secret. Null on failure.",
    )
    user: UserType | None = strawberry.field(
        default=None, description="The signed-in user; null on failure."
    )
    errors: list[AccountErrorType] = errors_field()


@strawberry.type(description="Result of a mutation that only succeeds or fails.")
class AccountResultPayload:
    ok: bool = strawberry.field(default=False, description="True when the mutation took effect.")
    errors: list[AccountErrorType] = errors_field()
