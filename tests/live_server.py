"""Daphne serving the real ASGI application on a free port, on this test's own database.

For end-to-end tests that talk to the server as clients do, over real sockets. The test must
commit its rows (``django_db(transaction=True)``) for the server process to see them.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.orders.test_celery_worker import _test_database_url

SERVER_READY_TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_environment() -> dict[str, str]:
    """The variables that point another process at this test's database."""
    if connection.settings_dict["ENGINE"] == "backend.core.embedded_postgres":
        # The same embedded server (EMBEDDED_POSTGRES_DIR is shared), the test database in it.
        return {"DATABASE_URL": "", "EMBEDDED_POSTGRES_DB": connection.settings_dict["NAME"]}
    return {"DATABASE_URL": _test_database_url()}


def until_answers(
    server: subprocess.Popen[bytes], url: str, log_path: Path, seconds: float
) -> None:
    """Wait until ``url`` answers, failing with the server's log if it exits or takes longer
    than ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, f"{server.args[0]} exited:\n{log_path.read_text()}"
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            assert time.monotonic() < deadline, f"{url} does not answer:\n{log_path.read_text()}"
            time.sleep(0.2)


@contextmanager
def live_server(environment: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """Start Daphne with ``environment`` over this process's; yield its base URL once /healthz
    answers. The server is stopped on exit and its log printed (pytest shows it on failure)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DEBUG": "true",
        "DATABASE_POOL_MAX_SIZE": "4",
        **database_environment(),
        **environment,
    }
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*command, "backend.asgi:application"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        until_answers(server, f"{base_url}/healthz", log_path, SERVER_READY_TIMEOUT)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        print(log_path.read_text())  # shown by pytest only when the test fails
