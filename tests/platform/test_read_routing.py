"""Which alias each kind of query goes to (backend/core/routing.py), with the replicas' states
set by the test; and what routing costs where no replica is configured: nothing.

A real replica serving reads: tests/platform/test_replicas_and_faults_live.py.
"""

import os
import uuid
from typing import Any

import pytest
import redis
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.test import RequestFactory
from django.urls import resolve
from django.utils.functional import SimpleLazyObject
from pytest_django.fixtures import Settings

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.core import replicas, routing
from backend.core.replicas import ReplicaHealth, ReplicaState, replica_state_from
from backend.core.routing import (
    PIN_KEY_PREFIX,
    PRIMARY,
    ReplicaRouter,
    pin_seconds,
    read_routing_bound,
    transaction_began,
    writes_record,
)
from tests.conftest import QueryCounter, service_url
from tests.factories import user_create
from tests.graphql_client import GraphQLClient
from tests.live_server import free_port

REPLICA = "replica_1"
router = ReplicaRouter()


@pytest.fixture
def replica_states(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, in_process_layer_and_cache: None
) -> dict[str, ReplicaState]:
    """The replicas' states as routing sees them: no monitor thread, the test sets them; the
    writers' positions in this process's cache (as without REDIS_URL)."""
    states: dict[str, ReplicaState] = {REPLICA: ReplicaState(ReplicaHealth.OK, replayed_lsn=1000)}
    monkeypatch.setattr(replicas.replica_monitor, "_states", states)
    monkeypatch.setattr(replicas.replica_monitor, "_pid", os.getpid())
    settings.REDIS_URL = ""
    local_pins = routing.Pins()
    monkeypatch.setattr(routing, "pins", lambda: local_pins)
    return states


def view_request(user: Any, address: str = "203.0.113.7") -> Any:
    """A request that has reached its view (middleware done), from ``user`` at ``address``."""
    request = RequestFactory().get("/graphql/", REMOTE_ADDR=address)
    request.user = user
    request.resolver_match = resolve("/graphql/")
    return request


def customer(pk: int = 7) -> User:
    return User(pk=pk, email=f"customer{pk}@example.com")


def read_alias(request: Any) -> str:
    with read_routing_bound(request):
        return router.db_for_read(Product)


def test_without_a_request_every_read_goes_to_the_primary(
    replica_states: dict[str, ReplicaState],
) -> None:
    # Celery tasks, WebSocket operations and management commands.
    assert router.db_for_read(Product) == PRIMARY


def test_anonymous_and_customer_reads_go_to_an_ok_replica(
    replica_states: dict[str, ReplicaState],
) -> None:
    assert read_alias(view_request(AnonymousUser())) == REPLICA
    assert read_alias(view_request(customer())) == REPLICA


def test_staff_reads_go_to_the_primary(replica_states: dict[str, ReplicaState]) -> None:
    staff = User(pk=8, email="staff@example.com", is_staff=True)
    assert read_alias(view_request(staff)) == PRIMARY


def test_reads_before_the_view_go_to_the_primary(replica_states: dict[str, ReplicaState]) -> None:
    """The bearer token's user lookup runs while ``request.user`` is still the session's
    anonymous user: deciding then would route the signed-in viewer by an anonymous one."""
    request = view_request(AnonymousUser())
    request.resolver_match = None
    assert read_alias(request) == PRIMARY


def test_a_session_user_not_loaded_yet_reads_the_primary(
    replica_states: dict[str, ReplicaState],
) -> None:
    def load() -> User:
        raise AssertionError("the router loaded the session's user")

    assert read_alias(view_request(SimpleLazyObject(load))) == PRIMARY


@pytest.mark.parametrize(
    "state",
    [
        ReplicaState(ReplicaHealth.LAGGING, replayed_lsn=1000, lag_seconds=60.0),
        ReplicaState(ReplicaHealth.DOWN),
        ReplicaState(ReplicaHealth.NOT_A_REPLICA),
    ],
)
def test_a_replica_that_is_not_ok_serves_no_read(
    replica_states: dict[str, ReplicaState], state: ReplicaState
) -> None:
    replica_states[REPLICA] = state
    assert read_alias(view_request(AnonymousUser())) == PRIMARY


def test_a_replica_not_probed_yet_serves_no_read(replica_states: dict[str, ReplicaState]) -> None:
    replica_states.clear()
    assert read_alias(view_request(AnonymousUser())) == PRIMARY


def test_reads_after_a_write_in_the_same_request_go_to_the_primary(
    replica_states: dict[str, ReplicaState],
) -> None:
    with read_routing_bound(view_request(customer())):
        assert router.db_for_read(Product) == REPLICA
        assert router.db_for_write(Product) == PRIMARY
        assert router.db_for_read(Product) == PRIMARY


def test_reads_after_a_transaction_in_the_same_request_go_to_the_primary(
    replica_states: dict[str, ReplicaState],
) -> None:
    """Raw SQL in a transaction passes no router: the backend reports the transaction."""
    with read_routing_bound(view_request(customer())):
        transaction_began()
        assert router.db_for_read(Product) == PRIMARY


@pytest.mark.django_db
def test_reads_inside_a_transaction_go_to_the_primary(
    replica_states: dict[str, ReplicaState],
) -> None:
    with read_routing_bound(view_request(AnonymousUser())), transaction.atomic():
        assert router.db_for_read(Product) == PRIMARY


class CountingCache:
    """The cache, counting the pin lookups routing makes."""

    def __init__(self) -> None:
        self.lookups = 0

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        self.lookups += 1
        return cache.get_many(keys)


def test_a_request_keeps_the_replica_it_chose(
    replica_states: dict[str, ReplicaState], monkeypatch: pytest.MonkeyPatch
) -> None:
    replica_states["replica_2"] = ReplicaState(ReplicaHealth.OK, replayed_lsn=1000)
    counting = CountingCache()
    monkeypatch.setattr(routing, "cache", counting)
    with read_routing_bound(view_request(customer())):
        aliases = {router.db_for_read(Product) for _ in range(20)}
    assert len(aliases) == 1
    assert counting.lookups == 1  # one cache round trip per request, on its first read


def test_a_viewer_pinned_past_the_replicas_position_reads_the_primary(
    replica_states: dict[str, ReplicaState],
) -> None:
    cache.set(PIN_KEY_PREFIX + "user:7", 1001)
    assert read_alias(view_request(customer(7))) == PRIMARY
    assert read_alias(view_request(customer(8))) == REPLICA  # another viewer
    replica_states[REPLICA] = ReplicaState(ReplicaHealth.OK, replayed_lsn=1001)
    assert read_alias(view_request(customer(7))) == REPLICA  # replayed: back to the replica


def test_a_signed_in_viewer_also_waits_for_what_their_address_wrote(
    replica_states: dict[str, ReplicaState],
) -> None:
    """A sign-up (anonymous, keyed by address), then the new customer's first reads."""
    cache.set(PIN_KEY_PREFIX + "client:198.51.100.4", 5000)
    assert read_alias(view_request(customer(), address="198.51.100.4")) == PRIMARY
    assert read_alias(view_request(customer(), address="198.51.100.5")) == REPLICA


def test_a_redis_outage_sends_reads_to_the_primary(
    replica_states: dict[str, ReplicaState], monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    unreachable = routing.Pins()
    monkeypatch.setattr(routing, "pins", lambda: unreachable)
    assert read_alias(view_request(customer())) == PRIMARY


@pytest.mark.services
def test_pins_in_redis_are_read_by_every_process_and_expire(settings: Settings) -> None:
    settings.REDIS_URL = service_url("REDIS_URL")
    writer, reader = routing.Pins(), routing.Pins()  # two processes' clients
    key = f"user:{uuid.uuid4().hex}"
    writer.keep(key, 123, seconds=pin_seconds())
    assert reader.highest((key, "client:192.0.2.1")) == 123
    assert 0 < redis.Redis.from_url(settings.REDIS_URL).ttl(PIN_KEY_PREFIX + key) <= pin_seconds()


@pytest.mark.django_db(transaction=True)
def test_a_writers_position_is_kept_for_the_lag_bound_and_staff_keep_none(
    replica_states: dict[str, ReplicaState], count_queries: type[QueryCounter]
) -> None:
    writer = user_create()
    staff = user_create(is_staff=True)
    for user in (writer, staff, AnonymousUser()):
        with read_routing_bound(view_request(user)) as routing:
            routing.wrote = True
            with count_queries() as queries:
                writes_record(routing)
        assert queries.count == (0 if user is staff else 1)
    assert cache.get(PIN_KEY_PREFIX + f"user:{writer.pk}") > 0
    assert cache.get(PIN_KEY_PREFIX + f"user:{staff.pk}") is None
    assert cache.get(PIN_KEY_PREFIX + "client:203.0.113.7") > 0
    assert pin_seconds() > 5  # DATABASE_REPLICA_MAX_LAG_SECONDS (5) and a replica state's age


def test_migrations_run_on_the_primary_only() -> None:
    assert router.allow_migrate(PRIMARY, "catalog")
    assert not router.allow_migrate(REPLICA, "catalog")


def test_a_replica_state_follows_the_lag_bound(settings: Settings) -> None:
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 5
    assert replica_state_from(True, 10, 0).health is ReplicaHealth.OK
    assert replica_state_from(True, 10, 5.0).health is ReplicaHealth.OK
    assert replica_state_from(True, 10, 5.5).health is ReplicaHealth.LAGGING
    assert replica_state_from(True, 10, None).health is ReplicaHealth.LAGGING
    assert replica_state_from(False, None, None).health is ReplicaHealth.NOT_A_REPLICA


# --- Without replicas -----------------------------------------------------------------------


def test_without_replicas_no_router_is_installed(settings: Settings) -> None:
    assert settings.DATABASE_REPLICA_URLS == []
    assert settings.DATABASE_ROUTERS == []


DATABASE_MIDDLEWARE = "backend.core.databases.DatabaseMiddleware"
ACCOUNT_REGISTER = """
mutation ($email: String!) {
  accountRegister(input: {email: $email, password: "a-long-enough-Passw0rd"}) {
    user { email } errors { code }
  }
}
"""
PRODUCTS = "{ products(first: 5) { edges { node { name } } } }"


@pytest.mark.django_db
def test_without_replicas_a_request_costs_no_statement_for_routing(
    count_queries: type[QueryCounter], settings: Settings, in_process_layer_and_cache: None
) -> None:
    """The same write and read, with and without the database middleware: the same statements
    (a writer's position is recorded only where replicas are configured)."""
    counts: list[tuple[int, int]] = []
    without = [name for name in settings.MIDDLEWARE if name != DATABASE_MIDDLEWARE]
    # The first run fills the process's caches (roles, content types); the others compare.
    for middleware in (settings.MIDDLEWARE, settings.MIDDLEWARE, without):
        settings.MIDDLEWARE = middleware
        gql = GraphQLClient()
        with count_queries() as write:
            gql.mutate(ACCOUNT_REGISTER, {"email": f"{len(counts)}@example.com"})
        with count_queries() as read:
            gql.data(PRODUCTS)
        counts.append((write.count, read.count))
    assert counts[1] == counts[2]
