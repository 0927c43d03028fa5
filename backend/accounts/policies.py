"""Who counts as whom: the accounts domain's rules about viewers, in plain Python.

Every other domain's visibility rule (``backend/<domain>/policies.py``) builds on these, so
"staff" means one thing on GraphQL, REST and WebSockets alike.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ViewerType = AbstractBaseUser | AnonymousUser


def is_staff_user(user: ViewerType | None) -> bool:
    """An active, signed-in staff member; a superuser counts as staff even without the
    ``is_staff`` flag (admins are staff too). No database query."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))
    )


def user_visible_to(viewer: ViewerType | None, user_id: int | None) -> bool:
    """Whether ``viewer`` may see the account ``user_id``: staff see every account, anyone
    signed in sees their own, nobody sees a missing one. No database query."""
    if user_id is None or viewer is None or not viewer.is_authenticated:
        return False
    return is_staff_user(viewer) or (viewer.is_active and viewer.pk == user_id)
