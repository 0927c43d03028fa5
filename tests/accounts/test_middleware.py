"""BearerTokenMiddleware: the same answer under WSGI-style and ASGI requests, and CSRF rules."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, Client

from backend.accounts.tokens import access_token_create
from tests.factories import user_create

ME = json.dumps({"query": "{ me { email } }"})


@pytest.mark.django_db
def test_bearer_request_needs_no_csrf_token() -> None:
    user = user_create()
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/graphql/",
        data=ME,
        content_type="application/json",
        headers={"Authorization": f"Bearer {access_token_create(user)}"},
    )

    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"email": user.email}}


@pytest.mark.django_db
def test_cookieless_json_sign_in_needs_no_csrf_token() -> None:
    """No cookie, no ambient authority: API clients sign in without a CSRF dance."""
    user_create(email="ada@example.com", password="analytical-engine-1843")
    login = json.dumps(
        {
            "query": 'mutation { tokenCreate(email: "ada@example.com", '
            'password: "analytical-engine-1843") { accessToken errors { code } } }'
        }
    )

    response = Client(enforce_csrf_checks=True).post(
        "/graphql/", data=login, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["data"]["tokenCreate"]["errors"] == []


@pytest.mark.django_db
def test_form_post_without_a_csrf_token_is_refused() -> None:
    """The exemption is for JSON only: the admin login form keeps its CSRF protection."""
    response = Client(enforce_csrf_checks=True).post(
        "/admin/login/", data={"username": "a@example.com", "password": "x"}
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_session_request_without_a_csrf_token_is_refused() -> None:
    """A browser session is ambient credentials: forged cross-site posts must fail."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_create())

    response = client.post("/graphql/", data=ME, content_type="application/json")

    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
async def test_bearer_token_authenticates_under_asgi() -> None:
    user = await sync_to_async(user_create)(name="Async")
    token = await sync_to_async(access_token_create)(user)

    response = await AsyncClient().post(
        "/graphql/",
        data=ME,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    # Return the worker thread's pooled connection, so the test database can be dropped.
    await sync_to_async(connections.close_all)()

    assert response.json()["data"] == {"me": {"email": user.email}}
