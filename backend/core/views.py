"""Liveness and readiness probes for orchestrators and load balancers."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

# Seconds a readiness probe waits for the broker; orchestrators time probes out at a few.
BROKER_CONNECT_TIMEOUT = 2
# Seconds a readiness probe waits for a message to come back through the channel layer.
CHANNEL_LAYER_TIMEOUT = 2


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; checks no dependency."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency the service needs answers: 200 when all do, 503 naming the failed ones."""
    checks = {"database": _database_ready()}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _broker_ready()
    if settings.REDIS_URL:
        checks["channel_layer"] = _channel_layer_ready()
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {k: "ok" if v else "failed" for k, v in checks.items()},
        },
        status=200 if ready else 503,
    )


def _database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any failure means not ready; the probe must answer, not raise
        return False


def _broker_ready() -> bool:
    """One connection attempt to the Celery broker, bounded so a dead broker cannot hang us."""
    from backend.celery import app

    try:
        url = settings.CELERY_BROKER_URL
        with app.connection_for_write(url, connect_timeout=BROKER_CONNECT_TIMEOUT) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_CONNECT_TIMEOUT)
        return True
    except Exception:  # any failure means not ready; the probe must answer, not raise
        return False


def _channel_layer_ready() -> bool:
    """One message sent to a fresh channel and received back (Redis round trip), bounded."""
    layer = get_channel_layer()

    async def round_trip() -> bool:
        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz.ping"})
        message = await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT)
        return message["type"] == "readyz.ping"

    try:
        return layer is not None and async_to_sync(round_trip)()
    except Exception:  # any failure means not ready; the probe must answer, not raise
        return False
