"""The graphql-http audit (the GraphQL-over-HTTP specification's reference suite) against a live
Daphne, as tests/api/rest/test_newman.py runs newman.

``serverAudits`` of the ``graphql-http`` npm package sends 61 requests (media types, status
codes, GET and POST rules, malformed parameters) and grades each ok, notice (a MAY), warn (a
SHOULD) or error (a MUST). Every audit must pass, warnings and notices included.

Five audits select ``__type`` (introspection). With introspection off (``GRAPHQL_INTROSPECTION``,
production's default), four of them meet the INTROSPECTION_DISABLED refusal by design: that run
checks they fail for that reason and no other.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from tests.conftest import ON_CI
from tests.live_server import live_server
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = REPO_ROOT
AUDIT_SCRIPT = Path(__file__).with_name("graphql_http_audit.mjs")
# Pinned: a new release may add audits; upgrading is a deliberate change to this line.
PACKAGES = ("graphql-http@1.23.1", "graphql@16.15.0")
# Installed once per checkout (ignored by git, removed by `make clean`); npm's own cache makes
# a reinstall quick.
INSTALL_DIR = ROOT / ".tools" / "npm" / "graphql-http-1.23.1"
NPM_TIMEOUT = 300
AUDIT_TIMEOUT = 120
# The audits whose request selects __type and must succeed (the fifth, BF61, asks only for a
# 200 under application/json, which a refused document still gets).
INTROSPECTION_AUDITS = {"2EA1", "28B9", "D6D5", "6A70"}


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node and npm (Node.js) are not installed: the graphql-http audit cannot run"
        if ON_CI:
            pytest.fail(message + " (CI=true never skips it)")
        pytest.skip(message + " (install Node.js 20 with npm)")
    return node, npm


@pytest.fixture(scope="module")
def audit_command() -> list[str]:
    """``node graphql_http_audit.mjs <prefix>``, with the pinned packages installed under the
    prefix first if they are not there yet. Asked for before the server starts, so a local skip
    costs nothing."""
    node, npm = _tools()
    if not (INSTALL_DIR / "node_modules" / "graphql-http" / "package.json").exists():
        staging = INSTALL_DIR.with_name(f"{INSTALL_DIR.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-save", "--no-audit", "--no-fund",
             "--no-package-lock", *PACKAGES],
            check=True,
            env={**os.environ, "npm_config_update_notifier": "false"},
            capture_output=True,
            timeout=NPM_TIMEOUT,
        )  # fmt: skip
        try:
            staging.rename(INSTALL_DIR)  # atomic: a concurrent run sees all of it or nothing
        except OSError:  # another run installed it first
            shutil.rmtree(staging, ignore_errors=True)
    return [node, str(AUDIT_SCRIPT), str(INSTALL_DIR)]


@pytest.fixture
def graphql_url(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[str]:
    introspection = request.param
    environment = {
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,  # nothing written under .data/
        "JWT_PRIVATE_KEY_FILE": "",
        "GRAPHQL_INTROSPECTION": "true" if introspection else "false",
    }
    with live_server(environment, tmp_path / "daphne.log") as base_url:
        yield f"{base_url}/graphql/"


def run_audit(command: list[str], url: str) -> list[dict]:
    result = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=AUDIT_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout)
    assert len(results) >= 61, results  # every audit of the pinned release ran
    statuses = [audit["status"] for audit in results]
    print(  # the figures the closing note quotes (shown with -s or on failure)
        f"graphql-http audit: {statuses.count('ok')} of {len(results)} ok, "
        f"{statuses.count('warn')} warnings, {statuses.count('notice')} notices, "
        f"{statuses.count('error')} errors"
    )
    return results


@pytest.mark.parametrize("graphql_url", [True], indirect=True, ids=["introspection-on"])
def test_every_graphql_over_http_audit_passes(audit_command: list[str], graphql_url: str) -> None:
    results = run_audit(audit_command, graphql_url)
    assert [audit for audit in results if audit["status"] != "ok"] == []


@pytest.mark.parametrize("graphql_url", [False], indirect=True, ids=["introspection-off"])
def test_without_introspection_only_the_introspection_audits_fail_and_for_that_reason(
    audit_command: list[str], graphql_url: str
) -> None:
    results = run_audit(audit_command, graphql_url)
    failed = {audit["id"]: audit for audit in results if audit["status"] != "ok"}
    assert failed.keys() == INTROSPECTION_AUDITS
    for audit in failed.values():
        body = json.loads(audit["response"]["body"])
        assert [error["extensions"]["code"] for error in body["errors"]] == [
            "INTROSPECTION_DISABLED"
        ], audit
