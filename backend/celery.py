"""The Celery application. Broker from CELERY_BROKER_URL; eager in-process when unset."""

import logging
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

logger = logging.getLogger(__name__)

app = Celery("nexus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def channel_layer_warm(**kwargs: object) -> None:
    """Resolve the channel layer in each process that runs tasks, before its first task.

    Workers publish order events (payment, expiry). Resolving the layer imports channels_redis
    and redis.asyncio and builds the layer: ~0.2 s on a quiet machine, 2.5 s on a loaded one,
    which the first event a worker published used to wait for. Each process builds its own
    layer (after the fork), so no two share one channels_redis client prefix.
    """
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    logger.info("channel layer ready: %s", type(layer).__name__)
