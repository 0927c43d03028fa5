"""Catalog benchmark: seed N products, serve Nexus as users run it, load it with wrk.

    .venv/bin/python bench/catalog.py [--products 100000] [--duration 10] [--connections 16]

Steps: migrate and seed (``manage.py seed``, idempotent), then vacuum, the database of
``DATABASE_URL`` (the embedded PostgreSQL when unset); serve Nexus as the production image
serves HTTP (granian, 2 worker processes serving one request at a time each, WSGI:
``bench.server:wsgi_application``; ``--server daphne`` for ``make run``'s ASGI server:
``bench.server:application``), with the json_agg floor in the same process; check every
scenario answers without errors and returns the same nodes as its floor; count each scenario's
SQL statements in-process; drive each scenario and its floor with ``wrk`` from a separate
process for a fixed time, in rounds (each round runs every scenario and its floor once, so a
drift of the machine's speed reaches both alike); profile one request of (a); write
``docs/performance.md``: the median of the rounds, their range, and the issue's targets checked
against the medians.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make ``backend`` and ``bench`` importable

from bench.scenarios import SCENARIOS, SUGGEST_PREFIX  # noqa: E402

PYTHON = sys.executable
SERVERS = {
    "daphne": lambda host, port, workers: [str(Path(PYTHON).parent / "daphne"), "-b", host,
                                           "-p", str(port), "bench.server:application"],
    # The production image's options (Dockerfile), with the worker count given here.
    "granian": lambda host, port, workers: [str(Path(PYTHON).parent / "granian"), "--interface",
                                            "wsgi", "--host", host, "--port", str(port),
                                            "--workers", str(workers), "--blocking-threads",
                                            "1", "--runtime-mode", "st", "--no-ws",
                                            "--respawn-failed-workers",
                                            "bench.server:wsgi_application"],
}  # fmt: skip
# What every wrk script of the benches reports: non-200 answers, answers holding the text
# FAILED (set by the script: any "errors" at all, or a failed payload), latency percentiles.
# Each thread gets an ``id`` (1, 2...) a script may use to make its requests unique.
WRK_REPORT = """
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("id", #threads) end
function init(args) graphql_errors = 0; non_200 = 0 end
function response(status, headers, body)
  if status ~= 200 then non_200 = non_200 + 1
  elseif string.find(body, FAILED, 1, true) then graphql_errors = graphql_errors + 1 end
end
function done(summary, latency, requests)
  local e, n = 0, 0
  for _, t in ipairs(threads) do e = e + t:get("graphql_errors"); n = n + t:get("non_200") end
  local s = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%%d,"duration_us":%%d,"p50":%%d,"p95":%%d,"p99":%%d,' ..
    '"graphql_errors":%%d,"non_200":%%d,"socket_errors":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e, n, s.connect + s.read + s.write + s.timeout))
end
"""
WRK_SCRIPT = (
    """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%(body)s]==]
FAILED = '"errors"'
"""
    + WRK_REPORT
)


class BenchError(SystemExit):
    """A failure the user can act on: printed as one clear line, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(f"bench: {message}")


@dataclass
class Load:
    """One wrk run; ``cpu_ms`` is the server process's CPU time (all threads) per request,
    which, unlike requests/s, barely depends on what else the machine is running."""

    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms: float = 0.0
    # wrk's connections held by each server process, most first (``connection_split``).
    split: tuple[int, ...] = ()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server: every thread of every process in its process group
    (the harness starts it as a session leader, so multi-worker servers count whole)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == pid:  # field 5 of stat, pgrp
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def connection_split(pid: int, port: int) -> tuple[int, ...]:
    """How many open connections to ``port`` each process of server ``pid``'s process group
    holds, most first (``(9, 7)``: two workers, one holding 9 of wrk's 16).

    A worker keeps a kept-alive connection for its life, and each worker serves one request at
    a time, so a worker holding 11 of 16 connections queues its requests 11 deep while the
    other queues 5: the run's p99 is the crowded worker's, whatever the mean.
    """
    sockets: dict[str, int] = {}  # socket inode: owning process
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != pid:
                continue
            for descriptor in (stat.parent / "fd").iterdir():
                target = os.readlink(descriptor)
                if target.startswith("socket:["):
                    sockets[target[8:-1]] = int(stat.parent.name)
        except OSError:  # the process or descriptor went away while we looked
            continue
    held: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if local_port == port and state == "01" and inode in sockets:  # 01: ESTABLISHED
                held[sockets[inode]] = held.get(sockets[inode], 0) + 1
    return tuple(sorted(held.values(), reverse=True))


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--categories", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per run.")
    parser.add_argument("--warmup", type=int, default=2, help="Seconds of warm-up per run.")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="Rounds of every run; the report gives their median and range (default 3).",
    )  # fmt: skip
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--server", choices=sorted(SERVERS), default="granian")
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument(
        "--workers", type=int, default=2, help="Server processes (granian workers; not daphne)."
    )
    parser.add_argument("--scenarios", default="abcde", help="Which scenarios, e.g. 'ae'.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="Default: $DATABASE_URL; unset means the embedded PostgreSQL (database "
        "$EMBEDDED_POSTGRES_DB, default nexus_bench).",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "performance.md",
        help="Markdown report ('-' for none).",
    )  # fmt: skip
    parser.add_argument("--skip-seed", action="store_true")
    arguments = parser.parse_args()
    if arguments.server == "daphne":
        arguments.workers = 1  # Daphne serves one process per port
    return arguments


def server_environment(arguments: argparse.Namespace) -> dict[str, str]:
    """Production-like settings: DEBUG off (no query log, errors masked), a throwaway key."""
    env = dict(os.environ)
    if not env.get("JWT_PRIVATE_KEY") and not env.get("JWT_PRIVATE_KEY_FILE"):
        env["JWT_PRIVATE_KEY"] = throwaway_signing_key()
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        PYTHONPATH=str(ROOT),
    )
    if arguments.database_url:
        env["DATABASE_URL"] = arguments.database_url
    else:
        # The embedded server, in its own database: seeding never touches the catalog that
        # `make run` serves.
        env.pop("DATABASE_URL", None)
        env.setdefault("EMBEDDED_POSTGRES_DB", "nexus_bench")
    return env


def throwaway_signing_key() -> str:
    """An Ed25519 key for this run only: DEBUG off requires one; the bench signs no tokens."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def run_manage(env: dict[str, str], *args: str) -> None:
    command = [PYTHON, str(ROOT / "manage.py"), *args]
    print("$", " ".join(command[1:]), flush=True)
    if subprocess.run(command, env=env, cwd=ROOT).returncode != 0:
        raise BenchError(f"`manage.py {' '.join(args)}` failed (see its output above).")


def scenario_variables(products: int) -> dict[str, dict[str, Any]]:
    """Variables from the seeded data (Django set up in this process)."""
    from django.db import connection
    from django.db.models.functions import Length
    from strawberry.relay import to_base64

    from backend.api.graphql.catalog.types import ProductConnection
    from backend.api.graphql.pagination import cursor_encode
    from backend.catalog.models import Product

    published = Product.objects.filter(is_published=True)
    total = published.count()
    if total < 100:
        raise BenchError(f"only {total} published products in the database; seeding failed?")
    # (c): the row in the middle of the default order (newest first), as a client walking
    # the pages would reach it; the cursor is built by the API's own encoder.
    order = ProductConnection.keyset_order()
    middle = published.order_by(*order.order_by(reverse=False))[total // 2]
    # (b): a category page of realistic size: the subtree (with descendants) holding closest
    # to 2% of the catalog (a department of a few thousand products at N = 100,000).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, count(p.id) FROM catalog_category c"
            " JOIN catalog_category d ON d.path LIKE c.path || '%%'"
            " JOIN catalog_product p ON p.category_id = d.id AND p.is_published"
            " WHERE c.slug LIKE 'seed-%%' AND c.id IN (SELECT parent_id FROM catalog_category)"
            " GROUP BY c.id"
        )
        subtree_sizes = dict(cursor.fetchall())
    if not subtree_sizes:
        raise BenchError("no seed categories with subcategories; run `manage.py seed` first.")
    category = min(subtree_sizes, key=lambda pk: (abs(subtree_sizes[pk] - total / 50), pk))
    # (d) and (f): a word in many names (the seed's vocabulary). (e): a product in the deepest
    # category, so the breadcrumbs have several levels.
    detail = (
        published.filter(category__path__startswith="/")
        .order_by(Length("category__path").desc(), "id")
        .first()
    )
    assert detail is not None
    return {
        "a": {"first": 20},
        "b": {"first": 20, "category": to_base64("Category", category), "min": "20.00",
              "max": "200.00"},
        "c": {"first": 20, "after": cursor_encode(middle, order=order)},
        "d": {"first": 20, "search": "wireless"},
        "f": {"first": 20, "search": "wireless"},
        "e": {"slug": detail.slug},
        "s": {"prefix": SUGGEST_PREFIX},
    }  # fmt: skip


def statement_counts(variables: dict[str, dict[str, Any]]) -> dict[str, int]:
    """SQL statements of one /graphql/ request per scenario, captured in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    counts: dict[str, int] = {}
    for key, values in variables.items():
        body = {"query": SCENARIOS[key].query, "variables": values}
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/graphql/", body, content_type="application/json")
        payload = response.json()
        if response.status_code != 200 or payload.get("errors"):
            raise BenchError(f"scenario {key} fails in-process: {response.status_code} {payload}")
        counts[key] = len(captured.captured_queries)
    return counts


def profile_request(variables: dict[str, Any], repeat: int = 300) -> list[tuple[str, float]]:
    """Where one request of (a) spends its time: cProfile over ``repeat`` in-process
    executions (sync execution keeps SQL on the profiled thread), in ms per request."""
    from django.http import HttpResponse
    from django.test import RequestFactory
    from strawberry.django.views import GraphQLView

    from backend.api.graphql.context import NexusContext
    from backend.api.schema import schema

    request = RequestFactory(SERVER_NAME="127.0.0.1").post("/graphql/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    encode = GraphQLView(schema=schema).encode_json

    def one() -> None:
        context = NexusContext(request=request, response=HttpResponse())
        result = schema.execute_sync(
            SCENARIOS["a"].query, variable_values=variables, context_value=context
        )
        if result.errors:
            raise BenchError(f"profile run failed: {result.errors}")
        encode({"data": result.data, "extensions": result.extensions})

    for _ in range(30):
        one()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(repeat):
        one()
    profiler.disable()
    wall = (time.perf_counter() - started) / repeat * 1000
    stats = pstats.Stats(profiler)

    def cumulative(path_end: str, function: str) -> float:
        total = 0.0
        for (filename, _, name), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
            if filename.endswith(path_end) and name == function:
                total += cum
        return total / repeat * 1000

    profiled_total = cumulative("", "one")
    scale = wall / profiled_total if profiled_total else 1.0  # undo the profiler's overhead
    parse = cumulative("graphql/language/parser.py", "parse")
    validate = cumulative("graphql/validation/validate.py", "validate")
    execute = cumulative("graphql/execution/execute.py", "execute")
    sql = cumulative("django/db/backends/utils.py", "_execute")
    # _fetch_all, not __iter__: QuerySet.__iter__ and ModelIterable.__iter__ nest.
    orm_rows = cumulative("django/db/models/query.py", "_fetch_all") - sql
    # strawberry-django rescans type annotations for every id when no NodeID is declared.
    id_attr = cumulative("strawberry/relay/types.py", "resolve_id_attr")
    serialise = cumulative("strawberry/http/base.py", "encode_json") or cumulative(
        "json/__init__.py", "dumps"
    )
    rows = [
        ("parse (graphql-core)", parse),
        ("validate (rules incl. depth/alias/cost)", validate),
        ("SQL (execute + fetch, psycopg)", sql),
        ("ORM: SQL compilation + model instances", orm_rows),
        ("Relay id attribute lookup (`resolve_id_attr`)", id_attr),
        ("resolvers, optimizer, cursors, result building", execute - sql - orm_rows - id_attr),
        ("JSON serialisation", serialise),
    ]
    rows.append(("other (extensions, context, strawberry glue)",
                 profiled_total - sum(value for _, value in rows)))  # fmt: skip
    return [(name, value * scale) for name, value in rows] + [("total (in-process)", wall)]


def start_server(arguments: argparse.Namespace, env: dict[str, str], log: Path) -> subprocess.Popen:
    binary = SERVERS[arguments.server]("127.0.0.1", arguments.port, arguments.workers)
    if not Path(binary[0]).exists():
        raise BenchError(f"{arguments.server} is not installed in {Path(PYTHON).parent}.")
    print("$", " ".join(binary), f"(log: {log})", flush=True)
    process = subprocess.Popen(
        binary, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the server exited with {process.returncode}; see {log}.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{arguments.port}/readyz", timeout=2):
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    stop_server(process)
    raise BenchError(f"the server did not become ready in 90 s; see {log}.")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise BenchError(f"{url} answered {error.code}: {error.read()[:500]!r}") from None


def response_nodes(data: dict[str, Any]) -> Any:
    """The comparable content of a response: nodes without cursors (cursor encodings differ),
    and a product list's facets."""
    if "products" in data:
        nodes = [edge["node"] for edge in data["products"]["edges"]]
        return [nodes, data["products"]["facets"]] if "facets" in data["products"] else nodes
    return data


def check_responses(base: str, variables: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every scenario answers without errors; the floor returns the same nodes."""
    notes: dict[str, str] = {}
    for key, values in variables.items():
        body = {"query": SCENARIOS[key].query, "variables": values}
        api = post(f"{base}/graphql/", body)
        if api.get("errors") or not api.get("data"):
            raise BenchError(f"scenario {key} returns errors: {json.dumps(api)[:800]}")
        floor = post(f"{base}/bench/baseline/{key}", body)
        same = response_nodes(api["data"]) == response_nodes(floor["data"])
        notes[key] = "same nodes" if same else "DIFFERENT nodes (see --check output)"
        if not same:
            print(f"scenario {key}: API and floor differ:\n{json.dumps(api['data'])[:1500]}\n"
                  f"{json.dumps(floor['data'])[:1500]}", flush=True)  # fmt: skip
        if key in {"a", "b", "c", "d", "f"} and len(api["data"]["products"]["edges"]) != 20:
            notes[key] += f", {len(api['data']['products']['edges'])} rows"
        if key == "s" and len(api["data"]["productSuggest"]) != 5:
            notes[key] += f", {len(api['data']['productSuggest'])} names"
    return notes


def run_wrk(url: str, body: dict[str, Any], *, connections: int, threads: int, seconds: int,
            script_dir: Path, server_pid: int, lua: str | None = None) -> Load:  # fmt: skip
    """wrk POSTing ``body`` to ``url``, or running the script ``lua`` (ending in WRK_REPORT)."""
    script = script_dir / "request.lua"
    script.write_text(lua if lua is not None else WRK_SCRIPT % {"body": json.dumps(body)})
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
               "--timeout", "10s", "-s", str(script), url]  # fmt: skip
    cpu_before = process_cpu_seconds(server_pid)
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wrk opens its connections at the start and keeps them: one look a second in tells.
    time.sleep(min(1.0, seconds / 2))
    split = connection_split(server_pid, urllib.parse.urlsplit(url).port or 80)
    stdout, stderr = wrk.communicate()
    cpu = process_cpu_seconds(server_pid) - cpu_before
    line = next((x for x in stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if wrk.returncode != 0 or line is None:
        raise BenchError(f"wrk failed: {stderr or stdout}")
    result = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(
        requests_per_second=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50"] / 1000,
        p95_ms=result["p95"] / 1000,
        p99_ms=result["p99"] / 1000,
        errors=result["graphql_errors"] + result["non_200"] + result["socket_errors"],
        requests=result["requests"],
        cpu_ms=cpu * 1000 / max(result["requests"], 1),
        split=split,
    )


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of the machine since boot, from ``/proc/stat``."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7], sum(fields[:8])  # user nice system idle iowait irq softirq steal


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> str:
    """The share of the machine's CPU time its hypervisor gave to others between two readings:
    a virtual machine's speed varies with it, so runs are comparable only at similar steal."""
    total = after[1] - before[1]
    return f"{(after[0] - before[0]) / total:.1%}" if total else "unknown"


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor() or "unknown",
    )  # fmt: skip
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )  # fmt: skip
    return f"{os.cpu_count()} CPUs ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB RAM"


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + (" (dirty)" if git("status", "--porcelain").strip() else "")


def settle_catalog() -> None:
    """VACUUM (ANALYZE) the catalog tables. After a bulk load, autovacuum would otherwise visit
    them during the first runs (setting hint bits and the visibility map, which index-only
    scans need), and those runs would measure it. Quick when nothing changed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) catalog_category, catalog_product")


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def main() -> None:
    arguments = parse_arguments()
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: `apt-get install -y wrk`).")
    keys = list(dict.fromkeys(arguments.scenarios))
    if unknown := [key for key in keys if key not in SCENARIOS]:
        raise BenchError(f"unknown scenario(s) {unknown}; choose from {''.join(SCENARIOS)}.")
    env = server_environment(arguments)
    if not arguments.skip_seed:
        run_manage(env, "migrate", "--noinput", "--verbosity", "0")
        run_manage(env, "seed", "--products", str(arguments.products),
                   "--categories", str(arguments.categories))  # fmt: skip
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    settle_catalog()
    variables = {key: value for key, value in scenario_variables(arguments.products).items()
                 if key in keys}  # fmt: skip
    statements = statement_counts(variables)
    profile = profile_request(variables["a"]) if "a" in keys else []
    database = postgres_version()
    connections.close_all()

    load_before = load_average()
    ticks_before = cpu_ticks()
    base = f"http://127.0.0.1:{arguments.port}"
    results: dict[str, list[tuple[Load, Load]]] = {key: [] for key in keys}
    single: list[tuple[Load, Load]] = []
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as scratch:
        log = Path(scratch) / "server.log"
        server = start_server(arguments, env, log)
        try:
            notes = check_responses(base, variables)

            def measure(key: str, target: str, connections: int, warmup: int) -> Load:
                url = f"{base}/bench/baseline/{key}" if target == "floor" else f"{base}/graphql/"
                body = {"query": SCENARIOS[key].query, "variables": variables[key]}
                options = dict(connections=connections, threads=arguments.threads,
                               script_dir=Path(scratch), server_pid=server.pid)  # fmt: skip
                if warmup:
                    run_wrk(url, body, seconds=warmup, **options)
                load = run_wrk(url, body, seconds=arguments.duration, **options)
                clients = "" if connections == arguments.connections else f", {connections} client"
                print(f"  {key} {target}{clients}: {load}", flush=True)
                return load

            for round_number in range(1, arguments.rounds + 1):
                print(f"round {round_number} of {arguments.rounds}", flush=True)
                for key in keys:
                    api = measure(key, "graphql", arguments.connections, arguments.warmup)
                    floor = measure(key, "floor", arguments.connections, arguments.warmup)
                    results[key].append((api, floor))
                    if key == "a":
                        # The floor too: what one request costs this machine with no Python
                        # layer. Right after (a)'s own runs, so no warm-up is needed.
                        single.append((measure("a", "graphql", 1, 0), measure("a", "floor", 1, 0)))
        except BenchError:
            print("server log tail:\n" + log.read_text()[-3000:], flush=True)
            raise
        finally:
            stop_server(server)
            server_log = log.read_text()[-3000:] if log.exists() else ""
    if any(api.errors or floor.errors for pairs in results.values() for api, floor in pairs):
        print("server log tail:\n" + server_log, flush=True)

    arguments.load = (
        f"{load_before} before, {load_average()} after; CPU steal during the runs: "
        f"{steal_share(ticks_before, cpu_ticks())}"
    )
    report = render(arguments, results, single, statements, notes, profile, variables, database)
    print(report)
    if str(arguments.output) != "-":
        write_report(arguments.output, report)
        print(f"written to {arguments.output}")


def whole(value: float) -> str:
    return f"{value:,.0f}"


def tenth(value: float) -> str:
    return f"{value:.1f}"


def hundredth(value: float) -> str:
    return f"{value:.2f}"


def percent(value: float) -> str:
    return f"{value:.0%}"


def signed_percent(value: float) -> str:
    return f"{value:+.0%}"


def median_of(loads: Sequence[Load], attribute: str) -> float:
    return statistics.median(getattr(load, attribute) for load in loads)


def median_and_range(values: Sequence[float], form: Callable[[float], str]) -> str:
    """``median (min to max)`` of per-round values; the median alone for one round."""
    if len(values) == 1:
        return form(values[0])
    return f"{form(statistics.median(values))} ({form(min(values))} to {form(max(values))})"


def floor_ratio(pair: tuple[Load, Load]) -> float:
    """The API's requests/s as a share of its floor's in the same round."""
    api, floor = pair
    return api.requests_per_second / floor.requests_per_second


def target_lines(
    results: dict[str, list[tuple[Load, Load]]], single: list[tuple[Load, Load]], connections: int
) -> list[str]:
    """The issue's targets, each judged on the median of the rounds (the range shows how often
    a single run would have said otherwise)."""

    def verdict(met: bool) -> str:
        return "**met**" if met else "**not met**"

    lines = []
    if "a" in results:
        ratios = [floor_ratio(pair) for pair in results["a"]]
        p99s = [api.p99_ms for api, _ in results["a"]]
        lines += [
            f"- (a) at least 35 % of the floor's requests/s (stretch 50 %): "
            f"{median_and_range(ratios, percent)}: {verdict(statistics.median(ratios) >= 0.35)}"
            + (", stretch reached" if statistics.median(ratios) >= 0.5 else ""),
            f"- (a) p99 under 30 ms at {connections} connections: "
            f"{median_and_range(p99s, tenth)} ms: {verdict(statistics.median(p99s) < 30)}",
        ]
    if single:
        p50s = [api.p50_ms for api, _ in single]
        floors = [floor.p50_ms for _, floor in single]
        lines.append(
            f"- (a) single-client p50 under 3 ms: {median_and_range(p50s, tenth)} ms (the "
            f"floor's: {median_and_range(floors, tenth)} ms): "
            f"{verdict(statistics.median(p50s) < 3)}"
        )
    if "a" in results and "c" in results:
        # Paired within each round: both ran minutes apart at most, on the same machine state.
        rounds = [(a, c) for (a, _), (c, _) in zip(results["a"], results["c"], strict=True)]
        rates = [c.requests_per_second / a.requests_per_second - 1 for a, c in rounds]
        cpu = [c.cpu_ms / a.cpu_ms - 1 for a, c in rounds]
        lines.append(
            f"- (c) within 10 % of (a): requests/s {median_and_range(rates, signed_percent)}, "
            f"server CPU per request {median_and_range(cpu, signed_percent)}: "
            f"{verdict(statistics.median(rates) >= -0.10)}"
        )
    errors = sum(api.errors + floor.errors for pairs in results.values() for api, floor in pairs)
    lines.append(f"- zero errors under load: {errors} over all runs: {verdict(errors == 0)}")
    return lines


def render(
    arguments: argparse.Namespace,
    results: dict[str, list[tuple[Load, Load]]],
    single: list[tuple[Load, Load]],
    statements: dict[str, int],
    notes: dict[str, str],
    profile: list[tuple[str, float]],
    variables: dict[str, dict[str, Any]],
    database: str,
) -> str:
    """The generated block of docs/performance.md: each cell is the median of the rounds, with
    the range of the rounds where the number decides a target."""
    lines = [
        f"Run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {commit()}, "
        f"{machine()}, {database}, server {arguments.server} ({arguments.workers} process"
        f"{'es' if arguments.workers > 1 else ''})"
        + f", N = {arguments.products:,} products, wrk {arguments.connections} connections "
        f"/ {arguments.threads} threads, {arguments.rounds} round"
        f"{'s' if arguments.rounds > 1 else ''} of {arguments.duration} s per run after "
        f"{arguments.warmup} s warm-up, DEBUG off. Load average (1/5/15 min): "
        f"{arguments.load}.",
        "",
        "Each cell is the median of the rounds; (min to max) is their range.",
        "",
        "| scenario | GraphQL req/s | p50 ms | p95 ms | p99 ms | errors | SQL/req "
        "| server CPU ms/req | floor req/s | floor p50 ms | floor p99 ms | floor CPU ms/req "
        "| ratio req/s | check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    for key, pairs in results.items():
        apis = [api for api, _ in pairs]
        floors = [floor for _, floor in pairs]
        ratios = [floor_ratio(pair) for pair in pairs]
        lines.append(
            f"| ({key}) {SCENARIOS[key].title} "
            f"| {median_and_range([x.requests_per_second for x in apis], whole)} "
            f"| {tenth(median_of(apis, 'p50_ms'))} | {tenth(median_of(apis, 'p95_ms'))} "
            f"| {median_and_range([x.p99_ms for x in apis], tenth)} "
            f"| {sum(x.errors for x in apis)} | {statements[key]} "
            f"| {hundredth(median_of(apis, 'cpu_ms'))} "
            f"| {whole(median_of(floors, 'requests_per_second'))} "
            f"| {tenth(median_of(floors, 'p50_ms'))} | {tenth(median_of(floors, 'p99_ms'))} "
            f"| {hundredth(median_of(floors, 'cpu_ms'))} "
            f"| {median_and_range(ratios, percent)} | {notes[key]} |"
        )
    if single:
        apis = [api for api, _ in single]
        floors = [floor for _, floor in single]
        lines += [
            "",
            "Single client, scenario (a): p50 "
            f"{median_and_range([x.p50_ms for x in apis], hundredth)} ms, p99 "
            f"{median_and_range([x.p99_ms for x in apis], hundredth)} ms, "
            f"{whole(median_of(apis, 'requests_per_second'))} req/s; its floor: "
            f"p50 {median_and_range([x.p50_ms for x in floors], hundredth)} ms, p99 "
            f"{median_and_range([x.p99_ms for x in floors], hundredth)} ms, "
            f"{whole(median_of(floors, 'requests_per_second'))} req/s.",
        ]
    lines += ["", "Targets of the catalog issue, judged on the medians:", ""]
    lines += target_lines(results, single, arguments.connections)
    if profile:
        lines += ["", "Profile of one request of (a), in-process (cProfile over 300 executions "
                  "of `schema.execute_sync` + JSON encoding, scaled to unprofiled wall time):",
                  "", "| phase | ms per request |", "|---|---:|"]  # fmt: skip
        lines += [f"| {name} | {value:.2f} |" for name, value in profile]
    lines += ["", "Variables used:", "", "```json", json.dumps(variables, indent=1), "```"]
    return "\n".join(lines) + "\n"


RESULTS_START = "<!-- bench:results:start -->"
RESULTS_END = "<!-- bench:results:end -->"


def write_report(path: Path, report: str) -> None:
    """Replace the generated block of ``docs/performance.md``; the prose around it is kept."""
    block = f"{RESULTS_START}\n{report}{RESULTS_END}"
    if path.exists() and RESULTS_START in (text := path.read_text()):
        head, rest = text.split(RESULTS_START, 1)
        tail = rest.split(RESULTS_END, 1)[1] if RESULTS_END in rest else ""
        path.write_text(head + block + tail)
    else:
        path.write_text(f"# Performance\n\n## Latest run (generated by `make bench`)\n\n{block}\n")


if __name__ == "__main__":
    main()
