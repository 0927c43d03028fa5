"""The GitHub workflows run the same gate as .ci/run and publish the image on a version tag."""

import re
from pathlib import Path
from typing import Any

import yaml

from tests.ops.deployment import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True; GitHub reads it as "on".
    document["on"] = document.pop(True, document.get("on"))
    return document


def ci_run_environment() -> dict[str, str]:
    """The service URLs .ci/run exports (its defaults), by variable."""
    text = (ROOT / ".ci" / "run").read_text()
    return dict(re.findall(r'^export (\w+)="\$\{\w+:-([^}]*)\}"$', text, re.MULTILINE))


def step_commands(job: dict[str, Any]) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def test_ci_runs_on_pushes_and_pull_requests() -> None:
    triggers = workflow("ci.yml")["on"]
    assert "push" in triggers
    assert "pull_request" in triggers


def test_ci_runs_lint_then_the_readme_test_command_under_ci_true() -> None:
    job = workflow("ci.yml")["jobs"]["test"]
    install_caddy, *gate = step_commands(job)
    assert gate == ["make lint", "make test"]
    # tests/ops runs a real Caddy and a real Prometheus (with promtool)
    assert "apt-get install -y -qq caddy prometheus" in install_caddy
    assert job["env"]["CI"] == "true"
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.12"


def test_ci_job_has_postgres_rabbitmq_and_redis_with_health_checks() -> None:
    services = workflow("ci.yml")["jobs"]["test"]["services"]
    assert set(services) == {"postgres", "rabbitmq", "redis"}
    postgres_major = int(services["postgres"]["image"].split(":")[1])
    assert postgres_major >= 16
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    assert services["redis"]["image"].startswith("redis:")
    probes = {"postgres": "pg_isready", "rabbitmq": "rabbitmq-diagnostics", "redis": "redis-cli"}
    for name, command in probes.items():
        assert f'--health-cmd "{command}' in services[name]["options"], name


def test_ci_points_the_tests_at_the_service_containers_as_ci_run_does() -> None:
    job = workflow("ci.yml")["jobs"]["test"]
    local = ci_run_environment()
    assert set(local) == {"CI", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    # Same servers and the same database name; only GitHub's postgres needs a password.
    assert job["env"]["DATABASE_URL"].rsplit("@", 1)[1] == local["DATABASE_URL"].rsplit("@", 1)[1]
    assert job["env"]["REDIS_URL"] == local["REDIS_URL"]
    assert job["env"]["CELERY_BROKER_URL"] == local["CELERY_BROKER_URL"]
    published = {
        name: [str(port) for port in service["ports"]]
        for name, service in workflow("ci.yml")["jobs"]["test"]["services"].items()
    }
    assert published == {
        "postgres": ["5432:5432"],
        "rabbitmq": ["5672:5672"],
        "redis": ["6379:6379"],
    }


def test_release_runs_on_version_tags_only() -> None:
    assert workflow("release.yml")["on"] == {"push": {"tags": ["v*"]}}


def test_release_publishes_only_what_passed_ci() -> None:
    jobs = workflow("release.yml")["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in workflow("ci.yml")["on"]
    assert jobs["image"]["needs"] == "ci"


def test_release_pushes_semver_tagged_images_to_github_container_registry() -> None:
    job = workflow("release.yml")["jobs"]["image"]
    assert job["permissions"]["packages"] == "write"
    steps = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
    login = steps["docker/login-action"]["with"]
    assert login["registry"] == "ghcr.io"
    assert login["password"] == "${{ secrets.GITHUB_TOKEN }}"
    meta = steps["docker/metadata-action"]["with"]
    assert meta["images"] == "ghcr.io/${{ github.repository }}"
    assert "type=semver,pattern={{version}}" in meta["tags"].split()
    build = steps["docker/build-push-action"]["with"]
    assert build["push"] is True
    assert build["context"] == "."
    assert build["tags"] == "${{ steps.meta.outputs.tags }}"


def test_workflows_pin_every_action_to_a_major_version() -> None:
    for path in sorted(Path(WORKFLOWS).glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.search(r"@v\d+$", step["uses"]), (path.name, step["uses"])
