"""A real Celery worker process, consuming from the real RabbitMQ, pays an order.

The worker runs as a subprocess on a queue of its own (so no other worker on the shared
broker can take the message) and connects to this test's own database.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.celery import SHUTDOWN_CHECK_SECONDS
from backend.celery import app as celery_app
from backend.core.models import OutboxTask
from backend.orders.models import Order, OrderStatus
from backend.orders.services import OrderLine, order_pay, order_place

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WORKER_READY_TIMEOUT = 30
PAID_TIMEOUT = 15


def _test_database_url() -> str:
    """The URL of the database this test runs on (``test_<name>``), for the worker process."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def celery_worker(
    broker_url: str,
    queue: str,
    log_path: Path,
    environment: Mapping[str, str] = {},
    options: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """``celery worker`` on ``queue`` of ``broker_url`` and this test's database, once ready;
    stopped (warm shutdown: it finishes the task in hand) on exit, its log then printed.
    ``environment`` and ``options`` (command-line) add to or override its defaults."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DEBUG": "true",
        "DATABASE_URL": _test_database_url(),
        "DATABASE_POOL_MAX_SIZE": "2",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "PAYMENT_GATEWAY_OUTCOME": "success",
        "PAYMENT_GATEWAY_LATENCY_MS": "0",
        **environment,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "backend", "worker", "--pool=solo",
        "-Q", queue, "--hostname", f"{queue}@%h", "--loglevel=INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat", *options,
    ]  # fmt: skip
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while "ready." not in log_path.read_text():
            assert worker.poll() is None, f"worker exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"worker not ready:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        print(log_path.read_text())  # shown by pytest only when the test fails


@pytest.fixture
def worker_queue(real_celery_broker: str, tmp_path: Path) -> Iterator[str]:
    """A worker on a fresh queue of the real broker; the queue is deleted afterwards."""
    queue = f"nexus-test-{uuid.uuid4().hex[:12]}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue  # where this process publishes
    try:
        with celery_worker(real_celery_broker, queue, tmp_path / "worker.log"):
            yield queue
    finally:
        celery_app.conf.task_default_queue = default_queue
        with celery_app.connection_for_write(real_celery_broker) as broker:
            broker.default_channel.queue_delete(queue)


def test_a_real_worker_on_rabbitmq_pays_the_order_and_sends_the_confirmation(
    worker_queue: str, customer: User, product: Product
) -> None:
    order = order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key="w")

    order_pay(order_id=order.pk, actor=customer)  # published to RabbitMQ on commit

    deadline = time.monotonic() + PAID_TIMEOUT
    while True:
        order.refresh_from_db()
        if order.status == OrderStatus.PAID and order.confirmation_sent_at is not None:
            break
        assert time.monotonic() < deadline, f"order still {order.status} after {PAID_TIMEOUT}s"
        time.sleep(0.2)
    assert Order.objects.get(pk=order.pk).events.last().to_status == OrderStatus.PAID
    # Both tasks, the payment and the confirmation, were confirmed by the broker.
    assert not OutboxTask.objects.exists()


def test_an_idle_worker_stops_soon_after_sigterm(real_celery_broker: str, tmp_path: Path) -> None:
    """A rolling deploy sends SIGTERM and waits: an idle worker's event loop notices the warm
    shutdown at its next timer (``PromptShutdown``), not after kombu's ten-second poll."""
    queue = f"nexus-test-{uuid.uuid4().hex[:12]}"
    try:
        with celery_worker(real_celery_broker, queue, tmp_path / "worker.log") as worker:
            time.sleep(SHUTDOWN_CHECK_SECONDS * 2)  # well into its idle poll
            signalled = time.monotonic()
            worker.terminate()
            worker.wait(timeout=30)
            stopped_after = time.monotonic() - signalled
            assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
            assert "Warm shutdown" in (tmp_path / "worker.log").read_text()
            assert stopped_after < SHUTDOWN_CHECK_SECONDS + 4, f"stopped after {stopped_after:.1f}s"
    finally:
        with celery_app.connection_for_write(real_celery_broker) as broker:
            broker.default_channel.queue_delete(queue)
