"""Account services: registration, login, refresh-token rotation, revocation, password change.

Every function takes keyword-only arguments, runs in one transaction and raises AccountError
for business failures, leaving the database unchanged; the exceptions are documented on
``token_refresh`` (reuse detection commits its revocation before raising) and on the throttled
ones (``account_register``, ``token_create``, ``password_change``: the attempt is counted, in
its own transaction, before anything else, and stays counted when the rest is refused).
"""

import hashlib
import logging
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import Group, update_last_login
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from backend.accounts import throttling
from backend.accounts.errors import AccountError, AccountErrorCode
from backend.accounts.models import RefreshToken, User
from backend.accounts.roles import Role
from backend.accounts.signals import sessions_ended_on_commit
from backend.accounts.tokens import access_token_create
from backend.core.errors import ErrorDetail
from backend.core.text import text_fields_validate

logger = logging.getLogger(__name__)

# Django's validator codes, mapped to the codes clients see.
PASSWORD_CODES = {
    "password_too_short": AccountErrorCode.PASSWORD_TOO_SHORT,
    "password_too_common": AccountErrorCode.PASSWORD_TOO_COMMON,
    "password_too_similar": AccountErrorCode.PASSWORD_TOO_SIMILAR,
    "password_entirely_numeric": AccountErrorCode.PASSWORD_ENTIRELY_NUMERIC,
}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    user: User


def _hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def _password_errors(password: str, user: User, field: str) -> list[ErrorDetail]:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        return [
            ErrorDetail(
                PASSWORD_CODES.get(item.code or "", AccountErrorCode.PASSWORD_INVALID),
                " ".join(item.messages),
                field,
            )
            for item in error.error_list
        ]
    return []


def _refresh_token_issue(*, user: User, family_id: uuid.UUID) -> tuple[str, RefreshToken]:
    token = secrets.token_urlsafe(32)
    row = RefreshToken.objects.create(
        user=user,
        family_id=family_id,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(seconds=settings.JWT_REFRESH_TTL_SECONDS),
    )
    return token, row


def _token_pair_issue(*, user: User, family_id: uuid.UUID | None = None) -> TokenPair:
    refresh_token, _ = _refresh_token_issue(user=user, family_id=family_id or uuid.uuid4())
    return TokenPair(access_token_create(user), refresh_token, user)


def account_register(*, email: str, password: str, ip: str, name: str = "") -> User:
    """Create a customer account. All field problems are reported together.

    Guarantees: sign-ups from one address are throttled, counted whatever their outcome
    (REGISTRATION_ATTEMPT_DELAYED with ``retry_after``: it bounds signup spam and EMAIL_TAKEN
    enumeration); the email is unique case-insensitively (EMAIL_TAKEN, also under a concurrent
    duplicate, through the database constraint), the password passes Django's validators and
    is stored with Argon2, and the user is in the customer group.
    """
    try:
        throttling.attempt_begin(throttling.registration_scopes(ip=ip))
    except throttling.AttemptDelayedError as refusal:
        raise AccountError(
            AccountErrorCode.REGISTRATION_ATTEMPT_DELAYED,
            f"Too many sign-ups from this address. Try again in {refusal.retry_after} seconds.",
            retry_after=refusal.retry_after,
        ) from None
    return _account_create(email=email, password=password, name=name)


def account_create_by_staff(*, email: str, password: str | None, name: str = "") -> User:
    """Create an account for someone else (the admin's add page): validated as
    ``account_register`` validates a sign-up, and in the customer group, but not throttled
    (staff are signed in). ``password`` None gives an unusable password: the person sets one
    through a password reset."""
    return _account_create(email=email, password=password, name=name)


@transaction.atomic
def account_role_groups_sync(*, user: User) -> None:
    """Put the account in the groups of the roles its flags give it and out of the other role
    groups: customer always, staff with ``is_staff``, admin with ``is_superuser``. Groups that
    are not roles stay as they are; ``roles_sync`` gives the role groups their permissions."""
    held = {Role.CUSTOMER: True, Role.STAFF: user.is_staff, Role.ADMIN: user.is_superuser}
    user.groups.remove(
        *Group.objects.filter(name__in=[role.value for role, has in held.items() if not has])
    )
    user.groups.add(
        *(Group.objects.get_or_create(name=role.value)[0] for role, has in held.items() if has)
    )


@transaction.atomic
def _account_create(*, email: str, password: str | None, name: str) -> User:
    email = User.objects.normalize_email(email.strip())
    user = User(email=email, name=name.strip())
    errors = _text_errors(user)  # a NUL or too long: refused before any query carries it
    if not any(error.field == "email" for error in errors):
        try:
            validate_email(email)
        except ValidationError:
            errors.append(
                ErrorDetail(AccountErrorCode.INVALID, "Enter a valid email address.", "email")
            )
        else:
            if User.objects.filter(email__iexact=email).exists():
                errors.append(_email_taken())
    if password is not None:
        errors += _password_errors(password, user, "password")
    if errors:
        raise AccountError.from_details(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same address.
        raise AccountError.from_details([_email_taken()]) from None
    account_role_groups_sync(user=user)
    return user


def _text_errors(user: User) -> list[ErrorDetail]:
    try:
        text_fields_validate(user)
    except ValidationError as error:
        return [
            ErrorDetail(AccountErrorCode.INVALID, " ".join(messages), field)
            for field, messages in error.message_dict.items()
        ]
    return []


def _email_taken() -> ErrorDetail:
    return ErrorDetail(
        AccountErrorCode.EMAIL_TAKEN, "An account with this email address exists.", "email"
    )


def _attempt_delayed(refusal: throttling.AttemptDelayedError) -> AccountError:
    return AccountError(
        AccountErrorCode.LOGIN_ATTEMPT_DELAYED,
        f"Too many failed password attempts. Try again in {refusal.retry_after} seconds.",
        retry_after=refusal.retry_after,
    )


def token_create(*, email: str, password: str, ip: str) -> TokenPair:
    """Log in: an access token and the first refresh token of a new family.

    Throttled per IP, per account and per IP+account (LOGIN_ATTEMPT_DELAYED with
    ``retry_after``, the password not evaluated; see throttling.py, applied by the
    authentication backend); an unknown email, a wrong password and an inactive account give
    the same INVALID_CREDENTIALS and take the same hashing time.
    """
    try:
        user = authenticate(username=email.strip(), password=password, ip=ip)
    except throttling.AttemptDelayedError as refusal:
        raise _attempt_delayed(refusal) from None
    if user is None:
        raise AccountError(
            AccountErrorCode.INVALID_CREDENTIALS, "Please enter a correct email and password."
        )
    with transaction.atomic():
        update_last_login(None, user)
        return _token_pair_issue(user=user)


def token_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: mark the presented refresh token used, issue its successor and an access token.

    Row-locked, so two concurrent refreshes with one token cannot both succeed. Presenting a
    token that was already used revokes its whole family and raises REFRESH_TOKEN_REUSED; that
    revocation is committed in its own durable transaction before the error is raised, so the
    caller must not wrap this in an outer transaction (durable=True enforces it).
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        row = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token_hash=_hash(refresh_token))
            .first()
        )
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise _invalid_refresh_token()
        if row.used_at is not None:
            revoked = RefreshToken.objects.filter(
                family_id=row.family_id, revoked_at__isnull=True
            ).update(revoked_at=now)
            reused = True
        elif not row.user.is_active:
            raise _invalid_refresh_token()
        else:
            reused = False
            successor_token, successor = _refresh_token_issue(
                user=row.user, family_id=row.family_id
            )
            row.used_at = now
            row.replaced_by = successor
            row.save(update_fields=["used_at", "replaced_by"])
    if reused:
        logger.warning(
            "Refresh token reuse: revoked family %s of user %s (%d tokens).",
            row.family_id,
            row.user_id,
            revoked,
        )
        raise AccountError(
            AccountErrorCode.REFRESH_TOKEN_REUSED,
            "This refresh token was already used; the session has been ended. Log in again.",
            field="refresh_token",
        )
    return TokenPair(access_token_create(row.user), successor_token, row.user)


def _invalid_refresh_token() -> AccountError:
    return AccountError(
        AccountErrorCode.INVALID_REFRESH_TOKEN,
        "The refresh token is invalid, expired or revoked.",
        field="refresh_token",
    )


@transaction.atomic
def token_revoke(*, refresh_token: str) -> None:
    """Log out one session: revoke the family of ``refresh_token`` (idempotent).

    Its access tokens stay valid until they expire (at most JWT_ACCESS_TTL_SECONDS).
    """
    row = RefreshToken.objects.filter(token_hash=_hash(refresh_token)).first()
    if row is None:
        raise _invalid_refresh_token()
    RefreshToken.objects.filter(family_id=row.family_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def sessions_end(*, user_ids: Collection[int]) -> None:
    """End every session of these users: revoke every refresh family and invalidate every
    access token now.

    Access tokens die at once because ``user_from_access_token`` compares the bumped
    ``token_version`` with the token's ``ver`` claim; after commit, ``sessions_ended`` closes
    the users' open WebSockets. Every path that ends sessions comes here (receivers.py).
    """
    RefreshToken.objects.filter(user_id__in=user_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    User.objects.filter(pk__in=user_ids).update(token_version=F("token_version") + 1)
    for user_id in user_ids:
        sessions_ended_on_commit(user_id=user_id)  # open WebSockets close too


@transaction.atomic
def token_revoke_all(*, user: User) -> None:
    """Log out everywhere (``sessions_end`` for one user)."""
    sessions_end(user_ids=[user.pk])
    user.refresh_from_db(fields=["token_version"])


def accounts_deactivate(*, user_ids: Collection[int]) -> int:
    """Deactivate these accounts, ending their sessions; returns how many were active."""
    return User.objects.filter(pk__in=user_ids, is_active=True).update(is_active=False)


def password_change(*, user: User, old_password: str, new_password: str, ip: str) -> TokenPair:
    """Change the password, end every other session and return a fresh pair for this one.

    A password change is what a user does after a suspected compromise, so every existing
    refresh family and access token is revoked (as ``token_revoke_all``); the caller gets new
    tokens to stay signed in. The old password is checked under the same throttle as a
    sign-in to this account (LOGIN_ATTEMPT_DELAYED), so a stolen access token is no oracle.
    """
    try:
        old_password_correct = throttling.password_checked(
            ip=ip,
            account=throttling.email_canonical(user.email),
            check=lambda: user.check_password(old_password),
        )
    except throttling.AttemptDelayedError as refusal:
        raise _attempt_delayed(refusal) from None
    if not old_password_correct:
        raise AccountError(
            AccountErrorCode.INVALID_PASSWORD,
            "The old password is incorrect.",
            field="old_password",
        )
    errors = _password_errors(new_password, user, "new_password")
    if errors:
        raise AccountError.from_details(errors)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])  # ends every session (receivers.py)
        return _token_pair_issue(user=user)
