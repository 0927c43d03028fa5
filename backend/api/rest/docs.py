"""The REST API's OpenAPI document and its viewers, served only where ``API_DOCS_PUBLIC``.

Elsewhere each of their URLs answers as an unknown API route does (a problem+json 404): a
production server does not hand its full route map to anyone who asks.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework.request import Request

from backend.api.rest.urls import UnknownRouteView


class _NotPublishedView(UnknownRouteView):
    """The unknown route's problem+json 404 for every method, OPTIONS (metadata) included."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # negotiates the JSON problem rendering
        raise Http404


_not_found = _NotPublishedView.as_view()


def served_when_docs_public(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view``, read per request so a settings override applies without a URLconf reload."""

    @wraps(view)
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return (view if settings.API_DOCS_PUBLIC else _not_found)(request, *args, **kwargs)

    return gated
