"""The Celery application. Broker from CELERY_BROKER_URL; eager in-process when unset."""

import os
from typing import Any

from celery import Celery, bootsteps
from celery.signals import setup_logging
from celery.worker import WorkController
from django.conf import settings
from django.utils.log import configure_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("nexus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# How often an idle worker's event loop wakes at the least. Celery sets a flag on SIGTERM and
# the loop reads it only between polls, and kombu's poll waits up to ten seconds for the next
# timer: without a timer this near, an idle worker took that long to stop in a rolling deploy.
SHUTDOWN_CHECK_SECONDS = 1.0


class PromptShutdown(bootsteps.StartStopStep):
    """Keeps a timer due every ``SHUTDOWN_CHECK_SECONDS`` in the worker's event loop, so a warm
    shutdown of an idle worker begins within that time of the signal."""

    requires = ("celery.worker.components:Hub",)

    def include_if(self, worker: WorkController) -> bool:
        return bool(worker.use_eventloop)

    def start(self, worker: WorkController) -> None:
        self.entry = worker.hub.call_repeatedly(SHUTDOWN_CHECK_SECONDS, _wake_only)

    def stop(self, worker: WorkController) -> None:
        self.entry.cancel()


def _wake_only() -> None:
    """The timer's work is to end the poll; the loop then sees a pending shutdown."""


app.steps["worker"].add(PromptShutdown)


@setup_logging.connect
def logging_from_django_settings(**kwargs: Any) -> None:
    """Worker and beat log as the web processes do: Django's LOGGING (JSON lines or text,
    backend/core/logs.py), at LOG_LEVEL whatever ``--loglevel`` says. A receiver here means
    Celery configures no logging of its own: it neither replaces the root logger's handlers
    nor gives its task loggers a format of their own."""
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
