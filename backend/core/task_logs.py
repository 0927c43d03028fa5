"""The log context of Celery tasks (``backend.core.log_context``).

A task sent while a request runs carries the request's id in its message headers; the
worker's records of that task carry it, with the task's name and id. An eager task runs
inside the request and keeps its context. The receivers are connected when the platform app
is ready (``backend.core.apps``), in web processes and workers alike.
"""

from contextvars import Token
from typing import Any

from celery import Task
from celery.signals import before_task_publish, task_postrun, task_prerun

from backend.core.log_context import (
    LogContext,
    current_log_context,
    log_context_token_reset,
    log_context_token_set,
)

REQUEST_ID_HEADER = "request_id"

# The token of each running task's context, by task id, reset when the task ends.
_tokens: dict[str, Token[LogContext | None]] = {}


@before_task_publish.connect(dispatch_uid="core.task_logs.request_id_header")
def request_id_header(*, headers: dict[str, Any], **kwargs: Any) -> None:
    context = current_log_context()
    if context is not None and context.request_id is not None:
        headers.setdefault(REQUEST_ID_HEADER, context.request_id)


@task_prerun.connect(dispatch_uid="core.task_logs.task_context_bind")
def task_context_bind(*, task_id: str, task: Task, **kwargs: Any) -> None:
    outer = current_log_context()
    # A task's custom headers, from a worker's message or from ``apply(headers=...)``.
    request_id = (task.request.headers or {}).get(REQUEST_ID_HEADER)
    _tokens[task_id] = log_context_token_set(
        LogContext(
            request_id=request_id or (outer.request_id if outer else None),
            user_id=outer.user_id if outer else None,
            task_name=task.name,
            task_id=task_id,
        )
    )


@task_postrun.connect(dispatch_uid="core.task_logs.task_context_reset")
def task_context_reset(*, task_id: str, **kwargs: Any) -> None:
    if (token := _tokens.pop(task_id, None)) is not None:
        log_context_token_reset(token)
