"""Admin pages whose saves call domain services instead of ``Model.save``."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


class ServiceRefusalMixin:
    """For a ``ModelAdmin`` whose ``save_model`` calls domain services.

    The form refuses what it can see; a refusal only the service can make (a concurrent change
    between validation and save: a checkout took the units, another account took the email)
    escapes ``save_model``. The view's transaction has rolled the whole save back by then, so
    the page is shown again with the refusal as an error message instead of a server error.
    """

    service_errors: tuple[type[Exception], ...] = ()

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except self.service_errors as refusal:
            return self._refusal_shown(request, refusal)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        except self.service_errors as refusal:
            return self._refusal_shown(request, refusal)

    def _refusal_shown(self, request: HttpRequest, refusal: Exception) -> HttpResponse:
        message = getattr(refusal, "message", str(refusal))
        messages.error(request, f"Nothing was saved: {message}")
        return HttpResponseRedirect(request.get_full_path())
