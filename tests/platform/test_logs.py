"""Log records as the configured handler writes them: JSON lines with the context fields, the
request id of every HTTP request (X-Request-ID), Celery tasks in the context of the request
that sent them. The log policy of the APIs: tests/api/test_log_policy.py."""

import json
import logging
import re
import subprocess
from datetime import datetime
from types import SimpleNamespace

import pytest
from django.test import AsyncClient, Client
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from backend.accounts.tasks import throttle_buckets_purge
from backend.core.log_context import (
    LogContext,
    log_context_bound,
    operation_token_reset,
    operation_token_set,
)
from backend.core.task_logs import request_id_header
from tests.log_capture import JsonLog
from tests.platform.fresh_django import django_setup

logger = logging.getLogger("tests.platform.logs")
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def test_a_record_is_one_json_line_with_its_context_and_extra(json_log: JsonLog) -> None:
    operation = operation_token_set(SimpleNamespace(operation_name="Shop"))
    try:
        with log_context_bound(LogContext(request_id="req-1", user_id="7")):
            logger.info("order %s placed\nsecond line", "#12", extra={"lines": 3})
    finally:
        operation_token_reset(operation)
    (line,) = json_log.text().splitlines()
    record = json.loads(line)
    assert record == {
        "timestamp": record["timestamp"],
        "level": "INFO",
        "logger": "tests.platform.logs",
        "message": "order #12 placed\nsecond line",
        "request_id": "req-1",
        "user_id": "7",
        "operation_name": "Shop",
        "lines": 3,
    }
    assert record["timestamp"].endswith("Z")
    assert datetime.fromisoformat(record["timestamp"]).utcoffset().total_seconds() == 0


def test_an_exception_is_one_field_of_one_line(json_log: JsonLog) -> None:
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        logger.exception("dividing failed")
    (record,) = json_log.records()
    assert record["level"] == "ERROR"
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert record["exception"].endswith("ZeroDivisionError: division by zero")
    assert "request_id" not in record  # outside any request: no field rather than null


def test_a_failed_celery_task_record_holds_one_traceback(json_log: JsonLog) -> None:
    # How celery.app.trace logs a failure: the traceback as exc_info and again in ``data``.
    try:
        raise RuntimeError("task broke")
    except RuntimeError as error:
        logging.getLogger("celery.app.trace").error(
            "Task t[1] raised unexpected: %r",
            error,
            exc_info=True,
            extra={"data": {"id": "1", "traceback": "Traceback (most recent call last): ..."}},
        )
    (record,) = json_log.records()
    assert "data" not in record
    assert record["exception"].count("Traceback") == 1


def test_trace_and_span_ids_come_from_the_current_span(json_log: JsonLog) -> None:
    span = NonRecordingSpan(
        SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    )
    with trace.use_span(span):
        logger.warning("inside a span")
    logger.warning("outside any span")
    inside, outside = json_log.records()
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in outside
    assert "span_id" not in outside


def _log_in_fresh_interpreter(**environment: str) -> subprocess.CompletedProcess[str]:
    script = "import logging; logging.getLogger('probe').warning('from settings')"
    return django_setup(script, SECRET_KEY="test", **environment)


def test_settings_log_json_lines_without_debug_and_text_with_it() -> None:
    production = _log_in_fresh_interpreter(DEBUG="false")
    assert production.returncode == 0, production.stderr
    (line,) = [line for line in production.stderr.splitlines() if "from settings" in line]
    assert json.loads(line)["logger"] == "probe"
    development = _log_in_fresh_interpreter(DEBUG="true")
    assert development.returncode == 0, development.stderr
    assert " WARNING probe: from settings" in development.stderr


def test_an_unknown_log_format_stops_start_up_naming_it() -> None:
    result = _log_in_fresh_interpreter(DEBUG="true", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr


# --- Request ids ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sane_request_id_is_echoed_and_missing_one_generated() -> None:
    client = Client()
    echoed = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a:42"})
    assert echoed["X-Request-ID"] == "edge-7f3a:42"
    generated = client.get("/healthz")
    assert GENERATED_ID.fullmatch(generated["X-Request-ID"])
    assert client.get("/healthz")["X-Request-ID"] != generated["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    ["", "a" * 129, "two words", "id\nforged: line", "<script>", "caf\u00e9", '{"level":"ERROR"}'],
)
def test_an_insane_request_id_is_replaced(incoming: str) -> None:
    response = Client().get("/healthz", headers={"X-Request-ID": incoming})
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db(transaction=True)
async def test_the_request_id_works_under_asgi_too(json_log: JsonLog) -> None:
    response = await AsyncClient().get("/api/v1/nowhere", headers={"X-Request-ID": "asgi-1"})
    assert response.status_code == 404
    assert response["X-Request-ID"] == "asgi-1"
    # django.request's record of the 404 is written inside the request's context.
    (record,) = [r for r in json_log.records() if r["logger"] == "django.request"]
    assert record["level"] == "WARNING"
    assert record["request_id"] == "asgi-1"
    assert "exception" not in record


# --- Celery -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_task_run_during_a_request_logs_its_request_id_name_and_id(json_log: JsonLog) -> None:
    with log_context_bound(LogContext(request_id="req-task", user_id="3")):
        result = throttle_buckets_purge.delay()
    (record,) = [r for r in json_log.records() if "buckets deleted" in r["message"]]
    assert record["request_id"] == "req-task"
    assert record["user_id"] == "3"
    assert record["task_name"] == "accounts.throttle_buckets_purge"
    assert record["task_id"] == result.id


@pytest.mark.django_db
def test_a_worker_reads_the_request_id_from_the_task_headers(json_log: JsonLog) -> None:
    headers: dict[str, object] = {}
    with log_context_bound(LogContext(request_id="req-sent")):
        request_id_header(headers=headers)
    assert headers == {"request_id": "req-sent"}
    # What a worker does with the message: the headers become the task's request.
    throttle_buckets_purge.apply(headers=headers)
    (record,) = [r for r in json_log.records() if "buckets deleted" in r["message"]]
    assert record["request_id"] == "req-sent"
    assert record["task_name"] == "accounts.throttle_buckets_purge"


def test_a_task_sent_outside_a_request_carries_no_request_id() -> None:
    headers: dict[str, object] = {}
    request_id_header(headers=headers)
    assert headers == {}
