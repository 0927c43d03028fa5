"""The platform's own table: the task outbox (``backend.core.outbox``)."""

from django.db import models


class OutboxTask(models.Model):
    """A Celery task written in the transaction that wants it sent, deleted once the broker
    confirmed it: a row that outlives its send is sent again by ``outbox_send_due``."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Rows live for one publish round trip: the table stays near empty, and the sweeper
        # reads it in id order through the primary key.
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"
