"""A production-shaped Nexus on this machine, started by a test (or by bench/) for itself.

Every server is private, on free local ports (tests/servers.py): a PostgreSQL primary and its
streaming replica, PgBouncer pooling by transaction in front of the primary, a RabbitMQ node
and Redis. The compose services run from this virtualenv with the compose environment
(production settings, tests/ops/deployment.py): web (granian) and ws (Daphne) processes behind
one Caddy on deploy/Caddyfile with their ports as its upstreams, balanced round robin, Celery
workers and one beat. Migrations run as compose's migrate job does; a small catalog, one
product with ample stock and accounts are added before clients arrive.

Every process and server can be killed (``kill -9``), stopped and started again, and waited
for until it is healthy; ``restore`` brings back whatever a fault left down.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from strawberry.relay import to_base64

from backend.orders.payments import DummyCharge, dummy_charges
from tests.live_server import free_port
from tests.ops.deployment import (
    ROOT,
    compose,
    dockerfile_command,
    local_caddyfile,
    local_command,
    operator_variables,
    production_environment,
)
from tests.servers import (
    PgBouncer,
    PostgresCluster,
    RabbitMQNode,
    RedisServer,
    pgbouncer,
    postgres_primary,
    postgres_replica,
    rabbitmq_node,
    redis_server,
    replica_caught_up,
    required_binary,
)

DATABASE = "nexus"
# A loaded two-core machine starts seven Django processes at once: give them time.
READY_TIMEOUT_SECONDS = 90
HEALTH_POLL_SECONDS = 0.2
REQUEST_TIMEOUT_SECONDS = 15

TOKEN_CREATE = """
mutation SignIn($email: String!, $password: String!) {
  tokenCreate(email: $email, password: $password) { accessToken errors { code message } }
}
"""


@dataclass
class AppProcess:
    """One process of the topology (a web, ws, worker, beat or the proxy), started as its
    container would start it, in a process group of its own so that killing it kills the
    children it started too (granian's workers, Celery's pool)."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log: Path
    health: Callable[[], str | None]  # None when healthy, else why not
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the process and its children; wait for all of them to end. Not
        only the process: a child still dying (granian's worker) holds its connections open,
        and a request the proxy sends on one meanwhile is lost with it."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=60)
        deadline = time.monotonic() + 60
        while _group_alive(self.process.pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}'s children outlived it by 60 s")
            time.sleep(0.01)

    def restart(self) -> None:
        self.kill()
        self.start()

    def unhealthy(self) -> str | None:
        """None when the process runs and passes its health check, else why not."""
        if not self.running():
            return f"{self.name} is not running"
        return self.health()

    def wait_healthy(self, seconds: float = READY_TIMEOUT_SECONDS) -> float:
        """Seconds it took the process to pass its health check; TimeoutError after ``seconds``."""
        started = time.monotonic()
        while (reason := self.unhealthy()) is not None:
            if time.monotonic() - started > seconds:
                raise TimeoutError(f"{reason} after {seconds} s; its log:\n{self.log_tail()}")
            time.sleep(HEALTH_POLL_SECONDS)
        return time.monotonic() - started

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to a GraphQL request: its status (0: none in time), its JSON body, how
    long it took."""

    status: int
    body: Any
    seconds: float

    @property
    def data(self) -> Any:
        assert self.status == 200, self
        assert not self.body.get("errors"), self
        return self.body["data"]


@dataclass(frozen=True)
class Accounts:
    staff: str
    customers: list[str]
    password: str


@dataclass
class Topology:
    """The started topology: its servers, its processes, and a client through its proxy."""

    directory: Path
    primary: PostgresCluster
    replica: PostgresCluster
    bouncer: PgBouncer
    rabbitmq: RabbitMQNode
    redis: RedisServer
    environment: dict[str, str]
    web: list[AppProcess]
    ws: list[AppProcess]
    workers: list[AppProcess]
    beat: AppProcess
    proxy: AppProcess
    accounts: Accounts
    product_id: str  # the global id of the product with ample stock
    # Seconds from the start to each milestone: servers up, processes healthy, ready.
    startup: dict[str, float] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The one public URL, Caddy's: HTTP to web, WebSocket upgrades to ws."""
        assert self.proxy.port is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def processes(self) -> list[AppProcess]:
        return [*self.web, *self.ws, *self.workers, self.beat, self.proxy]

    @property
    def ledger(self) -> Path:
        return Path(self.environment["PAYMENT_GATEWAY_LEDGER"])

    # --- Clients ----------------------------------------------------------------------------

    def post(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> Answer:
        """POST a GraphQL request through the proxy; no answer within ``timeout`` is status 0."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        return _answer(
            urllib.request.Request(f"{self.url}/graphql/", data=body, headers=headers), timeout
        )

    def get(self, path: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Answer:
        """GET ``path`` through the proxy, e.g. ``/readyz``."""
        return _answer(urllib.request.Request(self.url + path), timeout)

    def token(self, email: str) -> str:
        """An access token for the seeded account ``email``, signed in through the proxy once."""
        if email not in self._tokens:
            answer = self.post(TOKEN_CREATE, {"email": email, "password": self.accounts.password})
            payload = answer.data["tokenCreate"]
            assert payload["errors"] == [], payload
            self._tokens[email] = payload["accessToken"]
        return self._tokens[email]

    # --- What happened, seen from outside ----------------------------------------------------

    def charges(self) -> list[DummyCharge]:
        """Every decision the payment gateway took, from its ledger."""
        return dummy_charges(self.ledger)

    def sql(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` read on the primary directly (not through Nexus or PgBouncer)."""
        with self.primary.connect(DATABASE) as connection:
            return connection.execute(statement, parameters).fetchall()  # type: ignore[arg-type]

    def ws_connections(self) -> dict[str, int]:
        """WebSocket connections each ws process has accepted so far (Daphne's access log)."""
        return {p.name: p.log_text().count("WSCONNECT /graphql/") for p in self.ws}

    def active_tasks(self) -> dict[str, list[dict[str, Any]]]:
        """What each worker is running now, by node name (Celery's remote control)."""
        inspect = _control(self.rabbitmq).inspect(timeout=2, limit=len(self.workers))
        return inspect.active() or {}

    # --- Faults and recovery -----------------------------------------------------------------

    def wait_healthy(self, seconds: float = READY_TIMEOUT_SECONDS) -> None:
        """Wait until every process passes its health check, all at once."""
        _wait_healthy(self.processes, seconds)

    def restore(self) -> None:
        """Start whatever a fault left stopped, then wait until everything is healthy and the
        replica has caught up with the primary."""
        for server in (self.primary, self.replica):
            if not server.running():
                server.start()
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()
        if self.rabbitmq.pid is None:
            self.rabbitmq.start()
        for process in self.processes:
            if not process.running():
                process.start()
        self.wait_healthy()
        replica_caught_up(self.primary, self.replica)

    def logs(self, lines: int = 40) -> str:
        """The tail of every process's log, for a failure report."""
        return "\n".join(f"--- {p.name}\n{p.log_tail(lines)}" for p in self.processes)


def _group_alive(group: int) -> bool:
    """Whether a process of process group ``group`` still runs (a zombie does not: its
    sockets are closed; whoever adopted it may reap it late)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):  # the process ended while we looked
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(pgrp) == group and state != "Z":
                return True
    return False


def _answer(request: urllib.request.Request, timeout: float) -> Answer:
    """The answer to ``request``, whatever its status; no answer within ``timeout`` is 0."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except TimeoutError:
        status, raw = 0, b""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {"text": raw.decode(errors="replace")}
    return Answer(status, body, time.monotonic() - started)


def _control(rabbitmq: RabbitMQNode) -> Any:
    """Celery's remote control on the topology's broker, without Django's settings. Celery
    prefers a CELERY_BROKER_URL in the environment (the test run's own broker) to the broker it
    is given, but not to its read and write URLs."""
    url = rabbitmq.url()
    app = Celery(
        "topology-control", set_as_current=False, broker_read_url=url, broker_write_url=url
    )
    return app.control


def _web_health(port: int) -> Callable[[], str | None]:
    """What the containers' web probe checks, in this process (a probe process per poll costs
    more CPU than the servers starting): /healthz on ``port`` answers ok."""

    def check() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                body = json.load(answer)
        except (OSError, ValueError) as error:
            return f"/healthz on port {port}: {error}"
        return None if body.get("status") == "ok" else f"/healthz on port {port}: {body}"

    return check


def _worker_health(rabbitmq: RabbitMQNode, node: str) -> Callable[[], str | None]:
    """The worker probe's check: the worker answers a remote-control ping through the broker."""
    control = _control(rabbitmq)

    def check() -> str | None:
        with suppress(Exception):  # a broker still starting is an unhealthy worker too
            if any(node in reply for reply in control.ping([node], timeout=1)):
                return None
        return f"{node} does not answer a ping"

    return check


def _beat_health(log: Path) -> Callable[[], str | None]:
    """Beat has no remote control: it is up once it logged its start."""

    def check() -> str | None:
        return None if "beat: Starting" in log.read_text(errors="replace") else "beat not started"

    return check


class _Started:
    """What the topology started, from several threads: stopped all at once at the end,
    however the start-up of the rest went."""

    def __init__(self) -> None:
        self.stops: list[Callable[[], object]] = []
        self.lock = threading.Lock()

    def enter[T](self, manager: AbstractContextManager[T]) -> T:
        value = manager.__enter__()
        with self.lock:
            self.stops.append(lambda: manager.__exit__(None, None, None))
        return value

    def start(self, process: AppProcess) -> None:
        process.start()
        with self.lock:
            # Killed, not stopped: every server is discarded with its data.
            self.stops.append(process.kill)

    def stop_all(self) -> None:
        with ThreadPoolExecutor(max(len(self.stops), 1)) as pool:
            stopped = [pool.submit(stop) for stop in self.stops]
        for stop in stopped:
            stop.result()


def _wait_healthy(processes: list[AppProcess], seconds: float) -> None:
    with ThreadPoolExecutor(len(processes)) as pool:
        for waited in [pool.submit(p.wait_healthy, seconds) for p in processes]:
            waited.result()


def _run_job(command: list[str], environment: dict[str, str], log: Path) -> str:
    """Run a one-off job (migrations, seeding) to completion; its standard output."""
    result = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@contextmanager
def topology(
    directory: Path,
    *,
    web: int = 2,
    ws: int = 2,
    workers: int = 2,
    payment_latency_ms: int = 1000,
    products: int = 200,
    customers: int = 1,
    settings: Mapping[str, str] | None = None,
    cpus: Mapping[str, str] | None = None,
) -> Iterator[Topology]:
    """Start the whole topology under ``directory`` (logs, the gateway's ledger, beat's
    schedule); stop everything on exit. ``settings`` are extra environment variables for every
    Nexus process; ``cpus`` pins processes by name (``web-1``...) to CPUs (``taskset -c``)."""
    required_binary("caddy", "caddy")  # before anything starts
    operator = operator_variables()
    accounts = Accounts(
        staff="staff@topology.example",
        customers=[f"customer-{i}@topology.example" for i in range(1, customers + 1)],
        password=secrets.token_urlsafe(16),
    )

    started = _Started()
    began = time.monotonic()
    startup: dict[str, float] = {}
    try:
        with ThreadPoolExecutor(4) as pool:
            starting_database = pool.submit(_database, started)
            starting_rabbitmq = pool.submit(started.enter, rabbitmq_node())
            starting_redis = pool.submit(started.enter, redis_server())
            primary, bouncer, replica = starting_database.result()
            # The schema and the data, while RabbitMQ and the app processes start: none of
            # them reads a table before it serves.
            preparing = pool.submit(
                _database_prepare, bouncer, accounts, products, operator, directory
            )
            rabbitmq, redis = starting_rabbitmq.result(), starting_redis.result()
            startup["servers"] = time.monotonic() - began
            common = {
                "DATABASE_URL": bouncer.url(DATABASE),
                # PgBouncer 1.18 pools by transaction and cannot follow prepared statements.
                "DATABASE_POOLER": "transaction",
                "DATABASE_PREPARED_STATEMENTS": "false",
                "DATABASE_REPLICA_URLS": replica.url(DATABASE),
                "CELERY_BROKER_URL": rabbitmq.url(),
                "REDIS_URL": redis.url(0),
                # No SMTP relay here: emails are written to the worker's log.
                "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
                # No collector here either.
                "OTEL_SDK_DISABLED": "true",
                "PAYMENT_GATEWAY_LATENCY_MS": str(payment_latency_ms),
                "PAYMENT_GATEWAY_LEDGER": str(directory / "gateway-charges.jsonl"),
                "PYTHONUNBUFFERED": "1",
                **(settings or {}),
            }

            def environment(service: str, name: str) -> dict[str, str]:
                metrics = directory / "metrics" / name  # each container's own tmpfs
                metrics.mkdir(parents=True, exist_ok=True)
                return production_environment(service, metrics, operator) | common

            processes = _app_processes(
                directory, environment, rabbitmq, web=web, ws=ws, workers=workers, cpus=cpus
            )
            every = [process for group in processes.values() for process in group]
            for process in every:
                started.start(process)
            _wait_healthy(every, READY_TIMEOUT_SECONDS)
            startup["processes healthy"] = time.monotonic() - began
            product_pk = preparing.result()
            startup["database migrated and seeded"] = time.monotonic() - began
        replica_caught_up(primary, replica)
        startup["ready"] = time.monotonic() - began
        (beat,), (proxy,) = processes["beat"], processes["proxy"]
        yield Topology(
            directory=directory,
            primary=primary,
            replica=replica,
            bouncer=bouncer,
            rabbitmq=rabbitmq,
            redis=redis,
            environment=processes["web"][0].environment,
            web=processes["web"],
            ws=processes["ws"],
            workers=processes["worker"],
            beat=beat,
            proxy=proxy,
            accounts=accounts,
            product_id=to_base64("Product", product_pk),
            startup=startup,
        )
    finally:
        started.stop_all()


def _database(started: _Started) -> tuple[PostgresCluster, PgBouncer, PostgresCluster]:
    """The primary with an empty Nexus database, PgBouncer in front of it, its replica."""
    primary = started.enter(postgres_primary())
    with primary.connect() as connection:
        connection.execute(f"CREATE DATABASE {DATABASE}")
    return (
        primary,
        started.enter(
            # PgBouncer's defaults hold a query 120 s for a server and retry a login every 15 s.
            pgbouncer(primary, query_wait_timeout=2, server_login_retry=1)
        ),
        started.enter(postgres_replica(primary)),
    )


def _database_prepare(
    bouncer: PgBouncer,
    accounts: Accounts,
    products: int,
    operator: dict[str, str],
    directory: Path,
) -> int:
    """Compose's migrate job, then the seed (tests/topology/seed.py), on the primary only and
    with no broker or Redis: they queue nothing. The stock product's primary key."""
    metrics = directory / "metrics" / "migrate"
    metrics.mkdir(parents=True)
    job = production_environment("migrate", metrics, operator) | {
        "DATABASE_URL": bouncer.url(DATABASE),
        "DATABASE_POOLER": "transaction",
        "DATABASE_PREPARED_STATEMENTS": "false",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "OTEL_SDK_DISABLED": "true",
    }
    _run_job(compose()["services"]["migrate"]["command"], job, directory / "migrate.log")
    spec = {
        "products": products,
        "categories": max(products // 25, 1),
        "stock": 1_000_000,
        "customers": accounts.customers,
        "staff": accounts.staff,
        "password": accounts.password,
    }
    seed = [sys.executable, "-m", "tests.topology.seed", json.dumps(spec)]
    return json.loads(_run_job(seed, job, directory / "seed.log"))["product"]


def _app_processes(
    directory: Path,
    environment: Callable[[str, str], dict[str, str]],
    rabbitmq: RabbitMQNode,
    *,
    web: int,
    ws: int,
    workers: int,
    cpus: Mapping[str, str] | None,
) -> dict[str, list[AppProcess]]:
    """The compose services' commands, as processes named ``web-1``, ``ws-1``, ``worker-1``,
    ``beat`` and ``proxy`` (Caddy on deploy/Caddyfile, its upstreams the web and ws ports)."""
    services = compose()["services"]

    def pinned(name: str, command: list[str]) -> list[str]:
        if cpus and name in cpus:
            return [required_binary("taskset", "util-linux"), "-c", cpus[name], *command]
        return command

    def server(service: str, index: int, command: list[str]) -> AppProcess:
        name, port = f"{service}-{index}", free_port()
        env = environment(service, name) | {"PORT": str(port)}
        if service == "web":
            env["GRANIAN_WORKERS"] = "1"  # one process each: the topology's unit of scale
        command = pinned(name, local_command(command, port))
        return AppProcess(name, command, env, directory / f"{name}.log", _web_health(port), port)

    def worker(index: int) -> AppProcess:
        name = f"worker-{index}"
        node = f"{name}@topology"
        # Its metrics server on a port of its own (compose gives each container 9100).
        env = environment("worker", name) | {"WORKER_METRICS_PORT": str(free_port())}
        command = [*local_command(services["worker"]["command"], 0), "--hostname", node]
        return AppProcess(
            name,
            pinned(name, command),
            env,
            directory / f"{name}.log",
            _worker_health(rabbitmq, node),
        )

    beat_command = local_command(services["beat"]["command"], 0)
    beat_command[beat_command.index("--schedule") + 1] = str(directory / "celerybeat-schedule")
    beat_log = directory / "beat.log"
    processes = {
        "web": [server("web", i, dockerfile_command()) for i in range(1, web + 1)],
        "ws": [server("ws", i, services["ws"]["command"]) for i in range(1, ws + 1)],
        "worker": [worker(i) for i in range(1, workers + 1)],
        "beat": [
            AppProcess(
                "beat", beat_command, environment("beat", "beat"), beat_log, _beat_health(beat_log)
            )
        ],
    }
    proxy_port = free_port()
    caddyfile = directory / "Caddyfile"
    caddyfile.write_text(
        local_caddyfile(
            proxy_port,
            ws=[p.port for p in processes["ws"] if p.port],
            web=[p.port for p in processes["web"] if p.port],
        )
    )
    caddy = required_binary("caddy", "caddy")
    processes["proxy"] = [
        AppProcess(
            "proxy",
            [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            {
                "PATH": os.environ["PATH"],
                "HOME": str(directory),
                "XDG_DATA_HOME": str(directory),
                "XDG_CONFIG_HOME": str(directory),
            },
            directory / "proxy.log",
            _web_health(proxy_port),  # through the proxy
            proxy_port,
        )
    ]
    return processes
