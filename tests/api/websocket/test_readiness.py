"""/readyz checks the channel layer when Redis is configured."""

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from backend.settings import redis_channel_layers
from tests.conftest import service_url

pytestmark = pytest.mark.django_db


def test_readyz_checks_no_channel_layer_without_redis(client: Client, settings: Settings) -> None:
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert "channel_layer" not in response.json()["checks"]


def test_readyz_is_unavailable_when_redis_is_down(client: Client, settings: Settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CHANNEL_LAYERS = redis_channel_layers(settings.REDIS_URL)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"] == "failed"


@pytest.mark.services
def test_readyz_reports_the_real_redis_channel_layer_ready(
    client: Client, settings: Settings
) -> None:
    settings.REDIS_URL = service_url("REDIS_URL")
    settings.CHANNEL_LAYERS = redis_channel_layers(settings.REDIS_URL)
    response = client.get("/readyz")
    assert response.json()["checks"]["channel_layer"] == "ok"
