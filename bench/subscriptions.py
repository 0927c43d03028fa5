"""Subscriptions benchmark: commit-to-receipt latency and idle subscriptions per Daphne process.

    DATABASE_URL=postgres://... REDIS_URL=redis://... [CELERY_BROKER_URL=amqp://...] \\
        .venv/bin/python bench/subscriptions.py [--transitions 200] [--idle 1000] [--hold 20]

Steps: migrate the database of ``DATABASE_URL``; start Daphne (the command ``make run`` runs,
with production settings: DEBUG off) with the Redis channel layer; then
0. worker (only with ``CELERY_BROKER_URL``): start a Celery worker (prefork, one child, a queue
   of its own) and, as soon as it is ready, pay ``--worker-orders`` orders one after another;
   the worker charges each and publishes PAID. Reports commit-of-``orderPay``-to-receipt per
   order: the first shows what a cold worker process adds to its first event. The worker is
   stopped and its queue deleted before step 1; later steps run tasks in this process.
1. latency: one customer socket follows one order at a time (``orderStatusChanged``); this
   process moves it PENDING -> PAID -> SHIPPED through ``order_transition``. The clock starts
   in an ``on_commit`` hook registered before the transition's own publish hook (so at
   commit) and stops when the client's ``recv`` returns. p50/p99 over ``--transitions``.
2. idle: ``--idle`` sockets, one subscription each, all following one order, held open for
   ``--hold`` seconds (several of channels_redis's 5 s BZPOPMIN rounds: an idle layer is where
   a receive used to fail); reports Daphne's RSS before and after, then moves that order once
   and reports how long until every socket got its event (fan-out) and Daphne's CPU seconds
   meanwhile; then closes every socket at once and reports how long Daphne took to take them
   all out of the order's group. ``errors`` counts sockets closed or silent by the event,
   channels left in the group and tracebacks in Daphne's log; anything but 0 is a failure.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make ``backend`` importable

from bench.catalog import process_cpu_seconds  # noqa: E402  after the path setup

SUBSCRIBE = """
subscription Follow($orderId: ID!) {
  orderStatusChanged(orderId: $orderId) { status event { id } order { number } }
}
"""


HANDSHAKE_BATCH = 20
FANOUT_TIMEOUT_SECONDS = 60
DRAIN_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _server_errors(log_path: Path) -> int:
    return log_path.read_text().count("Traceback (most recent call last)")


def _server_environment(**overrides: str) -> dict[str, str]:
    """Production-like settings for Daphne and the worker: DEBUG off (no query log), a
    throwaway SECRET_KEY, and the signing key of this process's tokens."""
    from cryptography.hazmat.primitives import serialization

    from backend.accounts.tokens import signing_key

    pem = signing_key().private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_PRIVATE_KEY": pem.decode(),
        "JWT_PRIVATE_KEY_FILE": "",
        **overrides,
    }


def _daphne_start(port: int, idle: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = _server_environment(
        GRAPHQL_WS_MAX_CONNECTIONS_PER_USER=str(idle + 10), LOG_LEVEL="WARNING"
    )
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*command, "backend.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group, which process_cpu_seconds reads
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"daphne did not start:\n{log_path.read_text()}") from None
            time.sleep(0.2)


def _worker_start(queue: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``celery worker`` as ``make run`` starts it (prefork), with one child, on ``queue``."""
    env = _server_environment(
        CELERY_TASK_DEFAULT_QUEUE=queue,
        PAYMENT_GATEWAY_OUTCOME="success",
        PAYMENT_GATEWAY_LATENCY_MS="0",
        LOG_LEVEL="INFO",
    )
    command = [
        sys.executable, "-m", "celery", "-A", "backend", "worker", "--concurrency=1",
        "-Q", queue, "--hostname", f"{queue}@%h", "--loglevel=INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("w") as log:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"celery worker did not start:\n{log_path.read_text()}")
        time.sleep(0.05)
    return worker


def _pay_timed(order_id: int, customer: Any) -> float:
    """Ask for the payment (the worker charges it); return the perf_counter at its commit."""
    from django.db import transaction

    from backend.orders.services import order_pay

    committed: list[float] = []
    with transaction.atomic():
        # Registered before order_pay registers its task: runs first, at commit.
        transaction.on_commit(lambda: committed.append(time.perf_counter()))
        order_pay(order_id=order_id, actor=customer)
    return committed[0]


async def _worker_events(url: str, token: str, customer: Any, orders: list[Any]) -> list[float]:
    from strawberry.relay import to_base64

    latencies: list[float] = []
    for order in orders:
        ws = await subscribe(url, token, to_base64("Order", order.pk))
        await asyncio.sleep(0.05)  # let the subscription join its group
        committed_at = await asyncio.to_thread(_pay_timed, order.pk, customer)
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        latencies.append((time.perf_counter() - committed_at) * 1000)
        assert message["payload"]["data"]["orderStatusChanged"]["status"] == "PAID", message
        await ws.close()
    return latencies


def _worker_phase(url: str, token: str, customer: Any, orders: list[Any]) -> dict[str, Any]:
    from backend.celery import app

    queue = f"bench-subscriptions-{secrets.token_hex(4)}"
    log_path = Path("/tmp") / f"{queue}-worker.log"
    app.conf.task_default_queue = queue  # where this process publishes orderPay's task
    started = time.perf_counter()
    worker = _worker_start(queue, log_path)
    ready_s = time.perf_counter() - started
    try:
        latencies = asyncio.run(_worker_events(url, token, customer, orders))
    finally:
        _stop(worker)
        with app.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
        app.conf.task_always_eager = True  # later steps: tasks in this process, no consumer
    task_seconds = [
        float(line.rsplit(" in ", 1)[1].split("s:")[0])
        for line in log_path.read_text().splitlines()
        if "orders.payment_process" in line and " succeeded in " in line
    ]
    return {
        "worker_ready_s": round(ready_s, 1),
        "first_event_ms": round(latencies[0], 1),
        "later_events_ms": [round(value, 1) for value in latencies[1:]],
        "payment_task_ms": [round(value * 1000, 1) for value in task_seconds],
        "errors": _server_errors(log_path),
    }


async def subscribe(url: str, token: str, order_gid: str) -> Any:
    """A ``graphql-transport-ws`` socket on ``url`` (``ws://.../graphql/``), signed in with
    ``token``, whose one ``orderStatusChanged`` follows the order ``order_gid``."""
    from websockets.asyncio.client import connect

    ws = await connect(url, subprotocols=["graphql-transport-ws"], max_queue=None)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    variables = {"orderId": order_gid}
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": variables},
            }
        )
    )
    return ws


async def subscribers(url: str, token: str, order_gid: str, count: int) -> list[Any]:
    """``count`` sockets of ``subscribe``, all following ``order_gid``, opened
    ``HANDSHAKE_BATCH`` at a time: a thousand handshakes at once is a denial of service."""
    sockets: list[Any] = []
    for start in range(0, count, HANDSHAKE_BATCH):
        batch = min(HANDSHAKE_BATCH, count - start)
        sockets += await asyncio.gather(*(subscribe(url, token, order_gid) for _ in range(batch)))
    return sockets


async def receipts(sockets: list[Any], status: str) -> list[float | BaseException]:
    """For each socket, the ``perf_counter`` when its next message, the order's change to
    ``status``, arrived; or what went wrong instead (closed, silent for
    ``FANOUT_TIMEOUT_SECONDS``, another message)."""

    async def receive(ws: Any) -> float:
        message = json.loads(await asyncio.wait_for(ws.recv(), FANOUT_TIMEOUT_SECONDS))
        received_at = time.perf_counter()
        assert message["payload"]["data"]["orderStatusChanged"]["status"] == status, message
        return received_at

    return await asyncio.gather(*(receive(ws) for ws in sockets), return_exceptions=True)


def _transition_timed(order_id: int, to_status: str) -> float:
    """Run the transition; return the perf_counter at its commit."""
    from django.db import transaction

    from backend.orders.services import order_transition

    committed: list[float] = []
    with transaction.atomic():
        # Registered before order_transition registers its publish: runs first, at commit.
        transaction.on_commit(lambda: committed.append(time.perf_counter()))
        order_transition(order_id=order_id, to_status=to_status)
    return committed[0]


async def _latency(url: str, token: str, orders: list[Any]) -> list[float]:
    from strawberry.relay import to_base64

    latencies: list[float] = []
    for order in orders:
        ws = await subscribe(url, token, to_base64("Order", order.pk))
        await asyncio.sleep(0.05)  # let the subscription join its group
        for status in ("PAID", "SHIPPED"):
            committed_at = await asyncio.to_thread(_transition_timed, order.pk, status)
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            received_at = time.perf_counter()
            assert message["payload"]["data"]["orderStatusChanged"]["status"] == status, message
            latencies.append((received_at - committed_at) * 1000)
        await ws.close()
    return latencies


async def _idle(
    url: str, token: str, order: Any, count: int, hold: float, daphne_pid: int
) -> dict[str, Any]:
    from strawberry.relay import to_base64
    from websockets.protocol import State

    from backend.api.graphql.orders.events import order_group

    rss_before = _rss_mb(daphne_pid)
    started = time.perf_counter()
    sockets = await subscribers(url, token, to_base64("Order", order.pk), count)
    opened_s = time.perf_counter() - started
    await asyncio.sleep(hold)  # idle: every subscription has joined the group, none hears
    rss_after = _rss_mb(daphne_pid)
    closed_while_idle = sum(ws.state is not State.OPEN for ws in sockets)
    cpu_before = process_cpu_seconds(daphne_pid)
    receiving = asyncio.ensure_future(receipts(sockets, "PAID"))
    committed_at = await asyncio.to_thread(_transition_timed, order.pk, "PAID")
    outcomes = await receiving
    fanout_cpu_s = process_cpu_seconds(daphne_pid) - cpu_before
    arrivals = sorted(
        (value - committed_at) * 1000 for value in outcomes if isinstance(value, float)
    )
    closed_at = time.perf_counter()
    await asyncio.gather(*(ws.close() for ws in sockets))
    left_in_group = await _group_drained(order_group(order.pk), closed_at + DRAIN_TIMEOUT_SECONDS)
    drained_s = time.perf_counter() - closed_at
    return {
        "subscriptions": len(sockets),
        "handshakes_s": round(opened_s, 1),
        "held_idle_s": hold,
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "kb_per_subscription": round((rss_after - rss_before) * 1024 / len(sockets), 1),
        "fanout_first_ms": round(arrivals[0], 1) if arrivals else None,
        "fanout_p50_ms": round(arrivals[len(arrivals) // 2], 1) if arrivals else None,
        "fanout_last_ms": round(arrivals[-1], 1) if arrivals else None,
        "fanout_daphne_cpu_s": round(fanout_cpu_s, 2),
        "closed_while_idle": closed_while_idle,
        "missed_event": len(sockets) - len(arrivals),
        "group_drained_s": round(drained_s, 1),
        "left_in_group": left_in_group,
    }


async def _group_drained(group: str, deadline: float) -> int:
    """Wait until Daphne has taken every closed socket out of ``group``; members left."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    key = layer._group_key(group)  # channels_redis's key of the group's sorted set
    while (left := await layer.connection(0).zcard(key)) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    return left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transitions", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=20.0, help="idle seconds before the event")
    parser.add_argument("--worker-orders", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "bench: set DATABASE_URL and REDIS_URL (Daphne and this process share them)"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("DEBUG", "true")
    # This process runs the transitions (and, without a broker, their email tasks in-process):
    # keep their console output out of the numbers.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    import django

    django.setup()
    from channels.layers import get_channel_layer
    from django.core.management import call_command

    from backend.accounts.tokens import access_token_create
    from tests.factories import category_create, order_create, product_create, user_create

    call_command("migrate", verbosity=0)
    get_channel_layer()  # this process publishes too: its cold import is not what we time
    run = secrets.token_hex(4)  # rows of earlier runs stay; names must not collide with them
    customer = user_create(email=f"bench-{run}@example.com")
    category = category_create(slug=f"bench-{run}")
    product = product_create(
        slug=f"bench-{run}", sku=f"BENCH-{run}", category=category, stock_quantity=1_000_000
    )
    orders = [
        order_create(customer=customer, products=[(product, 1)])
        for _ in range(args.transitions // 2)
    ]
    idle_order = order_create(customer=customer, products=[(product, 1)])
    worker_orders = [
        order_create(customer=customer, products=[(product, 1)]) for _ in range(args.worker_orders)
    ]
    token = access_token_create(customer)

    port = _free_port()
    log_path = Path("/tmp") / f"bench-subscriptions-daphne-{port}.log"
    server = _daphne_start(port, args.idle, log_path)
    url = f"ws://127.0.0.1:{port}/graphql/"
    try:
        if os.environ.get("CELERY_BROKER_URL") and worker_orders:
            print(json.dumps(_worker_phase(url, token, customer, worker_orders)))
        if args.transitions >= 2:
            latencies = asyncio.run(_latency(url, token, orders))
            # Inclusive: with few samples a percentile never lands past the slowest one.
            quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
            print(
                json.dumps(
                    {
                        "transitions": len(latencies),
                        "latency_p50_ms": round(quantiles[49], 2),
                        "latency_p99_ms": round(quantiles[98], 2),
                        "latency_max_ms": round(max(latencies), 2),
                    }
                )
            )
        idle = asyncio.run(_idle(url, token, idle_order, args.idle, args.hold, server.pid))
        idle["errors"] = idle["missed_event"] + idle["left_in_group"] + _server_errors(log_path)
        print(json.dumps(idle))
    finally:
        _stop(server)


if __name__ == "__main__":
    main()
