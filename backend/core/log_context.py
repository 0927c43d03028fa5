"""What a log record says about the work it came from: request, user, GraphQL operation, task.

One ``LogContext`` per HTTP request, WebSocket connection or Celery task, held in a context
variable so every record logged while it runs carries its fields (``backend.core.logs``).
It is mutable on purpose: the user becomes known after it is bound (a WebSocket's
``connection_init`` runs in a task of its own) and every task started from the connection
shares the one object. The GraphQL operation is a separate variable, set per operation: one
WebSocket runs several at once.
"""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Protocol

# What an incoming X-Request-ID may be to be kept: a UUID, a hex or base64 id, a load
# balancer's trace id. Anything longer or holding other characters is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")


@dataclass(slots=True)
class LogContext:
    request_id: str | None = None
    user_id: str | None = None
    task_name: str | None = None
    task_id: str | None = None


class NamedOperation(Protocol):
    """An operation whose name may become known while it runs (a GraphQL execution context:
    the name the client sent, else, once the document is parsed, that of its operation)."""

    @property
    def operation_name(self) -> str | None: ...


_context: ContextVar[LogContext | None] = ContextVar("nexus_log_context", default=None)
_operation: ContextVar[NamedOperation | None] = ContextVar("nexus_log_operation", default=None)


def request_id_from(incoming: str | None) -> str:
    """``incoming`` when it is a sane id, else a new one (32 random hex digits)."""
    if incoming and REQUEST_ID_PATTERN.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()


def current_log_context() -> LogContext | None:
    return _context.get()


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context is not None else None


def current_operation_name() -> str | None:
    operation = _operation.get()
    return operation.operation_name if operation is not None else None


def log_context_token_set(context: LogContext) -> Token[LogContext | None]:
    """``context`` is the log context until ``log_context_token_reset`` with the token (for
    hooks that begin and end the work in separate calls, as Celery's task signals)."""
    return _context.set(context)


def log_context_token_reset(token: Token[LogContext | None]) -> None:
    _context.reset(token)


@contextmanager
def log_context_bound(context: LogContext) -> Iterator[LogContext]:
    """``context`` is the log context until the block ends."""
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def log_context_user_set(user_id: object) -> None:
    """The viewer of the current request or connection, once authentication resolved it."""
    context = _context.get()
    if context is not None:
        context.user_id = str(user_id)


def operation_token_set(operation: NamedOperation) -> Token[NamedOperation | None]:
    """Records logged until ``operation_token_reset`` with the token name ``operation``, by
    the name it has when each is logged."""
    return _operation.set(operation)


def operation_token_reset(token: Token[NamedOperation | None]) -> None:
    _operation.reset(token)
