"""Celery tasks for the catalog: thin wrappers over the domain's writes, each idempotent.

``search_words_prune`` runs on the beat schedule (``CELERY_BEAT_SCHEDULE``).
"""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="catalog.search_words_prune", acks_late=True)
def search_words_prune() -> int:
    """Delete the search vocabulary's words no product holds any more; safe to overlap."""
    # Imported when the task runs: importing this module (the worker's autodiscovery, the
    # beat process) loads nothing of the domain.
    from backend.catalog import services

    pruned = services.search_words_prune()
    logger.info("search_words_prune: %d words deleted", pruned)
    return pruned
