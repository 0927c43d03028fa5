"""``sessions_ended``: every session of one user has just ended, so whatever still serves them
(open WebSockets) must stop. Plain Django signals, so the accounts domain knows nothing of the
transports that listen (``backend.api.graphql.websocket`` closes the user's sockets with 4403).

Sent after commit, by ``token_revoke_all`` (and so ``password_change``), and by any save that
leaves the account inactive (the admin's "active" box, a shell) or deletes it. A queryset
``update(is_active=False)`` sends no model signal: call ``sessions_ended_on_commit`` after it.
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


@receiver(post_save, sender=User, dispatch_uid="accounts.deactivation_ends_sessions")
def _deactivation_ends_sessions(
    sender: type[User], instance: User, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    # Saving an account that was already inactive announces it again: harmless, as no
    # session of an inactive account can be open, and cheaper than reading the old row.
    if instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return
    sessions_ended_on_commit(user_id=instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.deletion_ends_sessions")
def _deletion_ends_sessions(sender: type[User], instance: User, **kwargs: Any) -> None:
    sessions_ended_on_commit(user_id=instance.pk)
