"""The platform and the domains work without any transport library installed.

import-linter proves no module imports one by name; this proves it at run time: a fresh
interpreter in which strawberry, graphql, rest_framework, channels and their kin cannot be
imported sets Django up with the non-transport apps and imports every module of the
platform and the domains (``backend.orders.services`` included).
"""

import subprocess
import sys
import textwrap

from tests.paths import REPO_ROOT

TRANSPORT_LIBRARIES = (
    "strawberry",
    "strawberry_django",
    "graphql",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "channels",
    "channels_redis",
    "daphne",
)
LAYERS = ("backend.core", "backend.celery", "backend.accounts", "backend.catalog", "backend.orders")

SCRIPT = textwrap.dedent(
    """
    import importlib, os, pkgutil, sys

    blocked, layers = {blocked!r}, {layers!r}
    for name in blocked:
        sys.modules[name] = None  # `import name` now raises ImportError
    try:
        import strawberry  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the block does not work")

    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    import django
    from django.conf import settings

    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS
        if app.split(".")[0] not in blocked and not app.startswith("backend.api")
    ]
    django.setup()

    imported = []
    for layer in layers:
        package = importlib.import_module(layer)
        imported.append(layer)
        for module in pkgutil.walk_packages(getattr(package, "__path__", []), layer + "."):
            importlib.import_module(module.name)
            imported.append(module.name)
    loaded = [name for name in blocked if sys.modules.get(name) is not None]
    if loaded:
        raise SystemExit(f"transport libraries loaded: {{loaded}}")
    print("\\n".join(imported))
    """
).format(blocked=TRANSPORT_LIBRARIES, layers=LAYERS)


def test_every_platform_and_domain_module_imports_without_transport_libraries() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    assert {
        "backend.core.errors",
        "backend.accounts.errors",
        "backend.accounts.roles",
        "backend.catalog.errors",
        "backend.catalog.services",
        "backend.orders.services",
        "backend.orders.tasks",
    } <= imported
