"""The task outbox (backend/core/outbox.py): a task sent after commit is kept until the
broker confirms it, and the sweep sends the ones whose send was lost.

The broker and the worker are real (the worker on a queue of its own); what a broker restart
does to them is tests/orders/test_broker_restart.py.
"""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.core.models import OutboxTask
from backend.core.outbox import outbox_send_due, task_send_after_commit
from backend.orders import tasks
from backend.orders.models import Order, OrderStatus
from tests.factories import order_create
from tests.orders.test_celery_worker import (
    PAID_TIMEOUT,
    worker_queue,  # noqa: F401  the real worker fixture
)

pytestmark = pytest.mark.django_db(transaction=True)


def paid(order: Order) -> bool:
    """Whether the worker paid ``order`` within PAID_TIMEOUT."""
    deadline = time.monotonic() + PAID_TIMEOUT
    while time.monotonic() < deadline:
        order.refresh_from_db()
        if order.status == OrderStatus.PAID:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.services
def test_a_task_costs_one_insert_in_the_transaction_and_one_delete_once_confirmed(
    worker_queue: str,  # noqa: F811  the imported fixture
    count_queries,
) -> None:
    order = order_create()

    with count_queries() as queries, transaction.atomic():
        task_send_after_commit(tasks.payment_process, order.pk)
        assert OutboxTask.objects.filter(args=[order.pk]).exists()  # seen inside only

    assert [query["sql"].split()[0] for query in queries.captured_queries] == [
        "BEGIN",
        "INSERT",
        "SELECT",  # the check above
        "COMMIT",
        "DELETE",  # after the publish, in autocommit
    ]
    assert not OutboxTask.objects.exists()
    assert paid(order)


@pytest.mark.services
def test_a_task_whose_process_died_after_the_commit_is_sent_by_the_sweep(
    worker_queue: str,  # noqa: F811  the imported fixture
) -> None:
    order = order_create()
    # Committed with the change that wanted it, never published: the process died.
    OutboxTask.objects.create(task_name=tasks.payment_process.name, args=[order.pk])
    later = timezone.now() + timedelta(seconds=settings.TASK_OUTBOX_SEND_AFTER_SECONDS + 1)

    assert outbox_send_due(now=later) == 1

    assert not OutboxTask.objects.exists()
    assert paid(order)


def test_the_sweep_leaves_a_task_whose_first_send_may_still_be_under_way() -> None:
    OutboxTask.objects.create(task_name=tasks.payment_process.name, args=[1])

    assert outbox_send_due() == 0  # younger than TASK_OUTBOX_SEND_AFTER_SECONDS

    assert OutboxTask.objects.count() == 1


def test_without_a_broker_the_task_runs_after_the_commit_and_leaves_no_row() -> None:
    order = order_create()

    with transaction.atomic():
        task_send_after_commit(tasks.payment_process, order.pk)
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING  # not before the commit

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not OutboxTask.objects.exists()
