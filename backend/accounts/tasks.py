"""Celery tasks for accounts: thin wrappers over the domain's writes, each idempotent.

``throttle_buckets_purge`` runs on the beat schedule (``CELERY_BEAT_SCHEDULE``).
"""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="accounts.throttle_buckets_purge", acks_late=True)
def throttle_buckets_purge() -> int:
    """Delete the login throttle's forgotten rows in bounded batches; safe to overlap."""
    # Imported when the task runs: importing this module (the worker's autodiscovery, the
    # beat process) loads nothing of the domain.
    from backend.accounts import throttling

    purged = throttling.expired_buckets_purge()
    logger.info("throttle_buckets_purge: %d buckets deleted", purged)
    return purged
