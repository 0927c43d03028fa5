"""``sessions_ended``: every session of one user has just ended, so whatever still serves them
(open WebSockets) must stop. Plain Django signals, so the accounts domain knows nothing of the
transports that listen (``backend.core.websocket`` closes the user's sockets with 4403).

Sent after commit by ``services.sessions_end``, which every path that ends sessions goes through:
``token_revoke_all``, and any save that replaces the password (``password_change``, the admin's
password form, ``manage.py changepassword``, a shell) or leaves the account inactive (the
admin's "active" box and its deactivate action, a shell), any queryset ``update`` that does
either (``UserQuerySet.update``), and the account's deletion (the signal alone: its tokens go
with it).
"""

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from backend.accounts.models import User

# Sent with ``user_id`` (int), once the transaction that ended the sessions has committed.
sessions_ended = Signal()


def sessions_ended_on_commit(*, user_id: int) -> None:
    """Announce that ``user_id``'s sessions ended, once the current transaction commits."""
    transaction.on_commit(partial(sessions_ended.send, sender=User, user_id=user_id))


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
    # Imported here: the services import this module.
    from backend.accounts.services import sessions_end

    sessions_end(user_ids=[instance.pk])
    # The saved instance carries the bumped version, so saving it again cannot undo the bump.
    instance.refresh_from_db(fields=["token_version"])


@receiver(post_delete, sender=User, dispatch_uid="accounts.deletion_ends_sessions")
def _deletion_ends_sessions(sender: type[User], instance: User, **kwargs: Any) -> None:
    sessions_ended_on_commit(user_id=instance.pk)
