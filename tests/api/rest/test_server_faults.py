"""Every server fault under /api/ (an unexpected exception in a REST view, or in a plain view
Django handles) answers a problem+json 500 coded INTERNAL_ERROR, with DEBUG off: no HTML, no
traceback, nothing of the exception's message. Tried for many exception classes, methods and
callers; the traceback goes to the log."""

import logging
from typing import Any

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.accounts.tokens import access_token_create
from tests.api.rest.faulty_urls import FAULTS, SECRET
from tests.factories import user_create

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("tests.api.rest.faulty_urls"),
]

PROBLEM = "application/problem+json"
BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_internal_error_problem(response: Any) -> None:
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    content = response.content.decode()
    for leak in (SECRET, "Traceback", "<html", "<!DOCTYPE", 'File "'):
        assert leak not in content
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR"
    assert body["status"] == 500
    assert body["title"] == "Internal Server Error"
    assert body["detail"] == "Internal server error."
    assert body["errors"] == []


@override_settings(DEBUG=False)
@BOUNDED
@given(
    fault=st.sampled_from(sorted(FAULTS)),
    method=st.sampled_from(["get", "post", "put", "patch", "delete"]),
    signed_in=st.booleans(),
)
def test_a_fault_in_a_rest_view_is_a_problem_500(
    fault: str, method: str, signed_in: bool, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(raise_request_exception=False)
    headers = {"Authorization": f"Bearer {access_token_create(user_create())}"} if signed_in else {}
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        response = getattr(client, method)(f"/api/v1/faulty?fault={fault}", headers=headers)
    assert_internal_error_problem(response)
    # The server's log keeps what the client does not see.
    assert any(record.exc_info and record.exc_info[0] is FAULTS[fault] for record in caplog.records)


@override_settings(DEBUG=False)
@BOUNDED
@given(fault=st.sampled_from(sorted(FAULTS)), method=st.sampled_from(["get", "post", "delete"]))
def test_a_fault_outside_drf_under_api_is_a_problem_500(fault: str, method: str) -> None:
    response = getattr(Client(raise_request_exception=False), method)(
        f"/api/faulty-plain?fault={fault}"
    )
    assert_internal_error_problem(response)


@override_settings(DEBUG=True)
def test_a_rest_fault_is_a_problem_500_with_debug_on_too() -> None:
    response = Client(raise_request_exception=False).get("/api/v1/faulty?fault=RuntimeError")
    assert_internal_error_problem(response)


@override_settings(DEBUG=False)
def test_a_fault_outside_api_keeps_djangos_page() -> None:
    response = Client(raise_request_exception=False).get("/faulty-page?fault=RuntimeError")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert SECRET not in response.content.decode()
