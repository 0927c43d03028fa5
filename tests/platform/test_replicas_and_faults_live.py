"""Read replicas, a pooler and database faults, for real: Nexus (Daphne, in a subprocess) on a
private primary behind PgBouncer in transaction mode (prepared statements off), with a
streaming replica of that primary, and servers the tests stop and start.

Which server answered a read is told by what it returns: the replica's replay is paused, so
it still has a product's old name after the staff renamed it on the primary.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings

from backend.api.management.commands.demo_load import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD
from backend.core.replicas import CHECK_INTERVAL_SECONDS
from tests.live_server import live_server
from tests.servers import (
    PgBouncer,
    PostgresCluster,
    pgbouncer,
    postgres_primary,
    postgres_replica,
    redis_server,
    replica_caught_up,
)

MAX_LAG_SECONDS = 4
POOL_TIMEOUT_SECONDS = 2
# PgBouncer: how long a query waits for a server, how long logins are refused after a failure.
QUERY_WAIT_TIMEOUT_SECONDS = 2
SERVER_LOGIN_RETRY_SECONDS = 1
# A request while the primary is down: at most the pooler's wait, then the pool's, and slack.
UNAVAILABLE_WITHIN_SECONDS = QUERY_WAIT_TIMEOUT_SECONDS + POOL_TIMEOUT_SECONDS + 2
PRODUCT_SLUG = "shoe-run-001"  # demo_load's "Trail runner"
PRODUCT_NAME = "Trail runner"

SETUP = (
    "from django.core.management import call_command; "
    "call_command('migrate', verbosity=0); call_command('demo_load', verbosity=0)"
)


@dataclass
class Topology:
    primary: PostgresCluster
    replica: PostgresCluster
    bouncer: PgBouncer
    base_url: str


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with postgres_primary() as primary:
        with primary.connect() as connection:
            connection.execute("CREATE DATABASE nexus")
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SETUP],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DEBUG": "true", "DATABASE_URL": primary.url("nexus")},
            check=True,
            capture_output=True,
        )
        with (
            postgres_replica(primary) as replica,
            pgbouncer(
                primary,
                query_wait_timeout=QUERY_WAIT_TIMEOUT_SECONDS,
                server_login_retry=SERVER_LOGIN_RETRY_SECONDS,
            ) as bouncer,
            redis_server() as redis,  # read-your-writes pins, private to this run
        ):
            environment = {
                "DATABASE_URL": bouncer.url("nexus"),
                "DATABASE_POOLER": "transaction",
                "DATABASE_PREPARED_STATEMENTS": "false",
                "DATABASE_REPLICA_URLS": replica.url("nexus"),
                "DATABASE_REPLICA_MAX_LAG_SECONDS": str(MAX_LAG_SECONDS),
                "DATABASE_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT_SECONDS),
                "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
                "REDIS_URL": redis.url(),
                "CELERY_BROKER_URL": "",  # tasks run in-process: no broker to reach
                "PAYMENT_GATEWAY_LATENCY_MS": "0",
            }
            log = tmp_path_factory.mktemp("replicas") / "daphne.log"
            with live_server(environment, log) as base_url:
                yield Topology(primary, replica, bouncer, base_url)


@pytest.fixture
def servers(topology: Topology) -> Topology:
    """Both servers running and the replica replaying, whatever an earlier test stopped."""
    for cluster in (topology.primary, topology.replica):
        if not cluster.running():
            cluster.start()
    with topology.replica.connect("nexus") as connection:
        connection.execute("SELECT pg_wal_replay_resume()")
    replica_caught_up(topology.primary, topology.replica)
    return topology


class Viewer:
    """One client of the API from an address of its own (behind the trusted local proxy, as
    X-Forwarded-For), so no other viewer's writes pin its reads."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"
        self.token = token

    def request(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any, Any]:
        headers = {"X-Forwarded-For": self.address, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.load(error)

    def graphql(self, query: str, **variables: Any) -> Any:
        status, _, body = self.request("/graphql/", {"query": query, "variables": variables})
        assert status == 200, body
        assert "errors" not in body, body
        return body["data"]

    def product_name(self) -> str:
        query = "query ($slug: String!) { product(slug: $slug) { name } }"
        return self.graphql(query, slug=PRODUCT_SLUG)["product"]["name"]

    def order_ids(self) -> list[str]:
        data = self.graphql("{ orders(first: 10) { edges { node { id } } } }")
        return [edge["node"]["id"] for edge in data["orders"]["edges"]]


def signed_in(base_url: str, email: str, password: str) -> Viewer:
    viewer = Viewer(base_url)
    data = viewer.graphql(
        "mutation ($email: String!, $password: String!) {"
        " tokenCreate(email: $email, password: $password) { accessToken errors { code } } }",
        email=email,
        password=password,
    )
    assert data["tokenCreate"]["errors"] == [], data
    viewer.token = data["tokenCreate"]["accessToken"]
    return viewer


def new_customer(base_url: str) -> Viewer:
    email, password = f"{uuid.uuid4().hex[:12]}@example.com", "a-long-enough-Passw0rd"
    data = Viewer(base_url).graphql(
        "mutation ($input: AccountRegisterInput!) { accountRegister(input: $input) {"
        " errors { code } } }",
        input={"email": email, "password": password},
    )
    assert data["accountRegister"]["errors"] == [], data
    return signed_in(base_url, email, password)


def readiness(base_url: str) -> tuple[int, Any]:
    status, _, body = Viewer(base_url).request("/readyz")
    return status, body


def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {seconds} s"
        time.sleep(0.2)


def test_reads_come_from_a_replica_except_the_staffs_and_a_writers_own(servers: Topology) -> None:
    staff = signed_in(servers.base_url, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD)
    customer = new_customer(servers.base_url)
    anonymous = Viewer(servers.base_url)
    product_id = anonymous.graphql(
        "query ($slug: String!) { product(slug: $slug) { id } }", slug=PRODUCT_SLUG
    )["product"]["id"]
    # The replica has replayed the sign-ins, and each process has seen it do so.
    replica_caught_up(servers.primary, servers.replica)
    time.sleep(2 * CHECK_INTERVAL_SECONDS)
    with servers.replica.connect("nexus") as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        renamed = f"Renamed {uuid.uuid4().hex[:6]}"
        # Within MAX_LAG_SECONDS of the last replayed commit, the replica still serves.
        data = staff.graphql(
            "mutation ($id: ID!, $name: String!) { productUpdate(id: $id, input: {name: $name})"
            " { product { name } errors { code } } }",
            id=product_id,
            name=renamed,
        )
        assert data["productUpdate"]["product"]["name"] == renamed
        assert staff.product_name() == renamed  # staff read the primary
        assert anonymous.product_name() == PRODUCT_NAME  # the paused replica
        assert customer.product_name() == PRODUCT_NAME  # the replica: nothing written yet

        order = customer.graphql(
            "mutation ($input: OrderCreateInput!) { orderCreate(input: $input)"
            " { order { id } errors { code } } }",
            input={
                "idempotencyKey": uuid.uuid4().hex,
                "lines": [{"productId": product_id, "quantity": 1}],
            },
        )["orderCreate"]
        assert order["errors"] == [], order
        # Read-your-writes: the customer now reads the primary, and sees the renamed product
        # too; the anonymous viewer still reads the replica.
        assert order["order"]["id"] in customer.order_ids()
        assert customer.product_name() == renamed
        assert anonymous.product_name() == PRODUCT_NAME

        # Lagging beyond DATABASE_REPLICA_MAX_LAG_SECONDS: every read goes to the primary.
        until(
            lambda: readiness(servers.base_url)[1]["replicas"] == {"replica_1": "lagging"},
            MAX_LAG_SECONDS + 5,
            "lagging",
        )
        assert anonymous.product_name() == renamed
        replica.execute("SELECT pg_wal_replay_resume()")
    until(
        lambda: readiness(servers.base_url)[1]["replicas"] == {"replica_1": "ok"},
        5,
        "ok again",
    )


def test_a_stopped_replica_sends_reads_to_the_primary(servers: Topology) -> None:
    anonymous = Viewer(servers.base_url)
    expected = anonymous.product_name()
    servers.replica.stop()
    # The first reads meet the replica's dead connections and run again on the primary.
    for _ in range(3):
        assert anonymous.product_name() == expected
    status, body = readiness(servers.base_url)
    assert status == 200, body  # a replica down never makes the process unready
    assert body["replicas"] == {"replica_1": "down"}
    assert body["checks"]["database"] == "ok"


def test_a_stopped_primary_answers_503_in_bounded_time_and_recovers_without_restart(
    servers: Topology,
) -> None:
    customer = new_customer(servers.base_url)
    anonymous = Viewer(servers.base_url)
    orders_before = customer.order_ids()
    servers.primary.stop()
    try:
        # The bearer token's user lookup fails (a middleware), and a mutation (a view).
        started = time.monotonic()
        status, headers, body = customer.request(
            "/graphql/", {"query": "{ orders(first: 1) { edges { node { id } } } }"}
        )
        assert time.monotonic() - started < UNAVAILABLE_WITHIN_SECONDS
        assert (status, headers["Retry-After"]) == (503, "5"), body
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "127.0.0.1" not in body["errors"][0]["message"]  # nothing of the driver's text

        started = time.monotonic()
        status, _, body = anonymous.request(
            "/graphql/",
            {"query": 'mutation { tokenCreate(email: "a@b.c", password: "x") { accessToken } }'},
        )
        assert time.monotonic() - started < UNAVAILABLE_WITHIN_SECONDS
        assert status == 503, body
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"

        status, headers, body = customer.request("/api/v1/orders")
        assert status == 503, body
        assert headers["Content-Type"] == "application/problem+json"
        assert body["code"] == "SERVICE_UNAVAILABLE"

        # Anonymous catalog reads go on from the replica; readiness fails on the primary.
        assert anonymous.product_name()
        status, body = readiness(servers.base_url)
        assert status == 503, body
        assert body["checks"]["database"] == "failed"
        assert body["replicas"] == {"replica_1": "ok"}
    finally:
        servers.primary.start()

    def orders_answer() -> bool:
        status, _, body = customer.request(
            "/graphql/", {"query": "{ orders(first: 10) { edges { node { id } } } }"}
        )
        return status == 200 and "errors" not in body

    until(orders_answer, 20, "answering after the primary's restart")
    for _ in range(3):
        assert customer.order_ids() == orders_before
