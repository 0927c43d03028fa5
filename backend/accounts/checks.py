"""System checks: starting without a usable JWT signing key fails and names the variable."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from backend.accounts.tokens import signing_key


@register(Tags.security, deploy=False)
def jwt_configuration_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    if not settings.DEBUG and not (settings.JWT_PRIVATE_KEY or settings.JWT_PRIVATE_KEY_FILE):
        errors.append(
            Error(
                "JWT_PRIVATE_KEY (or JWT_PRIVATE_KEY_FILE) is required when DEBUG is off.",
                hint="Generate one: openssl genpkey -algorithm ed25519",
                id="nexus.E010",
            )
        )
    elif settings.JWT_PRIVATE_KEY or settings.JWT_PRIVATE_KEY_FILE:
        try:
            signing_key()
        except ImproperlyConfigured as error:
            errors.append(Error(str(error), id="nexus.E011"))
    for name in ("JWT_ACCESS_TTL_SECONDS", "JWT_REFRESH_TTL_SECONDS"):
        if getattr(settings, name) <= 0:
            errors.append(Error(f"{name} must be a positive number of seconds.", id="nexus.E012"))
    return errors
