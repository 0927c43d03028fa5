"""Spans of the API, next to those of the instrumentations (``backend.core.tracing``):
one per GraphQL operation, and one on each side of a message through the channel layer.

- ``OperationTracing``: one span per operation (never per resolver: a span per field would
  cost more than most fields), over HTTP and WebSockets, named ``<type> <name>`` as
  OpenTelemetry's GraphQL conventions say (``mutation OrderPay``; the type alone for an
  anonymous operation). Attributes: ``graphql.operation.type``, ``graphql.operation.name``,
  ``nexus.graphql.query_cost`` (the static cost ``QueryCostLimiter`` computed; absent when the
  document never reached execution) and ``nexus.graphql.error_codes`` (the
  ``extensions.code`` of every error answered, in order, once each). Status ERROR only for
  ``INTERNAL_SERVER_ERROR``: every other code is the client's doing. The document text is
  not recorded (its literals may be personal data). A subscription's span lasts as long as
  the subscription.
- ``channel_publish_span`` and ``channel_delivery_span``: the publisher puts the W3C trace
  context (``traceparent``) in each channel-layer message, and the subscriber's span around
  the ``next`` frames the message causes is a child of the publishing span, so a trace goes
  on from a request or a Celery task to every subscriber's socket.

Only while the process traces (``tracing_active``): otherwise the schema leaves the extension
out and the two context managers do nothing. The schema also leaves it out of an operation
whose request the sampler dropped (``in_dropped_trace``, nine requests in ten by default).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from graphql import GraphQLError
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from strawberry.extensions import SchemaExtension

from backend.api.graphql.errors import INTERNAL_SERVER_ERROR
from backend.api.graphql.limits import operation_type_name, requested_query_cost
from backend.core.tracing import tracing_active

tracer = trace.get_tracer(__name__)

OPERATION_SPAN_NAME = "GraphQL operation"  # until the document names the operation's type
QUERY_COST_ATTRIBUTE = "nexus.graphql.query_cost"
ERROR_CODES_ATTRIBUTE = "nexus.graphql.error_codes"
# The key of a channel-layer message holding its trace context (traceparent, tracestate).
TRACE_CONTEXT_KEY = "trace_context"
CHANNEL_LAYER_SYSTEM = "channels"


class OperationTracing(SchemaExtension):
    """One span per operation; see the module docstring. First among the schema's extensions,
    so its span encloses the others' work and it reads the errors once they are coded."""

    def __init__(self) -> None:
        self.error_codes: dict[str, None] = {}  # ordered, once each
        self.recording = False

    def on_operation(self) -> Iterator[None]:
        # An exception is recorded by the span of the Django request that answers it; the
        # operation's status says only whether the answer holds an INTERNAL_SERVER_ERROR.
        with tracer.start_as_current_span(
            OPERATION_SPAN_NAME, record_exception=False, set_status_on_exception=False
        ) as span:
            # A root the sampler dropped (an operation over a WebSocket) records nothing:
            # skip working out what it would have said.
            self.recording = span.is_recording()
            try:
                yield
            finally:  # also when a subscription ends by cancellation (the socket went away)
                if self.recording:
                    self._codes_collect(self.execution_context.result)
                    self._describe(span)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result sent over a WebSocket: its error codes join the operation's. Read once
        the result is sent, when the socket's handler has coded its errors."""
        yield
        if self.recording:
            self._codes_collect(result)

    def _codes_collect(self, result: object) -> None:
        for error in getattr(result, "errors", None) or ():
            if isinstance(error, GraphQLError) and (error.extensions or {}).get("code"):
                self.error_codes[str(error.extensions["code"])] = None  # type: ignore[index]

    def _describe(self, span: Span) -> None:
        context = self.execution_context
        attributes: dict[str, AttributeValue] = {}
        operation_type = operation_type_name(context)
        operation_name = context.operation_name
        if operation_type is not None:
            attributes["graphql.operation.type"] = operation_type
            span.update_name(f"{operation_type} {operation_name or ''}".strip())
        if operation_name:
            attributes["graphql.operation.name"] = operation_name
        if (cost := requested_query_cost(context)) is not None:
            attributes[QUERY_COST_ATTRIBUTE] = cost
        if self.error_codes:
            attributes[ERROR_CODES_ATTRIBUTE] = list(self.error_codes)
        span.set_attributes(attributes)
        if INTERNAL_SERVER_ERROR in self.error_codes:
            span.set_status(Status(StatusCode.ERROR, INTERNAL_SERVER_ERROR))


def _messaging_attributes(destination: str, operation: str) -> dict[str, AttributeValue]:
    return {
        "messaging.system": CHANNEL_LAYER_SYSTEM,
        "messaging.destination.name": destination,
        "messaging.operation.type": operation,
    }


@contextmanager
def channel_publish_span(
    message_type: str, attributes: Mapping[str, AttributeValue]
) -> Iterator[dict[str, str]]:
    """A producer span ``send <message_type>`` around a publish to the channel layer. Yields
    the trace context to put under ``TRACE_CONTEXT_KEY`` in each message it sends: empty
    when the process does not trace."""
    if not tracing_active():
        yield {}
        return
    with tracer.start_as_current_span(
        f"send {message_type}",
        kind=SpanKind.PRODUCER,
        attributes={**_messaging_attributes(message_type, "send"), **attributes},
    ):
        carrier: dict[str, str] = {}
        inject(carrier)
        yield carrier


@contextmanager
def channel_delivery_span(
    name: str, message: Mapping[str, Any], attributes: Mapping[str, AttributeValue]
) -> Iterator[None]:
    """A consumer span ``name``, child of the span that published ``message``, around what a
    subscription does with it up to its last ``next`` frame. None when the process does not
    trace or the message carries no trace context (its publisher did not trace)."""
    carrier = message.get(TRACE_CONTEXT_KEY)
    if not carrier or not tracing_active():
        yield
        return
    with tracer.start_as_current_span(
        name,
        context=extract(carrier),
        kind=SpanKind.CONSUMER,
        attributes={**_messaging_attributes(message["type"], "process"), **attributes},
    ):
        yield
