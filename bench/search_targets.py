"""The search box over HTTP, against the targets of the search issue: a search's first page for
a frequent term, a rare term and a typo; the same page with facets; as-you-type suggestions.

    DATABASE_URL=... .venv/bin/python bench/search_targets.py [--rounds 3] [--duration 10]

Run against a seeded catalog (``manage.py seed --products 1000000 --categories 200``, then
``VACUUM ANALYZE``). The seed's words are all frequent (the rarest is in 2.5 % of the
products), so the bench adds the rare term itself: RARE_PRODUCTS products named with
``RARE_WORD`` (SKUs ``BENCH-RARE-<n>``, added once). Serves Nexus as ``bench/catalog.py`` does
(granian, 2 processes, the floors in the same process) and drives each request with ``wrk``:
16 connections, then one; every case once per round, interleaved, each after a warm-up run.
The floors (``bench/scenarios.py``): for the search pages scenario (d)'s, the same statement as
the selector's, aggregated to JSON by PostgreSQL in one round trip; for the page with facets
scenario (f)'s, the same with the candidates materialized once and counted into the same
facets (``check`` compares them with the API's); for suggestions scenario (s)'s. "errors"
counts, over every run of a case, non-200 answers, answers holding ``errors`` and wrk's
socket errors. The last column gives each round's split of wrk's connections over the server's
processes and its p99: a worker keeps the connections it accepted, so an uneven split queues
the crowded worker's requests deeper, and the p99 is theirs.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script

from bench.catalog import (
    SERVERS,
    BenchError,
    Load,
    load_average,
    median_of,
    post,
    response_nodes,
    run_wrk,
    server_environment,
    start_server,
    stop_server,
)
from bench.scenarios import SEARCH_FACETS_QUERY, SEARCH_QUERY, SUGGEST_PREFIX, SUGGEST_QUERY

RARE_WORD = "theremin"
LATER_WORD_PREFIX = "kett"
RARE_PRODUCTS = 5


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    variables: dict[str, Any]
    floor: str | None  # the bench/scenarios.py scenario whose floor answers the same


# The same search's page without and with facets: the pair the facets target compares.
WIRELESS, WIRELESS_FACETS = 'frequent: "wireless" (4 %)', '"wireless" with facets'
CASES = (
    Case('frequent: "seed" (in every SKU)', SEARCH_QUERY, {"first": 20, "search": "seed"}, "d"),
    Case(WIRELESS, SEARCH_QUERY, {"first": 20, "search": "wireless"}, "d"),
    Case(f'rare: "{RARE_WORD}"', SEARCH_QUERY, {"first": 20, "search": RARE_WORD}, "d"),
    Case('typo: "headphnes"', SEARCH_QUERY, {"first": 20, "search": "headphnes"}, "d"),
    Case(WIRELESS_FACETS, SEARCH_FACETS_QUERY, {"first": 20, "search": "wireless"}, "f"),
    Case(f'suggest "{SUGGEST_PREFIX}"', SUGGEST_QUERY, {"prefix": SUGGEST_PREFIX}, "s"),
    # The start of the seed's product type Kettle, which is never a name's first word: no name
    # starts with it, so its names are a later word's, from the second statement (no floor).
    Case(
        f'suggest "{LATER_WORD_PREFIX}" (a later word)',
        SUGGEST_QUERY,
        {"prefix": LATER_WORD_PREFIX},
        None,
    ),
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per run.")
    parser.add_argument("--warmup", type=int, default=2, help="Seconds of warm-up per run.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--server", choices=sorted(SERVERS), default="granian")
    parser.add_argument("--port", type=int, default=8782)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument(
        "--cases", default="", help="Only the cases whose name holds this text, e.g. wireless."
    )
    return parser.parse_args()


def rare_products_ensure() -> int:
    """Add the rare term's products once; the number of products in the catalog."""
    from backend.catalog.models import Category, Product

    category = Category.objects.filter(slug__startswith="seed-").order_by("id").first()
    if category is None:
        raise BenchError("no seed categories; run `manage.py seed` first.")
    for n in range(RARE_PRODUCTS):
        Product.objects.get_or_create(
            sku=f"BENCH-RARE-{n}",
            defaults={
                "name": f"{RARE_WORD.title()} kit {n}",
                "slug": f"bench-rare-{n}",
                "description": f"A {RARE_WORD} to build, model {n}.",
                "price": 100 + n,
                "category": category,
            },
        )
    return Product.objects.count()


def check(base: str, cases: list[Case]) -> None:
    """Every case answers something, without errors (a search or a prefix matching nothing
    would measure a request that reads nothing, and its floor would agree with it); each
    floor returns the same nodes."""
    for case in cases:
        body = {"query": case.query, "variables": case.variables}
        api = post(f"{base}/graphql/", body)
        if api.get("errors") or not api.get("data"):
            raise BenchError(f"{case.name}: errors: {json.dumps(api)[:800]}")
        data = api["data"]
        if not (data["products"]["edges"] if "products" in data else data["productSuggest"]):
            raise BenchError(f"{case.name}: answers nothing on this catalog: {json.dumps(data)}")
        if case.floor:
            floor = post(f"{base}/bench/baseline/{case.floor}", body)
            if response_nodes(api["data"]) != response_nodes(floor["data"]):
                raise BenchError(f"{case.name}: the API and the floor answer different nodes")


Runs = dict[tuple[str, str, int], list[Load]]  # (case, "graphql" or "floor", connections)


def measure(arguments: argparse.Namespace, cases: list[Case], base: str, scratch: Path,
            server_pid: int) -> Runs:  # fmt: skip
    """Every case and its floor, with many connections then one, once per round."""
    runs: Runs = {}
    for round_number in range(1, arguments.rounds + 1):
        print(f"round {round_number} of {arguments.rounds}", flush=True)
        for case in cases:
            body = {"query": case.query, "variables": case.variables}
            targets = [("graphql", f"{base}/graphql/")]
            if case.floor:
                targets.append(("floor", f"{base}/bench/baseline/{case.floor}"))
            for connections in (arguments.connections, 1):
                for target, url in targets:
                    options: dict[str, Any] = {
                        "connections": connections,
                        "threads": arguments.threads,
                        "script_dir": scratch,
                        "server_pid": server_pid,
                    }
                    run_wrk(url, body, seconds=arguments.warmup, **options)
                    load = run_wrk(url, body, seconds=arguments.duration, **options)
                    print(f"  {case.name} {target} c{connections}: {load}", flush=True)
                    runs.setdefault((case.name, target, connections), []).append(load)
    return runs


def split_text(load: Load) -> str:
    """wrk's connections per server process in a run, "9/7" (``connection_split``)."""
    return "/".join(map(str, load.split)) or "?"


def report(arguments: argparse.Namespace, cases: list[Case], runs: Runs) -> None:
    print(
        f"| request | | req/s ({arguments.connections} conns) | p50 ms | p99 ms "
        "| single client p50 ms | single client p99 ms | errors | each round: split, p99 ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for case in cases:
        for target in ("graphql", "floor") if case.floor else ("graphql",):
            many = runs[(case.name, target, arguments.connections)]
            one = runs[(case.name, target, 1)]
            print(
                f"| {case.name} | {target} | {median_of(many, 'requests_per_second'):,.0f} "
                f"| {median_of(many, 'p50_ms'):.1f} | {median_of(many, 'p99_ms'):.1f} "
                f"| {median_of(one, 'p50_ms'):.2f} | {median_of(one, 'p99_ms'):.2f} "
                f"| {sum(load.errors for load in many + one)} "
                f"| {'; '.join(f'{split_text(load)}, {load.p99_ms:.1f}' for load in many)} |"
            )


def facets_share(arguments: argparse.Namespace, runs: Runs) -> None:
    """What the facets add to the same search's page, by the API and by the floor: a single
    client's p50, and requests/s at many connections (the target: under 30 %)."""
    page, facets = WIRELESS, WIRELESS_FACETS
    for target in ("graphql", "floor"):
        keys = [(name, target, connections) for name in (page, facets)
                for connections in (1, arguments.connections)]  # fmt: skip
        if not all(key in runs for key in keys):
            continue
        alone, added = (median_of(runs[(name, target, 1)], "p50_ms") for name in (page, facets))
        served = [
            median_of(runs[(name, target, arguments.connections)], "requests_per_second")
            for name in (page, facets)
        ]
        print(
            f"facets add ({target}): single-client p50 {added / alone - 1:+.0%}, "
            f"{arguments.connections}-connection requests/s {served[1] / served[0] - 1:+.0%}"
        )


def main() -> None:
    arguments = parse_arguments()
    cases = [case for case in CASES if arguments.cases in case.name]
    env = server_environment(arguments)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    products = rare_products_ensure()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) catalog_product")
    connection.close()
    base = f"http://127.0.0.1:{arguments.port}"
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="nexus-search-bench-") as scratch:
        log = Path(scratch) / "server.log"
        server = start_server(arguments, env, log)
        try:
            check(base, cases)
            runs = measure(arguments, cases, base, Path(scratch), server.pid)
        except BenchError:
            print("server log tail:\n" + log.read_text()[-3000:], flush=True)
            raise
        finally:
            stop_server(server)
    print(f"\n{products:,} products; load average {load_before} before, {load_average()} after")
    report(arguments, cases, runs)
    facets_share(arguments, runs)


if __name__ == "__main__":
    main()
