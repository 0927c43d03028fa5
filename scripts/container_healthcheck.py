"""Container health probes: ``python scripts/container_healthcheck.py web|worker|beat``.

Used by the Dockerfile's HEALTHCHECK (web) and by docker-compose.yml (web, ws, worker, beat).
Exit status 0 means healthy, 1 means unhealthy with the reason on stderr; a probe never hangs
past its own timeout, so Docker's health-check timeout is only a backstop.

- ``web``: GET http://127.0.0.1:$PORT/healthz (or ``--port``) answers 200 with
  ``{"status": "ok"}``. The same probe checks either server: granian (HTTP) on $PORT, and
  Daphne (the WebSocket server, which answers HTTP too) with ``--port 8001``. The Host
  header is taken from ALLOWED_HOSTS, because with DEBUG off Django answers 400 to any other host
  and a probe that only works when ``localhost`` is allowed would fail real deployments.
- ``worker``: this container's Celery worker (``celery@<hostname>`` unless ``--node`` says
  otherwise) answers a remote-control ping through the broker: proves the process is alive *and*
  consuming from RabbitMQ, which "process exists" would not.
- ``beat``: the broker beat publishes to accepts a connection. Beat has no remote control, and
  a beat that cannot reach its broker silently drops every scheduled task.
"""

import argparse
import json
import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

PROBE_TIMEOUT_SECONDS = 5.0
# Run as a script, Python puts scripts/ on sys.path, not the project that holds ``backend``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def probe_host() -> str:
    """A host name Django accepts under the deployment's ALLOWED_HOSTS."""
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    # ".example.com" allows example.com itself; "*" allows anything, so any name will do.
    return first.lstrip(".").replace("*", "") or "localhost"


def web_healthy(*, port: int) -> str | None:
    """None when /healthz answers ok, else the reason it did not."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": probe_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_SECONDS) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        return f"/healthz on port {port} failed: {error}"
    if body.get("status") != "ok":
        return f"/healthz answered {body!r}"
    return None


def worker_healthy(*, node: str) -> str | None:
    """None when the Celery worker ``node`` answers a ping, else the reason."""
    from backend.celery import app  # imported here: the web probe needs no Django settings

    try:
        replies = app.control.ping(destination=[node], timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as error:  # a broker that refuses the ping is an unhealthy worker
        return f"ping to {node} failed: {error}"
    if not any(node in reply for reply in replies):
        return f"Celery worker {node} did not answer a ping within {PROBE_TIMEOUT_SECONDS}s"
    return None


def beat_healthy() -> str | None:
    """None when the broker Celery beat publishes to accepts a connection, else the reason."""
    from backend.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception as error:  # any failure to connect is the answer, not a crash
        return f"broker unreachable: {error}"
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("process", choices=["web", "worker", "beat"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--node", default=f"celery@{socket.gethostname()}")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))
    if args.process == "web":
        failure = web_healthy(port=args.port)
    elif args.process == "worker":
        failure = worker_healthy(node=args.node)
    else:
        failure = beat_healthy()
    if failure:
        print(f"unhealthy: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
