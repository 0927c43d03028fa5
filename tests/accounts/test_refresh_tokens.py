"""Refresh tokens: stored hashed, rotated on every use, a reused one ends its whole family."""

import hashlib
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts import services
from backend.accounts.errors import AccountError, AccountErrorCode
from backend.accounts.models import RefreshToken
from tests.factories import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _login(email: str) -> services.TokenPair:
    return services.token_create(email=email, password=PASSWORD, ip="203.0.113.7")


def _refresh_error(refresh_token: str) -> AccountErrorCode:
    with pytest.raises(AccountError) as refusal:
        services.token_refresh(refresh_token=refresh_token)
    return refusal.value.code


def test_refresh_token_is_stored_only_as_its_hash() -> None:
    user = user_create(password=PASSWORD)
    pair = _login(user.email)

    row = RefreshToken.objects.get(user=user)
    assert row.token_hash == hashlib.sha256(pair.refresh_token.encode()).hexdigest()
    assert not RefreshToken.objects.filter(token_hash=pair.refresh_token).exists()
    assert row.expires_at - row.created_at == pytest.approx(
        timedelta(days=30), abs=timedelta(seconds=5)
    )


def test_rotation_returns_a_new_refresh_token_and_the_old_one_stops_working() -> None:
    user = user_create(password=PASSWORD)
    first = _login(user.email)

    second = services.token_refresh(refresh_token=first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert second.user == user
    old, new = RefreshToken.objects.order_by("pk")
    assert old.used_at is not None
    assert old.replaced_by_id == new.pk
    assert old.family_id == new.family_id
    assert _refresh_error(first.refresh_token) == AccountErrorCode.REFRESH_TOKEN_REUSED


def test_reused_refresh_token_revokes_its_whole_family_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = user_create(password=PASSWORD)
    stolen = _login(user.email)
    legitimate = services.token_refresh(refresh_token=stolen.refresh_token)
    other_device = _login(user.email)

    with caplog.at_level(logging.WARNING, logger="backend.accounts.services"):
        assert _refresh_error(stolen.refresh_token) == AccountErrorCode.REFRESH_TOKEN_REUSED

    # The successor the legitimate client holds is dead too: the family is over.
    assert _refresh_error(legitimate.refresh_token) == AccountErrorCode.INVALID_REFRESH_TOKEN
    # Another login of the same user is another family and keeps working.
    assert services.token_refresh(refresh_token=other_device.refresh_token).refresh_token
    assert "Refresh token reuse" in caplog.text
    assert str(RefreshToken.objects.get(token_hash=_hash(stolen.refresh_token)).family_id) in (
        caplog.text
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_unknown_refresh_token_is_refused() -> None:
    assert _refresh_error("made-up") == AccountErrorCode.INVALID_REFRESH_TOKEN


def test_expired_refresh_token_is_refused() -> None:
    user = user_create(password=PASSWORD)
    pair = _login(user.email)
    RefreshToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _refresh_error(pair.refresh_token) == AccountErrorCode.INVALID_REFRESH_TOKEN


def test_refresh_token_of_a_deactivated_user_is_refused() -> None:
    user = user_create(password=PASSWORD)
    pair = _login(user.email)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _refresh_error(pair.refresh_token) == AccountErrorCode.INVALID_REFRESH_TOKEN


def test_token_revoke_ends_one_family_only() -> None:
    user = user_create(password=PASSWORD)
    laptop = _login(user.email)
    phone = _login(user.email)

    services.token_revoke(refresh_token=laptop.refresh_token)

    assert _refresh_error(laptop.refresh_token) == AccountErrorCode.INVALID_REFRESH_TOKEN
    assert services.token_refresh(refresh_token=phone.refresh_token).access_token


def test_token_revoke_all_ends_every_family_and_bumps_the_token_version() -> None:
    user = user_create(password=PASSWORD)
    laptop = _login(user.email)
    phone = _login(user.email)

    services.token_revoke_all(user=user)

    assert user.token_version == 1
    assert _refresh_error(laptop.refresh_token) == AccountErrorCode.INVALID_REFRESH_TOKEN
    assert _refresh_error(phone.refresh_token) == AccountErrorCode.INVALID_REFRESH_TOKEN
