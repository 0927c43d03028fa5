"""Celery tasks sent after commit that a broker outage cannot lose: a transactional outbox.

``task_send_after_commit`` writes the task into ``OutboxTask`` in the caller's transaction and
publishes it once that transaction commits; the row is deleted when the broker has confirmed
the message (publisher confirms, ``CELERY_BROKER_TRANSPORT_OPTIONS``). A publish that fails
within ``CELERY_TASK_PUBLISH_RETRY_POLICY`` (the broker down or restarting), or a process that
dies between the commit and the publish, leaves the row; the beat task ``core.outbox_send``
publishes every row older than ``TASK_OUTBOX_SEND_AFTER_SECONDS`` once the broker is back.

Delivery is at least once: a row the sweeper sends while its first publish was still in
flight, or whose delete failed, goes out twice, so every task sent this way must be
idempotent (its service refuses a repeat).

Without a broker (``CELERY_BROKER_URL`` unset, tasks eager), nothing is in transit: the task
runs in-process right after the commit and no row is written.
"""

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend.core.models import OutboxTask

logger = logging.getLogger(__name__)

# Table name from model metadata; the id is a parameter.
_DELETE_SQL = f"DELETE FROM {OutboxTask._meta.db_table} WHERE id = %s"


def task_send_after_commit(task: Task, *args: Any) -> None:
    """Send ``task(*args)`` once the current transaction commits (at once outside one).

    Costs one INSERT in the transaction and, after the commit, the publish (bounded by the
    retry policy) and one DELETE. A failed publish is logged, never raised: the caller's
    change is committed, and the outbox sends the task later.
    """
    if task.app.conf.task_always_eager:
        transaction.on_commit(partial(task.delay, *args), robust=True)
        return
    row = OutboxTask.objects.create(task_name=task.name, args=list(args))
    transaction.on_commit(partial(_send_after_commit, row), robust=True)


def _send_after_commit(row: OutboxTask) -> None:
    try:
        _publish(row)
    except Exception as error:  # the broker is down past the retry policy, or refused it
        logger.warning(
            "task %s (outbox %s) not sent, the outbox sends it later: %r",
            row.task_name,
            row.pk,
            error,
        )
        return
    with connection.cursor() as cursor:  # one statement: a QuerySet.delete() adds BEGIN, COMMIT
        cursor.execute(_DELETE_SQL, [row.pk])


def _publish(row: OutboxTask) -> None:
    """Publish the row's task; returns once the broker confirmed it."""
    current_app.send_task(
        row.task_name,
        args=row.args,
        confirm_timeout=settings.TASK_PUBLISH_CONFIRM_TIMEOUT_SECONDS,
    )


def outbox_send_due(*, now: datetime | None = None, batch_size: int = 100) -> int:
    """Publish the outbox's tasks older than ``TASK_OUTBOX_SEND_AFTER_SECONDS``; how many.

    Those are the tasks whose send after commit failed or never happened (a younger row may
    still be in its first publish). Works in batches, each row locked with ``SKIP LOCKED`` so
    two runs at once send disjoint rows; a batch's rows are deleted in its transaction, after
    their publishes. A publish that fails ends the run, its batch kept for the next one.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.TASK_OUTBOX_SEND_AFTER_SECONDS)
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                OutboxTask.objects.select_for_update(skip_locked=True)
                .filter(created_at__lt=cutoff)
                .order_by("id")[:batch_size]
            )
            for row in batch:
                _publish(row)
            OutboxTask.objects.filter(pk__in=[row.pk for row in batch]).delete()
        sent += len(batch)
        if len(batch) < batch_size:
            return sent
