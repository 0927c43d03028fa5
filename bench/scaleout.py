"""Scale-out benchmark: what a second web or ws process buys, through the proxy, on this machine.

    .venv/bin/python bench/scaleout.py [--duration 10] [--rounds 3] [--connections 16]
    .venv/bin/python bench/scaleout.py --measure fanout [--sockets 1000 2000]

Starts the topology of tests/topology/harness.py (private PostgreSQL primary and replica,
PgBouncer, RabbitMQ, Redis; granian, Daphne, Celery and Caddy as the compose services run
them, DEBUG off) for each measurement. Requests (``--measure requests``), three topologies:

1. one web process pinned to CPU 0 (``taskset``): scenario (a) of bench/scenarios.py, the
   product list page, POSTed to Caddy by ``wrk``;
2. two web processes, pinned to CPU 0 and CPU 1, behind the same proxy: scenario (a) again;
3. two web processes and two workers: ``orderCreate`` over HTTP, every request a new order
   (its own idempotency key) of one unit of one product (so every order waits for the
   previous one's lock on that product's row), by 50 customers in turn.

The other servers, the proxy and wrk are not pinned: on a two-core machine they share the
cores with the web processes, as they would in a one-machine deployment. Requests/s and
latency come from wrk; "web CPU" is the web processes' CPU time per request. Each run is
preceded by a warm-up; the report gives the median of the rounds and their range.

Subscription fan-out (``--measure fanout``), with one ws process and then two, one web
process and one worker: for each of ``--sockets``, that many idle sockets
(bench/subscriptions.py's clients) connect through Caddy, which spreads them over the ws
processes round robin (counted from each Daphne's access log), all following one new order.
After ``--hold`` seconds the order moves three times through the API: its customer pays it
(a worker charges it and publishes PAID), staff ship it and deliver it (web publishes). For
each move: when each socket got the event, from the event's ``created_at`` (stamped when the
publishing transaction writes it, a few statements before its commit; one clock, one
machine): p50, p99 and the
last, i.e. the time until every socket had it; sockets that missed it; the ws processes' CPU
seconds meanwhile, and this process's (the clients', one asyncio loop reading every socket:
whether the load generator kept up).

Prints the results; docs/performance.md keeps them with the machine's load.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make ``backend``, ``bench``, ``tests`` importable
# The harness's servers are started from this process, which is only a client: its own Django
# settings (needed by the test helpers it imports) are the development ones.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from bench.catalog import (  # noqa: E402
    WRK_REPORT,
    BenchError,
    Load,
    cpu_ticks,
    load_average,
    process_cpu_seconds,
    run_wrk,
    steal_share,
)
from bench.scenarios import SCENARIOS  # noqa: E402
from bench.subscriptions import receipts, subscribers  # noqa: E402
from tests.topology.harness import Topology, topology  # noqa: E402

ORDER_CREATE = (
    "mutation Place($input: OrderCreateInput!) { orderCreate(input: $input) "
    "{ order { id } errors { code } } }"
)
# Every request a new order: its key is the run's, the wrk thread's id and a counter (a key
# sent again would be answered with the order it placed, not place one); its customer the next
# of TOKENS (what a customer holds unpaid is counted on every order they place).
ORDER_SCRIPT = (
    """
wrk.method = "POST"
TOKENS = {%(tokens)s}
FAILED = '"errors":[{'
local counter = 0
function request()
  counter = counter + 1
  local key = "%(run)s-" .. id .. "-" .. counter
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. TOKENS[(counter + id) %% #TOKENS + 1],
  }
  return wrk.format(nil, nil, headers, string.format([==[%(body)s]==], key))
end
"""
    + WRK_REPORT
)
# A customer may hold only so many unpaid orders (and units of one product): not here.
UNLIMITED_ORDERS = {
    "ORDER_MAX_PENDING_PER_CUSTOMER": "100000000",
    "ORDER_MAX_UNPAID_UNITS_PER_PRODUCT": "100000000",
}
PLACE = (
    "mutation Place($input: OrderCreateInput!) { orderCreate(input: $input) "
    "{ order { id } errors { code message } } }"
)
# The moves of the followed order: by whom (customer or staff), the mutation, the status.
MOVES = [
    ("customer", "mutation Pay($id: ID!) { orderPay(id: $id) { errors { code } } }", "PAID"),
    ("staff", "mutation Ship($id: ID!) { orderShip(id: $id) { errors { code } } }", "SHIPPED"),
    (
        "staff",
        "mutation Deliver($id: ID!) { orderDeliver(id: $id) { errors { code } } }",
        "DELIVERED",
    ),
]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="Seconds per run.")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of warm-up per run.")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each measurement.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--products", type=int, default=10_000, help="Seed catalog size.")
    parser.add_argument("--customers", type=int, default=50, help="Customers placing orders.")
    parser.add_argument(
        "--measure", nargs="+", choices=["requests", "fanout"], default=["requests", "fanout"]
    )
    parser.add_argument(
        "--sockets", type=int, nargs="+", default=[1000], help="Fan-out: idle sockets, in turn."
    )
    parser.add_argument(
        "--hold", type=float, default=5.0, help="Fan-out: idle seconds before the first move."
    )
    return parser.parse_args()


def measure(
    running: Topology,
    arguments: argparse.Namespace,
    scratch: Path,
    *,
    body: Mapping[str, object],
    lua: Callable[[], str] | None = None,
) -> list[tuple[Load, float]]:
    """``rounds`` wrk runs through the proxy after a warm-up, each POSTing ``body`` or running
    a fresh script from ``lua``; each with the web processes' CPU milliseconds per request."""
    options = {
        "connections": arguments.connections,
        "threads": arguments.threads,
        "script_dir": scratch,
        "server_pid": running.web[0].pid,
    }
    url = f"{running.url}/graphql/"
    run_wrk(url, dict(body), seconds=arguments.warmup, lua=lua() if lua else None, **options)
    results = []
    for _ in range(arguments.rounds):
        before = sum(process_cpu_seconds(p.pid) for p in running.web)
        script = lua() if lua else None
        load = run_wrk(url, dict(body), seconds=arguments.duration, lua=script, **options)
        web_cpu = sum(process_cpu_seconds(p.pid) for p in running.web) - before
        results.append((load, web_cpu * 1000 / max(load.requests, 1)))
        print(f"    {load.requests_per_second:8.0f} req/s  {load}", flush=True)
    return results


def summary(name: str, results: list[tuple[Load, float]]) -> str:
    rates = [load.requests_per_second for load, _ in results]
    p50 = statistics.median(load.p50_ms for load, _ in results)
    p99 = statistics.median(load.p99_ms for load, _ in results)
    cpu = statistics.median(ms for _, ms in results)
    errors = sum(load.errors for load, _ in results)
    return (
        f"| {name} | {statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) "
        f"| {p50:.1f} | {p99:.1f} | {cpu:.2f} | {errors} |"
    )


def fanout(running: Topology, sockets: int, hold: float) -> list[str]:
    """One new order followed by ``sockets`` sockets through the proxy, moved through MOVES;
    a report row per move."""
    customer = running.token(running.accounts.customers[0])
    tokens = {"customer": customer, "staff": running.token(running.accounts.staff)}
    lines = [{"productId": running.product_id, "quantity": 1}]
    placed = running.post(
        PLACE, {"input": {"idempotencyKey": uuid.uuid4().hex, "lines": lines}}, token=customer
    ).data["orderCreate"]
    assert placed["errors"] == [], placed
    order_id = placed["order"]["id"]
    url = running.url.replace("http", "ws", 1) + "/graphql/"

    async def follow() -> list[str]:
        accepted_before = running.ws_connections()
        started = time.perf_counter()
        opened = await subscribers(url, customer, order_id, sockets)
        handshakes_s = time.perf_counter() - started
        accepted = running.ws_connections()
        spread = " + ".join(
            f"{accepted[name] - accepted_before[name]:,}" for name in sorted(accepted)
        )
        await asyncio.sleep(hold)  # idle: every subscription has joined the order's group
        rows = []
        for who, mutation, status in MOVES:
            cpu_before = sum(process_cpu_seconds(p.pid) for p in running.ws)
            client_cpu_before = time.process_time()
            receiving = asyncio.ensure_future(receipts(opened, status))
            answer = await asyncio.to_thread(
                running.post, mutation, {"id": order_id}, token=tokens[who]
            )
            (payload,) = answer.data.values()
            assert payload["errors"] == [], payload
            outcomes = await receiving
            ws_cpu_s = sum(process_cpu_seconds(p.pid) for p in running.ws) - cpu_before
            client_cpu_s = time.process_time() - client_cpu_before
            written = _event_written(running, order_id, status)
            latencies = sorted(
                (arrival - written) * 1000 for arrival in outcomes if isinstance(arrival, float)
            )
            missed = len(outcomes) - len(latencies)
            rows.append(
                f"| {len(running.ws)} | {sockets:,} ({spread}) | {handshakes_s:.1f} | {status} "
                f"| {_percentile(latencies, 50):,.0f} | {_percentile(latencies, 99):,.0f} "
                f"| {latencies[-1]:,.0f} | {ws_cpu_s:.2f} | {client_cpu_s:.2f} | {missed} |"
            )
            print(f"    {rows[-1]}", flush=True)
        await asyncio.gather(*(ws.close() for ws in opened))
        return rows

    return asyncio.run(follow())


def _event_written(running: Topology, order_id: str, status: str) -> float:
    """The ``perf_counter`` at which the order's event to ``status`` was stamped: its
    ``created_at``, on the wall clock, moved to this process's monotonic one."""
    from strawberry.relay import from_base64

    ((created_at,),) = running.sql(
        "SELECT created_at FROM orders_orderevent WHERE order_id = %s AND to_status = %s",
        (int(from_base64(order_id)[1]), status),
    )
    return time.perf_counter() - (time.time() - created_at.timestamp())


def _percentile(values: list[float], percent: int) -> float:
    """Inclusive: with few samples a percentile never lands past the largest one."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def measure_fanout(arguments: argparse.Namespace, scratch: Path) -> list[str]:
    """Fan-out rows with one ws process, then two."""
    rows: list[str] = []
    for ws in (1, 2):
        print(f"fan-out, {ws} ws process(es): starting the topology", flush=True)
        with topology(
            scratch / f"topology-fanout-{ws}",
            web=1,
            ws=ws,
            workers=1,
            payment_latency_ms=0,
            settings={"GRAPHQL_WS_MAX_CONNECTIONS_PER_USER": str(max(arguments.sockets) + 10)},
        ) as running:
            print(f"  started in {running.startup['ready']:.1f} s", flush=True)
            for sockets in arguments.sockets:
                rows += fanout(running, sockets, arguments.hold)
    return rows


def measure_requests(arguments: argparse.Namespace, scratch: Path) -> list[str]:
    """Requests/s rows: the list page with one web process, then two; orderCreate."""
    list_page = {"query": SCENARIOS["a"].query, "variables": {"first": 20}}
    rows = []
    configurations = [
        ("(a), 1 web process on CPU 0", {"web": 1, "cpus": {"web-1": "0"}}),
        ("(a), 2 web processes on CPU 0 and 1", {"web": 2, "cpus": {"web-1": "0", "web-2": "1"}}),
    ]
    for index, (name, shape) in enumerate(configurations):
        print(f"{name}: starting the topology", flush=True)
        with topology(
            scratch / f"topology-{index}",
            ws=1,
            workers=1,
            products=arguments.products,
            **shape,  # type: ignore[arg-type]
        ) as running:
            print(f"  started in {running.startup['ready']:.1f} s", flush=True)
            rows.append(summary(name, measure(running, arguments, scratch, body=list_page)))

    name = "orderCreate, 2 web processes, 2 workers"
    print(f"{name}: starting the topology", flush=True)
    with topology(
        scratch / "topology-orders",
        ws=1,
        products=arguments.products,
        customers=arguments.customers,
        settings=UNLIMITED_ORDERS,
    ) as running:
        tokens = ", ".join(f'"{running.token(email)}"' for email in running.accounts.customers)
        variables = {
            "input": {
                "idempotencyKey": "KEY",
                "lines": [{"productId": running.product_id, "quantity": 1}],
            }
        }
        template = json.dumps({"query": ORDER_CREATE, "variables": variables})
        body = template.replace('"KEY"', '"%s"')

        def lua() -> str:
            return ORDER_SCRIPT % {"tokens": tokens, "body": body, "run": uuid.uuid4().hex[:12]}

        results = measure(running, arguments, scratch, body={}, lua=lua)
        ((placed,),) = running.sql("SELECT count(*) FROM orders_order")
        measured = sum(load.requests for load, _ in results)
        if placed < measured:  # the warm-up placed some more
            raise BenchError(f"{placed} orders placed for {measured} requests")
        rows.append(summary(name, results))
    return rows


def main() -> None:
    arguments = parse_arguments()
    if "requests" in arguments.measure and shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: `apt-get install -y wrk`).")
    load_before, ticks_before = load_average(), cpu_ticks()
    with tempfile.TemporaryDirectory(prefix="nexus-scaleout-") as scratch_name:
        scratch = Path(scratch_name)
        requests = measure_requests(arguments, scratch) if "requests" in arguments.measure else []
        fanouts = measure_fanout(arguments, scratch) if "fanout" in arguments.measure else []

    print(
        f"\n{os.cpu_count()} CPUs; load average {load_before} before, {load_average()} after; "
        f"CPU steal {steal_share(ticks_before, cpu_ticks())}\n"
    )
    if requests:
        print(
            f"wrk {arguments.connections} connections / {arguments.threads} threads, "
            f"{arguments.rounds} rounds of {arguments.duration} s after {arguments.warmup} s "
            "warm-up\n"
        )
        print(
            "| run | requests/s, median (range) | p50 ms | p99 ms | web CPU ms/request | errors |"
        )
        print("|---|---|---|---|---|---|")
        print("\n".join(requests))
    if fanouts:
        print(f"\nfan-out: sockets held idle {arguments.hold:.0f} s before the first move\n")
        print(
            "| ws processes | sockets (per ws process) | handshakes s | event | p50 ms | p99 ms "
            "| all delivered ms | ws CPU s | client CPU s | missed |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(fanouts))


if __name__ == "__main__":
    main()
