"""A database that cannot be reached (backend/core/databases.py): which errors mean it, and the
503 each API answers, wherever in the request the fault happens, in-process.

The server really stopped, behind PgBouncer, with a bounded wait and recovery without a
restart: tests/platform/test_replicas_and_faults_live.py.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connection
from django.test import Client
from psycopg import errors as sqlstate_errors
from psycopg_pool import PoolTimeout

from backend.accounts.tokens import access_token_create
from backend.core import databases
from backend.core.databases import database_fault_report, database_unavailable
from backend.core.replicas import replica_monitor
from tests.factories import product_create, user_create
from tests.log_capture import JsonLog

pytestmark = pytest.mark.django_db

LOST = "consuming input failed: server closed the connection unexpectedly"
PRODUCTS = json.dumps({"query": "{ products(first: 2) { edges { node { name } } } }"})


def django_error(cause: Exception) -> OperationalError:
    """``cause`` as Django raises it: its own error, from psycopg's."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as error:
        return error


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.OperationalError(LOST),  # lost, or never made: psycopg has no SQLSTATE for it
        PoolTimeout("couldn't get a connection after 5.00 sec"),
        sqlstate_errors.AdminShutdown("terminating connection due to administrator command"),
        sqlstate_errors.CannotConnectNow("the database system is starting up"),
        sqlstate_errors.ProtocolViolation("query_wait_timeout"),  # PgBouncer, server down
        sqlstate_errors.ConnectionFailure("server connection failure"),
    ],
)
def test_errors_that_mean_the_database_cannot_be_reached(cause: Exception) -> None:
    assert database_unavailable(cause)
    assert database_unavailable(django_error(cause))


@pytest.mark.parametrize(
    "error",
    [
        sqlstate_errors.UniqueViolation("duplicate key"),
        sqlstate_errors.SerializationFailure("could not serialize access"),
        sqlstate_errors.QueryCanceled("canceling statement due to statement timeout"),
        sqlstate_errors.DeadlockDetected("deadlock detected"),
        IntegrityError("no psycopg cause"),
        ValueError("not a database error"),
        None,
    ],
)
def test_statements_that_failed_are_not_an_unreachable_database(error: Exception | None) -> None:
    assert not database_unavailable(error)


class FakePool:
    def __init__(self) -> None:
        self.drained = 0

    def drain(self) -> None:
        self.drained += 1


class FakeConnection:
    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.pool = FakePool()
        self.connection: object = object()


def test_a_lost_connection_drains_the_pool_and_a_full_pool_does_not() -> None:
    lost = FakeConnection(DEFAULT_DB_ALIAS)
    database_fault_report(lost, django_error(psycopg.OperationalError(LOST)))  # type: ignore[arg-type]
    # Django's clean-up (rollback, close) on the same connection is not a second fault.
    database_fault_report(lost, django_error(psycopg.OperationalError("the connection is closed")))  # type: ignore[arg-type]
    assert lost.pool.drained == 1
    busy = FakeConnection(DEFAULT_DB_ALIAS)
    busy.connection = None
    database_fault_report(busy, django_error(PoolTimeout("couldn't get a connection")))  # type: ignore[arg-type]
    assert busy.pool.drained == 0


def test_a_fault_on_a_replica_marks_it_down(monkeypatch: pytest.MonkeyPatch) -> None:
    marked: list[str] = []
    monkeypatch.setattr(replica_monitor, "mark_down", marked.append)
    error = django_error(psycopg.OperationalError(LOST))
    database_fault_report(FakeConnection("replica_1"), error)  # type: ignore[arg-type]
    assert marked == ["replica_1"]
    assert error.database_alias == "replica_1"  # type: ignore[attr-defined]


@contextmanager
def connection_lost() -> Iterator[list[str]]:
    """Every statement on this thread's default connection fails as on a lost connection,
    through Django's error mapping (and so the backend's report); yields the statements."""
    attempted: list[str] = []

    def lose(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        attempted.append(sql)
        with context["connection"].wrap_database_errors:
            raise psycopg.OperationalError(LOST)

    with connection.execute_wrapper(lose):
        yield attempted


def assert_graphql_unavailable(response: Any, *, with_data: bool) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(databases.RETRY_AFTER_SECONDS)
    body = response.json()
    assert ("data" in body) is with_data
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert LOST not in error["message"]


def test_a_graphql_read_that_loses_its_connection_answers_503(json_log: JsonLog) -> None:
    client = Client()
    with connection_lost() as attempted:
        response = client.post("/graphql/", PRODUCTS, content_type="application/json")
    assert_graphql_unavailable(response, with_data=True)
    assert len(attempted) == 1  # not run again: the primary was the one that failed
    with connection_lost():
        response = client.post(
            "/graphql/",
            PRODUCTS,
            content_type="application/json",
            headers={"Accept": "application/graphql-response+json"},
        )
    assert_graphql_unavailable(response, with_data=False)
    assert response["Content-Type"].startswith("application/graphql-response+json")
    # A warning naming the database, no server error with a traceback.
    warnings = [r for r in json_log.records() if r["logger"] == "backend.core.databases"]
    assert warnings
    assert {r["level"] for r in warnings} == {"WARNING"}
    assert not [r for r in json_log.errors() if "Traceback" in json.dumps(r)]


def test_a_rest_read_that_loses_its_connection_answers_a_problem_503() -> None:
    product_create()
    with connection_lost():
        response = Client().get("/api/v1/products")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == str(databases.RETRY_AFTER_SECONDS)
    body = response.json()
    assert (body["status"], body["code"]) == (503, "SERVICE_UNAVAILABLE")


def test_a_bearer_tokens_user_lookup_that_fails_answers_503(json_log: JsonLog) -> None:
    """A middleware's fault, which Django turns into a 500 before any view: still a 503, and
    not logged as a server error."""
    token = access_token_create(user_create())
    with connection_lost():
        response = Client(raise_request_exception=False).post(
            "/graphql/",
            PRODUCTS,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert_graphql_unavailable(response, with_data=True)
    assert not [r for r in json_log.errors() if r["message"].startswith("Internal Server Error")]


def test_a_fault_outside_the_apis_is_a_problem_503() -> None:
    user = user_create(is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    with connection_lost():
        response = client.get("/admin/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
