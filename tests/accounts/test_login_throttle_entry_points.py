"""Every place that checks a password goes through the one throttle, through its real transport:
GraphQL tokenCreate, the REST token endpoint, the admin sign-in form, passwordChange (aliased
mutations count once each), and accountRegister's per-address budget. A refused attempt is a
coded error (429 with Retry-After on REST, a form error in the admin) and evaluates nothing."""

import json
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from backend.accounts.models import User
from tests.accounts.conftest import PasswordChecks
from tests.factories import user_create
from tests.graphql_client import GraphQLClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ALLOWANCE = 3  # LOGIN_FREE_ATTEMPTS_PER_ACCOUNT, the per account+address allowance

TOKEN_CREATE = """
mutation ($email: String!, $password: String!) {
  tokenCreate(email: $email, password: $password) {
    accessToken errors { code retryAfter }
  }
}
"""


def _token_create(client: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    return client.mutate(TOKEN_CREATE, {"email": email, "password": password})


def test_graphql_token_create_refuses_without_evaluating(password_checks: PasswordChecks) -> None:
    user = user_create(password=PASSWORD)
    client = GraphQLClient()
    codes = [
        _token_create(client, user.email, "wrong")["errors"][0]["code"] for _ in range(ALLOWANCE)
    ]
    refused = _token_create(client, user.email, PASSWORD)  # even the right password waits

    assert codes == ["INVALID_CREDENTIALS"] * ALLOWANCE
    assert refused["accessToken"] is None
    assert refused["errors"] == [{"code": "LOGIN_ATTEMPT_DELAYED", "retryAfter": 1}]
    assert password_checks.count == ALLOWANCE


def test_rest_token_refusal_is_429_with_retry_after(password_checks: PasswordChecks) -> None:
    user = user_create(password=PASSWORD)
    client = Client()

    def post(password: str) -> Any:
        return client.post(
            "/api/v1/auth/token",
            data=json.dumps({"email": user.email, "password": password}),
            content_type="application/json",
        )

    statuses = [post("wrong").status_code for _ in range(ALLOWANCE)]
    refused = post(PASSWORD)

    assert statuses == [401] * ALLOWANCE
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "LOGIN_ATTEMPT_DELAYED"
    assert password_checks.count == ALLOWANCE


def test_admin_sign_in_refusal_is_a_form_error(password_checks: PasswordChecks) -> None:
    admin = user_create(password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()

    def sign_in(password: str) -> Any:
        return client.post("/admin/login/", {"username": admin.email, "password": password})

    wrong = [sign_in("wrong") for _ in range(ALLOWANCE)]
    refused = sign_in(PASSWORD)

    assert [response.status_code for response in wrong] == [200] * ALLOWANCE  # the form again
    assert refused.status_code == 200
    assert "Too many failed sign-ins. Try again in 1 seconds." in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert password_checks.count == ALLOWANCE


def test_admin_sign_in_is_throttled_per_account_across_addresses(
    settings: Settings, password_checks: PasswordChecks
) -> None:
    """The reported attack: 25 guesses at the superuser, now from 25 addresses."""
    settings.FORWARDED_ALLOW_IPS = ("127.0.0.1",)
    admin = user_create(password=PASSWORD, is_staff=True, is_superuser=True)
    refusals = 0
    for n in range(25):
        response = Client().post(
            "/admin/login/",
            {"username": admin.email, "password": f"guess-{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        refusals += "Too many failed sign-ins" in response.content.decode()

    assert password_checks.count == settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP
    assert refusals == 25 - settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT_ANY_IP


def test_made_up_forwarded_for_values_share_the_proxy_bucket(settings: Settings) -> None:
    """Behind a trusted proxy, X-Forwarded-For values that are not addresses are ignored: a
    new made-up value per guess is not a new address with a fresh allowance."""
    settings.FORWARDED_ALLOW_IPS = ("*",)
    settings.LOGIN_FREE_ATTEMPTS_PER_IP = ALLOWANCE
    client = Client()
    for n in range(25):
        client.post(
            "/api/v1/auth/token",
            data=json.dumps({"email": f"victim{n}@example.com", "password": "guess"}),
            content_type="application/json",
            headers={"X-Forwarded-For": f"made-up-{n}"},
        )
    user_create(email="last@example.com", password=PASSWORD)

    refused = client.post(
        "/api/v1/auth/token",
        data=json.dumps({"email": "last@example.com", "password": PASSWORD}),
        content_type="application/json",
        headers={"X-Forwarded-For": "made-up-last"},
    )

    assert refused.status_code == 429
    assert refused.json()["code"] == "LOGIN_ATTEMPT_DELAYED"


def test_aliased_password_changes_count_once_each(password_checks: PasswordChecks) -> None:
    """The reported oracle: 15 aliased guesses in one request with a stolen access token."""
    user = user_create(password=PASSWORD)
    aliases = "\n".join(
        f'guess{n}: passwordChange(oldPassword: "guess-{n}", newPassword: "fresh-pass-{n}-xyz") '
        "{ errors { code retryAfter } }"
        for n in range(15)
    )
    data = GraphQLClient(user=user).data(f"mutation {{ {aliases} }}")

    codes = [data[f"guess{n}"]["errors"][0]["code"] for n in range(15)]
    assert codes == ["INVALID_PASSWORD"] * ALLOWANCE + ["LOGIN_ATTEMPT_DELAYED"] * (15 - ALLOWANCE)
    assert password_checks.count == ALLOWANCE
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_and_sign_in_share_the_account_budget(
    password_checks: PasswordChecks,
) -> None:
    user = user_create(password=PASSWORD)
    viewer = GraphQLClient(user=user)
    for n in range(ALLOWANCE):
        viewer.mutate(
            f'mutation {{ passwordChange(oldPassword: "guess-{n}", newPassword: "x-fresh-99") '
            "{ errors { code } } }"
        )

    refused = _token_create(GraphQLClient(), user.email, PASSWORD)

    assert refused["errors"][0]["code"] == "LOGIN_ATTEMPT_DELAYED"
    assert password_checks.count == ALLOWANCE


ACCOUNT_REGISTER = """
mutation ($email: String!) {
  accountRegister(input: {email: $email, password: "analytical-engine-1843"}) {
    user { email } errors { code retryAfter }
  }
}
"""


def test_account_register_has_a_per_address_budget(settings: Settings) -> None:
    """Sign-ups, taken addresses (the enumeration answer) included, count against the address."""
    settings.ACCOUNT_REGISTER_FREE_ATTEMPTS_PER_IP = 4
    taken = user_create()
    client = GraphQLClient()
    answers = [
        client.mutate(ACCOUNT_REGISTER, {"email": email})
        for email in ["a@example.com", taken.email, "b@example.com", "c@example.com"]
    ]
    refused = client.mutate(ACCOUNT_REGISTER, {"email": taken.email})
    another = client.mutate(ACCOUNT_REGISTER, {"email": "d@example.com"})

    assert [bool(answer["user"]) for answer in answers] == [True, False, True, True]
    assert answers[1]["errors"][0]["code"] == "EMAIL_TAKEN"
    for answer in (refused, another):
        assert answer == {
            "user": None,
            "errors": [{"code": "REGISTRATION_ATTEMPT_DELAYED", "retryAfter": 1}],
        }
    assert not User.objects.filter(email="d@example.com").exists()
