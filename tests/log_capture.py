"""The configured log handler (settings.LOGGING's ``console``), writing JSON lines to a buffer.

Tests read what the production handler would write: its filter sets the context fields, and
``JsonFormatter`` (LOG_FORMAT=json) writes each record; only the stream is the test's.
"""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from backend.core.logs import JsonFormatter


class JsonLog:
    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every line written, each one JSON object."""
        return [json.loads(line) for line in self.text().splitlines()]

    def errors(self) -> list[dict[str, Any]]:
        return [record for record in self.records() if record["level"] in {"ERROR", "CRITICAL"}]

    def clear(self) -> None:
        self.buffer.seek(0)
        self.buffer.truncate()


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    handler = logging.getHandlerByName("console")
    assert isinstance(handler, logging.StreamHandler), "settings.LOGGING configures 'console'"
    buffer = io.StringIO()
    stream = handler.setStream(buffer)
    formatter = handler.formatter
    handler.setFormatter(JsonFormatter())
    try:
        yield JsonLog(buffer)
    finally:
        handler.setStream(stream)
        handler.setFormatter(formatter)
