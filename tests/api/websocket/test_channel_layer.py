"""The channel layer as the processes get it: warmed in workers, steady on an idle Redis and
through bursts of sockets joining and leaving groups."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from celery.signals import worker_process_init
from channels.layers import channel_layers, get_channel_layer
from channels_redis.core import RedisChannelLayer
from pytest_django.fixtures import Settings

import backend.celery  # noqa: F401  connects the worker signal handlers
from backend.settings import redis_channel_layers
from tests.conftest import service_url


def test_a_worker_process_resolves_the_channel_layer_before_its_first_task() -> None:
    assert "default" not in channel_layers.backends  # reset by the in-memory layer fixture

    worker_process_init.send(sender=None)

    assert "default" in channel_layers.backends


@pytest.fixture
async def redis_layer(settings: Settings) -> AsyncIterator[RedisChannelLayer]:
    """The layer ``settings.CHANNEL_LAYERS`` gives Daphne and workers when REDIS_URL is set."""
    settings.CHANNEL_LAYERS = redis_channel_layers(service_url("REDIS_URL"))
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    yield layer
    await layer.close_pools()


@pytest.mark.services
async def test_a_redis_receive_outlasts_the_idle_bzpopmin_rounds(
    redis_layer: RedisChannelLayer,
) -> None:
    """With redis-py's 5 s default read timeout, the nil that ends channels_redis's 5 s
    BZPOPMIN arrived too late: the waiting receive raised "Timeout reading" instead."""
    layer = redis_layer
    channel = await layer.new_channel("test.")
    receiving = asyncio.ensure_future(layer.receive(channel))
    try:
        await asyncio.sleep(layer.brpop_timeout + 1)  # one BZPOPMIN round ended with nil
        assert not receiving.done(), receiving.exception()

        await layer.send(channel, {"type": "test.message"})

        assert await asyncio.wait_for(receiving, 2) == {"type": "test.message"}
    finally:
        receiving.cancel()


@pytest.mark.services
async def test_a_burst_of_sockets_joining_then_leaving_a_group_all_leave_it(
    redis_layer: RedisChannelLayer,
) -> None:
    """Past 100 connections in use, redis-py's default pool raised MaxConnectionsError: most
    of a burst's group_discard calls failed and left their channels in the group."""
    group = f"test.burst.{id(redis_layer)}"
    channels = [await redis_layer.new_channel("test.") for _ in range(300)]
    await asyncio.gather(*(redis_layer.group_add(group, channel) for channel in channels))

    await asyncio.gather(*(redis_layer.group_discard(group, channel) for channel in channels))

    members = await redis_layer.connection(0).zcard(redis_layer._group_key(group))
    assert members == 0
