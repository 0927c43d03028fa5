"""What a log record says about the work it came from: request, user, GraphQL operation, task.

One ``LogContext`` per HTTP request, WebSocket connection or Celery task, held in a context
variable so every record logged while it runs carries its fields (``backend.core.logs``).
It is mutable on purpose: the user becomes known after it is bound (a WebSocket's
``connection_init`` runs in a task of its own) and every task started from the connection
shares the one object. The GraphQL operation name is a separate variable, set per operation:
one WebSocket runs several at once.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

# What an incoming X-Request-ID may be to be kept: a UUID, a hex or base64 id, a load
# balancer's trace id. Anything longer or holding other characters is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")


@dataclass(slots=True)
class LogContext:
    request_id: str | None = None
    user_id: str | None = None
    task_name: str | None = None
    task_id: str | None = None


_context: ContextVar[LogContext | None] = ContextVar("nexus_log_context", default=None)
_operation_name: ContextVar[str | None] = ContextVar("nexus_log_operation_name", default=None)


def request_id_from(incoming: str | None) -> str:
    """``incoming`` when it is a sane id, else a new one."""
    if incoming and REQUEST_ID_PATTERN.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def current_log_context() -> LogContext | None:
    return _context.get()


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context is not None else None


def current_operation_name() -> str | None:
    return _operation_name.get()


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


@contextmanager
def operation_named(name: str | None) -> Iterator[None]:
    """Records logged in the block name the GraphQL operation ``name``."""
    token = _operation_name.set(name)
    try:
        yield
    finally:
        _operation_name.reset(token)


def operation_name_set(name: str | None) -> None:
    """Names the operation once its document says which it is (inside ``operation_named``)."""
    _operation_name.set(name)
