from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"
    verbose_name = "Nexus platform"

    def ready(self) -> None:
        from backend.core import (
            checks,  # noqa: F401  (registers the system checks)
            task_logs,  # noqa: F401  (connects the Celery task signals)
            tracing,  # noqa: F401  (starts tracing in Celery's processes)
        )
        from backend.core.databases import request_failures_watch
        from backend.core.metrics import receivers_connect

        receivers_connect()
        request_failures_watch()
