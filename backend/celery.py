"""The Celery application. Broker from CELERY_BROKER_URL; eager in-process when unset."""

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings
from django.utils.log import configure_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("nexus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def logging_from_django_settings(**kwargs: Any) -> None:
    """Worker and beat log as the web processes do: Django's LOGGING (JSON lines or text,
    backend/core/logs.py), at LOG_LEVEL whatever ``--loglevel`` says. A receiver here means
    Celery configures no logging of its own: it neither replaces the root logger's handlers
    nor gives its task loggers a format of their own."""
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
