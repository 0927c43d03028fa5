"""Readers for the deployment files the ops tests check: docker-compose.yml, Dockerfile,
deploy/Caddyfile, the Kubernetes manifests in deploy/kubernetes, settings.

There is no Docker engine or Kubernetes cluster where the suite runs, so the files are parsed
the way Docker, Compose and Caddy would read them (YAML with merge keys, variable
interpolation, Dockerfile stages, Caddyfile blocks), the Kubernetes manifests are built by the
real Kustomize (kubectl's), and what can run without Docker (settings, granian, Daphne, Celery,
Caddy, the health probes, the migration commands) is run for real.
"""

import ast
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.paths import REPO_ROOT
from tests.servers import required_binary

ROOT = REPO_ROOT
VENV_BIN = Path(sys.executable).parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_FILE = ROOT / "backend" / "settings.py"
HEALTHCHECK_SCRIPT = ROOT / "scripts" / "container_healthcheck.py"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"

APP_SERVICES = ("web", "ws", "worker", "beat")
DATA_SERVICES = ("postgres", "rabbitmq", "redis")

# What every app container must set, and why: left unset, each one falls back to a default
# that is insecure or only works inside a single process.
APP_REQUIRED_VARIABLES: dict[str, str] = {
    "DEBUG": "on by default in the Makefile; production must say false",
    "SECRET_KEY": "settings refuse to load without it when DEBUG is off",
    "JWT_PRIVATE_KEY": "access tokens cannot be signed without it when DEBUG is off",
    "ALLOWED_HOSTS": "the default admits only local names",
    "CORS_ALLOWED_ORIGINS": "the default refuses every browser storefront",
    "DATABASE_URL": "unset, each container would start its own embedded PostgreSQL",
    "CELERY_BROKER_URL": "unset, tasks run inside web and the worker never receives any",
    "REDIS_URL": "unset, the in-memory channel layer never carries worker events to web",
}
# Variables an app service may set that the settings do not read: its server reads them, or
# prometheus-client does (PROMETHEUS_MULTIPROC_DIR, every app service).
_METRICS_LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
SERVER_VARIABLES: dict[str, set[str]] = {
    "web": {"GRANIAN_WORKERS"} | _METRICS_LIBRARY_VARIABLES,
    "ws": _METRICS_LIBRARY_VARIABLES,
    "worker": _METRICS_LIBRARY_VARIABLES,
    "beat": _METRICS_LIBRARY_VARIABLES,
    "migrate": _METRICS_LIBRARY_VARIABLES,
}
# Values that must never be baked into the compose file: required from the operator.
SECRET_VARIABLES = ("SECRET_KEY", "JWT_PRIVATE_KEY", "METRICS_BEARER_TOKEN")
# Everything compose refuses to start without (``${NAME:?...}``): the secrets and the SMTP relay.
OPERATOR_VARIABLES = (*SECRET_VARIABLES, "EMAIL_HOST")

# The compose service host names, reached as localhost when the app runs outside Docker.
SERVICE_HOSTS_OUTSIDE_DOCKER = {
    "@postgres:": "@127.0.0.1:",
    "@rabbitmq:": "@127.0.0.1:",
    "//redis:": "//127.0.0.1:",
}

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<operator>:-|:\?)(?P<argument>[^}]*))?\}")


class MissingRequiredVariableError(LookupError):
    """A ``${NAME:?message}`` reference met an environment without NAME: compose refuses."""


def compose() -> dict[str, Any]:
    with COMPOSE_FILE.open() as handle:
        return yaml.safe_load(handle)


def compose_interpolate(value: str, environment: Mapping[str, str]) -> str:
    """``value`` with ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` as Compose does."""

    def resolve(match: re.Match[str]) -> str:
        name, operator, argument = match.group("name", "operator", "argument")
        if environment.get(name):
            return environment[name]
        if operator == ":?":
            raise MissingRequiredVariableError(f"{name}: {argument}")
        return argument if operator == ":-" else ""

    return _INTERPOLATION.sub(resolve, value)


def compose_environment(service: str, shell: Mapping[str, str]) -> dict[str, str]:
    """The service's environment as its container would see it, given the shell's variables."""
    declared = compose()["services"][service].get("environment", {})
    return {name: compose_interpolate(str(value), shell) for name, value in declared.items()}


def outside_docker(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` with the compose service host names replaced by 127.0.0.1."""
    result = dict(environment)
    for name, value in result.items():
        for service_host, local_host in SERVICE_HOSTS_OUTSIDE_DOCKER.items():
            value = value.replace(service_host, local_host)
        result[name] = value
    return result


def option(command: list[str], flag: str) -> str:
    """The value that follows ``flag`` in ``command``."""
    return command[command.index(flag) + 1]


def upstreams() -> tuple[str, str]:
    """Where the proxy must send WebSockets and HTTP: ws's and web's names and server ports."""
    services = compose()["services"]
    return (
        f"ws:{option(services['ws']['command'], '-p')}",
        f"web:{option(services['web']['command'], '--port')}",
    )


def operator_variables() -> dict[str, str]:
    """What an operator must give compose (OPERATOR_VARIABLES): fresh secrets, an SMTP relay."""
    operator = fresh_secrets()
    # Written the way docker-compose.yml's header tells operators to: newlines as "\n".
    operator["JWT_PRIVATE_KEY"] = operator["JWT_PRIVATE_KEY"].replace("\n", "\\n")
    return operator | {"EMAIL_HOST": "smtp.example.com"}


def production_environment(
    service: str, metrics_directory: Path, operator: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``service``'s container environment outside Docker, given the ``operator``'s variables
    (fresh ones by default): the compose hosts on localhost, ``metrics_directory`` for its
    tmpfs, and nothing from the caller's environment (DEBUG=true...) but PATH, with this
    virtualenv first as in the image."""
    base = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }
    declared = compose_environment(service, operator or operator_variables())
    return base | outside_docker(declared) | {"PROMETHEUS_MULTIPROC_DIR": str(metrics_directory)}


def local_command(command: list[str], port: int) -> list[str]:
    """A container's server command run from this virtualenv, on 127.0.0.1:``port``."""
    local = [str(VENV_BIN / command[0]), *command[1:]]
    for flag in ("--host", "-b"):
        if flag in local:
            local[local.index(flag) + 1] = "127.0.0.1"
    for flag in ("--port", "-p"):
        if flag in local:
            local[local.index(flag) + 1] = str(port)
    return local


def probe(
    process: str, *arguments: str, environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The containers' health probe for ``process`` (web, worker, beat), run as Docker would."""
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK_SCRIPT), process, *arguments],
        cwd="/",  # the probe must find the project on its own, as from Docker's exec
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def local_caddyfile(
    port: int, *, ws: Sequence[int], web: Sequence[int], read_body_seconds: int | None = None
) -> str:
    """deploy/Caddyfile as it would serve on 127.0.0.1:``port`` in front of the local ``ws``
    and ``web`` servers (by port): each upstream replaced by those servers, balanced round
    robin when there are several, and, given ``read_body_seconds``, that body read timeout.
    With several upstreams, on a Caddy older than 2.7, request bodies are buffered, so that a
    retry on another upstream has one (``_caddy_closes_bodies_it_retries``); with one, bodies
    stream to it as deployed (tests/ops times a stalled one out). Everything else is the
    deployed file's."""
    config = CADDYFILE.read_text()
    for upstream, ports in zip(upstreams(), (ws, web), strict=True):
        local = " ".join(f"127.0.0.1:{server_port}" for server_port in ports)
        balanced = "\n\t\tlb_policy round_robin" if len(ports) > 1 else ""
        config, replaced = re.subn(
            rf"^(\treverse_proxy .*){re.escape(upstream)} \{{$",
            rf"\g<1>{local} {{{balanced}",
            config,
            flags=re.M,
        )
        if replaced != 1:
            raise ValueError(f"{CADDYFILE}: no single reverse_proxy to {upstream}")
    config, sites = re.subn(r"^:8000 \{$", f":{port} {{\n\tbind 127.0.0.1", config, flags=re.M)
    if sites != 1:
        raise ValueError(f"{CADDYFILE}: no single site :8000")
    if max(len(ws), len(web)) > 1 and _caddy_closes_bodies_it_retries():
        config, snippets = re.subn(
            r"^\(upstream_failover\) \{$", "\\g<0>\n\tbuffer_requests", config, flags=re.M
        )
        if snippets != 1:
            raise ValueError(f"{CADDYFILE}: no single upstream_failover snippet")
    if read_body_seconds is not None:
        config, timeouts = re.subn(
            r"\bread_body \S+$", f"read_body {read_body_seconds}s", config, flags=re.M
        )
        if timeouts != 1:
            raise ValueError(f"{CADDYFILE}: no single read_body timeout")
    return config


def _caddy_closes_bodies_it_retries() -> bool:
    """Whether the installed Caddy predates 2.7: on a refused connection such a Caddy closes
    the request's body, so its retry of a POST on the other upstream fails, and counts against
    that one too (caddyserver/caddy#7546, fixed after 2.11.1; the compose image runs a later one).
    A body it buffered survives the retry; the option was renamed in 2.7, so deploy/Caddyfile
    cannot carry it and the local copy gets it (Debian's Caddy is 2.6)."""
    output = subprocess.run(
        [required_binary("caddy", "caddy"), "version"], capture_output=True, text=True, check=True
    ).stdout
    major, minor = (int(part) for part in re.findall(r"v?(\d+)\.(\d+)", output)[0])
    return (major, minor) < (2, 7)


def settings_environment_variables() -> set[str]:
    """Every variable backend/settings.py reads through its env_* helpers."""
    tree = ast.parse(SETTINGS_FILE.read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]


def dockerfile_stages() -> list[Stage]:
    """The Dockerfile's build stages in order, with global ARG defaults substituted in FROM."""
    logical_lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical_lines.append(pending + line)
        pending = ""

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines:
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), " ".join(arguments.split())
        if keyword == "FROM":
            words = re.sub(r"--platform=\S+\s*", "", arguments).split()
            base = compose_interpolate(words[0], global_args)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages and keyword == "ARG":
            arg_name, _, default = arguments.partition("=")
            global_args[arg_name] = default
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def dockerfile_command() -> list[str]:
    """The final stage's CMD, which must be in exec (JSON) form: the container's default process."""
    return json.loads(dockerfile_stages()[-1].all("CMD")[-1])


def dockerfile_environment() -> dict[str, str]:
    """The final stage's ENV variables (``NAME=value`` form), later instructions winning."""
    variables: dict[str, str] = {}
    for arguments in dockerfile_stages()[-1].all("ENV"):
        for assignment in shlex.split(arguments):
            name, _, value = assignment.partition("=")
            variables[name] = value
    return variables


@dataclass
class CaddyDirective:
    """One Caddyfile line: its tokens, and the directives of the block it opens, if any."""

    tokens: list[str]
    block: list["CaddyDirective"] = field(default_factory=list)


def caddyfile() -> list[CaddyDirective]:
    """deploy/Caddyfile as nested directives: the global options block (no tokens), then sites.

    Enough of the Caddyfile grammar for this file (no quoted tokens; a snippet is a directive
    named ``(name)``, an import one like any other; the real parser, run by the end-to-end test
    where Caddy is installed, has the last word).
    """
    root: list[CaddyDirective] = []
    open_blocks = [root]
    for line in CADDYFILE.read_text().splitlines():
        tokens = line.split()
        comment = next((i for i, token in enumerate(tokens) if token.startswith("#")), None)
        tokens = tokens[:comment]
        if not tokens:
            continue
        if tokens == ["}"]:
            open_blocks.pop()
            continue
        opens_block = tokens[-1] == "{"
        directive = CaddyDirective(tokens[:-1] if opens_block else tokens)
        open_blocks[-1].append(directive)
        if opens_block:
            open_blocks.append(directive.block)
    if len(open_blocks) != 1:
        raise ValueError(f"{CADDYFILE}: unbalanced braces")
    return root


def fresh_secrets() -> dict[str, str]:
    """New values for SECRET_VARIABLES, made as an operator makes them (JWT_PRIVATE_KEY: an
    Ed25519 key, PEM)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_PRIVATE_KEY": pem.decode(),
        "METRICS_BEARER_TOKEN": secrets.token_urlsafe(32),
    }


def manage(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``manage.py`` run as a container would run it, with only ``environment``."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_ids(output: str) -> set[str]:
    """The ids of the issues ``manage.py check`` reported, e.g. ``{"security.W004"}``."""
    return set(re.findall(r"\(([\w.]+\.[EW]\d+)\)", output))


# --- deploy/kubernetes ------------------------------------------------------------------------


def kustomize_build(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl apply -k directory`` would send: Kustomize's own build."""
    kubectl = required_binary("kubectl", "kubectl")
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if built.returncode != 0:
        raise ValueError(f"kustomize build {directory} failed:\n{built.stderr}")
    return [document for document in yaml.safe_load_all(built.stdout) if document]


_QUANTITY = re.compile(r"(?P<number>[0-9.]+)(?P<suffix>m|k|M|G|Ki|Mi|Gi)?")
_QUANTITY_FACTORS = {
    None: Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(1000), "M": Decimal(1000) ** 2, "G": Decimal(1000) ** 3,
    "Ki": Decimal(1024), "Mi": Decimal(1024) ** 2, "Gi": Decimal(1024) ** 3,
}  # fmt: skip


def quantity(value: str | int) -> Decimal:
    """A Kubernetes resource quantity as a number: ``"500m"`` is 0.5, ``"1Gi"`` 1073741824."""
    match = _QUANTITY.fullmatch(str(value))
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(match["number"]) * _QUANTITY_FACTORS[match["suffix"]]


@dataclass(frozen=True)
class Variable:
    """Where a container's environment variable comes from: ``origin`` is ``"value"`` (written
    in the manifest), ``"config"`` (the ConfigMap), ``"secret"`` (``reference``: the
    secretKeyRef) or ``"resource"`` (``reference``: the resourceFieldRef)."""

    origin: str
    value: str | None = None
    reference: Mapping[str, Any] | None = None


@dataclass
class Manifests:
    """The objects one kustomization builds."""

    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [item for item in self.objects if item["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [item for item in self.of_kind(kind) if item["metadata"]["name"] == name]
        return found

    def component(self, name: str) -> dict[str, Any]:
        """The Deployment or Job of a component (web, ws, worker, beat, migrate)."""
        (found,) = [
            item
            for item in self.workloads()
            if item["metadata"]["labels"]["app.kubernetes.io/component"] == name
        ]
        return found

    def workloads(self) -> list[dict[str, Any]]:
        return self.of_kind("Deployment") + self.of_kind("Job")

    def containers(self, *, init: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every container of every workload, as (``workload/container``, container)."""
        for workload in self.workloads():
            pod = workload["spec"]["template"]["spec"]
            for container in pod["containers"] + (pod.get("initContainers", []) if init else []):
                yield f"{workload['metadata']['name']}/{container['name']}", container

    def environment(self, container: Mapping[str, Any]) -> dict[str, Variable]:
        """The container's variables as the kubelet sets them (``env`` over ``envFrom``)."""
        variables: dict[str, Variable] = {}
        for source in container.get("envFrom", []):
            config = self.named("ConfigMap", source["configMapRef"]["name"])
            for name, value in config["data"].items():
                variables[name] = Variable("config", value)
        for entry in container.get("env", []):
            value_from = entry.get("valueFrom", {})
            if "secretKeyRef" in value_from:
                variables[entry["name"]] = Variable("secret", reference=value_from["secretKeyRef"])
            elif "resourceFieldRef" in value_from:
                resource = value_from["resourceFieldRef"]
                variables[entry["name"]] = Variable("resource", reference=resource)
            else:
                variables[entry["name"]] = Variable("value", entry["value"])
        return variables

    def config(self) -> dict[str, str]:
        """The data of the one ConfigMap, nexus-config (its name carries a content hash)."""
        (config,) = self.of_kind("ConfigMap")
        return config["data"]


def kubernetes_manifest_files(directory: Path) -> list[Path]:
    """The files a kustomization names (resources, patches, generator sources), recursively
    for the kustomizations it builds on."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    named = [directory / "kustomization.yaml"]
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        named += kubernetes_manifest_files(path) if path.is_dir() else [path]
    named += [directory / patch["path"] for patch in kustomization.get("patches", [])]
    for generator in kustomization.get("configMapGenerator", []):
        named += [directory / source for source in generator.get("envs", [])]
    return named
