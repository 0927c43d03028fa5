"""Invalid settings fail at start-up with a message naming the variable; system checks report
misconfiguration that settings parsing cannot see."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from backend.core.checks import configuration_check
from tests.platform.fresh_django import django_setup


def test_start_up_without_debug_and_without_secret_key_fails_naming_secret_key() -> None:
    result = django_setup()
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_start_up_with_an_invalid_debug_value_fails_naming_debug() -> None:
    result = django_setup(DEBUG="maybe", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def check_ids() -> set[str]:
    return {error.id for error in configuration_check(None)}


def test_the_default_configuration_passes_the_checks() -> None:
    assert check_ids() == set()


@override_settings(STORE_CURRENCY="DOLLARS")
def test_a_store_currency_that_is_not_iso_4217_is_reported() -> None:
    assert "nexus.E001" in check_ids()


@override_settings(DEBUG=False, ALLOWED_HOSTS=[])
def test_empty_allowed_hosts_with_debug_off_is_reported() -> None:
    assert "nexus.E002" in check_ids()


@override_settings(DATABASE_URL="mysql://db/nexus")
def test_a_database_url_that_is_not_postgresql_is_reported() -> None:
    assert "nexus.E003" in check_ids()


@override_settings(CELERY_BROKER_URL="http://rabbit:5672/")
def test_a_broker_url_with_an_unknown_scheme_is_reported() -> None:
    errors = [error for error in configuration_check(None) if error.id == "nexus.E004"]
    assert len(errors) == 1
    assert "CELERY_BROKER_URL" in errors[0].msg


@override_settings(REDIS_URL="memcached://cache:11211")
def test_a_redis_url_with_an_unknown_scheme_is_reported() -> None:
    assert "nexus.E005" in check_ids()


@pytest.mark.django_db
def test_migrations_match_the_models() -> None:
    # Exits with status 1 (SystemExit) when a model change has no migration.
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)
