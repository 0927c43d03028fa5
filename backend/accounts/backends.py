"""The authentication backend: Django's ModelBackend behind the login throttle.

Every ``authenticate()`` (tokenCreate, the REST token endpoint, the admin sign-in form) counts
its attempt before any password is evaluated and raises ``throttling.AttemptDelayedError`` (which
``authenticate()`` lets through, unlike PermissionDenied) when the throttle refuses it.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from backend.accounts import throttling
from backend.accounts.models import User


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        ip: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        """``ip``: the client's address when there is no request (the services pass it)."""
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user = None
        # The account's bucket comes from the row the lookup found, so every spelling that
        # signs in to it counts against it; an unknown address gets the same treatment under
        # its canonical form, so the throttle does not tell which addresses have accounts.
        account = throttling.email_canonical(user.email if user is not None else username)
        if ip is None:
            ip = request.META.get("REMOTE_ADDR", "") if request is not None else ""

        def check() -> bool:
            if user is None:
                # Hash anyway: an unknown address takes as long as a wrong password.
                user_model().set_password(password)
                return False
            return user.check_password(password) and self.user_can_authenticate(user)

        if throttling.password_checked(ip=ip, account=account, check=check):
            return user
        return None
