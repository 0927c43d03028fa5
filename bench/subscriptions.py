"""Subscriptions benchmark: commit-to-receipt latency and idle subscriptions per Daphne process.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
        .venv/bin/python bench/subscriptions.py [--transitions 200] [--idle 1000]

Steps: migrate the database of ``DATABASE_URL``; start Daphne (as ``make run``) with the Redis
channel layer; then
1. latency: one customer socket follows one order at a time (``orderStatusChanged``); this
   process moves it PENDING -> PAID -> SHIPPED through ``order_transition``. The clock starts
   in an ``on_commit`` hook registered before the transition's own publish hook (so at
   commit) and stops when the client's ``recv`` returns. p50/p99 over ``--transitions``.
2. idle: ``--idle`` sockets, one subscription each, all following one order; reports Daphne's
   RSS before and after, then moves that order once and reports how long until every socket
   got its event (fan-out).

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

SUBSCRIBE = """
subscription Follow($orderId: ID!) {
  orderStatusChanged(orderId: $orderId) { status event { id } order { number } }
}
"""


HANDSHAKE_BATCH = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _daphne_start(port: int, idle: int, log_path: Path) -> subprocess.Popen[bytes]:
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,
        "GRAPHQL_WS_MAX_CONNECTIONS_PER_USER": str(idle + 10),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*command, "backend.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=log
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


async def _subscribe(url: str, token: str, order_gid: str) -> Any:
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
        ws = await _subscribe(url, token, to_base64("Order", order.pk))
        await asyncio.sleep(0.05)  # let the subscription join its group
        for status in ("PAID", "SHIPPED"):
            committed_at = await asyncio.to_thread(_transition_timed, order.pk, status)
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            received_at = time.perf_counter()
            assert message["payload"]["data"]["orderStatusChanged"]["status"] == status, message
            latencies.append((received_at - committed_at) * 1000)
        await ws.close()
    return latencies


async def _idle(url: str, token: str, order: Any, count: int, daphne_pid: int) -> dict[str, Any]:
    from strawberry.relay import to_base64

    rss_before = _rss_mb(daphne_pid)
    gid = to_base64("Order", order.pk)
    sockets: list[Any] = []
    for start in range(0, count, HANDSHAKE_BATCH):  # a thousand handshakes at once is a DoS
        sockets += await asyncio.gather(
            *(_subscribe(url, token, gid) for _ in range(min(HANDSHAKE_BATCH, count - start)))
        )
    await asyncio.sleep(2)  # every subscription has checked access and joined the group
    rss_after = _rss_mb(daphne_pid)
    committed_at = await asyncio.to_thread(_transition_timed, order.pk, "PAID")

    async def receive(ws: Any) -> float:
        message = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert message["payload"]["data"]["orderStatusChanged"]["status"] == "PAID", message
        return (time.perf_counter() - committed_at) * 1000

    arrivals = sorted(await asyncio.gather(*(receive(ws) for ws in sockets)))
    await asyncio.gather(*(ws.close() for ws in sockets))
    return {
        "subscriptions": len(sockets),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "kb_per_subscription": round((rss_after - rss_before) * 1024 / len(sockets), 1),
        "fanout_first_ms": round(arrivals[0], 1),
        "fanout_p50_ms": round(arrivals[len(arrivals) // 2], 1),
        "fanout_last_ms": round(arrivals[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transitions", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
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
    from django.core.management import call_command

    from backend.accounts.tokens import access_token_create
    from tests.factories import category_create, order_create, product_create, user_create

    call_command("migrate", verbosity=0)
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
    token = access_token_create(customer)

    port = _free_port()
    log_path = Path("/tmp") / f"bench-subscriptions-daphne-{port}.log"
    server = _daphne_start(port, args.idle, log_path)
    url = f"ws://127.0.0.1:{port}/graphql/"
    try:
        if args.transitions >= 2:
            latencies = asyncio.run(_latency(url, token, orders))
            quantiles = statistics.quantiles(latencies, n=100)
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
        print(json.dumps(asyncio.run(_idle(url, token, idle_order, args.idle, server.pid))))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
