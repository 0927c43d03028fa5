"""Admin for users: Django's UserAdmin adapted to email login (there is no username).

Every way the admin replaces a password or deactivates an account (the password form, the
"active" box, the deactivate action) ends the user's sessions, through the model's save and
queryset hooks (receivers.py) and ``services.accounts_deactivate``.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backend.accounts import services, throttling
from backend.accounts.errors import AccountError
from backend.accounts.models import User
from backend.accounts.services import account_create_by_staff, account_role_groups_sync
from backend.core.admin import LookupValuesAdminMixin, ServiceAdminMixin


class UserCreationAdminForm(AdminUserCreationForm):
    """Email and password; ``full_clean`` enforces the case-insensitive email uniqueness."""

    class Meta:
        model = User
        fields = ("email", "name")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(LookupValuesAdminMixin, ServiceAdminMixin, DjangoUserAdmin):
    """New accounts are made by ``account_create_by_staff``; an edit is the model's save (there
    is no account-update service). After every save the role groups follow the staff and
    superuser flags (``account_role_groups_sync``)."""

    service_errors = (AccountError,)
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ("email",)
    list_display = ("email", "name", "is_staff", "is_superuser", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "name")
    readonly_fields = ("date_joined", "last_login", "token_version")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined", "token_version")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "usable_password", "password1", "password2"),
            },
        ),
    )
    filter_horizontal = ("groups", "user_permissions")
    actions = ("deactivate_selected",)

    @admin.action(
        description=_("Deactivate selected users and end their sessions"), permissions=["change"]
    )
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        deactivated = services.accounts_deactivate(
            user_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request,
            ngettext("%(count)d user deactivated.", "%(count)d users deactivated.", deactivated)
            % {"count": deactivated},
            messages.SUCCESS,
        )

    def object_create(self, form: ModelForm) -> User:
        return account_create_by_staff(
            email=form.cleaned_data["email"],
            name=form.cleaned_data["name"],
            password=(
                form.cleaned_data["password1"] if form.cleaned_data["set_usable_password"] else None
            ),
        )

    def object_update(self, obj: User, form: ModelForm) -> None:
        obj.save()

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: list[Any], change: bool
    ) -> None:
        # After the form's own group selection is stored, so the flags have the last word.
        super().save_related(request, form, formsets, change)
        account_role_groups_sync(user=form.instance)


# Django's own, with the lookup guard every model admin here has.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(LookupValuesAdminMixin, DjangoGroupAdmin):
    pass


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin sign-in form: a throttled attempt is a form error, not a server error."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except throttling.AttemptDelayedError as refusal:
            raise ValidationError(
                _("Too many failed sign-ins. Try again in %(seconds)d seconds."),
                code="login_attempt_delayed",
                params={"seconds": refusal.retry_after},
            ) from None


admin.site.login_form = ThrottledAdminAuthenticationForm
