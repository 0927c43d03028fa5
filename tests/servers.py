"""Real servers a test starts for itself: PostgreSQL clusters, PgBouncer, Redis, RabbitMQ.

The machine's own PostgreSQL, Redis and RabbitMQ are shared by the whole suite, so a test that
stops, restarts or replicates a server starts its own here, on free local ports, under a
temporary directory it removes afterwards. A missing binary fails the test under ``CI=true``
(``.ci/run`` installs the Debian packages) and skips it elsewhere, naming the package.
"""

import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ON_CI
from tests.live_server import free_port

POSTGRES_BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
# PostgreSQL refuses to run as root; as root, its commands run as the postgres account.
SERVER_ACCOUNT = "postgres"
START_TIMEOUT_SECONDS = 60


def required_binary(name: str, package: str) -> str:
    """The path of ``name``; a failure under CI and a skip elsewhere when it is not installed."""
    found = shutil.which(name) or (
        str(POSTGRES_BIN / name) if (POSTGRES_BIN / name).exists() else None
    )
    if found is None:
        message = f"{name} is not installed (Debian: apt-get install {package})"
        if ON_CI:
            pytest.fail(message + "; .ci/run installs it (CI=true never skips)")
        pytest.skip(message)
    return found


def _as_server_account(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_ACCOUNT, "--", *command]
    return command


def _run(command: list[str]) -> None:
    result = subprocess.run(
        _as_server_account(command), capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


@contextmanager
def server_directory(prefix: str) -> Iterator[Path]:
    """A directory the server account owns: pytest's tmp_path is private to root."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(directory, SERVER_ACCOUNT, SERVER_ACCOUNT)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class PostgresCluster:
    """One PostgreSQL server on 127.0.0.1:``port``, started and stopped with ``pg_ctl``."""

    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
            # Test data: durability buys nothing here and costs every commit a flush.
            " -c fsync=off -c full_page_writes=off"
        )
        _run(
            [
                str(POSTGRES_BIN / "pg_ctl"),
                "-D",
                str(self.data / "pgdata"),
                "-l",
                str(self.data / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients and shuts down cleanly; ``immediate`` is a crash."""
        _run([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data / "pgdata"), "-m", mode, "stop"])

    def running(self) -> bool:
        try:
            with self.connect() as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text() if path.exists() else ""


@contextmanager
def postgres_primary(*, prefix: str = "nexus-primary-") -> Iterator[PostgresCluster]:
    """A fresh PostgreSQL server that accepts streaming replicas (initdb's trust for local)."""
    required_binary("initdb", "postgresql")
    with server_directory(prefix) as data:
        _run(
            [
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(data / "pgdata"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ]
        )
        cluster = PostgresCluster(data, free_port())
        cluster.start()
        try:
            yield cluster
        finally:
            _stop_quietly(cluster)


@contextmanager
def postgres_replica(
    primary: PostgresCluster, *, prefix: str = "nexus-replica-"
) -> Iterator[PostgresCluster]:
    """A hot standby of ``primary`` made with ``pg_basebackup -R``, streaming from it."""
    required_binary("pg_basebackup", "postgresql")
    with server_directory(prefix) as data:
        _run(
            [
                str(POSTGRES_BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(data / "pgdata"),
                "-X",
                "stream",
                "-R",  # standby.signal and primary_conninfo: start as a streaming replica
                "--no-sync",
                # An immediate checkpoint: the default spread one made the copy wait up to
                # minutes after a burst of writes (a migration).
                "--checkpoint=fast",
            ]
        )
        replica = PostgresCluster(data, free_port())
        replica.start()
        try:
            replica_caught_up(primary, replica)
            yield replica
        finally:
            _stop_quietly(replica)


def replica_caught_up(
    primary: PostgresCluster, replica: PostgresCluster, *, seconds: float = 30
) -> None:
    """Wait until ``replica`` has replayed everything ``primary`` had written when called."""
    with primary.connect() as connection:
        (target,) = connection.execute("SELECT pg_current_wal_lsn()").fetchone()  # type: ignore[misc]
    deadline = time.monotonic() + seconds
    with replica.connect() as connection:
        while True:
            (caught_up,) = connection.execute(  # type: ignore[misc]
                "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", [target]
            ).fetchone()
            if caught_up:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target} in {seconds} s")
            time.sleep(0.05)


def _stop_quietly(cluster: PostgresCluster) -> None:
    with suppress(RuntimeError):  # already stopped by the test
        cluster.stop("immediate")


@dataclass
class PgBouncer:
    """PgBouncer on 127.0.0.1:``port`` in transaction mode in front of one server."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text() if path.exists() else ""


@contextmanager
def pgbouncer(server: PostgresCluster, *, pool_size: int = 20) -> Iterator[PgBouncer]:
    """Debian's PgBouncer (1.18: no prepared-statement tracking) pooling by transaction."""
    binary = required_binary("pgbouncer", "pgbouncer")
    with server_directory("nexus-pgbouncer-") as directory:
        port = free_port()
        config = directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
            f"unix_socket_dir = {directory}\n"
            "auth_type = trust\n"
            f"auth_file = {directory / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            f"logfile = {directory / 'pgbouncer.log'}\n"
            # Django's connection set-up sends these; PgBouncer must pass them, not refuse.
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        (directory / "users.txt").write_text('"postgres" ""\n')
        if os.geteuid() == 0:
            for path in (config, directory / "users.txt"):
                shutil.chown(path, SERVER_ACCOUNT, SERVER_ACCOUNT)
        process = subprocess.Popen(_as_server_account([binary, str(config)]))
        bouncer = PgBouncer(process, port, directory)
        try:
            _until_accepting(bouncer.url("postgres"), process)
            yield bouncer
        finally:
            process.terminate()
            process.wait(timeout=30)


def _until_accepting(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2, prepare_threshold=None) as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@dataclass
class RedisServer:
    """``redis-server`` on 127.0.0.1:``port``, keeping nothing on disk (as the machine's)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        binary = required_binary("redis-server", "redis-server")
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _until_port_open(self.port, self.process)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM shuts down cleanly; SIGKILL is a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    with server_directory("nexus-redis-") as directory:
        server = RedisServer(free_port(), directory)
        server.start()
        try:
            yield server
        finally:
            server.stop(signal.SIGKILL)


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_ACCOUNT = "rabbitmq"


@dataclass
class RabbitMQNode:
    """A RabbitMQ node of its own (name, ports, data) beside the machine's; its data survives
    ``stop`` and ``start``, so durable queues and persistent messages outlive a restart."""

    port: int
    directory: Path
    pid: int | None = None

    @property
    def name(self) -> str:
        return f"nexus{self.port}@localhost"

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        required_binary("rabbitmq-server", "rabbitmq-server")
        environment = {
            "PATH": os.environ["PATH"],
            "HOME": "/var/lib/rabbitmq",  # the Erlang cookie the machine's node uses
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            # The default (port + 20000) may be another node's or out of range.
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_PID_FILE": str(self.directory / "pid"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",  # not the machine node's name and port
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        command = [str(RABBITMQ_BIN / "rabbitmq-server"), "-detached"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", RABBITMQ_ACCOUNT, "--", *command]
        subprocess.run(command, env=environment, cwd="/var/lib/rabbitmq", check=True, timeout=60)
        _until_port_open(self.port, None, seconds=120)
        self.pid = int((self.directory / "pid").read_text())

    @functools.cached_property
    def dist_port(self) -> int:
        return free_port()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM stops the node cleanly; SIGKILL is a crash. Returns once it has exited."""
        if self.pid is None:
            return
        with suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        deadline = time.monotonic() + 60
        while _process_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.pid = None


@contextmanager
def rabbitmq_node() -> Iterator[RabbitMQNode]:
    with server_directory("nexus-rabbitmq-") as directory:
        port = free_port()
        (directory / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
        (directory / "enabled_plugins").write_text("[].\n")  # no management listener to clash
        if os.geteuid() == 0:
            for path in (directory, directory / "rabbitmq.conf", directory / "enabled_plugins"):
                shutil.chown(path, RABBITMQ_ACCOUNT, RABBITMQ_ACCOUNT)
        node = RabbitMQNode(port, directory)
        node.start()
        try:
            yield node
        finally:
            node.stop(signal.SIGKILL)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _until_port_open(
    port: int, process: subprocess.Popen[bytes] | None, *, seconds: float = START_TIMEOUT_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on port {port} after {seconds} s")
        time.sleep(0.1)
