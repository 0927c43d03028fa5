"""The accounts domain's own receivers: writes that end sessions without calling a service.

A save that replaces the password or deactivates the account, a queryset ``update`` that does
either (``credentials_revoked``, sent by ``UserQuerySet.update``) and a deletion all end the
user's sessions, as ``services.sessions_end`` does for the service paths. Connected by
``AccountsConfig.ready``.
"""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import User
from backend.accounts.services import sessions_end
from backend.accounts.signals import credentials_revoked, sessions_ended_on_commit


@receiver(credentials_revoked, dispatch_uid="accounts.credentials_revoked_ends_sessions")
def _credentials_revoked_ends_sessions(sender: Any, user_ids: set[int], **kwargs: Any) -> None:
    sessions_end(user_ids=user_ids)


@receiver(post_save, sender=User, dispatch_uid="accounts.save_ends_sessions")
def _save_ends_sessions(
    sender: type[User],
    instance: User,
    created: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    # Saving an account that was already inactive ends its sessions again: harmless, as an
    # inactive account has none, and cheaper than reading the old row.
    deactivated = not instance.is_active and (update_fields is None or "is_active" in update_fields)
    if created or not (instance.password_replaced or deactivated):
        return
    sessions_end(user_ids=[instance.pk])
    # The saved instance carries the bumped version, so saving it again cannot undo the bump.
    instance.refresh_from_db(fields=["token_version"])


@receiver(post_delete, sender=User, dispatch_uid="accounts.deletion_ends_sessions")
def _deletion_ends_sessions(sender: type[User], instance: User, **kwargs: Any) -> None:
    sessions_ended_on_commit(user_id=instance.pk)
