"""The platform's Celery tasks."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="core.outbox_send", acks_late=True)
def outbox_send() -> int:
    """Send the outbox's tasks whose send after commit was lost; safe to overlap."""
    from backend.core import outbox  # loads the models only when the task runs

    sent = outbox.outbox_send_due()
    if sent:
        logger.info("outbox_send: %d tasks sent again", sent)
    return sent
