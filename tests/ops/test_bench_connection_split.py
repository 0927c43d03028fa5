"""``bench.catalog.connection_split`` counts, per process of a server's process group, the
connections it holds on the server's port: two real processes, each accepting its own share of
real connections, as granian's workers do."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.catalog import connection_split

# A process that listens, forks one worker per count given, and has each worker accept that
# many connections and hold them until killed: a server's workers and their kept connections.
SERVER = """
import os, signal, socket, sys, time
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
for count in map(int, sys.argv[1:]):
    os.read(0, 1)  # the test connects this worker's share once it asks for it
    if os.fork() == 0:
        held = [listener.accept()[0] for _ in range(count)]
        print("held", flush=True)
        time.sleep(60)
        os._exit(0)
    print("forked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def server() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, "5", "3"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    yield process
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_each_workers_connections_are_counted_most_first(server: subprocess.Popen) -> None:
    assert server.stdin is not None
    assert server.stdout is not None
    port = int(server.stdout.readline())
    clients = []
    for count in (5, 3):
        server.stdin.write("x")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "forked"
        clients += [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        assert server.stdout.readline().strip() == "held"
    try:
        deadline = time.monotonic() + 5
        while connection_split(server.pid, port) != (5, 3) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert connection_split(server.pid, port) == (5, 3)
        assert connection_split(server.pid, port + 1) == ()
    finally:
        for client in clients:
            client.close()
