"""Shared fixtures. Tests run on real PostgreSQL: DATABASE_URL's server, or the embedded one."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import kombu
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from hypothesis import settings as hypothesis_settings
from pytest_django.fixtures import Settings

from tests.graphql_client import GraphQLClient
from tests.log_capture import json_log

__all__ = ["json_log"]  # the fixture, shared by every test directory

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# CI replays the same generated examples on every run, so a red run names a defect that a
# rerun reproduces, never a new random draw; a developer's run explores fresh examples, and a
# failure it finds becomes a fixed test.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if ON_CI:
    hypothesis_settings.load_profile("ci")


def service_url(variable: str) -> str:
    """The URL of a real service a test needs. Missing on CI is a failure, never a skip."""
    url = os.environ.get(variable, "")
    if not url:
        message = f"{variable} is not set: this test needs the real service"
        if ON_CI:
            pytest.fail(message + " (CI=true never skips it)")
        pytest.skip(message + " (run .ci/run or set the variable)")
    return url


def database_url(name: str) -> str:
    """A database on the test run's PostgreSQL server. Processes a test starts run Django's
    system checks, which ask the server its version: ``database_url("postgres")``, the
    maintenance database, always exists."""
    server = urlsplit(service_url("DATABASE_URL"))
    return urlunsplit(server._replace(path=f"/{name}"))


@contextmanager
def broker_queue(prefix: str) -> Iterator[str]:
    """The name of a RabbitMQ queue of the caller's own (``prefix`` and a random part), the
    queue deleted from the real broker afterwards."""
    name = f"{prefix}-{uuid4().hex}"
    try:
        yield name
    finally:
        with kombu.Connection(service_url("CELERY_BROKER_URL")) as connection:
            connection.default_channel.queue_delete(name)


class QueryCounter(CaptureQueriesContext):
    @property
    def count(self) -> int:
        return len(self.captured_queries)


@pytest.fixture
def count_queries() -> type[QueryCounter]:
    """``with count_queries() as q: ...`` then ``q.count``: SQL statements actually sent."""
    return lambda: QueryCounter(connection)  # type: ignore[return-value]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """With DATABASE_REPLICA_URLS set, the suite still reads one test database: a replica alias
    is a test mirror of ``default`` (settings), and Django only renames its database, so it is
    also pointed at ``default``'s server here. That server is not in recovery, so no read is
    routed to the alias (backend/core/replicas.py); tests/platform/test_replicas_and_faults_live.py
    routes reads to a real replica."""
    from django.conf import settings

    primary = settings.DATABASES["default"]
    for database in settings.DATABASES.values():
        if database.get("TEST", {}).get("MIRROR") == "default":
            database.update({key: primary[key] for key in ("HOST", "PORT", "USER", "PASSWORD")})


@pytest.fixture(autouse=True, scope="session")
def celery_tasks_run_in_process() -> None:
    """Unit tests run Celery tasks in-process even when CELERY_BROKER_URL names a real broker.

    Tests that need a real worker take the ``real_celery_broker`` fixture instead.
    """
    from backend.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True, scope="session")
def sql_shape_cache_verified() -> None:
    """Every statement the shape cache answers is also compiled by Django's own compiler and
    must come out the same (backend/core/postgres/compiler.py), so the whole suite checks it."""
    from backend.core.postgres import compiler

    compiler.VERIFY_HITS = True


@pytest.fixture(autouse=True)
def fast_paths_for_tests_of_them(request: pytest.FixtureRequest, settings: Settings) -> None:
    """A test marked ``fast_paths`` pins a fast path's own effect (a statement count only peer
    fetching reaches, a resolver skipped): it runs with them on even where the environment
    turns them off (``make test``'s second run, decision 0020, which deselects it anyway)."""
    if request.node.get_closest_marker("fast_paths") is not None:
        settings.NEXUS_FAST_PATHS = True


@pytest.fixture
def real_celery_broker() -> Iterator[str]:
    """The real broker's URL, with tasks sent to it (not run in-process) for this test."""
    from backend.celery import app

    url = service_url("CELERY_BROKER_URL")
    app.conf.task_always_eager = False
    try:
        yield url
    finally:
        app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    """Argon2 costs ~100 ms a hash by design; tests not about hashing use a fast hasher
    (Django's own advice). The Argon2 configuration has its own test in tests/accounts."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def test_signing_key(settings: Settings) -> Iterator[Ed25519PrivateKey]:
    """Every test signs tokens with a fresh key from settings: nothing is written under
    .data/, and no test depends on another's key."""
    from backend.accounts.tokens import signing_key

    key = Ed25519PrivateKey.generate()
    settings.JWT_PRIVATE_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.JWT_PRIVATE_KEY_FILE = ""
    signing_key.cache_clear()
    yield key
    signing_key.cache_clear()


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """Requests go straight to the WSGI handler; like Django's test client, keep it from
    closing the connection that holds the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def in_process_layer_and_cache(settings: Settings) -> Iterator[None]:
    """In-memory channel layer and cache: unit tests share no state through a real Redis."""
    from django.core.cache import cache

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def gql(db: None) -> GraphQLClient:
    """An anonymous GraphQL client."""
    return GraphQLClient()
