from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from backend.accounts import (
            checks,  # noqa: F401  (registers the JWT system checks)
            receivers,  # noqa: F401  (connects the session-end receivers)
        )
