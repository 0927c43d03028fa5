"""Django started in a fresh interpreter, for tests of what settings do at start-up."""

import os
import subprocess
import sys

from tests.paths import REPO_ROOT

# Variables the settings read whose value the tests choose: unset unless passed.
CHOSEN = {"DEBUG", "SECRET_KEY", "LOG_FORMAT"}


def django_setup(script: str = "", **environment: str) -> subprocess.CompletedProcess[str]:
    """``django.setup()``, then ``script``, in a fresh interpreter whose DEBUG, SECRET_KEY and
    LOG_FORMAT are only what ``environment`` says."""
    env = {k: v for k, v in os.environ.items() if k not in CHOSEN}
    env.update(DJANGO_SETTINGS_MODULE="backend.settings", **environment)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{script}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
