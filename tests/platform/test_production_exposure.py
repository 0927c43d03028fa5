"""What a production server (DEBUG off) shows strangers: no API docs, no schema hints in
GraphQL errors, HSTS on HTTPS, and no credentials on the DEBUG error page or error reports."""

import html
import os
import runpy
import string
import sys
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, RequestFactory, override_settings
from django.views.debug import technical_500_response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graphql_client import GraphQLClient
from tests.paths import REPO_ROOT

DOC_URLS = ["/api/schema/", "/api/docs/", "/api/redoc/"]
PROBLEM = "application/problem+json"


def settings_read(monkeypatch: pytest.MonkeyPatch, **environment: str) -> dict[str, Any]:
    """backend/settings.py's values as it reads them from ``environment`` alone."""
    for name in list(os.environ):
        if name.startswith(("DEBUG", "SECURE_", "API_DOCS")):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(REPO_ROOT / "backend" / "settings.py"))


def test_with_debug_off_docs_are_private_and_hsts_is_on_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = settings_read(monkeypatch, DEBUG="false", SECRET_KEY="x" * 50)
    assert production["API_DOCS_PUBLIC"] is False
    assert production["SECURE_HSTS_SECONDS"] == 31536000
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert production["DEFAULT_EXCEPTION_REPORTER_FILTER"] == (
        "backend.core.debug.UrlCredentialsReporterFilter"
    )
    development = settings_read(monkeypatch, DEBUG="true")
    assert (development["API_DOCS_PUBLIC"], development["SECURE_HSTS_SECONDS"]) == (True, 0)
    chosen = settings_read(
        monkeypatch,
        DEBUG="false",
        SECRET_KEY="x" * 50,
        API_DOCS_PUBLIC="true",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
    )
    assert (
        chosen["API_DOCS_PUBLIC"],
        chosen["SECURE_HSTS_SECONDS"],
        chosen["SECURE_HSTS_INCLUDE_SUBDOMAINS"],
    ) == (True, 600, True)


# --- REST docs ------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(API_DOCS_PUBLIC=False)
@pytest.mark.parametrize("url", DOC_URLS)
@pytest.mark.parametrize("method", ["get", "head", "post", "options"])
def test_private_docs_answer_every_method_as_an_unknown_api_route(url: str, method: str) -> None:
    response = getattr(Client(), method)(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith(PROBLEM)
    if method != "head":
        assert response.json()["code"] == "NOT_FOUND"
        assert b"openapi" not in response.content.lower()


@pytest.mark.django_db
@pytest.mark.parametrize("url", DOC_URLS)
def test_public_docs_are_served(url: str) -> None:
    with override_settings(API_DOCS_PUBLIC=True):
        assert Client().get(url).status_code == 200
    with override_settings(API_DOCS_PUBLIC=False):  # read per request: no URLconf reload
        assert Client().get(url).status_code == 404


# --- GraphQL suggestions --------------------------------------------------------------------

# Each one a different rule of graphql-core that appends "Did you mean ...?".
MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("{ products(first: 1) { nodes { nam } } }", {}, "name"),  # field
    ("{ products(frist: 1) { nodes { name } } }", {}, "first"),  # argument
    ("query($f: ProductFiltr) { products(first: 1, filter: $f) { totalCount } }", {}, "Filter"),
    ("{ products(first: 1, order: {field: NAEM}) { totalCount } }", {}, "NAME"),  # enum literal
    (  # enum value in a variable (coercion, not validation)
        "query($o: ProductOrder) { products(first: 1, order: $o) { totalCount } }",
        {"o": {"field": "NAEM"}},
        "NAME",
    ),
    (  # input field in a variable
        "query($o: ProductOrder) { products(first: 1, order: $o) { totalCount } }",
        {"o": {"feild": "NAME"}},
        "field",
    ),
    ("{ products(first: 1) { nodes { category } } }", {}, "category {"),  # leaf selection
]


def _messages(query: str, variables: dict[str, Any]) -> list[str]:
    body = GraphQLClient().post(query, variables)
    assert body.get("errors"), body
    assert all(error["extensions"]["code"] for error in body["errors"])
    return [error["message"] for error in body["errors"]]


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "variables", "hint"), MISTAKES)
def test_with_introspection_off_errors_suggest_no_names(
    query: str, variables: dict[str, Any], hint: str
) -> None:
    with override_settings(GRAPHQL_INTROSPECTION=True):
        assert any("Did you mean" in m and hint in m for m in _messages(query, variables))
    with override_settings(GRAPHQL_INTROSPECTION=False):
        messages = _messages(query, variables)
    assert not any("Did you mean" in m for m in messages), messages
    assert all(m.strip() and not m.endswith(" ") for m in messages)


PRODUCT_FIELDS = ["name", "slug", "price", "category", "description", "createdAt"]


@st.composite
def misspelt_field(draw: st.DrawFn) -> str:
    """A real Product field with one letter dropped or changed: what a guesser would send."""
    name = draw(st.sampled_from(PRODUCT_FIELDS))
    position = draw(st.integers(0, len(name) - 1))
    letter = draw(st.sampled_from(["", *string.ascii_lowercase]))
    guess = name[:position] + letter + name[position + 1 :]
    return guess if guess and guess not in PRODUCT_FIELDS else name + "x"


@pytest.mark.django_db
@override_settings(GRAPHQL_INTROSPECTION=False)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guess=misspelt_field())
def test_guessed_field_names_learn_nothing_with_introspection_off(guess: str) -> None:
    messages = _messages(f"{{ products(first: 1) {{ nodes {{ {guess} }} }} }}", {})
    assert not any("Did you mean" in m for m in messages), messages


# --- HSTS -----------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(
    SECURE_HSTS_SECONDS=31536000, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)
def test_hsts_is_sent_on_https_behind_the_proxy_and_never_on_plain_http() -> None:
    client = Client()  # a new client loads the middleware under these settings
    secure = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/healthz")


# --- The DEBUG error page -------------------------------------------------------------------

password = st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=%", min_size=12)


def _broker_connect(broker_url: str) -> None:
    raise ConnectionError(f"cannot reach the broker at {broker_url.split('@')[-1]}")


def _error_page(urls: dict[str, str]) -> str:
    """The DEBUG page of an error whose frames hold ``urls`` (no frame holds the bare password:
    a local holding one by itself is no URL to recognise)."""
    request = RequestFactory().get("/boom", HTTP_X_UPSTREAM=urls["REDIS_URL"])
    with override_settings(
        DEBUG=True,
        **urls,
        CACHES={"default": {"BACKEND": "x", "LOCATION": urls["REDIS_URL"]}},
        CHANNEL_LAYERS={"default": {"CONFIG": {"hosts": [{"address": urls["REDIS_URL"]}]}}},
    ):
        try:
            _broker_connect(urls["CELERY_BROKER_URL"])
        except ConnectionError:
            return technical_500_response(request, *sys.exc_info()).content.decode()
    raise AssertionError("unreachable")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=password, user=st.sampled_from(["", "nexus", "guest"]))
def test_the_debug_error_page_shows_no_password_held_in_a_url(secret: str, user: str) -> None:
    page = _error_page(
        {
            "DATABASE_URL": f"postgres://{user}:{secret}@db:5432/nexus",
            "CELERY_BROKER_URL": f"amqp://{user}:{secret}@rabbitmq:5672//",
            "REDIS_URL": f"rediss://{user}:{secret}@cache:6379/0",
        }
    )

    assert "DATABASE_URL" in page  # the settings are on the page, cleansed
    assert "rabbitmq:5672" in page
    for form in {secret, html.escape(secret), html.escape(secret, quote=False)}:
        assert form not in page


# --- Deployment checks ----------------------------------------------------------------------


def _deploy_warnings() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True)}


@override_settings(DEBUG=False, API_DOCS_PUBLIC=True, GRAPHQL_INTROSPECTION=True)
def test_deployment_checks_warn_of_public_docs_and_introspection_without_debug() -> None:
    assert {"nexus.W030", "nexus.W031"} <= _deploy_warnings()


@override_settings(DEBUG=False, API_DOCS_PUBLIC=False, GRAPHQL_INTROSPECTION=False)
def test_deployment_checks_are_quiet_with_the_production_defaults() -> None:
    assert not {"nexus.W030", "nexus.W031"} & _deploy_warnings()
