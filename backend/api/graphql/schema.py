"""A Strawberry schema whose ``execute_sync`` answers every query and mutation.

The HTTP endpoint is a sync view (decision 0010): a product page is answered by one thread from
parse to JSON, with no event loop and no thread hop. A few fields are async because they batch
through a request's DataLoaders (``productCount``, nested connections, ``totalCount``; not
``ancestors``, which batches without a loop, decision 0012); graphql-core's sync execution
cannot await them. So before executing, the document's selection is checked once (cached per
document) for a field whose resolver is a coroutine function; such a document runs on an event
loop through asgiref's ``async_to_sync``, which keeps the ORM on the calling thread (its
``sync_to_async`` calls come back to it). Everything else runs without a loop.

Which loop: under ASGI (Daphne), the server's, as for any sync view. Under WSGI there is none,
and ``async_to_sync`` would start a thread and a loop for every such request (its CPU cost on a
product detail page: docs/performance.md, "Levers"), so each process keeps one loop on
a daemon thread and ``async_to_sync`` is pointed at it the way asgiref points it at the
server's loop under ASGI: through ``SyncToAsync.threadlocal``.
"""

import asyncio
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import strawberry
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType as StrawberryOperationType

from backend.api.graphql.documents import (
    is_cached,
    operation_resolution_error,
    oversized_query_error,
    parsed_document,
    query_digest,
    unparsable_query_error,
)
from backend.api.graphql.hooks import CachedHooksRunner
from backend.api.graphql.logs import errors_log
from backend.api.graphql.metrics import errors_record
from backend.core.tracing import in_dropped_trace, tracing_active

# Set while ``NexusSchema.stream`` builds a WebSocket operation's extensions.
_streaming: ContextVar[bool] = ContextVar("nexus_graphql_streaming", default=False)

# Distinct (document, operation name) pairs whose verdict is kept, as many as the validation
# cache keeps; keyed by a digest, never by the text.
VERDICT_CACHE_SIZE = 256


def _field_is_async(field: GraphQLField) -> bool:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return isinstance(definition, StrawberryField) and definition.is_async


class _AsyncFieldFinder:
    """Walks one operation's selection, through fragments and every concrete type an abstract
    type can be, looking for a field with an async resolver."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.seen: set[tuple[str, int]] = set()

    def selection_has_async_field(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None
    ) -> bool:
        if selection_set is None:
            return False
        key = (parent.name, id(selection_set))
        if key in self.seen:  # fragment cycles are a validation error, not an endless walk
            return False
        self.seen.add(key)
        return any(
            self._selection_has_async_field(parent, selection)
            for selection in selection_set.selections
        )

    def _concrete_types(self, parent: GraphQLNamedType) -> Iterable[GraphQLObjectType]:
        if is_abstract_type(parent):
            return self.schema.get_possible_types(parent)  # type: ignore[arg-type]
        return [parent] if isinstance(parent, GraphQLObjectType) else []

    def _selection_has_async_field(self, parent: GraphQLNamedType, selection: Any) -> bool:
        if isinstance(selection, FieldNode):
            for concrete in self._concrete_types(parent):
                field = concrete.fields.get(selection.name.value)
                if field is None:
                    continue  # __typename, introspection, or a field validation will refuse
                if _field_is_async(field) or self.selection_has_async_field(
                    get_named_type(field.type), selection.selection_set
                ):
                    return True
            return False
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = self.schema.get_type(condition.name.value) if condition else parent
            return target is not None and self.selection_has_async_field(
                target, selection.selection_set
            )
        if isinstance(selection, FragmentSpreadNode):
            fragment = self.fragments.get(selection.name.value)
            target = fragment and self.schema.get_type(fragment.type_condition.name.value)
            return bool(target) and self.selection_has_async_field(
                target,  # type: ignore[arg-type]
                fragment.selection_set,  # type: ignore[union-attr]
            )
        return False


class _ProcessLoop:
    """One event loop per process, running on a daemon thread, started on first use (so after
    a pre-forking server's fork; a forked child starts its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="graphql-event-loop", daemon=True
                ).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


_process_loop = _ProcessLoop()


def run_on_event_loop[T](function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """``async_to_sync(function)(...)`` on the server's loop under ASGI, else on the process's
    loop: never a new thread and loop per call. The process's loop is a fast path (decision
    0020): with ``NEXUS_FAST_PATHS`` off, asgiref starts a loop as it does for any caller."""
    local = SyncToAsync.threadlocal
    if not settings.NEXUS_FAST_PATHS or getattr(local, "main_event_loop_pid", None) == os.getpid():
        return async_to_sync(function)(*args, **kwargs)  # inside ASGI's sync_to_async
    local.main_event_loop = _process_loop.get()
    local.main_event_loop_pid = os.getpid()
    try:
        return async_to_sync(function)(*args, **kwargs)
    finally:
        del local.main_event_loop, local.main_event_loop_pid


class NexusSchema(strawberry.Schema):
    """Every operation, over HTTP and WebSockets, is refused before parsing when its text is
    over ``GRAPHQL_MAX_QUERY_BYTES``; every parse is the bounded, cached one of
    ``backend.api.graphql.documents``. Its errors are logged by the log policy of
    ``backend.api.graphql.logs``."""

    def __init__(
        self,
        *args: Any,
        off_loop_extensions: Mapping[type[SchemaExtension], type[SchemaExtension]] | None = None,
        tracing_extensions: Sequence[type[SchemaExtension]] = (),
        **kwargs: Any,
    ) -> None:
        """``off_loop_extensions`` maps an extension class to the variant used for operations
        over WebSockets (``stream``), which run on the server's loop and may be subscriptions:
        one that moves its work off the loop, or that follows a subscription. (An HTTP
        document with async fields is parsed before it reaches a loop, by
        ``needs_event_loop``.) ``tracing_extensions`` run, before all others, only while
        the process traces (``backend.core.tracing``) and the sampler kept the request's
        trace: otherwise they cost nothing."""
        super().__init__(*args, **kwargs)
        self.off_loop_extensions = dict(off_loop_extensions or {})
        self.tracing_extensions = tuple(tracing_extensions)
        self._verdicts: OrderedDict[bytes, bool] = OrderedDict()
        self._verdicts_lock = threading.Lock()

    def needs_event_loop(self, query: str | None, operation_name: str | None) -> bool:
        """Whether the operation selects a field with an async resolver, cached per digest."""
        if not query:
            return False
        key = query_digest(query, operation_name or "")
        with self._verdicts_lock:
            verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._needs_event_loop(query, operation_name)
            with self._verdicts_lock:
                self._verdicts[key] = verdict
                if len(self._verdicts) > VERDICT_CACHE_SIZE:
                    self._verdicts.popitem(last=False)
        return verdict

    def _needs_event_loop(self, query: str, operation_name: str | None) -> bool:
        """A document that does not parse, is over a limit or names no operation it holds is
        answered by the sync path's errors."""
        try:
            parsed = parsed_document(query)
        except GraphQLError:
            return False
        if parsed.analysis.fields > settings.GRAPHQL_MAX_FIELDS:
            return False  # refused before anything walks it
        document = parsed.document
        operations = [
            definition
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
            and (
                operation_name is None
                or (definition.name and definition.name.value) == operation_name
            )
        ]
        if operation_name is None:
            # Without a name Strawberry executes the document's first operation (it passes that
            # operation's name on), so the verdict is that operation's.
            operations = operations[:1]
        if len(operations) != 1:
            return False
        operation = operations[0]
        if operation.operation is OperationType.SUBSCRIPTION:
            return True
        root = self._schema.get_root_type(operation.operation)
        finder = _AsyncFieldFinder(self._schema, document)
        return root is not None and finder.selection_has_async_field(root, operation.selection_set)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        """Client errors at INFO without a traceback, server faults at ERROR with one, instead
        of Strawberry's ERROR and traceback for every error (``backend.api.graphql.logs``)."""
        errors_log(errors)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        if not settings.NEXUS_FAST_PATHS:
            return super().create_extensions_runner(execution_context, extensions)
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        extensions = super().get_extensions(sync=sync)
        if self.tracing_extensions and tracing_active() and not in_dropped_trace():
            extensions = [extension() for extension in self.tracing_extensions] + extensions
        if not _streaming.get():
            return extensions
        return [
            variant() if (variant := self.off_loop_extensions.get(type(extension))) else extension
            for extension in extensions
        ]

    async def stream(
        self, query: str | None, *args: Any, operation_name: str | None = None, **kwargs: Any
    ) -> Any:
        """WebSocket operations (graphql-transport-ws calls ``stream``): an oversized text gets
        its error as the operation's ``error`` message, never reaching the parser; so does one
        whose ``operation_name`` picks no single operation (``operation_resolution_error``, the
        rule HTTP applies), before anything runs."""
        if query:
            error = oversized_query_error(query)
            if error is None:
                error = await _operation_resolution_error_off_loop(query, operation_name)
            if error is not None:
                return _single_result(PreExecutionError(data=None, errors=[error]))
        streaming = _streaming.set(True)  # get_extensions is called before stream returns
        try:
            return await super().stream(query, *args, operation_name=operation_name, **kwargs)
        finally:
            _streaming.reset(streaming)

    def execute_sync(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[Any] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # A subscription is a stream: served over WebSockets only. Refused before execution, so
        # the HTTP view answers 400 "subscriptions are not allowed when using POST".
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        arguments = {
            "variable_values": variable_values,
            "context_value": context_value,
            "root_value": root_value,
            "operation_name": operation_name,
            "allowed_operation_types": allowed - {StrawberryOperationType.SUBSCRIPTION},
            "operation_extensions": operation_extensions,
        }
        if query and (error := unparsable_query_error(query)) is not None:
            # Answered here, from the parse cache: Strawberry's own parse step would parse a
            # refused text again to report it.
            errors_record([error])
            return ExecutionResult(data=None, errors=[error])
        if self.needs_event_loop(query, operation_name):
            return run_on_event_loop(self.execute, query, **arguments)
        return super().execute_sync(query, **arguments)


async def _operation_resolution_error_off_loop(
    query: str, operation_name: str | None
) -> GraphQLError | None:
    """``operation_resolution_error``, never parsing on the event loop: a text not parsed yet
    is parsed in a worker thread (and cached, so the operation's own parse step finds it)."""
    if is_cached(query):
        return operation_resolution_error(query, operation_name)
    resolve = sync_to_async(operation_resolution_error, thread_sensitive=False)
    return await resolve(query, operation_name)


async def _single_result(result: PreExecutionError) -> AsyncGenerator[PreExecutionError]:
    yield result
