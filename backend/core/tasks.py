"""The platform's Celery tasks, and the shape of a domain's periodic clean-up task."""

import logging
from importlib import import_module
from typing import Any

from celery import Task, shared_task

logger = logging.getLogger(__name__)


@shared_task(name="core.outbox_send", acks_late=True)
def outbox_send() -> int:
    """Send the outbox's tasks whose send after commit was lost; safe to overlap."""
    from backend.core import outbox  # loads the models only when the task runs

    sent = outbox.outbox_send_due()
    if sent:
        logger.info("outbox_send: %d tasks sent again", sent)
    return sent


def clean_up_task(name: str, function: str, *, deleted: str) -> Task:
    """A beat task named ``name`` that calls ``function`` (a dotted path to a domain function
    returning how many ``deleted`` it deleted, safe to overlap) and logs that number. The
    function is imported when the task runs: importing the domain's tasks module (the worker's
    autodiscovery, the beat process) loads nothing of the domain."""
    module, _, attribute = function.rpartition(".")

    @shared_task(name=name, acks_late=True)
    def clean_up() -> int:
        count: Any = getattr(import_module(module), attribute)()
        logger.info("%s: %d %s deleted", name, count, deleted)
        return int(count)

    clean_up.__doc__ = f"``{function}`` on the beat schedule (``CELERY_BEAT_SCHEDULE``)."
    return clean_up
