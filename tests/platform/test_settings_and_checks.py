"""Invalid settings fail at start-up with a message naming the variable; system checks report
misconfiguration that settings parsing cannot see."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from backend.core.checks import configuration_check, database_pooler_check, replica_cache_check
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


def pooler_check_ids() -> set[str]:
    return {warning.id for warning in database_pooler_check(None)}  # type: ignore[misc]


@override_settings(DATABASE_POOLER="transaction", DATABASE_PREPARED_STATEMENTS=True)
def test_prepared_statements_behind_a_transaction_pooler_are_reported() -> None:
    assert pooler_check_ids() == {"nexus.W040"}


@override_settings(DATABASE_POOLER="transaction", DATABASE_PREPARED_STATEMENTS=False)
def test_a_transaction_pooler_without_prepared_statements_passes() -> None:
    assert pooler_check_ids() == set()


@override_settings(
    DATABASE_URL="postgres://nexus@pooler:6432/nexus",
    DATABASE_POOLER="none",
    DATABASE_PREPARED_STATEMENTS=True,
)
def test_pgbouncers_port_with_prepared_statements_and_no_pooler_declared_is_reported() -> None:
    assert pooler_check_ids() == {"nexus.W041"}


@override_settings(
    DATABASE_URL="postgres://nexus@pooler:6432/nexus",
    DATABASE_POOLER="session",
    DATABASE_PREPARED_STATEMENTS=True,
)
def test_a_declared_session_pooler_on_pgbouncers_port_passes() -> None:
    assert pooler_check_ids() == set()


def test_a_transaction_pooler_turns_prepared_statements_and_server_side_cursors_off() -> None:
    result = django_setup(
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(settings.DATABASE_PREPARED_STATEMENTS, 'prepare_threshold' in d['OPTIONS'],"
        " d['DISABLE_SERVER_SIDE_CURSORS'])",
        DEBUG="true",
        DATABASE_URL="postgres://nexus@pooler:6432/nexus",
        DATABASE_POOLER="transaction",
    )
    assert result.stdout.split() == ["False", "False", "True"], result.stderr


def test_replica_urls_become_aliases_mirrored_under_test_and_routed() -> None:
    result = django_setup(
        "from django.conf import settings; d = settings.DATABASES;"
        "print(sorted(d), d['replica_2']['HOST'], d['replica_1']['TEST']['MIRROR'],"
        " d['replica_1']['OPTIONS'] == d['default']['OPTIONS'], settings.DATABASE_ROUTERS)",
        DEBUG="true",
        DATABASE_URL="postgres://nexus@primary:5432/nexus",
        DATABASE_REPLICA_URLS="postgres://nexus@replica-a/nexus,postgres://nexus@replica-b/nexus",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "['default', 'replica_1', 'replica_2'] replica-b default True"
        " ['backend.core.routing.ReplicaRouter']"
    )


def test_replicas_without_a_database_url_fail_at_start_up_naming_both() -> None:
    result = django_setup(DEBUG="true", DATABASE_URL="", DATABASE_REPLICA_URLS="postgres://r/n")
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS needs DATABASE_URL" in result.stderr


@override_settings(DATABASE_REPLICA_URLS=["postgres://replica/nexus"], REDIS_URL="")
def test_replicas_without_a_shared_cache_are_reported() -> None:
    assert {warning.id for warning in replica_cache_check(None)} == {"nexus.W042"}
