"""Registration validates every field, stores Argon2 hashes and makes customers."""

import pytest
from pytest_django.fixtures import Settings

from backend import settings as project_settings
from backend.accounts import services
from backend.accounts.errors import AccountError, AccountErrorCode
from backend.accounts.models import User
from tests.factories import user_create

pytestmark = pytest.mark.django_db

IP = "198.51.100.4"


def _register_errors(**fields: str) -> list[tuple[AccountErrorCode, str | None]]:
    with pytest.raises(AccountError) as refusal:
        services.account_register(**{"name": "", "ip": IP, **fields})  # type: ignore[arg-type]
    return [(detail.code, detail.field) for detail in refusal.value.details]


def test_registration_creates_a_customer_with_an_argon2_password(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS  # production's: Argon2 first
    user = services.account_register(
        email="Ada@Example.COM", password="analytical-engine-1843", name="Ada", ip=IP
    )
    assert user.email == "Ada@example.com"  # the domain is normalised
    assert user.password.startswith("argon2")
    assert user.check_password("analytical-engine-1843")
    assert list(user.groups.values_list("name", flat=True)) == ["customer"]


def test_too_short_password_is_a_field_error() -> None:
    errors = _register_errors(email="a@example.com", password="x7#q")
    assert (AccountErrorCode.PASSWORD_TOO_SHORT, "password") in errors
    assert not User.objects.exists()


def test_common_password_is_a_field_error() -> None:
    errors = _register_errors(email="a@example.com", password="password123")
    assert errors == [(AccountErrorCode.PASSWORD_TOO_COMMON, "password")]


def test_password_like_the_email_is_a_field_error() -> None:
    errors = _register_errors(email="margaret.hamilton@example.com", password="margaret.hamilton")
    assert errors == [(AccountErrorCode.PASSWORD_TOO_SIMILAR, "password")]


def test_duplicate_email_in_another_case_is_email_taken() -> None:
    user_create(email="grace@example.com")
    errors = _register_errors(email="GRACE@example.com", password="cobol-compiler-1959")
    assert errors == [(AccountErrorCode.EMAIL_TAKEN, "email")]
    assert User.objects.count() == 1


def test_invalid_email_and_bad_password_are_reported_together() -> None:
    errors = _register_errors(email="not-an-email", password="123")
    assert (AccountErrorCode.INVALID, "email") in errors
    assert (AccountErrorCode.PASSWORD_TOO_SHORT, "password") in errors
    assert (AccountErrorCode.PASSWORD_ENTIRELY_NUMERIC, "password") in errors


def test_password_change_checks_the_old_password_and_the_rules() -> None:
    user = user_create(password="correct-horse-battery")
    with pytest.raises(AccountError) as wrong_old:
        services.password_change(
            user=user, old_password="nope", new_password="fine-new-pass-42", ip=IP
        )
    with pytest.raises(AccountError) as weak_new:
        services.password_change(
            user=user, old_password="correct-horse-battery", new_password="password", ip=IP
        )

    assert (wrong_old.value.code, wrong_old.value.field) == (
        AccountErrorCode.INVALID_PASSWORD,
        "old_password",
    )
    assert (weak_new.value.code, weak_new.value.field) == (
        AccountErrorCode.PASSWORD_TOO_COMMON,
        "new_password",
    )
    user.refresh_from_db()
    assert user.check_password("correct-horse-battery")
