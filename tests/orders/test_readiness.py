"""/readyz checks the Celery broker when one is configured."""

import pytest
from django.test import Client, override_settings

from tests.conftest import service_url

pytestmark = pytest.mark.django_db


@override_settings(CELERY_BROKER_URL="")
def test_readyz_checks_no_broker_when_tasks_run_in_process(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert "broker" not in response.json()["checks"]


def test_readyz_is_unavailable_when_the_configured_broker_is_down(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:1//"):
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["database"], checks["broker"]) == ("ok", "failed")


@pytest.mark.services
def test_readyz_reports_the_real_broker_ready(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=service_url("CELERY_BROKER_URL")):
        response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert (checks["database"], checks["broker"]) == ("ok", "ok")
