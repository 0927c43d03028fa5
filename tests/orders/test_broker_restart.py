"""Orders placed and paid while RabbitMQ restarts: every payment runs, and each order is
charged exactly once.

Real processes throughout, on a RabbitMQ node of this test's own (``tests.servers``: the
machine's broker is shared): customers place and pay over HTTP through Daphne, a Celery worker
with its embedded beat charges the orders, and the node is stopped (SIGTERM, a clean
shutdown; SIGKILL, a crash) and started again while orders keep coming. A pay request that
comes while the node is down gives up its publish after the retry policy and leaves the task
in the outbox, which the beat's sweep sends once the node is back; tasks already queued
outlive the restart (durable queue, persistent messages, publisher confirms); a task the
worker was running when the node went away is delivered again, and the payment service
refuses to charge twice.
"""

import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from kombu import Connection
from strawberry.relay import from_base64, to_base64

from backend.accounts.tokens import access_token_create
from backend.core.models import OutboxTask
from backend.orders.models import Order, OrderEvent, OrderStatus, PaymentAttempt, PaymentOutcome
from tests.api.websocket.test_end_to_end import graphql_post
from tests.factories import product_create, user_create
from tests.live_server import live_server
from tests.orders.test_celery_worker import celery_worker
from tests.servers import RabbitMQNode, rabbitmq_node

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

QUEUE = "celery"  # the node is this test's own: the default queue is free
ORDERS_BEFORE = ORDERS_AFTER = 8
SETTLE_TIMEOUT = 180  # the worker reconnects with a back-off of up to 30 s

PLACE = """
mutation Place($input: OrderCreateInput!) {
  orderCreate(input: $input) { order { id } errors { code message } }
}
"""
PAY = "mutation Pay($id: ID!) { orderPay(id: $id) { errors { code message } } }"


@pytest.fixture
def node() -> Iterator[RabbitMQNode]:
    with rabbitmq_node() as started:
        yield started


@pytest.fixture
def worker(node: RabbitMQNode, tmp_path: Path) -> Iterator[None]:
    """A worker on the node, with its beat sweeping the outbox every second (rows older than
    2 s)."""
    environment = {
        # Charges slow enough for a backlog to wait in the queue across the restart.
        "PAYMENT_GATEWAY_LATENCY_MS": "400",
        "TASK_OUTBOX_SEND_AFTER_SECONDS": "2",
        "TASK_OUTBOX_SWEEP_SECONDS": "1",
    }
    # Production's pool, two processes: a task delivered twice may run twice at once. (Once
    # reconnected, the helper's default solo pool received its messages in bursts 10 s apart.)
    options = ["--pool=prefork", "--concurrency=2", "--beat", f"--schedule={tmp_path / 'beat'}"]
    with celery_worker(node.url(), QUEUE, tmp_path / "worker.log", environment, options):
        yield


@pytest.fixture
def daphne(
    node: RabbitMQNode, test_signing_key: Ed25519PrivateKey, tmp_path: Path
) -> Iterator[str]:
    """Daphne publishing its tasks to the node; yields its base URL."""
    environment = {
        "CELERY_BROKER_URL": node.url(),
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "JWT_PRIVATE_KEY": settings.JWT_PRIVATE_KEY,  # the key this test signs tokens with
        "JWT_PRIVATE_KEY_FILE": "",
    }
    with live_server(environment, tmp_path / "daphne.log") as base_url:
        yield base_url


@pytest.mark.parametrize(
    "stop_signal",
    [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")],
)
def test_orders_paid_across_a_broker_restart_are_each_charged_once(
    node: RabbitMQNode, worker: None, daphne: str, stop_signal: signal.Signals
) -> None:
    product_id = to_base64("Product", product_create(stock_quantity=10_000).pk)
    order_ids: list[int] = []
    pay_seconds: list[float] = []

    def buy() -> None:
        """A new customer places an order for one unit and pays it, over HTTP."""
        token = access_token_create(user_create())
        lines = [{"productId": product_id, "quantity": 1}]
        placed = graphql_post(
            daphne, token, PLACE, {"input": {"idempotencyKey": "k", "lines": lines}}
        )["orderCreate"]
        assert placed["errors"] == [], placed
        started = time.monotonic()
        paid = graphql_post(daphne, token, PAY, {"id": placed["order"]["id"]})["orderPay"]
        pay_seconds.append(time.monotonic() - started)
        assert paid["errors"] == [], paid
        order_ids.append(int(from_base64(placed["order"]["id"])[1]))

    for _ in range(ORDERS_BEFORE):
        buy()
    with Connection(node.url()) as broker:  # tasks the broker confirmed, not yet consumed
        queued = broker.default_channel.queue_declare(QUEUE, passive=True).message_count
    restart = threading.Thread(target=lambda: (node.stop(stop_signal), node.start()))
    restart.start()
    outbox_during_restart = 0
    during = len(order_ids)
    while restart.is_alive():
        buy()
        outbox_during_restart = max(outbox_during_restart, OutboxTask.objects.count())
    restart.join()
    during = len(order_ids) - during
    back_at = time.monotonic()
    for _ in range(ORDERS_AFTER):
        buy()

    deadline = time.monotonic() + SETTLE_TIMEOUT
    orders = Order.objects.filter(pk__in=order_ids)
    while (
        orders.exclude(status=OrderStatus.PAID).exists()
        or orders.filter(confirmation_sent_at=None).exists()
        or OutboxTask.objects.exists()
    ):
        assert time.monotonic() < deadline, (
            f"not settled in {SETTLE_TIMEOUT} s: "
            f"{orders.exclude(status=OrderStatus.PAID).count()} unpaid, "
            f"{OutboxTask.objects.count()} tasks in the outbox"
        )
        time.sleep(0.5)
    print(
        f"{len(order_ids)} orders, {during} while the node restarted; {queued} tasks queued at "
        f"the stop; outbox held up to "
        f"{outbox_during_restart}; settled {time.monotonic() - back_at:.1f} s after the node "
        f"was back; orderPay p50 {statistics.median(pay_seconds):.3f} s, "
        f"max {max(pay_seconds):.3f} s"
    )

    assert queued > 0, "no task waited in the queue across the restart"
    assert during > 0, "no order was paid while the node restarted"
    assert outbox_during_restart > 0, "no publish failed: the node was never down"
    attempts = PaymentAttempt.objects.filter(order__in=order_ids)
    assert Counter(attempts.values_list("order_id", flat=True)) == dict.fromkeys(order_ids, 1)
    assert set(attempts.values_list("outcome", flat=True)) == {PaymentOutcome.SUCCEEDED}
    paid_events = OrderEvent.objects.filter(order__in=order_ids, to_status=OrderStatus.PAID)
    assert Counter(paid_events.values_list("order_id", flat=True)) == dict.fromkeys(order_ids, 1)
