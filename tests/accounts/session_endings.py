"""Every way a user's sessions end, as a function of the user: the services, the admin's
forms and action, querysets, ``manage.py changepassword`` and a shell's saves. Shared by
tests/accounts/test_session_endings.py (tokens, the signal) and tests/api/websocket (sockets)."""

from collections.abc import Callable

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.management.commands import changepassword
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from backend.accounts import services
from backend.accounts.models import User
from tests.factories import user_create

OLD_PASSWORD = "old-Passw0rd!x"
NEW_PASSWORD = "new-Passw0rd!y"


def _admin() -> Client:
    admin = Client()
    admin.force_login(user_create(is_staff=True, is_superuser=True))
    return admin


def revoke_all(user: User) -> None:
    services.token_revoke_all(user=user)


def password_change(user: User) -> None:
    services.password_change(
        user=user, old_password=OLD_PASSWORD, new_password=NEW_PASSWORD, ip="192.0.2.1"
    )


def password_set_in_the_admin(user: User) -> None:
    response = _admin().post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def password_disabled_in_the_admin(user: User) -> None:
    response = _admin().post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "false", "unset-password": "1"},
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert not user.has_usable_password()


def deactivated_in_the_admin_form(user: User) -> None:
    # The change form with "Active" unticked (unticked boxes are simply not posted).
    response = _admin().post(
        reverse("admin:accounts_user_change", args=[user.pk]), {"email": user.email, "name": ""}
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert not user.is_active


def deactivated_by_the_admin_action(user: User) -> None:
    response = _admin().post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_selected", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert not user.is_active


def deactivated_by_the_service(user: User) -> None:
    assert services.accounts_deactivate(user_ids=[user.pk]) == 1


def deactivated_by_a_queryset(user: User) -> None:
    User.objects.filter(email=user.email).update(is_active=False)


def deactivated_by_bulk_update(user: User) -> None:
    user.is_active = False
    User.objects.bulk_update([user], ["is_active"])


def password_set_by_a_queryset(user: User) -> None:
    User.objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))


def deactivated_by_a_save(user: User) -> None:
    user.is_active = False
    user.save()


def password_set_by_a_save(user: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save(update_fields=["password"])


def password_disabled_by_a_save(user: User) -> None:
    user.set_unusable_password()
    user.save()


def changepassword_command(user: User) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(changepassword.Command, "_get_pass", lambda *args: NEW_PASSWORD)
        call_command("changepassword", user.email, verbosity=0)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def delete(user: User) -> None:
    user.delete()


ENDINGS: list[Callable[[User], None]] = [
    revoke_all,
    password_change,
    password_set_in_the_admin,
    password_disabled_in_the_admin,
    deactivated_in_the_admin_form,
    deactivated_by_the_admin_action,
    deactivated_by_the_service,
    deactivated_by_a_queryset,
    deactivated_by_bulk_update,
    password_set_by_a_queryset,
    deactivated_by_a_save,
    password_set_by_a_save,
    password_disabled_by_a_save,
    changepassword_command,
]
