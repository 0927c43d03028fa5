"""The platform's metrics (backend/core/metrics.py): each hook moves its series, labels stay
bounded, /metrics is served only with its token, and several real processes report as one."""

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest
from celery import signals as celery_signals
from django.db import connection
from django.test import Client
from kombu import Producer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from backend.accounts import throttling
from backend.accounts.tasks import throttle_buckets_purge
from backend.core import metrics
from tests.factories import user_create
from tests.live_server import free_port
from tests.paths import REPO_ROOT

TOKEN = "test-metrics-token"


def sample(name: str, **labels: str) -> float:
    """The value of one series in this process's registry (0 before it exists)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST="localhost")


def scrape(client: Client) -> dict[str, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        f"{s.name}{json.dumps(s.labels, sort_keys=True)}": s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


# --- /metrics ---------------------------------------------------------------------------------


def test_metrics_is_not_found_while_no_token_is_set(client: Client, settings: Settings) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_refuses_a_request_without_the_token(client: Client, settings: Settings) -> None:
    settings.METRICS_BEARER_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 404  # no scheme


@pytest.mark.django_db
def test_metrics_serves_the_text_format_to_the_token(client: Client, settings: Settings) -> None:
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.CELERY_BROKER_URL = ""  # no queue to read: the scrape still answers
    client.get("/healthz")
    series = scrape(client)
    key = 'nexus_http_requests_total{"method": "GET", "route": "healthz", "status": "200"}'
    assert series[key] >= 1


@pytest.mark.django_db
def test_a_scrape_of_a_pod_address_is_answered_though_it_is_no_allowed_host(
    settings: Settings,
) -> None:
    """Prometheus in Kubernetes scrapes each pod at its IP: the Host it sends. Only /metrics
    is spared the ALLOWED_HOSTS check; the token still guards it."""
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.CELERY_BROKER_URL = ""
    settings.ALLOWED_HOSTS = ["api.shop.example"]
    pod = Client(HTTP_HOST="10.42.3.17:8000")
    scraped = pod.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert scraped.status_code == 200
    assert b"nexus_http_requests_total" in scraped.content
    assert pod.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert pod.get("/healthz").status_code == 400  # every other path checks the Host


# --- HTTP requests --------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_and_timed_by_url_pattern_not_path(client: Client) -> None:
    route = "api/v1/products/(?P<pk>[0-9]+)$"
    before = sample("nexus_http_requests_total", method="GET", route=route, status="404")
    timed = sample("nexus_http_request_duration_seconds_count", method="GET", route=route)

    for pk in (987654, 987655, 987656):
        client.get(f"/api/v1/products/{pk}")

    after = sample("nexus_http_requests_total", method="GET", route=route, status="404")
    assert after - before == 3
    assert sample("nexus_http_request_duration_seconds_count", method="GET", route=route) == (
        timed + 3
    )
    # No series carries a raw path.
    labels = {s.labels.get("route") for s in next(iter(metrics.HTTP_REQUESTS.collect())).samples}
    assert not any("98765" in (route or "") for route in labels)


def test_unmatched_paths_and_unusual_methods_share_one_series(client: Client) -> None:
    unmatched = {"method": "other", "route": metrics.UNMATCHED_ROUTE, "status": "404"}
    before = sample("nexus_http_requests_total", **unmatched)

    client.generic("BREW", "/no/such/page/1")
    client.generic("PROPFIND", "/no/such/page/2")

    assert sample("nexus_http_requests_total", **unmatched) - before == 2


@pytest.mark.django_db
def test_statements_per_request_counts_what_the_request_sent(
    client: Client, count_queries: type
) -> None:
    graphql = {"transport": "graphql"}
    count, total = (
        sample("nexus_db_statements_per_request_count", **graphql),
        sample("nexus_db_statements_per_request_sum", **graphql),
    )
    query = {"query": "{ products(first: 2) { edges { node { id } } } }"}

    with count_queries() as sent:
        response = client.post("/graphql/", query, content_type="application/json")

    assert response.status_code == 200
    assert sent.count >= 1
    assert sample("nexus_db_statements_per_request_count", **graphql) == count + 1
    assert sample("nexus_db_statements_per_request_sum", **graphql) == total + sent.count


def test_health_probes_are_not_reported_as_an_api_transport(client: Client) -> None:
    other = sample("nexus_db_statements_per_request_count", transport="other")
    client.get("/healthz")
    assert sample("nexus_db_statements_per_request_count", transport="other") == other + 1


# --- The connection pool --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pool_gauges_report_the_connections_in_use_and_idle() -> None:
    if not connection.settings_dict["OPTIONS"].get("pool"):
        pytest.skip("DATABASE_POOL_MAX_SIZE=0: no pool to report")
    connection.ensure_connection()

    metrics.pool_gauges_refresh()

    in_use = sample("nexus_db_pool_connections", state="in_use")
    idle = sample("nexus_db_pool_connections", state="idle")
    assert in_use >= 1  # this test holds one
    pool = connection.pool
    assert pool is not None
    assert in_use + idle == pool.get_stats()["pool_size"]
    assert sample("nexus_db_pool_connections", state="waiting") == 0


# --- The login throttle ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_throttle_refusal_is_counted_once(settings: Settings) -> None:
    settings.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT = 1
    user = user_create()
    before = sample("nexus_login_throttle_refusals_total")

    def attempt() -> bool:
        return throttling.password_checked(
            ip="203.0.113.9", account=user.email, check=lambda: False
        )

    assert attempt() is False  # counted, evaluated, wrong
    assert sample("nexus_login_throttle_refusals_total") == before
    with pytest.raises(throttling.AttemptDelayedError):
        attempt()
    assert sample("nexus_login_throttle_refusals_total") == before + 1


# --- Celery ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_task_run_is_counted_by_outcome_and_timed() -> None:
    task = throttle_buckets_purge.name
    runs = sample("nexus_celery_tasks_total", task=task, outcome="success")
    timed = sample("nexus_celery_task_duration_seconds_count", task=task)

    throttle_buckets_purge.apply()

    assert sample("nexus_celery_tasks_total", task=task, outcome="success") == runs + 1
    assert sample("nexus_celery_task_duration_seconds_count", task=task) == timed + 1


def test_a_retry_signal_is_counted_for_its_task() -> None:
    task = throttle_buckets_purge.name
    before = sample("nexus_celery_task_retries_total", task=task)

    celery_signals.task_retry.send(sender=throttle_buckets_purge, request=None, reason="test")

    assert sample("nexus_celery_task_retries_total", task=task) == before + 1


@pytest.mark.services
def test_queue_depth_is_read_from_the_broker_without_creating_a_queue(
    real_celery_broker: str, settings: Settings
) -> None:
    from backend.celery import app

    queue = f"nexus-metrics-{os.getpid()}-{time.monotonic_ns()}"
    settings.CELERY_BROKER_URL = real_celery_broker
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    assert metrics.queue_depths() == {}  # absent: the passive declare never creates it

    with app.connection_for_write(real_celery_broker) as broker:
        channel = broker.default_channel
        channel.queue_declare(queue=queue, auto_delete=False)
        try:
            producer = Producer(channel)
            for number in range(3):
                producer.publish(number, routing_key=queue, serializer="json")
            assert metrics.queue_depths() == {queue: 3}
        finally:
            channel.queue_delete(queue)


def test_an_unreachable_broker_leaves_the_queue_depth_out(settings: Settings) -> None:
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    assert metrics.queue_depths() == {}


# --- Several processes ----------------------------------------------------------------------

# A process that records what a request would, then exits or waits to be told to.
_RECORDING_PROCESS = textwrap.dedent(
    """
    import os
    import sys
    import django
    django.setup()
    from backend.core import metrics
    metrics.HTTP_REQUESTS.labels("GET", "healthz", "200").inc(int(sys.argv[1]))
    metrics.WEBSOCKET_CONNECTIONS.inc()
    print(os.getpid(), flush=True)
    if sys.argv[2] == "stay":
        sys.stdin.read()
    """
)
# What answers a scrape in that directory: the same code as /metrics.
_SCRAPING_PROCESS = textwrap.dedent(
    """
    import django
    django.setup()
    from prometheus_client import generate_latest
    from backend.core import metrics
    print(generate_latest(metrics.scrape_registry()).decode())
    """
)


@pytest.fixture
def multiprocess_environment(tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "metrics"
    directory.mkdir()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "CELERY_BROKER_URL": "",
    }


@pytest.fixture
def staying_process(multiprocess_environment: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", _RECORDING_PROCESS, "2", "stay"],
        cwd=REPO_ROOT,
        env=multiprocess_environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert int(process.stdout.readline()) == process.pid
        yield process
    finally:
        process.communicate(timeout=30)


def test_two_processes_report_together_and_an_exited_ones_live_gauge_is_dropped(
    multiprocess_environment: dict[str, str], staying_process: subprocess.Popen[str]
) -> None:
    exited_pid = int(
        subprocess.run(
            [sys.executable, "-c", _RECORDING_PROCESS, "3", "exit"],
            cwd=REPO_ROOT,
            env=multiprocess_environment,
            check=True,
            capture_output=True,
        ).stdout
    )

    scraped = subprocess.run(
        [sys.executable, "-c", _SCRAPING_PROCESS],
        cwd=REPO_ROOT,
        env=multiprocess_environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    series = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }

    requests = (
        "nexus_http_requests_total",
        (("method", "GET"), ("route", "healthz"), ("status", "200")),
    )
    assert series[requests] == 5  # both processes' counts, the exited one's included
    assert series[("nexus_websocket_connections", ())] == 1  # the live process's only
    directory = Path(multiprocess_environment["PROMETHEUS_MULTIPROC_DIR"])
    live_files = {path.name for path in directory.glob("gauge_livesum_*.db")}
    assert f"gauge_livesum_{staying_process.pid}.db" in live_files
    assert f"gauge_livesum_{exited_pid}.db" not in live_files
    assert (directory / f"counter_{exited_pid}.db").is_file()  # its counts stay


def test_a_worker_serves_its_metrics_on_its_own_port(settings: Settings) -> None:
    port = free_port()
    settings.WORKER_METRICS_PORT = port
    settings.CELERY_BROKER_URL = ""

    celery_signals.worker_ready.send(sender=None)

    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert "nexus_celery_tasks_total" in body
    assert "nexus_http_requests_total" in body
