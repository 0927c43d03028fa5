"""GraphQL's Prometheus metrics and the operation's log context, as one Strawberry schema
extension (definitions and exposition: ``backend.core.metrics``; log fields:
``backend.core.log_context``).

Per operation: its duration (queries and mutations; a subscription lasts as long as its client
wants, so it is counted as active instead), the errors of its result by ``extensions.code``, and
its static cost as ``QueryCostLimiter`` computed it.

Operation names are chosen by clients, so the label is bounded: a name that is not a GraphQL
Name or is longer than ``OPERATION_NAME_MAX_LENGTH``, and every name after the first
``OPERATION_NAMES_MAX`` distinct ones a process has seen, is reported as ``other``; an
operation without a name as ``anonymous``. Subscriptions are labelled by their root field,
which validation has checked against the schema.
"""

import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from backend.api.graphql.errors import error_code_for
from backend.api.graphql.limits import operation_type_name, requested_query_cost
from backend.core.log_context import operation_token_reset, operation_token_set
from backend.core.metrics import (
    GRAPHQL_ERRORS,
    GRAPHQL_OPERATION_DURATION,
    GRAPHQL_QUERY_COST,
    GRAPHQL_SUBSCRIPTIONS,
    LabelledChildren,
)

OPERATION_NAME_MAX_LENGTH = 64
OPERATION_NAMES_MAX = 200
OPERATION_NAME = re.compile(rf"[_A-Za-z][_0-9A-Za-z]{{0,{OPERATION_NAME_MAX_LENGTH - 1}}}")
ANONYMOUS = "anonymous"
OTHER = "other"
# An operation that never had a document (a parse error) has no type.
UNKNOWN_TYPE = "unknown"

_operation_names: set[str] = set()
_operation_names_lock = threading.Lock()
_durations = LabelledChildren(GRAPHQL_OPERATION_DURATION)
_errors = LabelledChildren(GRAPHQL_ERRORS)
_costs = LabelledChildren(GRAPHQL_QUERY_COST)
_subscriptions = LabelledChildren(GRAPHQL_SUBSCRIPTIONS)


def operation_name_label(name: str | None) -> str:
    """The label of a client-chosen operation name (see the module's docstring)."""
    if name is None:
        return ANONYMOUS
    if name in _operation_names:
        return name
    if not OPERATION_NAME.fullmatch(name):
        return OTHER
    with _operation_names_lock:
        if len(_operation_names) >= OPERATION_NAMES_MAX:
            return OTHER
        _operation_names.add(name)
    return name


class OperationSignals(SchemaExtension):
    """Records logged while an operation runs name it (``operation_name``: the name the client
    sent, else, once the document is parsed, that of its operation), and its metrics are
    recorded when it ends. One extension with one hook, because every hook of every extension
    costs each operation a context manager. First among the schema's extensions: it sees the
    operation's result last, once every error has its code (``ErrorPolicy``)."""

    _subscription: Any = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        named = operation_token_set(context)  # read when a record is logged
        started = time.perf_counter()
        try:
            yield
        finally:
            operation_token_reset(named)
            self._record(time.perf_counter() - started)

    def _record(self, elapsed: float) -> None:
        context = self.execution_context
        operation_type = operation_type_name(context) or UNKNOWN_TYPE
        if self._subscription is not None:
            self._subscription.dec()
        elif operation_type != UNKNOWN_TYPE:
            name = operation_name_label(context.operation_name)
            _durations(name, operation_type).observe(elapsed)
        if (cost := requested_query_cost(context)) is not None:
            _costs(operation_type).observe(cost)
        errors_record(getattr(context.result, "errors", None) or (), operation_type)


class StreamedOperationSignals(OperationSignals):
    """``OperationSignals`` for operations over WebSockets (``NexusSchema.stream``), the only
    ones that can be subscriptions: an active subscription is counted by its root field."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION:
            operation = get_operation_ast(context.graphql_document, context.operation_name)  # type: ignore[arg-type]
            root = operation.selection_set.selections[0] if operation else None
            if isinstance(root, FieldNode):
                self._subscription = _subscriptions(root.name.value)
                self._subscription.inc()
        yield


def errors_record(errors: Iterable[GraphQLError], operation_type: str = UNKNOWN_TYPE) -> None:
    """Count the errors of a result by code (also for a text refused before any extension ran:
    ``NexusSchema.execute_sync``)."""
    for error in errors:
        code = (error.extensions or {}).get("code") or error_code_for(error)
        _errors(code, operation_type).inc()
