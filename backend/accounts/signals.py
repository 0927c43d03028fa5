"""``sessions_ended``: every session of one user has just ended, so whatever still serves them
(open WebSockets) must stop. Plain Django signals, so the accounts domain knows nothing of the
transports that listen (``backend.api.graphql.websocket`` closes the user's sockets with 4403).

Sent after commit by ``services.sessions_end``, which every path that ends sessions goes through:
``token_revoke_all``, and any save that replaces the password (``password_change``, the admin's
password form, ``manage.py changepassword``, a shell) or leaves the account inactive (the
admin's "active" box and its deactivate action, a shell), any queryset ``update`` that does
either (``UserQuerySet.update``), and the account's deletion (the signal alone: its tokens go
with it).
"""

from functools import partial

from django.db import transaction
from django.dispatch import Signal

# Sent with ``user_id`` (int), once the transaction that ended the sessions has committed.
sessions_ended = Signal()

# Sent with ``user_ids`` (a set of ints) inside the transaction of a write that replaced
# passwords or deactivated accounts without going through a service (a queryset ``update``);
# receivers.py ends those sessions. The models send it, so they need not import the services.
credentials_revoked = Signal()


def sessions_ended_on_commit(*, user_id: int) -> None:
    """Announce that ``user_id``'s sessions ended, once the current transaction commits."""
    transaction.on_commit(partial(sessions_ended.send, sender=None, user_id=user_id))
