"""Compiled completion: answering a sub-selection of plain reads without per-field machinery.

graphql-core completes an object field by field: for each field of each row it builds a
``ResolveInfo``, calls Strawberry's resolver wrapper (argument conversion, the extension chain,
strawberry-django's ``get_result``), then checks and coerces the value. On a product list page
that was most of the request (decision 0007; the cost per row: docs/performance.md, "Levers").
Most fields of a page need none of it: they read a column the page's statement loaded, a related
row the optimizer joined, an attribute of a Strawberry object (an edge's cursor, a Money's
amount), a Relay id, or a ``query_free`` resolver of the row (``row_field``).

``CompilingExecutor`` compiles, once per (object type, field nodes of a cached document), an
object's whole sub-selection into nested closures when EVERY field in it is such a read, and
completes the object with them. The object graphql-core hands it (a field's value, not an item
of a compiled list) may also hold fields that need their resolvers: a connection's
``totalCount`` or ``facets`` beside its ``edges``. Those few go through graphql-core's own
``execute_fields``, after the compiled reads of the others: selecting them does not cost the
page its compiled completion. Anything else leaves that object to graphql-core: a
field with arguments or a resolver below a compiled list or object, a resolver that takes
``info`` or may query, a field extension (a permission check), an interface or union, a
directive (``@skip``, ``@include``, ``@defer``), resolver middleware (a tracing extension). The
compiled reads are pure, so when one meets what it does not expect (a deferred column, a
related row not joined, null in a non-null field, a value of another type, an exception), the
object is completed again by graphql-core, which resolves it or reports the error exactly as
it does without this module; no resolver of the object has run by then. Each such fallback is
logged (with the object's path) and counted in ``COMPLETION_FALLBACKS``: a page whose objects
keep falling back pays for both paths, so a count that grows says a plan is wrong.
``tests/api/graphql/catalog/test_compiled_completion.py`` compares both paths response for response.

A fast path of decision 0020: with ``NEXUS_FAST_PATHS`` off, graphql-core completes everything.
"""

import inspect
import logging
import types
from base64 import b64encode
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, overload

from django.conf import settings
from django.db.models import Manager, Model, QuerySet
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.query_utils import DeferredAttribute
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry import relay
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.relay.utils import resolve_model_id

Read = Callable[[Any], Any]
Complete = Callable[[Any], Any]

# Distinct (type, field nodes) pairs kept compiled, or kept as "not compilable", per process. A
# document holds a handful; the parse cache holds 256 documents (backend/api/schema.py).
PLAN_CACHE_SIZE = 4096

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF

logger = logging.getLogger(__name__)

# Objects a compiled plan handed back to graphql-core since the process started, by GraphQL
# type name (read by the tests; a metrics exporter can read it too).
COMPLETION_FALLBACKS: Counter[str] = Counter()


class _UnexpectedValueError(Exception):
    """A compiled read met a value only graphql-core knows how to complete."""


# The function behind every Relay ``id`` field (a classmethod of ``relay.Node``).
_NODE_ID_RESOLVER = relay.Node.__dict__["_id"].__func__


@dataclass(frozen=True, slots=True)
class _FieldsPlan:
    """An object's completion: the compiled reads of most of its fields, and the fields left to
    their resolvers (``resolved``, in graphql-core's form), in the response's order (``keys``)."""

    complete_reads: Complete
    resolved: GroupedFieldSet
    keys: tuple[str, ...]


class CompilingExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing objects of plain reads with compiled code."""

    # Off: graphql-core completes everything (the tests compare both paths).
    compiled_completion: ClassVar[bool] = True

    # Per (object type, field nodes, whether fields may be left to resolvers): the nodes (kept
    # alive, see _object_plan) and the plan, None where graphql-core completes the object.
    _plans: ClassVar[dict[tuple[GraphQLObjectType, tuple[int, ...], bool], tuple[Any, ...]]] = {}

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        # Strawberry passes a manager on every request; it wraps resolvers only when an
        # extension implements ``resolve`` (tracing), whose hook must then see every field.
        middleware = self.middleware_manager
        if (
            self.compiled_completion
            and settings.NEXUS_FAST_PATHS
            and (middleware is None or not middleware.middlewares)
        ):
            plan = self._object_plan(return_type, field_details_list, resolving=True)
            # Inside a deferred fragment graphql-core tracks what each executed field is
            # delivered with: there, only an object of plain reads is compiled.
            if plan is not None and (not plan.resolved or position_context is None):
                try:
                    reads = plan.complete_reads(result)
                except Exception as error:  # the reads are pure: graphql-core completes it anew
                    _record_fallback(return_type, path, error)
                else:
                    if not plan.resolved:
                        return reads
                    return self._with_resolved(return_type, result, path, plan, reads)
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _with_resolved(
        self,
        object_type: GraphQLObjectType,
        source: Any,
        path: Path,
        plan: _FieldsPlan,
        reads: dict[str, Any],
    ) -> Any:
        """``reads`` and the fields ``plan`` leaves to their resolvers, executed as graphql-core
        executes any object's fields (errors, nulls and awaitables alike), in the response's
        order."""
        resolved = self.execute_fields(object_type, source, path, plan.resolved, None)

        def merged(values: dict[str, Any]) -> dict[str, Any]:
            # A resolved field graphql-core leaves out (Undefined) stays out.
            return {
                key: reads[key] if key in reads else values[key]
                for key in plan.keys
                if key in reads or key in values
            }

        if self.is_awaitable(resolved):

            async def await_resolved() -> dict[str, Any]:
                return merged(await resolved)

            return await_resolved()
        return merged(resolved)  # type: ignore[arg-type]

    @overload
    def _object_plan(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        *,
        resolving: Literal[True],
    ) -> _FieldsPlan | None: ...

    @overload
    def _object_plan(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        *,
        resolving: Literal[False],
    ) -> Complete | None: ...

    def _object_plan(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        *,
        resolving: bool,
    ) -> _FieldsPlan | Complete | None:
        """The object's plan: with ``resolving``, one that may leave fields to their resolvers
        (for an object graphql-core hands over); without, a completion of plain reads only (for
        an object inside a compiled plan, which has no path to execute a field at)."""
        # Field nodes come from the cached parsed document, so their identities are stable
        # across requests; the entry keeps them alive so an id is never reused meanwhile.
        nodes = tuple(details.node for details in field_details_list)
        key = (object_type, tuple(map(id, nodes)), resolving)
        entry = self._plans.get(key)
        if entry is None:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            plan = self._compile_object(object_type, field_details_list, resolving=resolving)
            # Without ``resolving`` a plan leaves no field to a resolver: its reads are all.
            entry = (nodes, plan.complete_reads if plan and not resolving else plan)
            self._plans[key] = entry
        return entry[1]

    def _compile_object(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        *,
        resolving: bool,
    ) -> _FieldsPlan | None:
        for details in field_details_list:
            if details.defer_usage is not None or details.fragment_variable_values is not None:
                return None
            if has_directives(details.node.selection_set, self.fragment_definitions):
                return None  # @skip/@include depend on variables; the plan must not
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        entries: list[tuple[str, Read, Complete]] = []
        resolved: GroupedFieldSet = {}
        for response_key, sub_details in grouped_field_set.items():
            field_name = sub_details[0].node.name.value
            if field_name == "__typename":
                entries.append((response_key, _constant(object_type.name), _identity))
                continue
            field_def = object_type.fields.get(field_name)
            read = complete = None
            if field_def is not None and not field_def.args:
                read = _field_read(self.schema, object_type, field_def)
                complete = self._compile_value(field_def.type, sub_details)
            if read is None or complete is None:
                if not resolving:
                    return None
                resolved[response_key] = sub_details
                continue
            entries.append((response_key, read, complete))
        if not entries:
            return None  # nothing to compile: graphql-core's own path is no slower
        is_type_of = object_type.is_type_of

        def complete_object(source: Any) -> dict[str, Any]:
            if is_type_of is not None and not is_type_of(source, None):
                raise _UnexpectedValueError
            return {key: complete(read(source)) for key, read, complete in entries}

        return _FieldsPlan(complete_object, resolved, tuple(grouped_field_set))

    def _compile_value(
        self, value_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        if isinstance(value_type, GraphQLNonNull):
            if is_leaf_type(value_type.of_type):  # the commonest field: one call, not two
                return _leaf(value_type.of_type.coerce_output_value, non_null=True)  # type: ignore[union-attr]
            inner = self._compile_value(value_type.of_type, field_details_list)
            return None if inner is None else _non_null(inner)
        if isinstance(value_type, GraphQLList):
            item = self._compile_value(value_type.of_type, field_details_list)
            return None if item is None else _list_of(item)
        if is_leaf_type(value_type):
            return _leaf(value_type.coerce_output_value, non_null=False)  # type: ignore[union-attr]
        if isinstance(value_type, GraphQLObjectType):
            complete_object = self._object_plan(value_type, field_details_list, resolving=False)
            return None if complete_object is None else _nullable(complete_object)
        return None  # an interface or union: graphql-core resolves the runtime type


def _record_fallback(object_type: GraphQLObjectType, path: Path, error: Exception) -> None:
    COMPLETION_FALLBACKS[object_type.name] += 1
    # What the plans expect to meet now and then (a column the optimizer deferred, a null that
    # graphql-core reports) is debug; any other exception means a read is not what it seemed.
    expected = isinstance(error, _UnexpectedValueError | KeyError)
    logger.log(
        logging.DEBUG if expected else logging.WARNING,
        "compiled completion of %s at %s fell back to graphql-core: %r",
        object_type.name,
        ".".join(map(str, path.as_list())),
        error,
    )


def has_directives(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """Whether any selection below ``selection_set`` (fragments followed) carries a directive:
    what it selects may then depend on the request's variables."""
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if selection.directives:
            return True
        if isinstance(selection, FieldNode | InlineFragmentNode):
            nested = selection.selection_set
        else:
            assert isinstance(selection, FragmentSpreadNode)
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.directives:
                return True
            nested = fragment.selection_set
        if has_directives(nested, fragments):
            return True
    return False


def _field_read(
    schema: Any, object_type: GraphQLObjectType, field_def: GraphQLField
) -> Read | None:
    """A pure read of one field of ``object_type``, or None if the field needs its resolver."""
    field = (field_def.extensions or {}).get(_DEFINITION)
    if not isinstance(field, StrawberryField) or field.extensions or field.permission_classes:
        return None
    strawberry_schema = schema._strawberry_schema
    if strawberry_schema.schema_converter._get_field_exception_handlers(field):
        return None
    resolver = field.base_resolver
    if resolver is not None:
        if getattr(resolver.wrapped_func, "__func__", None) is _NODE_ID_RESOLVER:
            return _relay_id_read(object_type)
        return _row_resolver_read(field)
    if isinstance(field, StrawberryDjangoField):
        model = _django_model(object_type)
        return None if model is None else _model_attribute_read(model, field)
    default_resolver = strawberry_schema.config.default_resolver
    if default_resolver is getattr:
        name = field.python_name
        return lambda source: getattr(source, name)
    return None


def _django_model(object_type: GraphQLObjectType) -> type[Model] | None:
    definition = (object_type.extensions or {}).get(_DEFINITION)
    if not isinstance(definition, StrawberryObjectDefinition):
        return None
    django_definition = getattr(definition.origin, "__strawberry_django_definition__", None)
    return None if django_definition is None else django_definition.model


def _model_attribute_read(model: type[Model], field: StrawberryDjangoField) -> Read | None:
    """A column already loaded, or a related row already joined (strawberry-django's own
    cached-value shortcut); anything else would query."""
    attribute = getattr(model, field.django_name or field.python_name, None)
    if isinstance(attribute, DeferredAttribute) and not isinstance(attribute, FileDescriptor):
        column = attribute.field.attname

        def read_column(source: Model) -> Any:
            return source.__dict__[column]  # KeyError when deferred: graphql-core queries it

        return read_column
    if isinstance(attribute, ForwardManyToOneDescriptor):
        return attribute.field.get_cached_value  # KeyError when not joined
    return None


def _row_resolver_read(field: StrawberryField) -> Read | None:
    """A resolver marked ``query_free`` that reads only its row: no ``info``, no arguments."""
    resolver = field.base_resolver
    assert resolver is not None
    if (
        not getattr(resolver.wrapped_func, "is_async_safe", False)
        or resolver.is_async
        or resolver.info_parameter is not None
        or resolver.arguments
    ):
        return None
    function = resolver.wrapped_func
    row_parameters = [
        parameter.name
        for parameter in (
            resolver.self_parameter,
            resolver.root_parameter,
            resolver.parent_parameter,
        )
        if parameter is not None
    ]

    # Types of values already seen to be neither lazy nor awaitable: a row's resolver returns
    # the same few types every time, and the full check costs more than the resolver.
    plain_types: set[type] = set()

    def read_resolved(source: Any) -> Any:
        value = function(**dict.fromkeys(row_parameters, source))
        value_type = type(value)
        if value_type not in plain_types:
            if isinstance(value, QuerySet | Manager) or inspect.isawaitable(value):
                raise _UnexpectedValueError
            if value_type is not types.GeneratorType:  # awaitable or not by its code flags
                plain_types.add(value_type)
        return value

    return read_resolved


def _relay_id_read(object_type: GraphQLObjectType) -> Read | None:
    """A model type's global id, built as Strawberry builds it, from the loaded primary key."""
    model = _django_model(object_type)
    if model is None:
        return None
    origin = object_type.extensions[_DEFINITION].origin
    resolve_id = getattr(origin, "resolve_id", None)
    if (
        getattr(resolve_id, "__func__", None) is not resolve_model_id
        or origin.resolve_typename.__func__ is not relay.Node.resolve_typename.__func__
    ):
        return None
    id_attribute = origin.resolve_id_attr()
    column = model._meta.pk.attname if id_attribute == "pk" else id_attribute
    prefix = f"{object_type.name}:"

    def read_id(source: Model) -> str:
        # str(relay.GlobalID(type_name, str(pk))), Strawberry's own encoding, without the object.
        return b64encode(f"{prefix}{source.__dict__[column]}".encode()).decode()

    return read_id


def _constant(value: Any) -> Read:
    return lambda source: value


def _identity(value: Any) -> Any:
    return value


def _nullable(complete: Complete) -> Complete:
    return lambda value: None if value is None else complete(value)


def _non_null(complete: Complete) -> Complete:
    def complete_non_null(value: Any) -> Any:
        completed = complete(value)
        if completed is None:
            raise _UnexpectedValueError  # graphql-core reports the error and nulls the parent
        return completed

    return complete_non_null


def _list_of(complete_item: Complete) -> Complete:
    def complete_list(value: Any) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise _UnexpectedValueError
        return [complete_item(item) for item in value]

    return complete_list


def _leaf(coerce: Callable[[Any], Any], *, non_null: bool) -> Complete:
    def complete_leaf(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _UnexpectedValueError  # graphql-core reports the error and nulls the parent
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _UnexpectedValueError
        return coerced

    return complete_leaf
