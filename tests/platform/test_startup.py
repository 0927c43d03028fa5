"""Both server entry points finish loading before the first request and freeze what they
loaded, so a full garbage collection never walks the start-up objects (decision 0013)."""

import os
import subprocess
import sys

import pytest

from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
REPORT = (
    "import gc, sys; import {module}; "
    "print(gc.get_freeze_count(), len(gc.get_objects()), 'backend.api.schema' in sys.modules)"
)


@pytest.mark.parametrize("module", ["backend.wsgi", "backend.asgi"])
def test_entry_point_imports_the_schema_and_freezes_the_start_up_objects(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", REPORT.format(module=module)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    frozen, still_tracked, schema_loaded = result.stdout.split()
    # The URLconf, and with it the GraphQL schema, were loaded before the freeze...
    assert schema_loaded == "True"
    # ...so nearly every object is frozen: about 175,000, against a few thousand left tracked.
    assert int(frozen) > 100_000
    assert int(still_tracked) < int(frozen) / 10


def test_a_requests_environ_keeps_its_own_keys_and_loses_the_process_environment() -> None:
    """granian copies the process environment into every environ (decision 0014): the settings'
    secrets must not reach ``request.META``."""
    from backend.wsgi import without_process_environment

    seen: list[dict[str, object]] = []
    application = without_process_environment(
        lambda environ, start_response: seen.append(environ) or []
    )
    request = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/graphql/",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_AUTHORIZATION": "Bearer token",
        "wsgi.url_scheme": "http",
    }

    application({**os.environ, **request}, lambda status, headers: None)

    [environ] = seen
    assert environ == request
    assert "PATH" in os.environ  # so the environ above held configuration to drop
