"""The observability files agree with the code: every metric a dashboard panel or an alert rule
names is one Nexus exports, Prometheus's own tools accept the files, compose wires the services
to files that exist, and a real Prometheus scraping a running Nexus finds the series."""

import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from backend.core import metrics
from tests.live_server import free_port, live_server, until_answers
from tests.ops.deployment import APP_SERVICES, CADDYFILE, ROOT, caddyfile, compose
from tests.servers import required_binary

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
OTEL_COLLECTOR = ROOT / "deploy" / "otel-collector.yaml"
# A metric name in PromQL: Nexus's all start with nexus_.
NEXUS_METRIC = re.compile(r"\bnexus_[a-z0-9_]+\b")
SCRAPE_TIMEOUT_SECONDS = 60
TOKEN = "observability-test-token"


def exported_metric_names() -> set[str]:
    """Every series name Nexus can export, suffixes included, from the metrics module's own
    definitions (not from what happens to have been recorded)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {metrics.CELERY_QUEUE_DEPTH_NAME}
    for collector in list(REGISTRY._collector_to_names):
        for family in getattr(collector, "describe", list)():
            if family.name.startswith("nexus_"):
                names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", ()):
                yield f"{path.name}: {panel['title']}", target["expr"]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


# --- Metric names ---------------------------------------------------------------------------


def test_the_exported_names_are_found() -> None:
    # Guards the reader: an empty set would let every check below pass.
    names = exported_metric_names()
    assert {
        "nexus_http_requests_total",
        "nexus_http_request_duration_seconds_bucket",
        "nexus_websocket_connections",
        "nexus_celery_queue_depth",
    } <= names


def test_every_dashboard_panel_queries_metrics_nexus_exports() -> None:
    exported = exported_metric_names()
    expressions = list(dashboard_expressions())
    assert expressions
    for panel, expression in expressions:
        named = set(NEXUS_METRIC.findall(expression))
        assert named, f"{panel} queries no Nexus metric: {expression}"
        assert named <= exported, f"{panel} names {sorted(named - exported)}"


def test_the_dashboard_has_the_api_workers_and_subscriptions_rows() -> None:
    dashboard = json.loads((DASHBOARDS / "nexus.json").read_text())
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == ["API", "Workers", "Subscriptions"]
    uids = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
    }
    datasources = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    assert uids == {datasource["uid"] for datasource in datasources}


def test_every_alert_names_exported_metrics_and_tells_the_operator_what_to_do() -> None:
    exported = exported_metric_names()
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {
        "NexusHighErrorRate",
        "NexusHighLatencyP99",
        "NexusCeleryQueueBacklog",
        "NexusCeleryTaskFailures",
        "NexusSubscriptionFanoutLag",
        "NexusDatabasePoolSaturated",
    }
    for rule in rules:
        named = set(NEXUS_METRIC.findall(rule["expr"]))
        assert named <= exported, f"{rule['alert']} names {sorted(named - exported)}"
        assert named or rule["expr"].startswith("up"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 80, rule["alert"]


# --- Prometheus's own checks ------------------------------------------------------------------


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = required_binary("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def _deployed_config_in(directory: Path) -> Path:
    """deploy/prometheus as the container sees it, with /etc/prometheus moved to ``directory``."""
    for source in (PROMETHEUS_CONFIG, ALERTS):
        text = source.read_text().replace("/etc/prometheus/", f"{directory}/")
        (directory / source.name).write_text(text)
    (directory / "metrics-token").write_text(TOKEN)
    return directory / PROMETHEUS_CONFIG.name


def test_promtool_accepts_the_scrape_configuration(tmp_path: Path) -> None:
    promtool = required_binary("promtool", "prometheus")
    config = _deployed_config_in(tmp_path)
    result = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_each_app_container_that_serves_metrics() -> None:
    services = compose()["services"]
    jobs = {
        job["job_name"]: job
        for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    }
    worker_port = services["worker"]["environment"]["WORKER_METRICS_PORT"]
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert targets["web"] == ["web:8000"]
    assert targets["ws"] == [f"ws:{services['ws']['command'][-2]}"]
    assert targets["worker"] == [f"worker:{worker_port}"]
    for name in ("web", "ws"):  # /metrics needs the token; the worker's port has none
        assert jobs[name]["authorization"]["credentials_file"] == "/etc/prometheus/metrics-token"


# --- docker-compose.yml -----------------------------------------------------------------------


def test_observability_services_run_pinned_images_on_files_that_exist() -> None:
    services = compose()["services"]
    for name in ("prometheus", "grafana", "otel-collector"):
        image = services[name]["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: unpinned {image}"
        for volume in services[name].get("volumes", ()):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    mounted = {volume.split(":")[1] for volume in services["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= mounted
    assert "--config=/etc/otelcol/config.yaml" in services["otel-collector"]["command"]


def test_prometheus_reads_the_same_token_the_app_services_require() -> None:
    document = compose()
    token = document["configs"]["metrics-token"]["content"]
    assert token.startswith("${METRICS_BEARER_TOKEN:?")
    for name in APP_SERVICES:
        assert document["services"][name]["environment"]["METRICS_BEARER_TOKEN"] == token
    assert document["services"]["prometheus"]["configs"] == [
        {"source": "metrics-token", "target": "/etc/prometheus/metrics-token"}
    ]


def test_app_services_write_multiprocess_metrics_to_a_private_tmpfs() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        directory = services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert any(mount.split(":")[0] == directory for mount in services[name]["tmpfs"]), name


def test_the_collector_receives_otlp_over_http_and_batches_to_the_debug_exporter() -> None:
    config = yaml.safe_load(OTEL_COLLECTOR.read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert "debug" in config["exporters"]
    for pipeline in config["service"]["pipelines"].values():
        assert pipeline == {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["debug"]}


def test_the_proxy_never_serves_metrics() -> None:
    site = next(directive for directive in caddyfile() if directive.tokens == [":8000"])
    assert ["respond", "/metrics", "404"] in [directive.tokens for directive in site.block]
    assert CADDYFILE.is_file()


# --- A real Prometheus scraping a running Nexus ----------------------------------------------


def _prometheus_query(base_url: str, query: str) -> list[dict[str, Any]]:
    url = f"{base_url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


@pytest.fixture
def prometheus_scraping(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Nexus (Daphne, multi-process mode, the token set) and a Prometheus scraping it every
    second with the deployed alert rules loaded; yields (Nexus URL, Prometheus URL)."""
    binary = required_binary("prometheus", "prometheus")
    multiprocess = tmp_path / "metrics"
    multiprocess.mkdir()
    environment = {
        "METRICS_BEARER_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiprocess),
        "CELERY_BROKER_URL": "",
    }
    with live_server(environment, tmp_path / "nexus.log") as nexus_url:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {
                    "job_name": "web",
                    "authorization": {"credentials": TOKEN},
                    "static_configs": [{"targets": [nexus_url.removeprefix("http://")]}],
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = (tmp_path / "prometheus.log").open("w")
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        prometheus_url = f"http://127.0.0.1:{port}"
        try:
            until_answers(
                server,
                f"{prometheus_url}/-/ready",
                tmp_path / "prometheus.log",
                SCRAPE_TIMEOUT_SECONDS,
            )
            yield nexus_url, prometheus_url
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_a_running_nexus_and_finds_its_series(
    prometheus_scraping: tuple[str, str],
) -> None:
    nexus_url, prometheus_url = prometheus_scraping
    refused = urllib.request.Request(f"{nexus_url}/metrics")
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(refused, timeout=5)
    assert not_found.value.code == 404  # the scrape below carries the token; this did not
    query = json.dumps({"query": "query MetricsProbe { __typename }"}).encode()
    for _ in range(3):
        request = urllib.request.Request(
            f"{nexus_url}/graphql/", data=query, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["data"] == {"__typename": "Query"}

    wanted = {
        'up{job="web"} == 1': None,
        'nexus_http_requests_total{route="graphql/", method="POST", status="200"}': 3.0,
        'nexus_graphql_operation_duration_seconds_count{operation_name="MetricsProbe"}': 3.0,
        'nexus_http_request_duration_seconds_bucket{route="graphql/", le="+Inf"}': 3.0,
    }
    found: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + SCRAPE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = {query: _prometheus_query(prometheus_url, query) for query in wanted}
        if all(
            results and (value is None or float(results[0]["value"][1]) == value)
            for (query, value), results in zip(wanted.items(), found.values(), strict=True)
        ):
            break
        time.sleep(0.5)
    for query, value in wanted.items():
        assert found[query], f"Prometheus has no {query}"
        if value is not None:
            assert float(found[query][0]["value"][1]) == value, query

    with urllib.request.urlopen(f"{prometheus_url}/api/v1/rules", timeout=5) as response:
        groups = json.load(response)["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert loaded == {rule["alert"] for rule in alert_rules()}
    assert all(rule["health"] != "err" for group in groups for rule in group["rules"])
