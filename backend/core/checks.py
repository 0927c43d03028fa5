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


# PgBouncer's default port: a DATABASE_URL on it very likely goes through a pooler.
PGBOUNCER_PORT = 6432


# Not Tags.database: Django runs those only when asked for a database, and this one asks none.
@register(Tags.compatibility)
def database_pooler_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Warning]:
    """Prepared statements behind a pooler that may not keep them (decision 0025).

    A pooler is declared (``DATABASE_POOLER``), or recognised by PgBouncer's default port in
    ``DATABASE_URL``; it cannot be asked: PgBouncer answers ``SHOW`` only on its admin
    database, to its admin users.
    """
    if not settings.DATABASE_PREPARED_STATEMENTS:
        return []
    if settings.DATABASE_POOLER == "transaction":
        return [
            Warning(
                "DATABASE_PREPARED_STATEMENTS is on behind a pooler in transaction mode: a "
                "statement prepared on one server connection is run on another, which fails "
                "(PgBouncer before 1.21, or without max_prepared_statements).",
                hint="Set DATABASE_PREPARED_STATEMENTS=false, unless the pooler tracks "
                "prepared statements (PgBouncer 1.21+ with max_prepared_statements > 0).",
                id="nexus.W040",
            )
        ]
    port = urlsplit(settings.DATABASE_URL).port if settings.DATABASE_URL else None
    if settings.DATABASE_POOLER == "none" and port == PGBOUNCER_PORT:
        return [
            Warning(
                f"DATABASE_URL uses port {PGBOUNCER_PORT}, PgBouncer's, with prepared "
                "statements on and no DATABASE_POOLER declared.",
                hint="Declare the pooler: DATABASE_POOLER=transaction (prepared statements "
                "then default to off) or DATABASE_POOLER=session.",
                id="nexus.W041",
            )
        ]
    return []


@register(Tags.caches)
def replica_cache_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Warning]:
    """Read-your-writes keeps each writer's position in the cache: shared only through Redis."""
    if settings.DATABASE_REPLICA_URLS and not settings.REDIS_URL:
        return [
            Warning(
                "DATABASE_REPLICA_URLS is set without REDIS_URL: a writer's position is kept "
                "in each process's memory, so another process may serve the writer's next "
                "read from a replica that has not replayed the write yet.",
                hint="Set REDIS_URL for any deployment of more than one process.",
                id="nexus.W042",
            )
        ]
    return []
