"""The container files describe a stack that can start: Dockerfile, docker-compose.yml, the
proxy's Caddyfile, probes.

No Docker engine runs here, so the files are checked as Docker reads them, and what the
containers would run (settings loading, granian and Daphne, a Celery worker, the health probes,
Caddy in front of both servers where it is installed) runs for real outside Docker with the
compose environment, its service hosts mapped to localhost.
"""

import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import connect

from tests.conftest import database_url, service_url
from tests.live_server import free_port
from tests.ops.deployment import (
    APP_REQUIRED_VARIABLES,
    APP_SERVICES,
    DATA_SERVICES,
    OPERATOR_VARIABLES,
    ROOT,
    SERVER_VARIABLES,
    VENV_BIN,
    CaddyDirective,
    MissingRequiredVariableError,
    caddyfile,
    check_ids,
    compose,
    compose_environment,
    dockerfile_command,
    dockerfile_environment,
    dockerfile_stages,
    local_caddyfile,
    local_command,
    manage,
    option,
    probe,
    production_environment,
    settings_environment_variables,
    upstreams,
)
from tests.servers import required_binary

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|build-essential|clang|make|libpq-dev|python3-dev)\b")
# deploy/Caddyfile's read_body timeout as the tests' proxy has it: short enough to wait out.
TEST_READ_BODY_SECONDS = 2
# What Caddy's ``trusted_proxies private_ranges`` stands for (Caddy's own expansion).
CADDY_PRIVATE_RANGES = (
    "192.168.0.0/16", "172.16.0.0/12", "10.0.0.0/8", "127.0.0.1/8", "fd00::/8", "::1",
)  # fmt: skip


# --- docker-compose.yml -----------------------------------------------------------------------


def test_compose_declares_the_whole_stack() -> None:
    services = compose()["services"]
    assert set(DATA_SERVICES + APP_SERVICES) <= set(services)


def test_every_service_has_an_image_or_a_build() -> None:
    for name, service in compose()["services"].items():
        assert service.get("image") or service.get("build"), name


def test_app_services_build_this_repository_into_one_image() -> None:
    services = compose()["services"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    assert all(services[name]["build"] == "." for name in APP_SERVICES)


def test_data_services_run_the_supported_server_versions() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"] == "postgres:18"
    assert services["rabbitmq"]["image"].startswith("rabbitmq:4")
    assert services["redis"]["image"] == "redis:7"


def test_web_runs_the_images_granian_ws_runs_daphne_and_celery_the_backend_package() -> None:
    services = compose()["services"]
    # Spelt out in compose for its reader; it must not drift from what the image runs.
    assert services["web"]["command"] == dockerfile_command()
    assert services["ws"]["command"] == [
        "daphne", "-b", "0.0.0.0", "-p", "8001", "backend.asgi:application",
    ]  # fmt: skip
    assert services["worker"]["command"][:4] == ["celery", "-A", "backend", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "backend", "beat"]


def test_every_app_and_data_service_has_a_health_check() -> None:
    """The proxy has none: nothing waits for it, and it starts only once web and ws are healthy."""
    services = compose()["services"]
    for name in DATA_SERVICES + APP_SERVICES:
        healthcheck = services[name].get("healthcheck", {})
        assert healthcheck.get("test"), f"{name} has no health check"
        assert not healthcheck.get("disable"), name
    assert services["postgres"]["healthcheck"]["test"][-1].startswith("pg_isready")
    assert services["rabbitmq"]["healthcheck"]["test"] == [
        "CMD", "rabbitmq-diagnostics", "-q", "ping",
    ]  # fmt: skip
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in ("web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"][-2:] == [
            "/app/scripts/container_healthcheck.py",
            name,
        ]
    # ws probes /healthz like web, on the port its Daphne binds.
    ws = services["ws"]
    assert ws["healthcheck"]["test"][-4:] == [
        "/app/scripts/container_healthcheck.py", "web", "--port", option(ws["command"], "-p"),
    ]  # fmt: skip


def test_settings_still_read_every_variable_the_containers_require() -> None:
    """A renamed setting must not leave the compose file setting a variable nobody reads."""
    assert set(APP_REQUIRED_VARIABLES) <= settings_environment_variables()


def test_app_services_set_every_variable_production_settings_require() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        missing = set(APP_REQUIRED_VARIABLES) - set(environment)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert environment["DEBUG"] == "false"


def test_app_services_set_only_variables_the_settings_or_their_server_read() -> None:
    """Catches a misspelt variable, which Compose would pass on and settings silently ignore."""
    known = settings_environment_variables()
    for name in APP_SERVICES:
        server_reads = SERVER_VARIABLES.get(name, set())
        assert set(compose()["services"][name]["environment"]) <= known | server_reads, name


def test_granian_reads_the_worker_count_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What lets web's GRANIAN_WORKERS (SERVER_VARIABLES) take effect; FORWARDED_ALLOW_IPS is
    read by the settings (backend/core/proxy.py, tests/platform/test_proxy.py). The image's
    command parsed by granian's own command line, with the prefix its entry point passes; the
    running server's worker count is checked against its log below."""
    from granian.cli import cli

    monkeypatch.setenv("GRANIAN_WORKERS", "3")
    command = dockerfile_command()
    parsed = cli.make_context(command[0], command[1:], auto_envvar_prefix="GRANIAN").params
    options = {name: getattr(value, "value", value) for name, value in parsed.items()}  # enums
    assert options["workers"] == 3
    # The flags mean to granian what the Dockerfile says; access logging stays at its default.
    assert {name: options[name] for name in (
        "interface", "host", "port", "blocking_threads", "runtime_mode", "websockets",
        "respawn_failed_workers", "log_access_enabled",
    )} == {
        "interface": "wsgi", "host": "0.0.0.0", "port": 8000, "blocking_threads": 1,
        "runtime_mode": "st", "websockets": False, "respawn_failed_workers": True,
        "log_access_enabled": False,
    }  # fmt: skip


def test_web_runs_the_images_worker_count_unless_the_operator_sets_one() -> None:
    shell = dict.fromkeys(OPERATOR_VARIABLES, "set")
    default = compose_environment("web", shell)["GRANIAN_WORKERS"]
    assert default == dockerfile_environment()["GRANIAN_WORKERS"]
    tuned = compose_environment("web", shell | {"GRANIAN_WORKERS": "8"})
    assert tuned["GRANIAN_WORKERS"] == "8"


def test_web_and_ws_trust_forwarded_headers_from_every_range_the_proxy_trusts() -> None:
    """Otherwise the client address is the proxy's: all clients share web's login throttle
    and ws's limit on anonymous sockets."""
    services = compose()["services"]
    for name in ("web", "ws"):
        allowed = services[name]["environment"]["FORWARDED_ALLOW_IPS"].split(",")
        networks = [ipaddress.ip_network(entry, strict=False) for entry in allowed]
        for caddy_range in CADDY_PRIVATE_RANGES:
            trusted = ipaddress.ip_network(caddy_range, strict=False)
            # A whole range is covered when its first and last address fall in one network.
            assert any(trusted[0] in net and trusted[-1] in net for net in networks), (
                name,
                caddy_range,
            )


def test_compose_refuses_to_start_without_each_operator_variable() -> None:
    complete = {name: "set" for name in OPERATOR_VARIABLES}
    for secret in OPERATOR_VARIABLES:
        without = {name: value for name, value in complete.items() if name != secret}
        with pytest.raises(MissingRequiredVariableError, match=secret):
            compose_environment("web", without)


def test_app_services_point_at_the_compose_postgres_rabbitmq_and_redis() -> None:
    environment = compose_environment("web", dict.fromkeys(OPERATOR_VARIABLES, "set"))
    assert re.fullmatch(r"postgres://[^@]+@postgres:5432/\w+", environment["DATABASE_URL"])
    assert re.fullmatch(r"amqp://[^@]+@rabbitmq:5672/\w*", environment["CELERY_BROKER_URL"])
    assert re.fullmatch(r"redis://redis:6379/\d+", environment["REDIS_URL"])


def test_app_services_start_only_after_healthy_dependencies_and_migrations() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        for dependency in ("postgres", "rabbitmq", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name


def test_migrations_run_once_in_a_job_that_waits_for_postgres() -> None:
    migrate = compose()["services"]["migrate"]
    assert "manage.py migrate --noinput" in " ".join(migrate["command"])
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_data_lives_on_declared_named_volumes() -> None:
    document = compose()
    expected_mounts = {
        "postgres": "/var/lib/postgresql",  # PostgreSQL 18 images: the parent of 18/docker
        "rabbitmq": "/var/lib/rabbitmq",
        "redis": "/data",
        "beat": "/var/lib/nexus",
    }
    for service, target in expected_mounts.items():
        volume, mount = document["services"][service]["volumes"][0].split(":")[:2]
        assert mount == target, service
        assert volume in document["volumes"], f"{service} uses undeclared volume {volume}"
    beat_command = document["services"]["beat"]["command"]
    assert beat_command[beat_command.index("--schedule") + 1].startswith("/var/lib/nexus/")


def test_rabbitmq_keeps_a_fixed_node_name_so_its_volume_is_reused() -> None:
    assert compose()["services"]["rabbitmq"]["hostname"] == "rabbitmq"


def test_only_the_proxy_publishes_a_public_port() -> None:
    """One public URL for HTTP and WebSockets; web and ws are reached through the proxy.
    Grafana publishes its port on the host's loopback only."""
    services = compose()["services"]
    publishing = {name for name, service in services.items() if "ports" in service}
    assert publishing == {"proxy", "grafana"}
    assert services["proxy"]["ports"] == ["${WEB_PORT:-8000}:8000"]
    assert services["grafana"]["ports"] == ["127.0.0.1:${GRAFANA_PORT:-3000}:3000"]


def test_proxy_runs_caddy_on_the_caddyfile_once_web_and_ws_are_healthy() -> None:
    proxy = compose()["services"]["proxy"]
    assert proxy["image"] == "caddy:2"
    assert "command" not in proxy  # the image runs /etc/caddy/Caddyfile
    assert proxy["volumes"] == ["./deploy/Caddyfile:/etc/caddy/Caddyfile:ro"]
    assert (ROOT / "deploy" / "Caddyfile").is_file()
    assert proxy["depends_on"] == {
        "web": {"condition": "service_healthy"},
        "ws": {"condition": "service_healthy"},
    }


# --- deploy/Caddyfile -------------------------------------------------------------------------


def proxy_site() -> list[CaddyDirective]:
    """The directives of the Caddyfile's site on the port the proxy container publishes."""
    address = ":" + compose()["services"]["proxy"]["ports"][0].rsplit(":", 1)[1]
    sites = [directive for directive in caddyfile() if directive.tokens == [address]]
    assert len(sites) == 1, f"the Caddyfile has no single site {address}"
    return sites[0].block


def test_caddyfile_sends_websocket_upgrades_to_ws_and_everything_else_to_web() -> None:
    site = proxy_site()
    matchers = {d.tokens[0]: [m.tokens for m in d.block] for d in site if d.tokens[0][0] == "@"}
    assert matchers == {
        "@websocket": [["header", "Connection", "*Upgrade*"], ["header", "Upgrade", "websocket"]]
    }
    # In order: Caddy tries the matched route first, then the catch-all.
    routes = [d.tokens[1:] for d in site if d.tokens[0] == "reverse_proxy"]
    ws, web = upstreams()
    assert routes == [["@websocket", ws], [web]]


def test_caddyfile_passes_host_and_forwarded_headers_untouched_by_rewrites() -> None:
    """No header_up: Caddy's defaults keep Host and set X-Forwarded-For/-Proto/-Host."""
    for directive in proxy_site():
        if directive.tokens[0] == "reverse_proxy":
            assert [d.tokens for d in directive.block] == [
                ["trusted_proxies", "private_ranges"],
                ["import", "upstream_failover"],
            ]


def test_caddyfile_fails_over_on_proxying_errors_never_on_nexus_answers() -> None:
    """Both pools retry a refused connection elsewhere and rest an upstream that failed one;
    no unhealthy_status or unhealthy_latency: a 503 or a slow answer from Nexus is an answer.
    tests/topology shows a killed web and ws process cost clients nothing."""
    (snippet,) = [d for d in caddyfile() if d.tokens == ["(upstream_failover)"]]
    assert [d.tokens for d in snippet.block] == [
        ["lb_try_duration", "5s"],
        ["lb_try_interval", "250ms"],
        ["fail_duration", "5s"],
        ["max_fails", "1"],
    ]


# --- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_builds_in_stages_and_runs_on_slim_python() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert re.fullmatch(r"python:3\.1[2-9]-slim", stages[-1].base)
    assert stages[0].base == stages[-1].base, "the venv links to the builder's interpreter"


def test_dependencies_install_from_the_lock_file_with_the_makefiles_uv() -> None:
    builder = dockerfile_stages()[0]
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv
    assert f"--from=ghcr.io/astral-sh/uv:{makefile_uv.group(1)} " in " ".join(builder.all("COPY"))
    sync = next(run for run in builder.all("RUN") if "uv sync" in run)
    assert "--frozen" in sync
    assert "--no-dev" in sync


def test_final_image_runs_as_a_non_root_user_without_build_tools() -> None:
    final = dockerfile_stages()[-1]
    users = final.all("USER")
    assert users
    assert users[-1] not in {"root", "0"}
    assert users[-1].split(":")[0] not in {"root", "0"}
    for run in final.all("RUN"):
        assert not BUILD_TOOLS.search(run), run
    copied_from = [arg for arg in final.all("COPY") if arg.startswith("--from=")]
    assert all("uv" not in arg.split()[0] for arg in copied_from), "uv stays in the builder"


def test_final_image_collects_static_files_at_build_time() -> None:
    runs = " ".join(dockerfile_stages()[-1].all("RUN"))
    assert "manage.py collectstatic --noinput" in runs
    assert "DEBUG=false SECRET_KEY=" in runs  # production settings, a build-only key


def test_image_serves_http_only_with_granians_wsgi_interface_on_port_8000() -> None:
    assert dockerfile_command() == [
        "granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000",
        "--blocking-threads", "1", "--runtime-mode", "st", "--no-ws", "--respawn-failed-workers",
        "backend.wsgi:application",
    ]  # fmt: skip
    assert "8000" in dockerfile_stages()[-1].all("EXPOSE")


def test_image_runs_two_granian_workers_unless_granian_workers_says_otherwise() -> None:
    assert "--workers" not in dockerfile_command()  # would override GRANIAN_WORKERS
    assert dockerfile_environment()["GRANIAN_WORKERS"] == "2"


def test_image_health_check_probes_healthz() -> None:
    healthcheck = dockerfile_stages()[-1].all("HEALTHCHECK")[-1]
    assert healthcheck.endswith('CMD ["python", "/app/scripts/container_healthcheck.py", "web"]')
    assert "COPY scripts/container_healthcheck.py ./scripts/" in [
        f"COPY {arg}" for arg in dockerfile_stages()[-1].all("COPY")
    ]


def test_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".tools", ".data", "staticfiles", ".env"} <= ignored


# --- What the containers run, run here with the compose environment ---------------------------


@pytest.fixture(scope="module")
def app_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The web container's environment outside Docker, with fresh secrets."""
    return production_environment("web", tmp_path_factory.mktemp("metrics"))


@pytest.fixture(scope="module")
def app_environment_on_real_database(app_environment: dict[str, str]) -> dict[str, str]:
    """``app_environment`` on the test run's PostgreSQL server, as containers start on theirs.

    System checks (run by ``check`` and at Celery worker start) ask the server its version, so
    they need a server; its ``postgres`` maintenance database always exists.
    """
    return app_environment | {"DATABASE_URL": database_url("postgres")}


def until_healthy(
    check: Callable[[], subprocess.CompletedProcess[str]],
    server: subprocess.Popen[str],
    *,
    seconds: float = 90,  # generous: a loaded CI machine starts Django slowly
) -> subprocess.CompletedProcess[str]:
    """The first passing result of ``check``, or its last failure once ``seconds`` are up."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result.returncode == 0 or time.monotonic() > deadline:
            return result
        if server.poll() is not None:
            pytest.fail(
                f"the server exited with {server.returncode} (its output is in the captured output)"
            )
        time.sleep(0.5)


def test_settings_load_in_production_mode_and_pass_the_start_up_checks(
    app_environment_on_real_database: dict[str, str],
) -> None:
    """What migrate and the Celery worker run at start: every system check, warnings included."""
    check = manage("check", "--fail-level", "WARNING", environment=app_environment_on_real_database)
    assert check.returncode == 0, check.stderr
    assert check_ids(check.stderr) == set()

    report = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, json; django.setup()\n"
            "from channels_redis.core import RedisChannelLayer\n"
            "from django.conf import settings\n"
            "from django.utils.module_loading import import_string\n"
            "from backend.accounts.tokens import signing_key\n"
            "signing_key()\n"
            "layer = import_string(settings.CHANNEL_LAYERS['default']['BACKEND'])\n"
            "print(json.dumps([settings.DEBUG, settings.DATABASES['default']['ENGINE'],"
            " issubclass(layer, RedisChannelLayer), settings.CELERY_TASK_ALWAYS_EAGER]))",
        ],
        cwd=ROOT,
        env=app_environment_on_real_database | {"DJANGO_SETTINGS_MODULE": "backend.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    # No single-process fallback survives: real PostgreSQL, Redis channel layer, queued tasks.
    assert report.stdout.strip() == '[false, "backend.core.postgres", true, false]'


def test_deployment_checks_find_no_errors_with_the_compose_environment(
    app_environment_on_real_database: dict[str, str],
) -> None:
    """``check --deploy`` errors block a release; its warnings (HSTS, secure cookies) do not."""
    check = manage("check", "--deploy", environment=app_environment_on_real_database)
    errors = {issue for issue in check_ids(check.stderr) if ".E" in issue}
    assert errors == set(), check.stderr


@dataclass
class Server:
    """A server process started here as a container would start it, on a free local port."""

    process: subprocess.Popen[str]
    port: int
    environment: dict[str, str]
    log: Path

    def probe(self) -> subprocess.CompletedProcess[str]:
        return probe("web", "--port", str(self.port), environment=self.environment)


def serve(command: list[str], environment: dict[str, str], log: Path) -> Iterator[Server]:
    port = free_port()
    environment = environment | {"PORT": str(port)}
    with log.open("w") as output:
        process = subprocess.Popen(
            local_command(command, port),
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        yield Server(process, port, environment, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
        print(log.read_text())  # shown by pytest when a test using the server fails


@pytest.fixture(scope="module")
def server_environment(app_environment_on_real_database: dict[str, str]) -> dict[str, str]:
    return app_environment_on_real_database | {
        "REDIS_URL": service_url("REDIS_URL"),
        # The probes must work when ALLOWED_HOSTS does not include localhost, as in production.
        "ALLOWED_HOSTS": ".shop.example",
        "GRANIAN_WORKERS": "1",  # one process is enough here; the image's 2 is tested above
        "PYTHONUNBUFFERED": "1",  # as in the image: the access log is read while serving
    }


@pytest.fixture(scope="module")
def web_server(
    server_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The image's own command: granian, as the web service runs it."""
    log = tmp_path_factory.mktemp("web") / "granian.log"
    yield from serve(dockerfile_command(), server_environment, log)


@pytest.fixture(scope="module")
def ws_server(
    server_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The ws service's command: Daphne, which logs every request and WebSocket it serves."""
    log = tmp_path_factory.mktemp("ws") / "daphne.log"
    yield from serve(compose()["services"]["ws"]["command"], server_environment, log)


def test_web_probe_passes_against_the_images_granian_serving_a_deployments_own_host_name(
    web_server: Server,
) -> None:
    # The image's probe: no --port, PORT from the environment.
    result = until_healthy(
        lambda: probe("web", environment=web_server.environment), web_server.process
    )
    assert result.returncode == 0, result.stderr
    # GRANIAN_WORKERS from the environment took effect: one worker, as server_environment says.
    spawned = re.findall(r"Spawning (worker-\d+)", web_server.log.read_text())
    assert spawned == ["worker-1"]
    # The host check is live, so the probe's Host header is what made it pass.
    request = urllib.request.Request(f"http://127.0.0.1:{web_server.port}/healthz")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400


def test_web_never_upgrades_a_websocket(web_server: Server) -> None:
    """WSGI cannot upgrade: a WebSocket that reached web would fail, so the proxy must route."""
    assert until_healthy(web_server.probe, web_server.process).returncode == 0
    with pytest.raises(InvalidHandshake):
        connect(
            f"ws://127.0.0.1:{web_server.port}/graphql/",
            subprotocols=["graphql-transport-ws"],
            open_timeout=10,
        )


def test_ws_probe_passes_against_daphne_on_its_own_port(ws_server: Server) -> None:
    result = until_healthy(ws_server.probe, ws_server.process)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def proxy_port(web_server: Server, ws_server: Server, tmp_path: Path) -> Iterator[int]:
    """Caddy on deploy/Caddyfile in front of web and ws, on a port of its own: the file as
    deployed, but with local upstreams, the loopback only, and a body read timeout short enough
    for a test to wait out."""
    caddy = required_binary("caddy", "caddy")
    for server in (web_server, ws_server):
        assert until_healthy(server.probe, server.process).returncode == 0
    port = free_port()
    config = local_caddyfile(
        port, ws=[ws_server.port], web=[web_server.port], read_body_seconds=TEST_READ_BODY_SECONDS
    )
    (tmp_path / "Caddyfile").write_text(config)
    proxy = subprocess.Popen(
        [caddy, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path),
        },
        text=True,
    )
    try:
        # The health probe through the proxy: its Host header (a deployment's name) got through.
        result = until_healthy(
            lambda: probe("web", "--port", str(port), environment=web_server.environment),
            proxy,
            seconds=30,
        )
        assert result.returncode == 0, result.stderr
        yield port
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)


def test_caddy_on_the_caddyfile_routes_graphql_http_to_granian_and_websockets_to_daphne(
    proxy_port: int, ws_server: Server
) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{proxy_port}/graphql/",
        data=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"Host": "api.shop.example", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["data"] == {"__typename": "Query"}
    # Caddy replaces the Server header; Daphne's access log tells which upstream served.
    assert '"POST /graphql/"' not in ws_server.log.read_text()

    # Only Daphne upgrades (web never does, see above).
    with connect(
        f"ws://127.0.0.1:{proxy_port}/graphql/",
        subprotocols=["graphql-transport-ws"],
        open_timeout=10,
    ) as websocket:
        assert websocket.subprotocol == "graphql-transport-ws"
        websocket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(websocket.recv(timeout=10)) == {"type": "connection_ack"}
    assert '"WSCONNECT /graphql/"' in ws_server.log.read_text()


def test_caddy_frees_web_from_a_client_that_stops_sending_its_body(
    proxy_port: int, web_server: Server
) -> None:
    """granian hands Django the body as it arrives and has no timeout for it: a client that
    stops mid-body would hold web's only request thread (one worker of one thread here) for
    good. The proxy's read_body timeout ends that request, and web serves others again."""
    healthz = urllib.request.Request(
        f"http://127.0.0.1:{web_server.port}/healthz", headers={"Host": "api.shop.example"}
    )
    bound = TEST_READ_BODY_SECONDS + 10
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=bound) as stalled:
        stalled.sendall(
            b"POST /graphql/ HTTP/1.1\r\nHost: api.shop.example\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"query": "{ __typename'
        )
        started = time.monotonic()
        time.sleep(TEST_READ_BODY_SECONDS / 4)  # the request reaches Django, which reads its body
        # Straight to web, not through the proxy: served once the stalled request lets go.
        with urllib.request.urlopen(healthz, timeout=bound) as response:
            assert response.status == 200
        held = time.monotonic() - started
        assert held >= TEST_READ_BODY_SECONDS / 2, "the stalled body never held web's thread"
        # The proxy answered or closed the stalled client rather than leaving it open.
        stalled.recv(65536)


def test_web_probe_fails_when_nothing_serves(app_environment: dict[str, str]) -> None:
    result = probe("web", "--port", str(free_port()), environment=app_environment)
    assert result.returncode == 1
    assert "unhealthy: /healthz on port" in result.stderr


def test_worker_probe_passes_only_while_that_worker_consumes(
    app_environment_on_real_database: dict[str, str],
) -> None:
    import kombu

    broker = service_url("CELERY_BROKER_URL")
    # A queue of its own, so this worker never takes another test's (or session's) tasks.
    queue = f"ops-probe-{uuid4().hex}"
    node = f"{queue}@{socket.gethostname()}"
    environment = app_environment_on_real_database | {
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    worker = subprocess.Popen(
        [
            *(str(VENV_BIN / "celery"), "-A", "backend", "worker", "-n", node, "-Q", queue),
            *("--pool", "solo", "--without-gossip", "--without-mingle", "-l", "warning"),
        ],
        cwd=ROOT,
        env=environment,
        text=True,
    )
    try:
        result = until_healthy(
            lambda: probe("worker", "--node", node, environment=environment), worker
        )
        assert result.returncode == 0, result.stderr
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        with kombu.Connection(broker) as connection:
            connection.default_channel.queue_delete(queue)

    stopped = probe("worker", "--node", node, environment=environment)
    assert stopped.returncode == 1
    assert f"Celery worker {node} did not answer" in stopped.stderr


def test_beat_probe_passes_when_the_broker_accepts_connections(
    app_environment: dict[str, str],
) -> None:
    broker = service_url("CELERY_BROKER_URL")
    result = probe("beat", environment=app_environment | {"CELERY_BROKER_URL": broker})
    assert result.returncode == 0, result.stderr


def test_beat_probe_fails_when_the_broker_is_unreachable(app_environment: dict[str, str]) -> None:
    unreachable = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    result = probe("beat", environment=app_environment | {"CELERY_BROKER_URL": unreachable})
    assert result.returncode == 1
    assert "unhealthy: broker unreachable" in result.stderr
