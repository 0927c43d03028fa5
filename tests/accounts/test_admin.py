"""Accounts made in the admin go through the accounts services and carry their role groups."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from backend.accounts.admin import UserCreationAdminForm
from backend.accounts.models import User
from backend.accounts.roles import Role, roles_sync
from tests.factories import user_create

pytestmark = pytest.mark.django_db

ADD = "admin:accounts_user_add"
NEW_ACCOUNT = {
    "email": "lin@example.com",
    "name": "Lin",
    "usable_password": "true",
    "password1": "a-long-enough-passphrase",
    "password2": "a-long-enough-passphrase",
}


def role_groups(user: User) -> set[str]:
    return set(
        user.groups.filter(name__in=[role.value for role in Role]).values_list("name", flat=True)
    )


def added(client: Client, **fields: str) -> User:
    data = {**NEW_ACCOUNT, **fields}
    response = client.post(reverse(ADD), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return User.objects.get(email__iexact=data["email"])


def test_an_account_added_in_the_admin_is_a_customer(admin_client: Client) -> None:
    roles_sync()
    user = added(admin_client, email="Lin@Example.COM")
    assert user.email == "Lin@example.com"
    assert user.check_password("a-long-enough-passphrase")
    assert role_groups(user) == {Role.CUSTOMER.value}


def test_an_account_added_without_a_password_is_a_customer_who_sets_one_later(
    admin_client: Client,
) -> None:
    user = added(admin_client, usable_password="false", password1="", password2="")
    assert not user.has_usable_password()
    assert role_groups(user) == {Role.CUSTOMER.value}


def test_the_staff_and_superuser_flags_bring_their_role_groups_and_take_them_away(
    admin_client: Client,
) -> None:
    roles_sync()
    other = Group.objects.create(name="newsletter")
    user = user_create(name="Sam")
    url = reverse("admin:accounts_user_change", args=[user.pk])

    def flags_saved(**flags: Any) -> set[str]:
        data = {"email": user.email, "name": "Sam", "is_active": "on", "groups": [other.pk]}
        response = admin_client.post(url, {**data, **flags})
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert user.groups.filter(pk=other.pk).exists()  # not a role: left as chosen
        return role_groups(user)

    assert flags_saved(is_staff="on") == {Role.CUSTOMER.value, Role.STAFF.value}
    assert flags_saved(is_staff="on", is_superuser="on") == {
        Role.CUSTOMER.value,
        Role.STAFF.value,
        Role.ADMIN.value,
    }
    assert flags_saved() == {Role.CUSTOMER.value}


def test_an_email_taken_between_validation_and_save_is_shown_and_nothing_is_saved(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate = UserCreationAdminForm.is_valid

    def validate_then_sign_up(form: UserCreationAdminForm) -> bool:
        valid = validate(form)
        user_create(email="LIN@example.com", name="The other Lin")
        return valid

    monkeypatch.setattr(UserCreationAdminForm, "is_valid", validate_then_sign_up)

    response = admin_client.post(reverse(ADD), NEW_ACCOUNT, follow=True)

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Nothing was saved: An account with this email address exists."]
    # The other sign-up ran inside the admin's transaction here, so it is rolled back too.
    assert not User.objects.filter(email__iexact="lin@example.com").exists()
