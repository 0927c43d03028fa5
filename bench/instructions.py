"""Instructions per request of a catalog scenario, counted by callgrind rather than timed.

Answers one scenario of ``bench/scenarios.py`` (default (a), the product list page), with the
variables ``make bench`` uses, in one process through the WSGI application production serves
(``--interface asgi``: the ASGI one Daphne serves): Django's handler, the middleware, the view,
execution and the scenario's statements, without an HTTP server.
The measured requests run between two calls of ``os.getppid()`` (``MEASURED_MARK``), which
nothing else calls, so callgrind can cut its count there: the second part is the measured
requests alone, without the start-up (whose count varies from run to run, by far more than a
request's on the first run of a fresh tree, which compiles its ``.pyc`` files). Divided by N,
it is the cost of one request, and it repeats to within a fraction of a percent whatever else
the machine is doing:

    DATABASE_URL=postgres://... valgrind --tool=callgrind --dump-before=os_getppid \\
        --callgrind-out-file=/tmp/cg.out .venv/bin/python bench/instructions.py --requests 60
    grep summary /tmp/cg.out.2    # the measured requests' instructions

(``--scenario e`` for another scenario). With tracing at a sampling ratio, which requests are
sampled is random: count ``OTEL_TRACES_SAMPLER=parentbased_always_off`` and
``parentbased_always_on`` and weigh them by the ratio for an exact figure. The spans of the
measured requests are exported (``force_flush``) before the second mark; with
``OTEL_BSP_SCHEDULE_DELAY=600000`` the export thread sends nothing else meanwhile, so the count
does not depend on how long the run took. Tracing starts as in the servers' entry points, so
the ``OTEL_*`` variables turn it on (an OTLP endpoint: ``bench/otlp_sink.py``). The database
must be seeded (``make bench`` or ``manage.py seed``). Kernel work (thread starts,
socket I/O) is not counted.
"""

import argparse
import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ["DEBUG"] = "false"  # production settings: no query log
os.environ.setdefault("SECRET_KEY", "instructions-bench-only-" + "x" * 30)

import django

django.setup(set_prefix=False)

from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from opentelemetry import trace  # noqa: E402

from backend.core.tracing import tracing_active, tracing_start  # noqa: E402
from bench.catalog import scenario_variables  # noqa: E402
from bench.scenarios import SCENARIOS  # noqa: E402

WARM_UP_REQUESTS = 20
# Called right before and right after the measured requests: callgrind's --dump-before cuts there.
MEASURED_MARK = os.getppid
SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/graphql/",
    "raw_path": b"/graphql/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}


def fail_unless_answered(status: int, body: bytes) -> None:
    if status != 200 or b'"errors"' in body:
        raise SystemExit(f"bench: the request failed: {body[:300]!r}")


async def asgi_request(application: ASGIHandler, body: bytes) -> None:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # no disconnect: the handler cancels this when done
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(dict(SCOPE), receive, send)
    fail_unless_answered(sent[0]["status"], sent[-1]["body"])


def wsgi_request(application: WSGIHandler, body: bytes) -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/graphql/",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    statuses: list[str] = []
    answer = b"".join(application(environ, lambda status, headers: statuses.append(status)))
    fail_unless_answered(int(statuses[0].split()[0]), answer)


async def asgi_main(requests: int, body: bytes) -> None:
    application = ASGIHandler()
    for _ in range(WARM_UP_REQUESTS):
        await asgi_request(application, body)
    spans_export()
    MEASURED_MARK()
    for _ in range(requests):
        await asgi_request(application, body)
    spans_export()
    MEASURED_MARK()


def wsgi_main(requests: int, body: bytes) -> None:
    application = WSGIHandler()
    for _ in range(WARM_UP_REQUESTS):
        wsgi_request(application, body)
    spans_export()
    MEASURED_MARK()
    for _ in range(requests):
        wsgi_request(application, body)
    spans_export()
    MEASURED_MARK()


def spans_export() -> None:
    """When tracing, export the spans queued so far: the measured requests' export is counted
    with them, and the warm-up's is not."""
    if tracing_active():
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="Measured requests.")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="a")
    parser.add_argument("--interface", choices=("wsgi", "asgi"), default="wsgi")
    arguments = parser.parse_args()
    # When the OTEL_* variables ask for it, as backend/wsgi.py and asgi.py do: before the
    # first connection, which psycopg's instrumentation must see opened.
    tracing_start()
    variables = scenario_variables(products=0)[arguments.scenario]
    query = SCENARIOS[arguments.scenario].query
    body = json.dumps({"query": query, "variables": variables}).encode()
    if arguments.interface == "wsgi":
        wsgi_main(arguments.requests, body)
    else:
        asyncio.run(asgi_main(arguments.requests, body))
