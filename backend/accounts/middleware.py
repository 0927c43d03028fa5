"""``Authorization: Bearer <access token>`` authentication for every HTTP request.

Contract, for the GraphQL and REST layers:
- No Authorization header: ``request.user`` stays what the session middleware set (the admin
  site keeps working; API clients without a session are anonymous). ``request.auth_error`` is
  None.
- A valid bearer token: ``request.user`` is its user (loaded with one query, before the view
  runs).
- Any other Authorization header (bad, expired or revoked token, another scheme):
  ``request.user`` is AnonymousUser, never the session user, and ``request.auth_error`` holds
  the AccessTokenError, so the API answers ``UNAUTHENTICATED`` with the error's code instead of
  silently serving anonymous data to a client that thinks it is signed in.

CSRF: Django's check stays on for requests that carry ambient credentials. It is skipped for a
request with a verified bearer token (a browser never attaches one on its own), and for a JSON
request without a session cookie: it has no ambient authority to abuse, and logging in through
the API sets no cookie (tokens come back in the body), so login CSRF does not apply. Forms (the
admin login) and session-cookie requests keep the CSRF token requirement.

Sync and async capable: under ASGI the user load runs in a worker thread once per request.
"""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

from backend.accounts.models import User
from backend.accounts.tokens import AccessTokenError, user_from_access_token
from backend.core.log_context import log_context_user_set

BEARER_PREFIX = "bearer "


def _bearer_token(request: HttpRequest) -> str | None:
    """The token of a Bearer header; "" for any other Authorization value; None without one."""
    # META, not ``request.headers``: that builds a mapping of every header on each request.
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    if header[: len(BEARER_PREFIX)].lower() != BEARER_PREFIX:
        return ""
    return header[len(BEARER_PREFIX) :].strip()


def _authenticate(request: HttpRequest, token: str) -> User | AnonymousUser:
    if not token:
        request.auth_error = AccessTokenError(  # type: ignore[attr-defined]
            "TOKEN_INVALID", "Authorization must be 'Bearer <access token>'."
        )
        return AnonymousUser()
    try:
        return user_from_access_token(token)
    except AccessTokenError as error:
        request.auth_error = error  # type: ignore[attr-defined]
        return AnonymousUser()


def _apply(request: HttpRequest, user: User | AnonymousUser) -> None:
    request.user = user

    async def auser() -> User | AnonymousUser:
        return user

    request.auser = auser  # type: ignore[attr-defined]
    if user.is_authenticated:
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        log_context_user_set(user.pk)


def _exempt_cookieless_json(request: HttpRequest) -> None:
    if (
        request.content_type == "application/json"
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    ):
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]


class BearerTokenMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        request.auth_error = None  # type: ignore[attr-defined]
        _exempt_cookieless_json(request)
        token = _bearer_token(request)
        if token is not None:
            _apply(request, _authenticate(request, token))
        return self.get_response(request)  # type: ignore[return-value]

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        request.auth_error = None  # type: ignore[attr-defined]
        _exempt_cookieless_json(request)
        token = _bearer_token(request)
        if token is not None:
            user = await sync_to_async(_authenticate, thread_sensitive=True)(request, token)
            _apply(request, user)
        return await self.get_response(request)  # type: ignore[misc]
