"""Every path that replaces a password or deactivates an account ends the user's sessions:
every refresh token revoked, every access token refused, and ``sessions_ended`` sent once
after commit (it closes the user's sockets: tests/api/websocket/test_revocation.py). Other
users keep theirs, and saves and updates that change neither end nothing."""

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from backend.accounts import services
from backend.accounts.models import RefreshToken, User
from backend.accounts.signals import sessions_ended
from backend.accounts.tokens import (
    AccessTokenError,
    access_token_create,
    user_from_access_token,
)
from tests.accounts.session_endings import ENDINGS, NEW_PASSWORD, OLD_PASSWORD
from tests.factories import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced() -> Iterator[list[int]]:
    """The user ids ``sessions_ended`` announces."""
    received: list[int] = []

    def record(*, user_id: int, **kwargs: Any) -> None:
        received.append(user_id)

    sessions_ended.connect(record, dispatch_uid="test.announced")
    yield received
    sessions_ended.disconnect(dispatch_uid="test.announced")


def signed_in(user: User, sessions: int = 2) -> list[services.TokenPair]:
    return [
        services.token_create(email=user.email, password=OLD_PASSWORD, ip=f"192.0.2.{n}")
        for n in range(1, sessions + 1)
    ]


def refresh_rows(pairs: list[services.TokenPair]) -> Any:
    hashes = [hashlib.sha256(pair.refresh_token.encode()).hexdigest() for pair in pairs]
    return RefreshToken.objects.filter(token_hash__in=hashes)


def sessions_open(pairs: list[services.TokenPair]) -> bool:
    """Whether every refresh token is unrevoked and every access token accepted."""
    refresh_open = not refresh_rows(pairs).filter(revoked_at__isnull=False).exists()
    try:
        for pair in pairs:
            user_from_access_token(pair.access_token)
    except AccessTokenError:
        return False
    return refresh_open


def sessions_ended_all(pairs: list[services.TokenPair]) -> bool:
    """Whether every refresh token is revoked (or gone with its user) and every access token
    refused."""
    if refresh_rows(pairs).filter(revoked_at__isnull=True).exists():
        return False
    for pair in pairs:
        with pytest.raises(AccessTokenError):
            user_from_access_token(pair.access_token)
    return True


@pytest.mark.parametrize("end_sessions", ENDINGS, ids=lambda f: f.__name__)
def test_each_path_ends_every_session_of_that_user_and_no_other(
    end_sessions: Callable[[User], None],
    announced: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = user_create(password=OLD_PASSWORD)
    bystander = user_create(password=OLD_PASSWORD)
    pairs, other_pairs = signed_in(user), signed_in(bystander)

    with django_capture_on_commit_callbacks(execute=True):
        end_sessions(user)

    assert sessions_ended_all(pairs)
    assert announced == [user.pk]  # once, after commit
    assert sessions_open(other_pairs)


def test_the_signal_waits_for_the_commit(
    announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    user = user_create(password=OLD_PASSWORD)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        User.objects.filter(pk=user.pk).update(is_active=False)
    assert announced == []
    for callback in callbacks:
        callback()
    assert announced == [user.pk]


def test_a_password_change_returns_a_pair_that_works(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = user_create(password=OLD_PASSWORD)
    old = signed_in(user, sessions=1)
    with django_capture_on_commit_callbacks(execute=True):
        fresh = services.password_change(
            user=user, old_password=OLD_PASSWORD, new_password=NEW_PASSWORD, ip="192.0.2.9"
        )
    assert sessions_ended_all(old)
    assert user_from_access_token(fresh.access_token) == user
    assert services.token_refresh(refresh_token=fresh.refresh_token).user == user
    # One bump: the version the fresh token carries is the stored one, and a later save of
    # the same instance keeps it.
    user.name = "Renamed"
    user.save()
    assert user_from_access_token(fresh.access_token) == user


NOT_ENDINGS: dict[str, Callable[[User], None]] = {
    "a rename": lambda user: (setattr(user, "name", "Renamed"), user.save()),
    "a save of an active account": lambda user: user.save(),
    "a queryset rename": lambda user: User.objects.filter(pk=user.pk).update(name="Renamed"),
    "activating an active account": lambda user: User.objects.filter(pk=user.pk).update(
        is_active=True
    ),
    "signing in": lambda user: signed_in(user, sessions=1),
}


@pytest.mark.parametrize("change", NOT_ENDINGS.values(), ids=NOT_ENDINGS)
def test_changes_to_neither_password_nor_activity_end_nothing(
    change: Callable[[User], None], announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    user = user_create(password=OLD_PASSWORD)
    pairs = signed_in(user)
    with django_capture_on_commit_callbacks(execute=True):
        change(user)
    assert sessions_open(pairs)
    assert announced == []


def test_a_hash_upgraded_at_sign_in_is_not_a_new_password(
    settings: Settings, announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = user_create()
    # Stored with the older hasher (a setup write, not through the model's hooks).
    User._base_manager.filter(pk=user.pk).update(
        password=make_password(OLD_PASSWORD, hasher="pbkdf2_sha256")
    )
    user.refresh_from_db()
    open_session = access_token_create(user)

    with django_capture_on_commit_callbacks(execute=True):
        signed_in(user, sessions=1)  # check_password re-hashes with MD5 and saves

    user.refresh_from_db()
    assert user.password.startswith("md5$")
    assert user_from_access_token(open_session) == user
    assert announced == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    active=st.lists(st.booleans(), min_size=1, max_size=4),
    selected=st.lists(st.booleans(), min_size=4, max_size=4),
    new_activity=st.sampled_from([None, True, False]),
    password=st.booleans(),
    rename=st.booleans(),
)
def test_a_bulk_update_ends_exactly_the_sessions_it_should(
    active: list[bool],
    selected: list[bool],
    new_activity: bool | None,
    password: bool,
    rename: bool,
    announced: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Whatever a queryset update sets: the selected users whose password it sets, or whom it
    takes from active to inactive, have their sessions ended; nobody else."""
    users = [user_create(is_active=is_active) for is_active in active]
    versions = {user.pk: user.token_version for user in users}
    chosen = [user.pk for user, pick in zip(users, selected, strict=False) if pick]
    changes: dict[str, Any] = {}
    if new_activity is not None:
        changes["is_active"] = new_activity
    if password:
        changes["password"] = make_password(NEW_PASSWORD)
    if rename or not changes:
        changes["name"] = "Renamed"
    announced.clear()

    with django_capture_on_commit_callbacks(execute=True):
        User.objects.filter(pk__in=chosen).update(**changes)

    expected = {
        user.pk
        for user, was_active in zip(users, active, strict=True)
        if user.pk in chosen and (password or (was_active and new_activity is False))
    }
    assert set(announced) == expected
    assert len(announced) == len(expected)
    bumped = {
        user.pk
        for user in User.objects.filter(pk__in=versions)
        if user.token_version != versions[user.pk]
    }
    assert bumped == expected
