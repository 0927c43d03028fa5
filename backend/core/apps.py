from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"
    verbose_name = "Nexus platform"

    def ready(self) -> None:
        from backend.core import checks  # noqa: F401  (registers the system checks)
        from backend.core.metrics import receivers_connect

        receivers_connect()
