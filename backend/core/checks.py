"""System checks for configuration that can be validated without serving a request."""

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _scheme_error(setting: str, allowed: set[str], check_id: str) -> list[Error]:
    value = getattr(settings, setting)
    if value and urlsplit(value).scheme not in allowed:
        return [
            Error(
                f"{setting} must use one of the schemes {sorted(allowed)}, got {value!r}.",
                hint=f"Example: {sorted(allowed)[0]}://host:port/",
                id=check_id,
            )
        ]
    return []


@register(Tags.compatibility)
def configuration_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    if not CURRENCY_CODE.match(settings.STORE_CURRENCY):
        errors.append(
            Error(
                "STORE_CURRENCY must be an ISO 4217 code such as USD, "
                f"got {settings.STORE_CURRENCY!r}.",
                id="nexus.E001",
            )
        )
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        errors.append(Error("ALLOWED_HOSTS must not be empty when DEBUG is off.", id="nexus.E002"))
    errors += _scheme_error("DATABASE_URL", {"postgres", "postgresql", "pgsql"}, "nexus.E003")
    errors += _scheme_error(
        "CELERY_BROKER_URL", {"amqp", "amqps", "pyamqp", "redis", "rediss"}, "nexus.E004"
    )
    errors += _scheme_error("REDIS_URL", {"redis", "rediss", "unix"}, "nexus.E005")
    return errors


@register(Tags.security, deploy=True)
def exposure_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Warning]:
    """``check --deploy``: development aids left on in production (both default to DEBUG)."""
    if settings.DEBUG:
        return []
    warnings: list[Warning] = []
    if settings.API_DOCS_PUBLIC:
        warnings.append(
            Warning(
                "API_DOCS_PUBLIC is on with DEBUG off: /api/schema/, /api/docs/ and /api/redoc/ "
                "show anyone every REST route.",
                hint="Unset it; docs/openapi.yaml is the published contract.",
                id="nexus.W030",
            )
        )
    if settings.GRAPHQL_INTROSPECTION:
        warnings.append(
            Warning(
                "GRAPHQL_INTROSPECTION is on with DEBUG off: anyone can read the whole schema, "
                "and errors suggest field names.",
                hint="Unset it; schema.graphql is the published contract.",
                id="nexus.W031",
            )
        )
    return warnings
