"""Scale-out benchmark: what a second web process buys, through the proxy, on this machine.

    .venv/bin/python bench/scaleout.py [--duration 10] [--rounds 3] [--connections 16]

Starts the topology of tests/topology/harness.py (private PostgreSQL primary and replica,
PgBouncer, RabbitMQ, Redis; granian, Daphne, Celery and Caddy as the compose services run
them, DEBUG off) three times:

1. one web process pinned to CPU 0 (``taskset``): scenario (a) of bench/scenarios.py, the
   product list page, POSTed to Caddy by ``wrk``;
2. two web processes, pinned to CPU 0 and CPU 1, behind the same proxy: scenario (a) again;
3. two web processes and two workers: ``orderCreate`` over HTTP, every request a new order
   (its own idempotency key) of one unit of one product (so every order waits for the
   previous one's lock on that product's row), by 50 customers in turn.

The other servers, the proxy and wrk are not pinned: on a two-core machine they share the
cores with the web processes, as they would in a one-machine deployment. Requests/s and
latency come from wrk; "web CPU" is the web processes' CPU time per request. Each run is
preceded by a warm-up; the report gives the median of the rounds and their range. Prints the
results; docs/performance.md keeps them with the machine's load.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
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


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="Seconds per run.")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of warm-up per run.")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each measurement.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--products", type=int, default=10_000, help="Seed catalog size.")
    parser.add_argument("--customers", type=int, default=50, help="Customers placing orders.")
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


def main() -> None:
    arguments = parse_arguments()
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: `apt-get install -y wrk`).")
    list_page = {"query": SCENARIOS["a"].query, "variables": {"first": 20}}
    rows = []
    load_before, ticks_before = load_average(), cpu_ticks()
    configurations = [
        ("(a), 1 web process on CPU 0", {"web": 1, "cpus": {"web-1": "0"}}),
        ("(a), 2 web processes on CPU 0 and 1", {"web": 2, "cpus": {"web-1": "0", "web-2": "1"}}),
    ]
    with tempfile.TemporaryDirectory(prefix="nexus-scaleout-") as scratch_name:
        scratch = Path(scratch_name)
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

    print(
        f"\nwrk {arguments.connections} connections / {arguments.threads} threads, "
        f"{arguments.rounds} rounds of {arguments.duration} s after {arguments.warmup} s warm-up; "
        f"{os.cpu_count()} CPUs; load average {load_before} before, {load_average()} after; "
        f"CPU steal {steal_share(ticks_before, cpu_ticks())}\n"
    )
    print("| run | requests/s, median (range) | p50 ms | p99 ms | web CPU ms/request | errors |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
