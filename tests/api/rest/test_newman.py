"""The Postman collection under newman against a live Daphne, as `make api-check` runs it.

The server runs on the embedded defaults (no broker, no Redis: a payment settles in-process
before the next request) on this test's database, with the demo data `make run` loads. newman
logs in as the demo admin and runs the collection's scenario: every request must answer the
status its step expects, one the operation documents, and never a 5xx.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings

from backend import settings as project_settings
from tests.conftest import ON_CI
from tests.live_server import live_server
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = REPO_ROOT
POSTMAN = ROOT / "docs" / "postman"
NEWMAN = "newman@6"
# A cold npm cache downloads newman first (about 25 s here); a warm run takes a few seconds.
NEWMAN_TIMEOUT = 300


@pytest.fixture
def newman() -> list[str]:
    """The newman command, through npx. No npx on CI is a failure, never a skip (as for
    ``service_url``); asked for before the server starts, so a local skip costs nothing."""
    npx = shutil.which("npx")
    if npx is None:
        message = "npx (Node.js) is not installed: newman cannot run"
        if ON_CI:
            pytest.fail(message + " (CI=true never skips it)")
        pytest.skip(message + " (install Node.js 20 with npm)")
    return [npx, "--yes", NEWMAN]


@pytest.fixture
def demo_server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """Daphne on the demo catalog and admin (committed); yields its base URL."""
    settings.DEBUG = True  # demo_load refuses otherwise; the test runner turns DEBUG off
    # The admin's password hashed as the server checks it, not with the tests' fast hasher.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    call_command("demo_load", stdout=StringIO())
    environment = {
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "PAYMENT_GATEWAY_OUTCOME": "success",  # the scenario ships the order it paid for
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,  # nothing written under .data/
        "JWT_PRIVATE_KEY_FILE": "",
    }
    with live_server(environment, tmp_path / "daphne.log") as base_url:
        yield base_url


def test_postman_collection_passes_under_newman(
    newman: list[str], demo_server: str, tmp_path: Path
) -> None:
    report = tmp_path / "newman.json"
    command = [
        *newman, "run", str(POSTMAN / "nexus.postman_collection.json"),
        "-e", str(POSTMAN / "nexus.postman_environment.json"),
        "--env-var", f"baseUrl={demo_server}",
        "--reporters", "cli,json", "--reporter-json-export", str(report), "--color", "off",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "npm_config_update_notifier": "false"},
        capture_output=True,
        text=True,
        timeout=NEWMAN_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert report.exists(), output
    run = json.loads(report.read_text())["run"]

    failures = [
        f"{failure['source']['name']}: {failure['error']['message']}" for failure in run["failures"]
    ]
    assert failures == [], output
    assert run["stats"]["requests"]["failed"] == 0, output
    assert run["stats"]["assertions"]["failed"] == 0, output
    assert run["stats"]["assertions"]["total"] > 0
    collection = json.loads((POSTMAN / "nexus.postman_collection.json").read_text())
    every_request = [item["id"] for folder in collection["item"] for item in folder["item"]]
    assert [execution["item"]["id"] for execution in run["executions"]] == every_request
    assert result.returncode == 0, output
