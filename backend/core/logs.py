"""Log records as JSON lines (production) or as readable text (``make run``): ``LOG_FORMAT``.

``LogContextFilter`` (on the handler, so it sees every logger's records) gives a record the
fields of the work it came from (``backend.core.log_context``) and of the current
OpenTelemetry span; ``JsonFormatter`` and ``TextFormatter`` write them. The fields and the
log policy: docs/operating/logs.md.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

from backend.core.log_context import current_log_context, current_operation_name

# The record attributes the filter sets, in the order they are written.
CONTEXT_FIELDS = (
    "request_id",
    "trace_id",
    "span_id",
    "user_id",
    "operation_name",
    "task_name",
    "task_id",
)

# Attributes every LogRecord has: anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        *CONTEXT_FIELDS,
        # Django's ``django.request`` and ``django.server`` pass the request object itself: its
        # path is in the message, and its repr is no field.
        "request",
    }
)


class LogContextFilter(logging.Filter):
    """Sets ``CONTEXT_FIELDS`` that are known on every record; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_log_context()
        if context is not None:
            record.request_id = context.request_id
            record.user_id = context.user_id
            record.task_name = context.task_name
            record.task_id = context.task_id
        record.operation_name = current_operation_name()
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = trace.format_trace_id(span_context.trace_id)
            record.span_id = trace.format_span_id(span_context.span_id)
        return True


def _context_fields(record: logging.LogRecord) -> dict[str, str]:
    return {
        name: value for name in CONTEXT_FIELDS if (value := getattr(record, name, None)) is not None
    }


# Extras a logger passes that repeat what the record already holds: Celery's task records put
# the message's fields and, for a failure, the traceback a second time in ``data``.
_REPEATED_EXTRAS = {"celery.app.trace": frozenset({"data"})}


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    repeated = _REPEATED_EXTRAS.get(record.name, frozenset())
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and key not in repeated
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: a traceback is one escaped string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, value)
        try:
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # an integer past 64 bits in an extra, say
            return json.dumps(entry, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [field=value ...]``, then any traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        line = super().formatMessage(record)
        fields = {**_context_fields(record), **_extra_fields(record)}
        if not fields:
            return line
        return f"{line} [{' '.join(f'{key}={value}' for key, value in fields.items())}]"
