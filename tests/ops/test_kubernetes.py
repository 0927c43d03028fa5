"""deploy/kubernetes describes the compose stack's processes on Kubernetes, and can run.

No cluster runs here. Each kustomization (the base, the production overlay) is built by the
real Kustomize (kubectl's), and every object it builds, like every manifest file, is validated
offline against the Kubernetes API's schemas, strictly: an unknown field is an error. The built
objects are then checked for what the app needs, as tests/ops/test_containers.py checks
docker-compose.yml, and what the pods would run before serving (the migration Job, the init
containers that wait for it, the settings) runs here for real.
"""

import functools
import math
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from uuid import uuid4

import kubernetes_validate
import psycopg
import pytest
import yaml
from django.http.request import validate_host

from tests.conftest import ON_CI, broker_queue, database_url, service_url
from tests.live_server import free_port
from tests.ops.deployment import (
    APP_REQUIRED_VARIABLES,
    APP_SERVICES,
    KUBERNETES_DIR,
    ROOT,
    SECRET_VARIABLES,
    SERVER_VARIABLES,
    VENV_BIN,
    Manifests,
    check_ids,
    compose,
    dockerfile_command,
    dockerfile_stages,
    fresh_secrets,
    kubernetes_manifest_files,
    kustomize_build,
    local_command,
    quantity,
    settings_environment_variables,
)
from tests.servers import required_binary

KUSTOMIZATIONS = {
    "base": KUBERNETES_DIR / "base",
    "production": KUBERNETES_DIR / "overlays" / "production",
}
# The oldest Kubernetes release the manifests support, and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())

SECRET_NAME = "nexus-secrets"
# Everything the app containers read from the Secret: the operator's secrets, and the URLs of
# the servers, which carry their passwords.
SECRET_SOURCED = (
    *SECRET_VARIABLES,
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
)
# Keys a deployment may leave out of the Secret: no replicas, an SMTP relay without a login.
OPTIONAL_SECRETS = {"DATABASE_REPLICA_URLS", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"}
# Variables only a pod's command line reads, through Kubernetes' $(NAME) expansion.
COMMAND_LINE_VARIABLES = {"worker": {"WORKER_CONCURRENCY"}}
HEALTHCHECK_IN_IMAGE = "/app/scripts/container_healthcheck.py"
PROBE_HOST = "localhost"


@functools.cache
def built(name: str) -> Manifests:
    return Manifests(kustomize_build(KUSTOMIZATIONS[name]))


@pytest.fixture(params=KUSTOMIZATIONS)
def manifests(request: pytest.FixtureRequest) -> Manifests:
    return built(request.param)


@pytest.fixture
def production() -> Manifests:
    return built("production")


def component(item: Mapping[str, Any]) -> str:
    return item["metadata"]["labels"]["app.kubernetes.io/component"]


def pod(workload: Mapping[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def app_container(workload: Mapping[str, Any]) -> dict[str, Any]:
    """The container that runs the component's process (the others are init containers)."""
    (container,) = pod(workload)["containers"]
    assert container["name"] == "app"
    return container


def allowed_hosts(manifests: Manifests) -> list[str]:
    """ALLOWED_HOSTS as the settings read it (env_list)."""
    return [host.strip() for host in manifests.config()["ALLOWED_HOSTS"].split(",") if host]


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def deployments_selected(manifests: Manifests, selector: Mapping[str, str]) -> list[str]:
    return [
        deployment["metadata"]["name"]
        for deployment in manifests.of_kind("Deployment")
        if selects(selector, deployment["spec"]["template"]["metadata"]["labels"])
    ]


def routes(ingress: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(host, path, path type, Service, Service port) for each path of the Ingress."""
    return [
        (
            rule["host"],
            path["path"],
            path["pathType"],
            path["backend"]["service"]["name"],
            path["backend"]["service"]["port"]["name"],
        )
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def image_user() -> tuple[int, int]:
    """The uid and gid of the user the image runs as (the Dockerfile's useradd)."""
    runs = " ".join(dockerfile_stages()[-1].all("RUN"))
    uid = re.search(r"--uid (\d+)", runs)
    gid = re.search(r"--gid (\d+)", runs)
    assert uid, "the Dockerfile creates its user with a fixed uid"
    assert gid, "the Dockerfile creates its group with a fixed gid"
    return int(uid.group(1)), int(gid.group(1))


# --- The files, and Kubernetes' schemas -------------------------------------------------------


def resource_files(directory: Path) -> list[Path]:
    """The manifest files a kustomization lists as its resources (not its patches)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    listed = [directory / resource for resource in kustomization.get("resources", [])]
    return [path for path in listed if path.is_file()]


RESOURCE_FILES = sorted({path for d in KUSTOMIZATIONS.values() for path in resource_files(d)})


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", RESOURCE_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_each_manifest_file_is_valid_on_its_own(path: Path, version: str) -> None:
    """What a reader sees in the file is already a valid object; the patches add to it."""
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_a_kustomization_builds_is_valid_for_the_kubernetes_api(
    manifests: Manifests, version: str
) -> None:
    invalid = {}
    for item in manifests.objects:
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(step) for step in error.path)
            invalid[f"{item['kind']}/{item['metadata']['name']}"] = f"{path}: {error.message}"
        except kubernetes_validate.SchemaNotFoundError as error:  # a kind Kubernetes lacks
            invalid[f"{item['kind']}/{item['metadata']['name']}"] = error.message
    assert invalid == {}


def test_the_schema_validation_refuses_a_misspelt_field() -> None:
    """The check above can fail: strict validation knows every field of a Deployment."""
    deployment = yaml.safe_load((KUSTOMIZATIONS["base"] / "beat.yaml").read_text())
    container = pod(deployment)["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS.values(), ids=KUSTOMIZATIONS)
def test_every_file_beside_a_kustomization_is_part_of_it(directory: Path) -> None:
    """A manifest left out of kustomization.yaml would never be applied."""
    named = {path for path in kubernetes_manifest_files(directory) if path.parent == directory}
    assert set(directory.iterdir()) == named


# --- The processes: compose's, with the same settings -----------------------------------------


def test_each_compose_app_service_is_a_deployment_and_migrations_a_job(
    manifests: Manifests,
) -> None:
    assert sorted(component(d) for d in manifests.of_kind("Deployment")) == sorted(APP_SERVICES)
    assert [component(job) for job in manifests.of_kind("Job")] == ["migrate"]


def test_each_process_runs_the_command_compose_runs(manifests: Manifests) -> None:
    services = compose()["services"]
    web = app_container(manifests.component("web"))
    # No command: the image's own, which compose's web spells out (granian, HTTP only).
    assert "command" not in web
    assert "args" not in web
    assert services["web"]["command"] == dockerfile_command()
    for name in ("ws", "beat", "migrate"):
        assert app_container(manifests.component(name))["command"] == services[name]["command"]
    # The worker's children follow its CPU limit instead of the node's core count.
    worker = app_container(manifests.component("worker"))["command"]
    assert worker == [*services["worker"]["command"], "--concurrency", "$(WORKER_CONCURRENCY)"]


@pytest.mark.parametrize(
    ("name", "variable"), [("web", "GRANIAN_WORKERS"), ("worker", "WORKER_CONCURRENCY")]
)
def test_worker_processes_follow_the_cpu_limit(
    manifests: Manifests, name: str, variable: str
) -> None:
    """One granian worker, one Celery child, per core the pod may use."""
    container = app_container(manifests.component(name))
    source = manifests.environment(container)[variable]
    assert source.origin == "resource"
    assert source.reference == {"containerName": "app", "resource": "limits.cpu", "divisor": "1"}


def test_settings_still_read_every_variable_the_pods_require() -> None:
    assert set(APP_REQUIRED_VARIABLES) <= settings_environment_variables()


def test_every_app_container_sets_every_variable_production_settings_require(
    manifests: Manifests,
) -> None:
    for workload in manifests.workloads():
        environment = manifests.environment(app_container(workload))
        missing = set(APP_REQUIRED_VARIABLES) - set(environment)
        assert not missing, f"{component(workload)} lacks {sorted(missing)}"
        assert environment["DEBUG"].value == "false"


def test_containers_set_only_variables_the_settings_their_server_or_command_read(
    manifests: Manifests,
) -> None:
    """Catches a misspelt variable, which the kubelet would pass on and settings ignore."""
    known = settings_environment_variables()
    for workload in manifests.workloads():
        name = component(workload)
        reads = known | SERVER_VARIABLES[name] | COMMAND_LINE_VARIABLES.get(name, set())
        for container in pod(workload)["containers"] + pod(workload).get("initContainers", []):
            unread = set(manifests.environment(container)) - reads
            assert not unread, f"{name}/{container['name']} sets {sorted(unread)}"
        for variable in COMMAND_LINE_VARIABLES.get(name, set()):
            assert f"$({variable})" in app_container(workload)["command"]


def test_secrets_come_only_from_the_secret(manifests: Manifests) -> None:
    assert not set(SECRET_SOURCED) & set(manifests.config()), "a secret in the ConfigMap"
    for label, container in manifests.containers():
        for name, source in manifests.environment(container).items():
            if name not in SECRET_SOURCED:
                continue
            assert source.origin == "secret", f"{label}: {name} from {source.origin}"
            assert source.reference is not None
            assert source.reference["name"] == SECRET_NAME
            assert source.reference["key"] == name
            # A required key missing from the Secret stops the pod instead of going unnoticed.
            assert source.reference.get("optional", False) == (name in OPTIONAL_SECRETS), name


def test_every_app_container_reads_every_secret(manifests: Manifests) -> None:
    for workload in manifests.workloads():
        environment = manifests.environment(app_container(workload))
        assert set(SECRET_SOURCED) <= set(environment), component(workload)


def test_the_database_url_names_a_pooler_without_prepared_statements(
    manifests: Manifests,
) -> None:
    """PgBouncer in transaction mode hands a client another server connection between
    transactions, where its prepared statements do not exist (config.env)."""
    assert manifests.config()["DATABASE_PREPARED_STATEMENTS"] == "false"


def test_forwarded_headers_are_trusted_from_the_same_ranges_as_in_compose(
    manifests: Manifests,
) -> None:
    """web's login throttle and ws's per-address socket cap count per client, not per proxy."""
    compose_web = compose()["services"]["web"]["environment"]
    assert manifests.config()["FORWARDED_ALLOW_IPS"] == compose_web["FORWARDED_ALLOW_IPS"]
    assert manifests.config()["TRUST_X_FORWARDED_PROTO"] == "true"


# --- Probes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "ws"])
def test_servers_are_probed_on_healthz_for_life_and_readyz_for_traffic(
    manifests: Manifests, name: str
) -> None:
    container = app_container(manifests.component(name))
    (port,) = container["ports"]
    # The port the server binds: the image's command for web, Daphne's -p for ws.
    command = container.get("command") or dockerfile_command()
    bound = command[command.index("--port" if name == "web" else "-p") + 1]
    assert port["containerPort"] == int(bound)
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe")}
    probes["readinessProbe"] = container["readinessProbe"]["httpGet"]
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe in probes.values():
        assert probe["port"] == port["name"]
        # With DEBUG off Django answers 400 to a host it does not allow.
        assert probe["httpHeaders"] == [{"name": "Host", "value": PROBE_HOST}]
        assert validate_host(PROBE_HOST, allowed_hosts(manifests))


@pytest.mark.parametrize(
    ("name", "probes"),
    [("worker", ("livenessProbe", "readinessProbe")), ("beat", ("livenessProbe",))],
)
def test_worker_and_beat_are_probed_as_compose_probes_them(
    manifests: Manifests, name: str, probes: tuple[str, ...]
) -> None:
    compose_test = compose()["services"][name]["healthcheck"]["test"]
    assert compose_test[:1] == ["CMD"]
    container = app_container(manifests.component(name))
    for kind in probes:
        assert container[kind]["exec"]["command"] == compose_test[1:]
        assert container[kind]["exec"]["command"][1] == HEALTHCHECK_IN_IMAGE
        # The probe bounds its own wait; the kubelet's timeout is only a backstop.
        assert container[kind]["timeoutSeconds"] >= 10


# --- Security and resources -------------------------------------------------------------------


def test_pods_run_as_the_images_non_root_user_under_the_default_seccomp_profile(
    manifests: Manifests,
) -> None:
    uid, gid = image_user()
    for workload in manifests.workloads():
        spec = pod(workload)
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, component(workload)
        assert spec["automountServiceAccountToken"] is False


def test_no_container_can_gain_privileges_or_write_outside_its_volumes(
    manifests: Manifests,
) -> None:
    for label, container in manifests.containers():
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        }, label


def writable_directories(workload: Mapping[str, Any], container: Mapping[str, Any]) -> set[str]:
    """The container's mount points backed by an emptyDir of its pod."""
    empty_dirs = {volume["name"] for volume in pod(workload)["volumes"] if "emptyDir" in volume}
    mounts = container.get("volumeMounts", [])
    return {mount["mountPath"] for mount in mounts if mount["name"] in empty_dirs}


def test_what_the_processes_write_goes_to_volumes_of_their_pod(manifests: Manifests) -> None:
    metrics = manifests.config()["PROMETHEUS_MULTIPROC_DIR"]
    for workload in manifests.workloads():
        spec = pod(workload)
        for container in spec["containers"] + spec.get("initContainers", []):
            assert {"/tmp", metrics} <= writable_directories(workload, container)
    # Private to the pod and in memory, like compose's tmpfs.
    (metrics_volume,) = [
        volume
        for volume in pod(manifests.component("web"))["volumes"]
        if volume["name"] == "metrics"
    ]
    assert metrics_volume["emptyDir"]["medium"] == "Memory"
    beat = manifests.component("beat")
    command = app_container(beat)["command"]
    schedule = Path(command[command.index("--schedule") + 1])
    assert str(schedule.parent) in writable_directories(beat, app_container(beat))


def test_every_container_requests_and_is_limited_in_cpu_and_memory(manifests: Manifests) -> None:
    for label, container in manifests.containers():
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            requested = quantity(resources["requests"][resource])
            assert 0 < requested <= quantity(resources["limits"][resource]), (label, resource)


def test_production_runs_in_a_namespace_that_admits_only_restricted_pods(
    production: Manifests,
) -> None:
    (namespace,) = production.of_kind("Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for item in production.objects:
        if item["kind"] != "Namespace":
            assert item["metadata"]["namespace"] == namespace["metadata"]["name"], item["kind"]


# --- Scaling, disruptions, one beat -----------------------------------------------------------


def test_exactly_one_beat_which_stops_before_its_replacement_starts(
    manifests: Manifests,
) -> None:
    beat = manifests.component("beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    name = beat["metadata"]["name"]
    autoscalers = manifests.of_kind("HorizontalPodAutoscaler")
    assert name not in [hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers]
    for budget in manifests.of_kind("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        assert name not in deployments_selected(manifests, selector)


def test_web_and_the_worker_scale_on_cpu_and_leave_their_replica_count_to_it(
    manifests: Manifests,
) -> None:
    autoscalers = manifests.of_kind("HorizontalPodAutoscaler")
    assert {hpa["apiVersion"] for hpa in autoscalers} == {"autoscaling/v2"}
    targets = {}
    for hpa in autoscalers:
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        deployment = manifests.named("Deployment", target["name"])
        # An apply would otherwise reset the count the autoscaler chose.
        assert "replicas" not in deployment["spec"]
        # Utilization is a share of the request: there must be one.
        assert app_container(deployment)["resources"]["requests"]["cpu"]
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        metrics = hpa["spec"]["metrics"]
        targets[component(deployment)] = [metric["resource"]["name"] for metric in metrics]
    assert targets == {"web": ["cpu"], "worker": ["cpu"]}


def test_a_disruption_budget_covers_each_replicated_deployment(manifests: Manifests) -> None:
    covered = []
    for budget in manifests.of_kind("PodDisruptionBudget"):
        selected = deployments_selected(manifests, budget["spec"]["selector"]["matchLabels"])
        assert selected == [budget["metadata"]["name"]], budget["metadata"]["name"]
        assert budget["spec"]["maxUnavailable"] == 1
        covered += selected
    assert sorted(covered) == ["nexus-web", "nexus-worker", "nexus-ws"]


def test_each_deployment_selects_the_pods_of_its_own_template(manifests: Manifests) -> None:
    for deployment in manifests.of_kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert deployments_selected(manifests, selector) == [deployment["metadata"]["name"]]


# --- Services and the Ingress -----------------------------------------------------------------


def test_each_service_reaches_a_named_port_of_one_deployment(manifests: Manifests) -> None:
    for service in manifests.of_kind("Service"):
        (selected,) = deployments_selected(manifests, service["spec"]["selector"])
        container = app_container(manifests.named("Deployment", selected))
        ports = {port["name"] for port in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)


def test_every_ingress_route_names_an_existing_service_port(manifests: Manifests) -> None:
    services = {
        service["metadata"]["name"]: {port["name"] for port in service["spec"]["ports"]}
        for service in manifests.of_kind("Service")
    }
    for ingress in manifests.of_kind("Ingress"):
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for _, _, _, service, port in routes(ingress):
            assert port in services.get(service, set()), (ingress["metadata"]["name"], service)


def test_websocket_upgrades_go_to_daphne_and_everything_else_to_granian(
    manifests: Manifests,
) -> None:
    """deploy/Caddyfile's routing on one URL: the ingress-nginx canary of nexus that takes the
    requests whose Upgrade header is websocket, on the path where the app serves both."""
    main = manifests.named("Ingress", "nexus")
    websocket = manifests.named("Ingress", "nexus-websocket")
    assert {
        key: value
        for key, value in websocket["metadata"]["annotations"].items()
        if key.startswith("nginx.ingress.kubernetes.io/canary")
    } == {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-by-header": "Upgrade",
        "nginx.ingress.kubernetes.io/canary-by-header-value": "websocket",
    }
    (host,) = {route[0] for route in routes(main)}
    # A canary applies only where the main Ingress declares the same host and path.
    assert routes(websocket) == [(host, "/graphql/", "Prefix", "nexus-ws", "http")]
    assert routes(main) == [
        (host, "/graphql/", "Prefix", "nexus-web", "http"),
        (host, "/", "Prefix", "nexus-web", "http"),
    ]
    # The Services lead to Daphne and to granian, the image's command.
    ws = manifests.named("Service", "nexus-ws")["spec"]["selector"]
    web = manifests.named("Service", "nexus-web")["spec"]["selector"]
    assert deployments_selected(manifests, ws) == [manifests.component("ws")["metadata"]["name"]]
    assert deployments_selected(manifests, web) == [manifests.component("web")["metadata"]["name"]]
    assert app_container(manifests.component("ws"))["command"][0] == "daphne"


def test_metrics_are_refused_on_the_public_host(manifests: Manifests) -> None:
    refused = manifests.named("Ingress", "nexus-metrics-refused")
    (host,) = {route[0] for route in routes(manifests.named("Ingress", "nexus"))}
    assert [route[:3] for route in routes(refused)] == [(host, "/metrics", "Exact")]
    annotations = refused["metadata"]["annotations"]
    denied = annotations["nginx.ingress.kubernetes.io/denylist-source-range"].split(",")
    assert set(denied) == {"0.0.0.0/0", "::/0"}


def test_django_allows_every_host_the_ingress_routes(manifests: Manifests) -> None:
    for ingress in manifests.of_kind("Ingress"):
        for host, *_ in routes(ingress):
            assert validate_host(host, allowed_hosts(manifests)), host


def test_bodies_up_to_djangos_limit_pass_the_ingress(manifests: Manifests) -> None:
    from django.conf import settings

    size = manifests.named("Ingress", "nexus")["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-body-size"
    ]
    assert size == f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024**2}m"


# --- Releases: one image, migrations first ----------------------------------------------------


def test_every_container_runs_the_one_image(manifests: Manifests) -> None:
    images = {container["image"] for _, container in manifests.containers()}
    assert len(images) == 1


def test_production_pins_the_release_it_runs(production: Manifests) -> None:
    (image,) = {container["image"] for _, container in production.containers()}
    name, _, tag = image.rpartition(":")
    assert name, image
    assert tag not in {"", "latest"}, image


def test_migrations_run_once_in_a_job_that_is_not_restarted_in_place(
    manifests: Manifests,
) -> None:
    job = manifests.component("migrate")
    assert "manage.py migrate --noinput" in " ".join(app_container(job)["command"])
    assert pod(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    assert "initContainers" not in pod(job)


def test_every_deployment_waits_for_the_migrations_before_its_process_starts(
    manifests: Manifests,
) -> None:
    for deployment in manifests.of_kind("Deployment"):
        (waiting,) = pod(deployment)["initContainers"]
        assert waiting["name"] == "migrations-applied"
        assert "manage.py migrate --check" in " ".join(waiting["command"]), component(deployment)


# --- What the pods run, run here as they would run it -------------------------------------------

# The pod's readOnlyRootFilesystem, for one process: a mount namespace of its own, the root
# remounted read-only, a fresh tmpfs at /tmp (an emptyDir in the pod too) holding a directory
# for each other emptyDir the container mounts ($EMPTY_DIRS).
READ_ONLY_ROOT_SCRIPT = (
    "mount --make-rprivate / && mount -o remount,bind,ro / && mount -t tmpfs tmpfs /tmp"
    ' && mkdir -p $EMPTY_DIRS && exec "$@"'
)
VOLUMES_IN_TMP = Path("/tmp/volumes")


@pytest.fixture
def read_only_root() -> list[str]:
    """The command prefix that runs a process as READ_ONLY_ROOT_SCRIPT says (mounting needs
    root: a failure under CI, which runs as root, and a skip elsewhere)."""
    unshare = required_binary("unshare", "util-linux")
    command = [unshare, "--mount", "sh", "-c", READ_ONLY_ROOT_SCRIPT, "sh"]
    tried = subprocess.run(
        [*command, "true"], env={"EMPTY_DIRS": "/tmp/x"}, capture_output=True, text=True
    )
    if tried.returncode != 0:
        message = f"cannot remount the root read-only here: {tried.stderr.strip()}"
        if ON_CI:
            pytest.fail(message + " (CI runs as root)")
        pytest.skip(message)
    return command


def in_the_pod(
    manifests: Manifests,
    workload: Mapping[str, Any],
    container: Mapping[str, Any],
    secret: Mapping[str, str],
    *,
    port: int | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The container's command and environment for a run under ``read_only_root``, from the
    repository (the image's WORKDIR): the ConfigMap's values, the keys of ``secret`` for its
    secretKeyRefs, the CPU limit in cores for its resourceFieldRefs, this virtualenv first on
    PATH (the image's /opt/venv), each emptyDir in the tmpfs, ``$(NAME)`` expanded as the
    kubelet does, a server on 127.0.0.1:``port``."""
    volumes = {
        path: str(VOLUMES_IN_TMP / Path(path).name)
        for path in writable_directories(workload, container) - {"/tmp"}
    }

    def local(value: str) -> str:
        for directory, moved in volumes.items():
            value = value.replace(directory, moved)
        return value

    environment = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "EMPTY_DIRS": " ".join(volumes.values()),
    }
    for name, source in manifests.environment(container).items():
        if source.origin in {"config", "value"}:
            environment[name] = local(str(source.value))
        elif source.origin == "secret":
            assert source.reference is not None
            if source.reference["key"] in secret:
                environment[name] = secret[source.reference["key"]]
            else:
                assert source.reference.get("optional"), f"the Secret needs {name}"
        else:
            limit = quantity(container["resources"]["limits"]["cpu"])
            environment[name] = str(math.ceil(limit))
    command = container.get("command") or dockerfile_command()
    if port is not None:
        command = local_command(command, port)
    expanded = [re.sub(r"\$\((\w+)\)", lambda m: environment[m.group(1)], a) for a in command]
    return [local(argument) for argument in expanded], environment


@pytest.fixture
def secret() -> dict[str, str]:
    """A nexus-secrets Secret as an operator fills it, on the test run's servers."""
    return fresh_secrets() | {
        "DATABASE_URL": database_url("postgres"),
        "CELERY_BROKER_URL": service_url("CELERY_BROKER_URL"),
        "REDIS_URL": service_url("REDIS_URL"),
    }


@pytest.mark.parametrize("name", ["web", "worker"])
def test_the_pods_settings_load_in_production_mode_and_pass_the_deployment_checks(
    production: Manifests, secret: dict[str, str], read_only_root: list[str], name: str
) -> None:
    """What migrate and the Celery worker check at start: every system check, warnings too;
    ``check --deploy`` errors block a release, its warnings (HSTS, secure cookies) do not."""
    workload = production.component(name)
    _, environment = in_the_pod(production, workload, app_container(workload), secret)
    checks = {}
    for options in (("--fail-level", "WARNING"), ("--deploy",)):
        checks[options] = subprocess.run(
            [*read_only_root, "python", "manage.py", "check", *options],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
    start_up, deploy = checks.values()
    assert start_up.returncode == 0, start_up.stderr
    assert check_ids(start_up.stderr) == set()
    assert {issue for issue in check_ids(deploy.stderr) if ".E" in issue} == set()


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The name of a new, empty database on the test run's server, dropped afterwards."""
    name = f"nexus_release_{uuid4().hex[:12]}"
    with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_release_on_a_fresh_database_serves_only_once_its_job_has_migrated(
    production: Manifests,
    secret: dict[str, str],
    fresh_database: str,
    read_only_root: list[str],
    tmp_path: Path,
) -> None:
    """The init container of web's pods waits while migrations are missing and lets the pod
    start once the Job has run: the order holds whatever order the objects start in."""
    secret = secret | {"DATABASE_URL": database_url(fresh_database)}
    web = production.component("web")
    (waiting,) = pod(web)["initContainers"]
    wait_command, wait_environment = in_the_pod(production, web, waiting, secret)
    log = tmp_path / "init.log"
    with log.open("w") as output:
        init = subprocess.Popen(
            [*read_only_root, *wait_command],
            cwd=ROOT,
            env=wait_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "waiting for job/nexus-migrate" not in log.read_text():
            assert init.poll() is None, f"the init container exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)

        job = production.component("migrate")
        job_command, job_environment = in_the_pod(production, job, app_container(job), secret)
        migrated = subprocess.run(
            [*read_only_root, *job_command],
            cwd=ROOT,
            env=job_environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert migrated.returncode == 0, migrated.stderr
        # One sleep of the loop and one more check.
        assert init.wait(timeout=120) == 0, log.read_text()
    finally:
        if init.poll() is None:
            init.kill()
            init.wait(timeout=30)


def probe_passes(probe: Mapping[str, Any], port: int, environment: dict[str, str]) -> bool:
    """The manifest's probe, run as the kubelet would: an HTTP GET or a command."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        headers = {header["name"]: header["value"] for header in get.get("httpHeaders", [])}
        request = urllib.request.Request(f"http://127.0.0.1:{port}{get['path']}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=probe["timeoutSeconds"]) as response:
                return response.status == 200
        except OSError:  # refused while starting, or an HTTP error status
            return False
    python, script, *arguments = probe["exec"]["command"]
    assert python == "python"
    local_script = ROOT / Path(script).relative_to("/app")  # the image's WORKDIR
    command = [sys.executable, str(local_script), *arguments]
    return subprocess.run(command, env=environment, capture_output=True, timeout=60).returncode == 0


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of the test's own for the worker and beat, deleted afterwards."""
    with broker_queue("k8s-read-only") as name:
        yield name


def test_every_process_serves_with_a_read_only_root_writing_only_to_its_volumes(
    production: Manifests,
    secret: dict[str, str],
    read_only_root: list[str],
    queue: str,
    tmp_path: Path,
) -> None:
    """web, ws, worker and beat, started with their manifests' commands and environment on a
    read-only root, pass their manifests' own probes (readiness where they have one): nothing
    they write lies outside their pods' emptyDirs."""
    started: dict[str, tuple[subprocess.Popen[bytes], Path, dict[str, str], int]] = {}
    try:
        for name in APP_SERVICES:
            workload = production.component(name)
            port = free_port()
            command, environment = in_the_pod(
                production, workload, app_container(workload), secret, port=port
            )
            environment["CELERY_TASK_DEFAULT_QUEUE"] = queue  # the worker's and beat's own
            log = tmp_path / f"{name}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [*read_only_root, *command],
                    cwd=ROOT,
                    env=environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            started[name] = (process, log, environment, port)

        deadline = time.monotonic() + 180  # four Django start-ups at once on a busy machine
        for name, (process, log, environment, port) in started.items():
            container = app_container(production.component(name))
            probe = container.get("readinessProbe") or container["livenessProbe"]
            while not probe_passes(probe, port, environment):
                assert process.poll() is None, f"{name} exited:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"{name} never ready:\n{log.read_text()}"
                time.sleep(1)
        # beat got as far as its schedule: the lease in Redis, the schedule file on its volume.
        beat_log = started["beat"][1]
        while "took the schedule lease" not in beat_log.read_text():
            assert time.monotonic() < deadline, beat_log.read_text()
            time.sleep(0.5)
        for name, (process, log, *_) in started.items():
            assert process.poll() is None, f"{name} exited:\n{log.read_text()}"
            assert "Read-only file system" not in log.read_text(), name
    finally:
        for process, *_ in started.values():
            process.terminate()
            process.wait(timeout=60)
