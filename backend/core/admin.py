"""Admin pages whose writes call domain services instead of ``Model.save``."""

from collections.abc import Collection
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import DataError
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from backend.core.text import NUL


def form_changes(form: ModelForm, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """The cleaned values of the fields an edit changed: the arguments of an update service."""
    return {name: form.cleaned_data[name] for name in form.changed_data if name not in exclude}


class LookupValuesAdminMixin:
    """For every ``ModelAdmin``: a value sent to look rows up that the database cannot hold (in
    a changelist's query string, an autocomplete's term, the rows an action is run on) is
    refused as Django refuses the lookups it cannot build, not a server error.

    Django refuses a lookup it cannot build (``IncorrectLookupParameters``: the changelist
    redirects to itself with ``?e=1``) and a NUL in the search box (its search form). It lets
    through a NUL in a list filter's value (``?status__exact=%00``), a year out of Python's
    range (``?created_at__year=0`` fails compiling the statement, a 20-digit one overflows the
    date hierarchy), a NUL in an autocomplete's ``term`` and a selected row's id that is no id
    (``_selected_action=%00``): each failed as a 500.
    """

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        if any(NUL in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A lookup value holds a NUL character.")
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]
        except (ValueError, OverflowError, DataError) as error:
            # Raised by a value of the query string, as Django's own lookup building assumes
            # of any error there: the statement is built and run in this call, in autocommit.
            raise IncorrectLookupParameters(error) from error

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        if NUL in search_term:  # no stored text holds one
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]

    def response_action(
        self, request: HttpRequest, queryset: QuerySet, **options: Any
    ) -> HttpResponse | None:
        primary_key = queryset.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                primary_key.to_python(value)
        except ValidationError:
            # Django's answer to a selection it cannot use ("Items must be selected...").
            self.message_user(request, "The selection names no rows.", messages.WARNING)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, **options)  # type: ignore[misc]


class ServiceAdminMixin:
    """For a ``ModelAdmin`` whose writes are domain services: ``save_model`` calls
    ``object_create`` for a new row and ``object_update`` for an edit, then reloads the object
    so the admin's log and messages report what was stored.

    The form refuses what it can see; a refusal only the service can make (a concurrent change
    between validation and save: a checkout took the units, another account took the email)
    escapes ``save_model`` as one of ``service_errors``. The view's transaction has rolled the
    whole save back by then, so the page is shown again with the refusal as an error message
    instead of a server error.
    """

    service_errors: tuple[type[Exception], ...] = ()

    def object_create(self, form: ModelForm) -> Model:
        raise NotImplementedError

    def object_update(self, obj: Model, form: ModelForm) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        if change:
            self.object_update(obj, form)
        else:
            obj.pk = self.object_create(form).pk
        obj.refresh_from_db()

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
