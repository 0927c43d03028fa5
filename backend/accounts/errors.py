"""The error every account service raises for a business failure, and its codes."""

from http import HTTPStatus

from backend.core.errors import DomainError, ErrorCode


class AccountErrorCode(ErrorCode):
    """Stable codes clients branch on; the GraphQL enum of the same name describes each."""

    INVALID = "INVALID"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
    PASSWORD_TOO_COMMON = "PASSWORD_TOO_COMMON"
    PASSWORD_TOO_SIMILAR = "PASSWORD_TOO_SIMILAR"
    PASSWORD_ENTIRELY_NUMERIC = "PASSWORD_ENTIRELY_NUMERIC"
    PASSWORD_INVALID = "PASSWORD_INVALID"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS", HTTPStatus.UNAUTHORIZED
    INVALID_PASSWORD = "INVALID_PASSWORD"
    LOGIN_ATTEMPT_DELAYED = "LOGIN_ATTEMPT_DELAYED", HTTPStatus.TOO_MANY_REQUESTS
    REGISTRATION_ATTEMPT_DELAYED = "REGISTRATION_ATTEMPT_DELAYED", HTTPStatus.TOO_MANY_REQUESTS
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN", HTTPStatus.UNAUTHORIZED
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED", HTTPStatus.UNAUTHORIZED


class AccountError(DomainError):
    """A refused account or token operation (registration can fail on several fields at once);
    the *_ATTEMPT_DELAYED codes carry ``retry_after``."""
