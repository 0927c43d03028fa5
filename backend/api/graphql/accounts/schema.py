"""Accounts' root fields: ``me`` and the account and token mutations.

Merged into the API in ``backend/api/schema.py``.

Each mutation is one call to a service in ``services.py`` (which owns the transaction) through
``mutation_payload``, which turns an AccountError into payload ``errors``; only "not signed in"
is a top-level error (``UNAUTHENTICATED``, see permissions.py).
"""

from collections.abc import Callable
from typing import Annotated

import strawberry
import strawberry_django
from strawberry import Info

from backend.accounts import services
from backend.accounts.roles import Role
from backend.api.graphql.accounts.types import (
    AccountRegisterPayload,
    AccountResultPayload,
    TokenPayload,
    UserType,
)
from backend.api.graphql.payloads import effect_payload, mutation_payload, result_payload
from backend.api.graphql.permissions import UnauthenticatedError, requires, signed_in_viewer, viewer

RefreshTokenArgument = Annotated[
    str, strawberry.argument(description="A refresh token from tokenCreate or tokenRefresh.")
]
PasswordArgument = Annotated[str, strawberry.argument(description="The account's password.")]


@strawberry.input(description="A new customer account.")
class AccountRegisterInput:
    email: str = strawberry.field(description="Email address; unique, case-insensitively.")
    password: str = strawberry.field(
        description="Password; checked against the password rules (length, common, similarity)."
    )
    name: str = strawberry.field(default="", description="Display name (optional).")


@strawberry.type(description="Reads about the signed-in viewer.")
class AccountsQuery:
    @strawberry.field(
        description="The signed-in user; null without an Authorization header. A refused token "
        "is an UNAUTHENTICATED error (extensions.reason says why), so clients know to refresh."
    )
    def me(self, info: Info) -> UserType | None:
        user = viewer(info)
        if user.is_authenticated and user.is_active:
            return user  # type: ignore[return-value]
        if getattr(info.context.request, "auth_error", None) is not None:
            raise UnauthenticatedError(info.context.request)
        return None


def _client_ip(info: Info) -> str:
    # The client's address even behind the proxy: backend/core/proxy.py rewrites REMOTE_ADDR.
    return info.context.request.META.get("REMOTE_ADDR") or "unknown"


def _session_payload(sign_in: Callable[[], services.TokenPair]) -> TokenPayload:
    """The tokens ``sign_in()`` issues; an AccountError it raises becomes the payload's errors."""

    def tokens() -> TokenPayload:
        pair = sign_in()
        return TokenPayload(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            user=pair.user,  # type: ignore[arg-type]
        )

    return mutation_payload(TokenPayload, tokens)


@strawberry.type(description="Account and token changes.")
class AccountsMutation:
    @strawberry_django.mutation(
        description="Create a customer account. Sign in afterwards with tokenCreate. Sign-ups "
        "from one address are throttled (REGISTRATION_ATTEMPT_DELAYED)."
    )
    def account_register(
        self,
        info: Info,
        input: Annotated[
            AccountRegisterInput, strawberry.argument(description="The account to create.")
        ],
    ) -> AccountRegisterPayload:
        return result_payload(
            AccountRegisterPayload,
            "user",
            lambda: services.account_register(
                email=input.email, password=input.password, name=input.name, ip=_client_ip(info)
            ),
        )

    @strawberry_django.mutation(
        description="Sign in with email and password. Repeated failures for one account or "
        "from one address are delayed exponentially (LOGIN_ATTEMPT_DELAYED)."
    )
    def token_create(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="The account's email address.")],
        password: PasswordArgument,
    ) -> TokenPayload:
        return _session_payload(
            lambda: services.token_create(email=email, password=password, ip=_client_ip(info))
        )

    @strawberry_django.mutation(
        description="Exchange a refresh token for a new access token and a new refresh token; "
        "the presented one stops working. Presenting a used one ends its whole session "
        "(REFRESH_TOKEN_REUSED)."
    )
    def token_refresh(self, refresh_token: RefreshTokenArgument) -> TokenPayload:
        return _session_payload(lambda: services.token_refresh(refresh_token=refresh_token))

    @strawberry_django.mutation(
        description="Sign out one session: its refresh tokens stop working; its access token "
        "expires on its own within minutes."
    )
    def token_revoke(self, refresh_token: RefreshTokenArgument) -> AccountResultPayload:
        return effect_payload(
            AccountResultPayload,
            lambda: services.token_revoke(refresh_token=refresh_token),
            ok=True,
        )

    @strawberry_django.mutation(
        **requires(
            Role.CUSTOMER,
            description="Sign out everywhere: every refresh token and every access token of "
            "the viewer stops working at once.",
        )
    )
    def token_revoke_all(self, info: Info) -> AccountResultPayload:
        services.token_revoke_all(user=signed_in_viewer(info))
        return AccountResultPayload(ok=True)

    @strawberry_django.mutation(
        **requires(
            Role.CUSTOMER,
            description="Change the viewer's password. Every other session is signed out; the "
            "payload carries new tokens for this one. Wrong old passwords are throttled like "
            "failed sign-ins (LOGIN_ATTEMPT_DELAYED).",
        )
    )
    def password_change(
        self,
        info: Info,
        old_password: Annotated[str, strawberry.argument(description="The current password.")],
        new_password: Annotated[
            str, strawberry.argument(description="The new password; checked like at sign-up.")
        ],
    ) -> TokenPayload:
        user = signed_in_viewer(info)
        return _session_payload(
            lambda: services.password_change(
                user=user, old_password=old_password, new_password=new_password, ip=_client_ip(info)
            )
        )
