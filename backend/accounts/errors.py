"""The typed error every account service raises for a business failure."""

from dataclasses import dataclass
from enum import Enum

import strawberry


@strawberry.enum(
    name="AccountErrorCode", description="Why an account or token mutation was refused."
)
class AccountErrorCode(Enum):
    """Stable codes clients branch on (the GraphQL enum of the same name)."""

    INVALID = strawberry.enum_value(
        "INVALID", description="A value is malformed (for example, not an email address)."
    )
    EMAIL_TAKEN = strawberry.enum_value(
        "EMAIL_TAKEN",
        description="An account with this email address exists (compared case-insensitively).",
    )
    PASSWORD_TOO_SHORT = strawberry.enum_value(
        "PASSWORD_TOO_SHORT", description="The password is shorter than the minimum length."
    )
    PASSWORD_TOO_COMMON = strawberry.enum_value(
        "PASSWORD_TOO_COMMON", description="The password is on the list of common passwords."
    )
    PASSWORD_TOO_SIMILAR = strawberry.enum_value(
        "PASSWORD_TOO_SIMILAR",
        description="The password is too similar to the email address or name.",
    )
    PASSWORD_ENTIRELY_NUMERIC = strawberry.enum_value(
        "PASSWORD_ENTIRELY_NUMERIC", description="The password has only digits."
    )
    PASSWORD_INVALID = strawberry.enum_value(
        "PASSWORD_INVALID", description="The password fails another password rule."
    )
    INVALID_CREDENTIALS = strawberry.enum_value(
        "INVALID_CREDENTIALS", description="The email and password do not match an active account."
    )
    INVALID_PASSWORD = strawberry.enum_value(
        "INVALID_PASSWORD", description="The current password is wrong."
    )
    LOGIN_ATTEMPT_DELAYED = strawberry.enum_value(
        "LOGIN_ATTEMPT_DELAYED",
        description="Too many failed password attempts (sign-in or password change) for this "
        "account or from this address: wait retryAfter seconds before the next one.",
    )
    REGISTRATION_ATTEMPT_DELAYED = strawberry.enum_value(
        "REGISTRATION_ATTEMPT_DELAYED",
        description="Too many sign-ups from this address: wait retryAfter seconds.",
    )
    INVALID_REFRESH_TOKEN = strawberry.enum_value(
        "INVALID_REFRESH_TOKEN", description="The refresh token is unknown, expired or revoked."
    )
    REFRESH_TOKEN_REUSED = strawberry.enum_value(
        "REFRESH_TOKEN_REUSED",
        description="The refresh token was already used: its session was revoked; log in again.",
    )


@dataclass(frozen=True)
class AccountErrorDetail:
    code: AccountErrorCode
    message: str
    field: str | None = None  # the service argument at fault (snake_case); None: the request
    retry_after: int | None = None  # seconds; only with the *_ATTEMPT_DELAYED codes


class AccountError(Exception):
    """One or more business failures (registration can fail on several fields at once).

    ``code``, ``field`` and ``message`` describe the first; ``details`` holds them all.
    """

    def __init__(
        self,
        code: AccountErrorCode,
        message: str,
        *,
        field: str | None = None,
        retry_after: int | None = None,
        more: tuple[AccountErrorDetail, ...] = (),
    ) -> None:
        super().__init__(message)
        self.details = (AccountErrorDetail(code, message, field, retry_after), *more)

    @classmethod
    def from_details(cls, details: list[AccountErrorDetail]) -> "AccountError":
        first, *rest = details
        return cls(
            first.code,
            first.message,
            field=first.field,
            retry_after=first.retry_after,
            more=tuple(rest),
        )

    @property
    def code(self) -> AccountErrorCode:
        return self.details[0].code

    @property
    def field(self) -> str | None:
        return self.details[0].field

    @property
    def message(self) -> str:
        return self.details[0].message
