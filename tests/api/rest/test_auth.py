"""REST token endpoints issue the same JWTs as GraphQL; the access token works on both APIs."""

import json

from django.test import Client

from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import user_create

PASSWORD = "a long enough passphrase 42"


def test_login_refresh_revoke_round_trip(anonymous: RestClient) -> None:
    user_create(email="ada@example.com", password=PASSWORD)
    login = anonymous.post("/api/v1/auth/token", {"email": "ada@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.content
    pair = login.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] > 0

    # The REST-issued token authenticates GraphQL too.
    graphql = Client().post(
        "/graphql/",
        data=json.dumps({"query": "{ me { email } }"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {pair['access_token']}"},
    )
    assert graphql.json()["data"]["me"]["email"] == "ada@example.com"
    orders = anonymous.get(
        "/api/v1/orders", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert orders.status_code == 200

    refreshed = anonymous.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    new_refresh = refreshed.json()["refresh_token"]
    assert new_refresh != pair["refresh_token"]

    assert anonymous.post("/api/v1/auth/revoke", {"refresh_token": new_refresh}).status_code == 204
    assert_problem(
        anonymous.post("/api/v1/auth/refresh", {"refresh_token": new_refresh}),
        401,
        "INVALID_REFRESH_TOKEN",
    )


def test_wrong_password_is_invalid_credentials(anonymous: RestClient) -> None:
    user_create(email="ada@example.com", password=PASSWORD)
    response = anonymous.post("/api/v1/auth/token", {"email": "ada@example.com", "password": "x"})
    assert_problem(response, 401, "INVALID_CREDENTIALS")


def test_reusing_a_refresh_token_ends_the_session(anonymous: RestClient) -> None:
    user_create(email="ada@example.com", password=PASSWORD)
    pair = anonymous.post(
        "/api/v1/auth/token", {"email": "ada@example.com", "password": PASSWORD}
    ).json()
    anonymous.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    reused = anonymous.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert_problem(reused, 401, "REFRESH_TOKEN_REUSED")


def test_login_body_must_have_both_fields(anonymous: RestClient) -> None:
    body = assert_problem(anonymous.post("/api/v1/auth/token", {"email": "a@b.c"}), 400, "INVALID")
    assert body["errors"][0]["field"] == "password"


def test_repeated_failures_are_delayed_with_retry_after(anonymous: RestClient) -> None:
    user_create(email="ada@example.com", password=PASSWORD)
    statuses = []
    for _ in range(12):
        response = anonymous.post(
            "/api/v1/auth/token", {"email": "ada@example.com", "password": "wrong"}
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert_problem(response, 429, "LOGIN_ATTEMPT_DELAYED")
            assert int(response["Retry-After"]) > 0
            break
    assert statuses[-1] == 429, statuses
