"""Django's stock middleware, kept on the event loop under ASGI.

Under ASGI, Django calls each sync hook of a ``MiddlewareMixin`` middleware through
``sync_to_async``: a hop to the request's worker thread and back for every hook of every
middleware (counted in docs/performance.md, "Levers"), plus a switch to sync and back around
WhiteNoise, which is sync only. Under concurrent load each hop also waits for the
GIL. These hooks are CPU work on a request already in memory (headers, cookies, a lazy session
and user), so the subclasses below call them inline and hop only for work that can do I/O:
saving a session that changed, storing messages, serving a static file.

Sync mode (the test client, management commands) is Django's own code path, unchanged.
``tests/api/graphql/catalog/test_asgi_path.py`` pins the hop count of an API request.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response
from whitenoise import middleware as whitenoise

from backend.core.log_context import (
    LogContext,
    current_request_id,
    log_context_token_reset,
    log_context_token_set,
    request_id_from,
)
from backend.core.metrics import request_measure_end, request_measure_start

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META_KEY = "HTTP_X_REQUEST_ID"


class EventLoopMiddleware(MiddlewareMixin):
    """Mixin for a ``MiddlewareMixin`` middleware whose hooks do no I/O: in async mode,
    ``process_request``, ``process_view`` and ``process_response`` run on the event loop.
    ``response_needs_thread`` names the responses whose hook may do I/O after all."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        view_hook = getattr(self, "process_view", None)
        if self.async_mode and view_hook is not None:
            # The handler wraps a sync process_view in sync_to_async; a coroutine it awaits.
            async def process_view(request: HttpRequest, *args: Any) -> HttpResponseBase | None:
                return view_hook(request, *args)

            self.process_view = process_view

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response)(request, response)
            else:
                response = self.process_response(request, response)
        return response


@sync_and_async_middleware
def request_signals_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], object]:
    """What the logs and the metrics need of every request, in one middleware (one frame, one
    exception guard): binds the request's log context (``backend.core.log_context``) for
    everything after it, with the client's ``X-Request-ID`` when sane or a new id, and answers
    that id in ``X-Request-ID``; times the request and counts its SQL statements
    (``backend.core.metrics``). First in MIDDLEWARE after the tracing span, so every other
    middleware's records carry the id and the time includes every other middleware."""
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponseBase:
            context = log_context_token_set(_request_log_context(request))
            measure = request_measure_start()
            response: HttpResponseBase | None = None
            try:
                response = await get_response(request)  # type: ignore[misc]
                return _answered(request, response)  # type: ignore[arg-type]
            finally:
                request_measure_end(request, response, measure)
                log_context_token_reset(context)

        return middleware_async

    def middleware(request: HttpRequest) -> HttpResponseBase:
        context = log_context_token_set(_request_log_context(request))
        measure = request_measure_start()
        response: HttpResponseBase | None = None
        try:
            response = get_response(request)  # type: ignore[assignment]
            return _answered(request, response)  # type: ignore[arg-type]
        finally:
            request_measure_end(request, response, measure)
            log_context_token_reset(context)

    return middleware


def _request_log_context(request: HttpRequest) -> LogContext:
    # META, not ``request.headers``: that builds a mapping of every header.
    return LogContext(request_id=request_id_from(request.META.get(REQUEST_ID_META_KEY)))


def _answered(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """``response`` with the request id. One of status 400 or more is logged here, as Django's
    handler would log it once the last middleware returned (``log_response`` logs a response
    once): inside the context, so ``django.request``'s records carry the request id too."""
    if response.status_code >= 400:
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )
    response[REQUEST_ID_HEADER] = current_request_id()
    return response


class SecurityMiddleware(EventLoopMiddleware, security.SecurityMiddleware):
    pass


class SessionMiddleware(EventLoopMiddleware, sessions.SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        # Loading is lazy (and then happens where the session is read); only a save writes.
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(EventLoopMiddleware, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(EventLoopMiddleware, csrf.CsrfViewMiddleware):
    pass


class AuthenticationMiddleware(EventLoopMiddleware, auth.AuthenticationMiddleware):
    """Django's, except that a request without a session cookie is anonymous at once.

    Such a request's session is new and empty, so Django's lazy lookup could only find no user;
    deciding it here spares every cookieless API request the session machinery (and leaves the
    session unaccessed, so the response hook has nothing to do). ``login()`` still replaces
    ``request.user`` as usual.
    """

    def process_request(self, request: HttpRequest) -> None:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            super().process_request(request)
            return
        request.user = AnonymousUser()
        request.auser = _anonymous_user  # type: ignore[attr-defined]


async def _anonymous_user() -> AnonymousUser:
    return AnonymousUser()


class MessageMiddleware(EventLoopMiddleware, messages.MessageMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        # Untouched storage stores nothing; used or added-to storage may load the session.
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(EventLoopMiddleware, clickjacking.XFrameOptionsMiddleware):
    pass


class WhiteNoiseMiddleware(whitenoise.WhiteNoiseMiddleware):
    """WhiteNoise, async capable: a request for anything but a static file (every API request)
    passes through with a dictionary lookup instead of a switch to sync and back."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        # The same steps as WhiteNoise's __call__; the disk is touched only in a thread.
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            return await get_response(request)
        return await sync_to_async(self.serve)(static_file, request)
