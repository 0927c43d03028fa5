from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models, transaction
from django.db.models.functions import Lower

from backend.accounts.signals import credentials_revoked


class UserQuerySet(models.QuerySet["User"]):
    def update(self, **kwargs: Any) -> int:
        """A bulk update that sets passwords, or takes accounts from active to inactive, ends
        those users' sessions as a save does (receivers.py): ``update`` sends no model signal.
        The rows are locked and listed first, and only they are updated."""
        if "password" not in kwargs and "is_active" not in kwargs:
            return super().update(**kwargs)
        with transaction.atomic():
            was_active = dict(self.select_for_update().values_list("pk", "is_active"))
            updated = User._base_manager.filter(pk__in=was_active).update(**kwargs)
            if "password" in kwargs:
                ended = set(was_active)
            else:
                now_inactive = User._base_manager.filter(pk__in=was_active, is_active=False)
                ended = set(now_inactive.values_list("pk", flat=True)) & {
                    pk for pk, active in was_active.items() if active
                }
            if ended:
                credentials_revoked.send(sender=User, user_ids=ended)
        return updated


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email: str) -> "User":
        # Logins match the case-insensitive uniqueness of the email column.
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address; roles are Django groups (see roles.py)."""

    email = models.EmailField("email address", max_length=254)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin site.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)
    # Bumped by "log out everywhere": access tokens carry it and stop working when it moves.
    token_version = models.PositiveIntegerField(default=0)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            # Serves login lookups (email__iexact) and refuses "A@x.com" beside "a@x.com".
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_code="unique",
                violation_error_message="A user with this email address already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)

    # Set by ``set_unusable_password`` until the next save, as ``set_password`` keeps the raw
    # password in ``_password`` until then: that save ends the user's sessions (receivers.py).
    _password_disabled = False

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_disabled = True

    @property
    def password_replaced(self) -> bool:
        """Whether the password was set or disabled since the last save. A hash that sign-in
        upgraded (``check_password``) is the same password, and does not count."""
        return self._password is not None or self._password_disabled

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self._password_disabled = False


class RefreshToken(models.Model):
    """One issued refresh token, stored only as its SHA-256 hash.

    A login starts a family; every refresh marks the presented token used and issues its
    successor in the same family. Presenting a used token again means it was stolen (or
    replayed): the whole family is revoked (see services.token_refresh).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    family_id = models.UUIDField()
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )

    class Meta:
        constraints = [
            # Serves the lookup of a presented token (token_hash = sha256(token)).
            models.UniqueConstraint(fields=["token_hash"], name="accounts_refresh_hash_unique"),
        ]
        indexes = [
            # Serves family revocation (tokenRevoke, reuse detection): family_id = ...
            models.Index(fields=["family_id"], name="accounts_refresh_family_idx"),
            # Serves "log out everywhere": user_id = ... AND revoked_at IS NULL.
            models.Index(fields=["user", "revoked_at"], name="accounts_refresh_user_idx"),
            # Serves purging expired tokens: expires_at < now().
            models.Index(fields=["expires_at"], name="accounts_refresh_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"refresh token {self.pk} of user {self.user_id}"


class ThrottleBucket(models.Model):
    """One throttle scope's count of recent attempts (see throttling.py).

    In PostgreSQL rather than the cache so every worker shares one count, with or without
    Redis, and an attempt is counted under a row lock before the password is evaluated.
    """

    key = models.CharField(max_length=128, primary_key=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Serves the purge of forgotten buckets: last_attempt_at < now() - 1 day.
            models.Index(fields=["last_attempt_at"], name="accounts_throttle_last_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.attempts}"
