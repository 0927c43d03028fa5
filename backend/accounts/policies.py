"""Who counts as whom: the accounts domain's rules about viewers, in plain Python.

Every other domain's visibility rule (``backend/<domain>/policies.py``) builds on these, so
"staff" means one thing on GraphQL, REST and WebSockets alike.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from backend.accounts.roles import Role

ViewerType = AbstractBaseUser | AnonymousUser

# Who is staff, as a filter on accounts (``staff_flagged`` row by row): the ``is_staff`` flag,
# or a superuser, who counts as staff even without it (admins are staff too).
STAFF_FLAGS = Q(is_staff=True) | Q(is_superuser=True)


def staff_flagged(user: ViewerType) -> bool:
    """Whether the account carries staff rights (``STAFF_FLAGS``), active or not."""
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def is_staff_user(user: ViewerType | None) -> bool:
    """An active, signed-in staff member (``staff_flagged``). No database query."""
    return bool(
        user is not None and user.is_authenticated and user.is_active and staff_flagged(user)
    )


def roles_held(user: ViewerType, *, group_names: Iterable[str]) -> list[Role]:
    """The roles ``user`` holds, in ``Role`` order: the role groups it belongs to, STAFF when
    ``staff_flagged`` and ADMIN for a superuser. No database query (the caller reads the
    groups)."""
    held = {role for role in Role if role.value in set(group_names)}
    if staff_flagged(user):
        held.add(Role.STAFF)
    if getattr(user, "is_superuser", False):
        held.add(Role.ADMIN)
    return [role for role in Role if role in held]


def user_visible_to(viewer: ViewerType | None, user_id: int | None) -> bool:
    """Whether ``viewer`` may see the account ``user_id``: staff see every account, anyone
    signed in sees their own, nobody sees a missing one. No database query."""
    if user_id is None or viewer is None or not viewer.is_authenticated:
        return False
    return is_staff_user(viewer) or (viewer.is_active and viewer.pk == user_id)
