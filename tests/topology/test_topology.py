"""Nexus scaled out on this machine (tests/topology/harness.py), and the faults it survives.

Clients reach the topology only through its proxy, as they would in production: GraphQL over
HTTP to the two web processes, subscriptions to the two ws processes, payments charged by the
two workers. Each fault is injected into the running topology (module-scoped: it starts once),
its recovery is measured (listed in the run's summary) and the topology is made whole again
before the next test.
"""

import asyncio
import os
import signal
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from strawberry.relay import from_base64
from websockets.exceptions import ConnectionClosed

from tests.api.websocket.test_end_to_end import assert_quiet, next_change, open_subscription
from tests.servers import PostgresCluster
from tests.topology.harness import Answer, AppProcess, Topology, topology

pytestmark = pytest.mark.services

# Long enough to kill a worker between the gateway's charge and its answer.
PAYMENT_LATENCY_MS = 2000
WAIT_SECONDS = 30
# A request that cannot reach the primary is answered 503 within this: the pooler's wait for a
# server, then Nexus's, with slack; a client's own timeout is longer.
FAIL_FAST_SECONDS = 5
# Enough for round robin to have picked the killed web process more than once.
REQUESTS_WHILE_WEB_IS_DOWN = 10

PLACE = """
mutation Place($input: OrderCreateInput!) {
  orderCreate(input: $input) {
    order { id events(first: 1) { edges { node { id } } } }
    errors { code message }
  }
}
"""
PAY = "mutation Pay($id: ID!) { orderPay(id: $id) { errors { code message } } }"
SHIP = "mutation Ship($id: ID!) { orderShip(id: $id) { errors { code message } } }"
DELIVER = "mutation Deliver($id: ID!) { orderDeliver(id: $id) { errors { code message } } }"
ORDER = "query Order($id: ID!) { order(id: $id) { id status } }"
PRODUCTS = "query Products { products(first: 20) { edges { node { id name } } } }"
PRODUCT = "query Product($slug: String!) { product(slug: $slug) { id category { id } } }"
PRODUCT_CREATE = """
mutation ProductCreate($input: ProductCreateInput!) {
  productCreate(input: $input) { product { id } errors { code message } }
}
"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with topology(
        tmp_path_factory.mktemp("topology"), payment_latency_ms=PAYMENT_LATENCY_MS
    ) as started:
        print(f"topology started: {started.startup}")
        yield started
        print(started.logs())  # shown by pytest when the module's last test fails


@pytest.fixture(autouse=True)
def whole_again(running: Topology) -> Iterator[None]:
    """Each test starts on the whole topology: whatever a fault left down is brought back."""
    yield
    running.restore()


# --- Clients and observations -------------------------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    id: str
    pk: int
    created_event: str  # the id of its PENDING event: subscribing ``since`` it misses nothing


def pk_of(global_id: str) -> int:
    return int(from_base64(global_id)[1])


def until[T](check: Callable[[], T | None], what: str, seconds: float = WAIT_SECONDS) -> T:
    """The first true result of ``check``, polled; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds} s"
        time.sleep(0.05)
    return result


def order_input(running: Topology) -> dict[str, Any]:
    """orderCreate's variables: one unit of the stock product, under a fresh key."""
    lines = [{"productId": running.product_id, "quantity": 1}]
    return {"input": {"idempotencyKey": uuid.uuid4().hex, "lines": lines}}


def place(running: Topology, token: str) -> PlacedOrder:
    payload = running.post(PLACE, order_input(running), token=token).data["orderCreate"]
    assert payload["errors"] == [], payload
    order = payload["order"]
    return PlacedOrder(order["id"], pk_of(order["id"]), order["events"]["edges"][0]["node"]["id"])


def change(running: Topology, mutation: str, order: PlacedOrder, token: str) -> None:
    (payload,) = running.post(mutation, {"id": order.id}, token=token).data.values()
    assert payload["errors"] == [], payload


def customer(running: Topology) -> str:
    return running.token(running.accounts.customers[0])


def staff(running: Topology) -> str:
    return running.token(running.accounts.staff)


def order_status(running: Topology, order: PlacedOrder) -> str:
    ((status,),) = running.sql("SELECT status FROM orders_order WHERE id = %s", (order.pk,))
    return status


def order_events(running: Topology, order: PlacedOrder) -> list[tuple[int, str]]:
    return running.sql(  # type: ignore[return-value]
        "SELECT id, to_status FROM orders_orderevent WHERE order_id = %s ORDER BY id",
        (order.pk,),
    )


def newly_connected(before: dict[str, int], after: dict[str, int]) -> str:
    """The one ws process that accepted a connection between ``before`` and ``after``."""
    (name,) = [name for name in after if after[name] > before.get(name, 0)]
    return name


def operations_answered(running: Topology, process: AppProcess) -> dict[str, float]:
    """GraphQL operations ``process`` has answered, by operation name, from its own /metrics."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{process.port}/metrics",
        headers={"Authorization": f"Bearer {running.environment['METRICS_BEARER_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        sample.labels["operation_name"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "nexus_graphql_operation_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }


def open_connections_to(port: int | None) -> int:
    """This machine's TCP connections to local ``port`` not yet closed on their side: open,
    or told the other end closed (CLOSE_WAIT). Once a server died, only its clients' remain."""
    open_states = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT (/proc/net/tcp's st column)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            count += remote_port == port and fields[3] in open_states
    return count


def payment_running(running: Topology, order: PlacedOrder) -> tuple[AppProcess, int]:
    """The worker running ``order``'s payment task, and the pid of its pool process."""

    def find() -> tuple[AppProcess, int] | None:
        for node, tasks in running.active_tasks().items():
            for task in tasks:
                if task["name"] == "orders.payment_process" and task["args"] == [order.pk]:
                    worker = next(w for w in running.workers if node.startswith(f"{w.name}@"))
                    return worker, task["worker_pid"]
        return None

    return until(find, f"order {order.pk}'s payment task running")


def charges_of(running: Topology, order: PlacedOrder) -> list[Any]:
    return [c for c in running.charges() if c.idempotency_key.startswith(f"order-{order.pk}-")]


def assert_charged_once(running: Topology, order: PlacedOrder) -> None:
    """One charge at the gateway, one payment attempt recording it, one PAID event."""
    (charge,) = charges_of(running, order)
    attempts = running.sql(
        "SELECT outcome, gateway_reference FROM orders_paymentattempt WHERE order_id = %s",
        (order.pk,),
    )
    assert attempts == [("SUCCEEDED", charge.reference)]
    assert [status for _, status in order_events(running, order)].count("PAID") == 1


@contextmanager
def statements_logged(server: PostgresCluster) -> Iterator[Callable[[], str]]:
    """Log every statement ``server`` runs meanwhile; yields a reader of what it logged."""
    start = len(server.log())
    with server.connect() as connection:
        connection.execute("ALTER SYSTEM SET log_statement = 'all'")
        connection.execute("SELECT pg_reload_conf()")
    try:
        yield lambda: server.log()[start:]
    finally:
        with server.connect() as connection:
            connection.execute("ALTER SYSTEM RESET log_statement")
            connection.execute("SELECT pg_reload_conf()")


@contextmanager
def replay_paused(replica: PostgresCluster) -> Iterator[None]:
    """The replica receives WAL but applies none of it meanwhile: it lags behind for sure."""
    with replica.connect() as connection:
        connection.execute("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        with replica.connect() as connection:
            connection.execute("SELECT pg_wal_replay_resume()")


# --- The topology at work -------------------------------------------------------------------


def test_a_subscriber_gets_each_change_once_while_a_worker_pays_and_staff_ship_through_web(
    running: Topology,
) -> None:
    """The subscription lives on one ws process; orderPay and orderShip go through the two web
    processes in turn (round robin); a worker charges and publishes PAID through Redis."""
    token, staff_token = customer(running), staff(running)  # signed in before, not between
    order = place(running, token)
    answered_before = {p.name: operations_answered(running, p) for p in running.web}

    async def follow() -> tuple[str, list[dict[str, Any]]]:
        before = running.ws_connections()
        ws = await open_subscription(
            running.url, token, {"orderId": order.id, "since": order.created_event}
        )
        holder = newly_connected(before, running.ws_connections())
        await asyncio.to_thread(change, running, PAY, order, token)
        paid = await next_change(ws)  # charged by a worker, through Redis to the ws process
        await asyncio.to_thread(change, running, SHIP, order, staff_token)
        shipped = await next_change(ws)
        await assert_quiet(ws)
        await ws.close()
        return holder, [paid, shipped]

    holder, changes = asyncio.run(follow())

    events = order_events(running, order)
    assert [(c["status"], pk_of(c["event"]["id"])) for c in changes] == [
        (status, pk) for pk, status in events[1:]
    ]
    assert [status for _, status in events] == ["PENDING", "PAID", "SHIPPED"]
    assert holder in {p.name for p in running.ws}
    answered = {
        p.name: {
            name: count - answered_before[p.name].get(name, 0)
            for name, count in operations_answered(running, p).items()
        }
        for p in running.web
    }
    (paid_through,) = [name for name, counts in answered.items() if counts.get("Pay")]
    (shipped_through,) = [name for name, counts in answered.items() if counts.get("Ship")]
    assert paid_through != shipped_through
    assert_charged_once(running, order)


# --- Faults ---------------------------------------------------------------------------------


def test_a_payment_whose_pool_process_is_killed_mid_charge_is_redelivered_and_charged_once(
    running: Topology, recovered: Callable[[str, str, float], None]
) -> None:
    """kill -9 of the process running payment_process, after the gateway charged and before its
    answer arrived: the worker loses it, rejects the message back to the queue
    (reject_on_worker_lost), a worker runs it again with the same idempotency key and the
    gateway answers with the first charge."""
    token = customer(running)
    order = place(running, token)
    change(running, PAY, order, token)
    worker, pool_process = payment_running(running, order)
    until(lambda: charges_of(running, order), "the gateway's charge")

    os.kill(pool_process, signal.SIGKILL)
    killed = time.monotonic()
    assert order_status(running, order) == "PENDING"  # killed before it could record the charge
    until(lambda: order_status(running, order) == "PAID", "payment after the kill")
    recovery = time.monotonic() - killed

    assert_charged_once(running, order)
    assert "WorkerLostError" in worker.log_text()
    recovered(
        "kill -9 of the worker pool process running payment_process, mid-charge",
        "task redelivered, order PAID, charged once",
        recovery,
    )


def test_a_payment_whose_worker_is_killed_mid_charge_is_taken_by_the_other_and_charged_once(
    running: Topology, recovered: Callable[[str, str, float], None]
) -> None:
    """kill -9 of the whole worker (its main process and pool): its broker connection drops,
    RabbitMQ hands the unacknowledged message (acks_late) to the other worker."""
    token = customer(running)
    order = place(running, token)
    change(running, PAY, order, token)
    worker, _ = payment_running(running, order)
    until(lambda: charges_of(running, order), "the gateway's charge")

    worker.kill()
    killed = time.monotonic()
    assert order_status(running, order) == "PENDING"  # killed before it could record the charge
    until(lambda: order_status(running, order) == "PAID", "payment after the kill")
    recovery = time.monotonic() - killed

    assert not worker.running()
    assert_charged_once(running, order)
    recovered(
        "kill -9 of a whole worker (main and pool) mid-charge",
        "other worker took the task, order PAID, charged once",
        recovery,
    )


def test_a_subscriber_whose_ws_process_is_killed_reconnects_with_since_and_misses_nothing(
    running: Topology, recovered: Callable[[str, str, float], None]
) -> None:
    """kill -9 of the ws process holding the subscription: the client reconnects through the
    proxy, at once and to the other ws process, with the last event id it saw; what happened
    meanwhile is replayed, once."""
    token = customer(running)
    order = place(running, token)

    async def follow() -> tuple[list[dict[str, Any]], str, str, float]:
        before = running.ws_connections()
        ws = await open_subscription(
            running.url, token, {"orderId": order.id, "since": order.created_event}
        )
        holder = newly_connected(before, running.ws_connections())
        await asyncio.to_thread(change, running, PAY, order, token)
        paid = await next_change(ws)

        next(p for p in running.ws if p.name == holder).kill()
        killed = time.monotonic()
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT_SECONDS)
        await asyncio.to_thread(change, running, SHIP, order, staff(running))  # while away

        before = running.ws_connections()
        # Once: the proxy sends the upgrade to the live ws process, however its round robin
        # stood (deploy/Caddyfile's upstream_failover), so the client meets no 502.
        again = await open_subscription(
            running.url, token, {"orderId": order.id, "since": paid["event"]["id"]}
        )
        reconnected = time.monotonic() - killed
        new_holder = newly_connected(before, running.ws_connections())
        shipped = await next_change(again)  # replayed
        await asyncio.to_thread(change, running, DELIVER, order, staff(running))
        delivered = await next_change(again)  # live
        await assert_quiet(again)
        await again.close()
        return [paid, shipped, delivered], holder, new_holder, reconnected

    changes, holder, new_holder, reconnected = asyncio.run(follow())

    assert new_holder != holder
    events = order_events(running, order)
    assert [(c["status"], pk_of(c["event"]["id"])) for c in changes] == [
        (status, pk) for pk, status in events[1:]
    ]
    assert [status for _, status in events] == ["PENDING", "PAID", "SHIPPED", "DELIVERED"]
    recovered(
        "kill -9 of the ws process holding a subscription",
        "client resubscribed with since through the proxy at its first attempt, replay then "
        "live, nothing lost or repeated",
        reconnected,
    )


def test_while_the_primary_restarts_requests_fail_fast_and_nexus_recovers_without_a_restart(
    running: Topology, recovered: Callable[[str, str, float], None]
) -> None:
    token = customer(running)
    pids = {p.name: p.pid for p in running.processes}

    running.primary.stop("fast")
    patience = FAIL_FAST_SECONDS + 1  # long enough to see an answer come too late
    during = running.post(PLACE, order_input(running), token=token, timeout=patience)
    catalog = running.post(PRODUCTS, timeout=patience)  # anonymous: from the replica
    ready = running.get("/readyz", timeout=patience)
    running.primary.start()
    back = time.monotonic()
    until(
        lambda: running.post(PLACE, order_input(running), token=token).status == 200,
        "an order placed once the primary is back",
    )
    recovered(
        "PostgreSQL primary restarted",
        f"during the outage an order answered {during.status} in {during.seconds:.2f} s"
        f" (0: none), a catalog read {catalog.status}, /readyz {ready.status}; the time: until"
        " an order is placed again",
        time.monotonic() - back,
    )

    assert during.status == 503, during
    assert during.seconds < FAIL_FAST_SECONDS
    assert during.body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert catalog.data["products"]["edges"]
    assert ready.status == 503
    assert {p.name: p.pid for p in running.processes} == pids  # nothing was restarted


def test_catalog_reads_are_served_by_the_replica(running: Topology) -> None:
    with statements_logged(running.replica) as replica_ran:
        answer = running.post(PRODUCTS)

    assert answer.data["products"]["edges"]
    assert "catalog_product" in replica_ran()


def test_a_customer_reads_their_own_order_while_the_replica_lags_behind_it(
    running: Topology,
) -> None:
    """With replay paused the replica cannot have the order: reading it back right after
    placing it must go to the primary, while a catalog read still goes to the lagging
    replica and does not see a product added meanwhile."""
    token = customer(running)
    stock = running.post(PRODUCT, {"slug": "topology-stock"}).data["product"]
    slug = f"lagging-{uuid.uuid4().hex[:8]}"
    product = {
        "name": "Added while the replica lags",
        "slug": slug,
        "sku": slug.upper(),
        "price": "5.00",
        "category": stock["category"]["id"],
    }
    with replay_paused(running.replica):
        order = place(running, token)
        mine = running.post(ORDER, {"id": order.id}, token=token)
        added = running.post(PRODUCT_CREATE, {"input": product}, token=staff(running))
        anonymous = running.post(PRODUCT, {"slug": slug})

    assert added.data["productCreate"]["errors"] == []
    assert mine.data["order"] == {"id": order.id, "status": "PENDING"}
    assert anonymous.data["product"] is None


def test_with_the_replica_stopped_reads_fall_back_to_the_primary(
    running: Topology, recovered: Callable[[str, str, float], None]
) -> None:
    running.replica.stop("immediate")
    # The first reads may meet the replica's dead connections: they must run on the primary.
    reads = [running.post(PRODUCTS) for _ in range(3)]
    recovered(
        "PostgreSQL replica stopped",
        f"the next catalog reads answered {[read.status for read in reads]} "
        "(the time: the slowest of them)",
        max(read.seconds for read in reads),
    )

    def reported_down() -> Answer | None:
        answer = running.get("/readyz")
        return answer if answer.body.get("replicas") == {"replica_1": "down"} else None

    assert all(read.data["products"]["edges"] for read in reads)
    ready = until(reported_down, "/readyz reporting the replica down", seconds=10)
    assert ready.status == 200  # a replica down never makes the process unready


def test_with_a_web_process_killed_every_request_through_the_proxy_is_answered(
    running: Topology, recovered: Callable[[str, str, float], None]
) -> None:
    """kill -9 of a web process: the proxy sends each request it would have had to the other
    (deploy/Caddyfile's upstream_failover), so clients see no 502 while it is down. Requests
    sent once the proxy has seen the process's connections close: one already on its way to
    the process (or on a connection the proxy has not yet seen closed) is lost with it, as a
    POST is never sent twice. Last: a restarted web process reads from the primary until it
    has probed its replica (backend/core/replicas.py), which the replica tests above do not
    expect."""
    killed, survivor = running.web
    assert killed.port is not None
    answered_before = operations_answered(running, survivor).get("Products", 0)
    killed.kill()
    until(
        lambda: not open_connections_to(killed.port),
        "the proxy closing its connections to the killed process",
    )
    answers = [running.post(PRODUCTS) for _ in range(REQUESTS_WHILE_WEB_IS_DOWN)]

    assert [answer.status for answer in answers] == [200] * REQUESTS_WHILE_WEB_IS_DOWN
    answered = operations_answered(running, survivor)["Products"] - answered_before
    assert answered == REQUESTS_WHILE_WEB_IS_DOWN
    recovered(
        "kill -9 of a web process",
        f"{REQUESTS_WHILE_WEB_IS_DOWN} sequential requests through the proxy all answered 200 "
        "by the other web process (the slowest, listed, paid the proxy's retry)",
        max(answer.seconds for answer in answers),
    )
