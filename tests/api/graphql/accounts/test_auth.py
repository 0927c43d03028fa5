"""The auth API over real HTTP: Bearer tokens on /graphql/, payload errors, UNAUTHENTICATED."""

import time
from typing import Any

import pytest
from strawberry.relay import to_base64

from backend.accounts.models import User
from backend.accounts.tokens import access_token_create
from tests.factories import user_create
from tests.graphql_client import GraphQLClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ME = "{ me { id email name roles } }"
TOKEN_CREATE = """
mutation ($email: String!, $password: String!) {
  tokenCreate(email: $email, password: $password) {
    accessToken refreshToken user { email } errors { field message code retryAfter }
  }
}"""
TOKEN_REFRESH = """
mutation ($refreshToken: String!) {
  tokenRefresh(refreshToken: $refreshToken) {
    accessToken refreshToken errors { field code }
  }
}"""


def test_me_with_a_bearer_token_returns_the_user(gql: GraphQLClient) -> None:
    user = user_create(name="Ada")

    me = gql.data(ME, token=access_token_create(user))["me"]

    assert me == {
        "id": to_base64("User", user.pk),
        "email": user.email,
        "name": "Ada",
        "roles": [],
    }


def test_me_without_a_token_is_null(gql: GraphQLClient) -> None:
    assert gql.data(ME) == {"me": None}


def test_me_with_an_expired_token_is_unauthenticated_with_the_reason(gql: GraphQLClient) -> None:
    user = user_create(password=PASSWORD)
    expired = access_token_create(user, now=time.time() - 3600)

    body = gql.post(ME, token=expired)

    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["extensions"]["reason"] == "TOKEN_EXPIRED"


def test_a_non_bearer_authorization_header_is_unauthenticated(gql: GraphQLClient) -> None:
    response = gql.client.post(
        "/graphql/",
        data={"query": ME},
        content_type="application/json",
        headers={"Authorization": "Basic YTpi"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_authenticated_request_costs_one_query_for_the_user(
    gql: GraphQLClient, count_queries: Any
) -> None:
    token = access_token_create(user_create(password=PASSWORD))
    with count_queries() as queries:
        gql.data("{ me { email } }", token=token)
    assert queries.count == 1, [query["sql"] for query in queries.captured_queries]


def test_sign_up_sign_in_refresh_and_read_me(gql: GraphQLClient) -> None:
    registered = gql.data(
        """mutation ($input: AccountRegisterInput!) {
             accountRegister(input: $input) { user { email roles } errors { code } }
           }""",
        {"input": {"email": "lin@example.com", "password": "wave-function-88", "name": "Lin"}},
    )["accountRegister"]
    assert registered == {"user": {"email": "lin@example.com", "roles": ["CUSTOMER"]}, "errors": []}

    login = gql.data(TOKEN_CREATE, {"email": "LIN@example.com", "password": "wave-function-88"})
    session = login["tokenCreate"]
    assert session["errors"] == []
    assert session["user"] == {"email": "lin@example.com"}

    refreshed = gql.data(TOKEN_REFRESH, {"refreshToken": session["refreshToken"]})["tokenRefresh"]
    assert refreshed["errors"] == []
    assert refreshed["refreshToken"] != session["refreshToken"]
    assert gql.data(ME, token=refreshed["accessToken"])["me"]["email"] == "lin@example.com"


def test_register_errors_are_payload_errors_with_graphql_field_names(gql: GraphQLClient) -> None:
    user_create(email="taken@example.com")
    result = gql.data(
        """mutation {
             accountRegister(input: {email: "TAKEN@example.com", password: "short"}) {
               user { email } errors { field code }
             }
           }"""
    )["accountRegister"]
    assert result["user"] is None
    assert {"field": "email", "code": "EMAIL_TAKEN"} in result["errors"]
    assert {"field": "password", "code": "PASSWORD_TOO_SHORT"} in result["errors"]


def test_throttled_login_reports_retry_after(gql: GraphQLClient) -> None:
    user = user_create(password=PASSWORD)
    for _ in range(3):
        gql.data(TOKEN_CREATE, {"email": user.email, "password": "wrong"})

    result = gql.data(TOKEN_CREATE, {"email": user.email, "password": PASSWORD})["tokenCreate"]

    assert result["accessToken"] is None
    assert result["errors"][0]["code"] == "LOGIN_ATTEMPT_DELAYED"
    assert result["errors"][0]["retryAfter"] >= 1


def test_reused_refresh_token_over_graphql_is_a_payload_error(gql: GraphQLClient) -> None:
    user = user_create(password=PASSWORD)
    session = gql.data(TOKEN_CREATE, {"email": user.email, "password": PASSWORD})["tokenCreate"]
    gql.data(TOKEN_REFRESH, {"refreshToken": session["refreshToken"]})

    reuse = gql.data(TOKEN_REFRESH, {"refreshToken": session["refreshToken"]})["tokenRefresh"]

    assert reuse == {
        "accessToken": None,
        "refreshToken": None,
        "errors": [{"field": "refreshToken", "code": "REFRESH_TOKEN_REUSED"}],
    }


def test_log_out_everywhere_stops_an_existing_access_token_at_once(gql: GraphQLClient) -> None:
    user = user_create(password=PASSWORD)
    token = access_token_create(user)
    other_device = access_token_create(user)

    result = gql.data("mutation { tokenRevokeAll { ok errors { code } } }", token=token)

    assert result == {"tokenRevokeAll": {"ok": True, "errors": []}}
    body = gql.post(ME, token=other_device)
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "TOKEN_REVOKED"}
    assert User.objects.get(pk=user.pk).token_version == 1


def test_log_out_everywhere_without_a_token_is_unauthenticated(gql: GraphQLClient) -> None:
    body = gql.post("mutation { tokenRevokeAll { ok } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_token_revoke_over_graphql_ends_that_session(gql: GraphQLClient) -> None:
    user = user_create(password=PASSWORD)
    session = gql.data(TOKEN_CREATE, {"email": user.email, "password": PASSWORD})["tokenCreate"]

    revoked = gql.data(
        "mutation ($t: String!) { tokenRevoke(refreshToken: $t) { ok errors { code } } }",
        {"t": session["refreshToken"]},
    )
    refresh = gql.data(TOKEN_REFRESH, {"refreshToken": session["refreshToken"]})["tokenRefresh"]

    assert revoked == {"tokenRevoke": {"ok": True, "errors": []}}
    assert refresh["errors"] == [{"field": "refreshToken", "code": "INVALID_REFRESH_TOKEN"}]


def test_password_change_signs_out_other_sessions_and_returns_new_tokens(
    gql: GraphQLClient,
) -> None:
    user = user_create(password=PASSWORD)
    current = access_token_create(user)
    other = gql.data(TOKEN_CREATE, {"email": user.email, "password": PASSWORD})["tokenCreate"]

    changed = gql.data(
        """mutation { passwordChange(oldPassword: "correct-horse-battery",
                                     newPassword: "new-horse-battery-7") {
             accessToken refreshToken errors { code } } }""",
        token=current,
    )["passwordChange"]

    assert changed["errors"] == []
    assert gql.data(ME, token=changed["accessToken"])["me"]["email"] == user.email
    assert gql.post(ME, token=other["accessToken"])["errors"][0]["extensions"]["reason"] == (
        "TOKEN_REVOKED"
    )
    stale = gql.data(TOKEN_REFRESH, {"refreshToken": other["refreshToken"]})["tokenRefresh"]
    assert stale["errors"][0]["code"] == "INVALID_REFRESH_TOKEN"


def test_a_customer_cannot_read_another_user_through_node(gql: GraphQLClient) -> None:
    viewer, other = user_create(password=PASSWORD), user_create(password=PASSWORD)
    query = "query ($id: ID!) { node(id: $id) { ... on User { email } } }"

    own = gql.data(query, {"id": to_base64("User", viewer.pk)}, token=access_token_create(viewer))
    theirs = gql.data(query, {"id": to_base64("User", other.pk)}, token=access_token_create(viewer))
    anonymous = gql.data(query, {"id": to_base64("User", viewer.pk)})

    assert own == {"node": {"email": viewer.email}}
    assert theirs == {"node": None}
    assert anonymous == {"node": None}


def test_staff_can_read_any_user_through_node(gql: GraphQLClient) -> None:
    staff, other = user_create(is_staff=True), user_create(password=PASSWORD)
    result = gql.data(
        "query ($id: ID!) { node(id: $id) { ... on User { email roles } } }",
        {"id": to_base64("User", other.pk)},
        token=access_token_create(staff),
    )
    assert result == {"node": {"email": other.email, "roles": []}}
