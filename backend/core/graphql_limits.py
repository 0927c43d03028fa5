"""Resource limits and error policy for the GraphQL endpoint, as Strawberry schema extensions.

``limit_extensions()`` is the one list a schema installs. Every limit is checked before any
resolver runs, so a refused request costs no SQL:

- lexer tokens (``GRAPHQL_MAX_TOKENS``): parsing aborts, code ``MAX_TOKENS_EXCEEDED``;
- nesting depth (``GRAPHQL_MAX_DEPTH``) and aliased fields (``GRAPHQL_MAX_ALIASES``): validation
  errors with codes ``MAX_DEPTH_EXCEEDED`` and ``MAX_ALIASES_EXCEEDED``;
- introspection (``GRAPHQL_INTROSPECTION``, default ``DEBUG``): ``INTROSPECTION_DISABLED``;
- static query cost (``GRAPHQL_MAX_COST``): ``MAX_COST_EXCEEDED``; every response reports
  ``extensions.cost = {requestedQueryCost, maximumAvailable}`` as Shopify's API does.

Errors are then given a stable ``extensions.code``; unexpected exceptions are masked as
``INTERNAL_SERVER_ERROR`` (their message is kept only when ``DEBUG`` is on; the traceback goes to
the server log through Strawberry's ``process_errors``, never into a response).

Settings are read per request, so ``override_settings`` and environment changes behave, while the
validation-rule classes are built once per limit value: a ``ValidationCache`` keyed on the rules
tuple keeps hitting.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.utilities import get_operation_ast
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.relay import GlobalIDValueError

from backend.core.graphql.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    error_code_for,
)
from backend.core.graphql.suggestions import suggestions_hide

# The connection page-size ceiling: a connection queried without `first`/`last` is costed as a
# full page, so omitting the argument never makes a query look cheaper than it can be.
MAX_PAGE_SIZE = 100

# Codes of the limits; the general ones (BAD_USER_INPUT, ...) live in backend.core.graphql.errors.
MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


def limit_extensions() -> list[ExtensionFactory]:
    """The extensions enforcing every limit, as classes (Strawberry builds one per request)."""
    return [RequestLimits, QueryCostLimiter, ErrorPolicy]


# --- Depth, aliases, tokens, introspection ------------------------------------------------------


def _error_code(error: GraphQLError) -> str | None:
    return (error.extensions or {}).get("code")


def _stamp_code(error: GraphQLError, code: str) -> GraphQLError:
    """Give ``error`` an ``extensions.code`` unless it already has one (idempotent: validation
    errors may be shared between requests through a validation cache)."""
    if _error_code(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


class _CodingContext:
    """A ValidationContext stand-in that stamps ``code`` on every error a rule reports."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(_stamp_code(error, self._code))


def _with_code(rule: type[ValidationRule], code: str) -> type[ValidationRule]:
    class CodedRule(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodingContext(context, code))  # type: ignore[arg-type]

    CodedRule.__name__ = CodedRule.__qualname__ = f"Coded{rule.__name__}"
    return CodedRule


@cache
def _depth_rule(max_depth: int) -> type[ValidationRule]:
    (rule,) = QueryDepthLimiter(max_depth=max_depth).validation_rules
    return _with_code(rule, MAX_DEPTH_EXCEEDED)


@cache
def _alias_rule(max_aliases: int) -> type[ValidationRule]:
    (rule,) = MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules
    return _with_code(rule, MAX_ALIASES_EXCEEDED)


_introspection_rule = _with_code(NoSchemaIntrospectionCustomRule, INTROSPECTION_DISABLED)


class RequestLimits(AddValidationRules):
    """Token limit on parsing; depth, alias and introspection rules on validation."""

    def __init__(self) -> None:
        rules = [_depth_rule(settings.GRAPHQL_MAX_DEPTH), _alias_rule(settings.GRAPHQL_MAX_ALIASES)]
        if not settings.GRAPHQL_INTROSPECTION:
            rules.append(_introspection_rule)
        super().__init__(rules)

    def on_operation(self) -> Iterator[None]:
        # What strawberry's MaxTokensLimiter does: graphql-core's parser stops at the limit.
        self.execution_context.parse_options["max_tokens"] = settings.GRAPHQL_MAX_TOKENS
        yield from super().on_operation()


# --- Query cost ---------------------------------------------------------------------------------


def is_connection_type(named_type: Any) -> bool:
    """A Relay connection, recognised by shape rather than by field name."""
    if not isinstance(named_type, GraphQLObjectType):
        return False
    return (
        named_type.name.endswith("Connection") or {"edges", "pageInfo"} <= named_type.fields.keys()
    )


def _is_edge_type(named_type: Any) -> bool:
    return (
        isinstance(named_type, GraphQLObjectType) and {"node", "cursor"} <= named_type.fields.keys()
    )


@dataclass
class _CostCalculator:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    page_size_default: int = MAX_PAGE_SIZE
    _visiting: set[str] = field(default_factory=set)

    def selection_set(
        self, parent: GraphQLCompositeType, selections: SelectionSetNode, page_size: int | None
    ) -> int:
        """Fields on ``parent`` plus the costliest type-specific branch: fragments on the same
        type add up, fragments on different concrete types are alternatives (max)."""
        common = 0
        branches: dict[str, int] = {}
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                common += self.field(parent, selection, page_size)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                body = selection.selection_set
                name = None
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                # Cycles are a validation error; guard so costing an invalid document terminates.
                if fragment is None or name in self._visiting:
                    continue
                condition = fragment.type_condition
                body = fragment.selection_set
            else:  # pragma: no cover - the three selection kinds are exhaustive
                continue
            target = self.schema.get_type(condition.name.value) if condition else parent
            if not is_composite_type(target):
                continue
            if name:
                self._visiting.add(name)
            same_type = target is parent
            cost = self.selection_set(target, body, page_size if same_type else None)  # type: ignore[arg-type]
            if name:
                self._visiting.discard(name)
            if same_type:
                common += cost
            else:
                branches[target.name] = branches.get(target.name, 0) + cost  # type: ignore[union-attr]
        return common + max(branches.values(), default=0)

    def field(self, parent: GraphQLCompositeType, node: FieldNode, page_size: int | None) -> int:
        """Scalars 0, objects 1 plus children; a connection 1 plus its page size times each item;
        a plain list sized by a list argument, that many times each item.

        ``page_size`` is set while costing a connection's own fields: its list fields (``edges``,
        ``nodes``) are then the items. An edge only wraps its node, so it adds nothing itself.
        """
        definition = self.schema.get_field(parent, node.name.value)  # type: ignore[arg-type]
        if definition is None or node.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        if page_size is not None and is_list_type(get_nullable_type(definition.type)):
            own = 0 if _is_edge_type(named) else 1
            return page_size * (own + self.selection_set(named, node.selection_set, None))  # type: ignore[arg-type]
        if is_connection_type(named):
            return 1 + self.selection_set(named, node.selection_set, self.page_size(node))  # type: ignore[arg-type]
        children = 1 + self.selection_set(named, node.selection_set, None)  # type: ignore[arg-type]
        if is_list_type(get_nullable_type(definition.type)):
            # A plain list sized by the client, such as nodes(ids: [...]), costs per requested item.
            return self.list_argument_length(node) * children
        return children

    def list_argument_length(self, node: FieldNode) -> int:
        """The length of the longest list argument, 1 without one (such a plain list is bounded
        by the data, like breadcrumbs by the tree depth, and costs as one object)."""
        lengths = [1]
        for argument in node.arguments or ():
            if isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            else:
                value = value_from_ast_untyped(argument.value)
            if isinstance(value, list):
                lengths.append(len(value))
        return max(lengths)

    def page_size(self, node: FieldNode) -> int:
        """The larger of ``first``/``last`` from literals or variables; the maximum page size when
        neither is given or a value is not an integer (that request fails validation anyway)."""
        sizes: list[int] = []
        for argument in node.arguments or ():
            if argument.name.value not in {"first", "last"}:
                continue
            value: Any
            if isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            elif isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            else:
                value = value_from_ast_untyped(argument.value)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                return self.page_size_default
            sizes.append(max(value, 0))
        return max(sizes) if sizes else self.page_size_default


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The static cost of the operation ``operation_name`` selects (the costliest operation when
    it cannot be determined). Variables missing from ``variables`` take their declared default."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    selected = get_operation_ast(document, operation_name)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    costs = []
    for operation in [selected] if selected else operations:
        root = schema.get_root_type(operation.operation)
        if root is None:
            continue
        defaults = {
            definition.variable.name.value: value_from_ast_untyped(definition.default_value)
            for definition in operation.variable_definitions or ()
            if definition.default_value is not None
        }
        calculator = _CostCalculator(schema, fragments, {**defaults, **(variables or {})})
        costs.append(calculator.selection_set(root, operation.selection_set, None))
    return max(costs, default=0)


class QueryCostLimiter(SchemaExtension):
    """Costs the validated document before execution and refuses it when over budget.

    ``requestedQueryCost`` is ``null`` when the request never reached execution (it did not
    parse or validate), so no cost was computed.
    """

    def __init__(self) -> None:
        self.maximum_available: int = settings.GRAPHQL_MAX_COST
        self.requested: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        self.requested = query_cost(
            context.schema._schema,
            context.graphql_document,
            variables=context.variables,
            operation_name=context.operation_name,
        )
        if self.requested > self.maximum_available:
            # A result set before execution makes Strawberry skip execution entirely.
            context.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        f"Query cost {self.requested} exceeds the maximum of "
                        f"{self.maximum_available}: request smaller pages (first/last) or "
                        "fewer nested connections.",
                        extensions={
                            "code": MAX_COST_EXCEEDED,
                            "requestedQueryCost": self.requested,
                            "maximumAvailable": self.maximum_available,
                        },
                    )
                ],
            )
        yield

    def get_results(self) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": self.requested,
                "maximumAvailable": self.maximum_available,
            }
        }


# --- Error policy -------------------------------------------------------------------------------

# Exceptions whose message is written for the client, and the code they get.
CLIENT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (GlobalIDValueError, BAD_USER_INPUT),
    (PermissionDenied, FORBIDDEN),
)


def client_error_code(error: GraphQLError) -> str | None:
    """The code of an error the client may see as is, or ``None`` for an unexpected one.

    Errors graphql-core raises itself (parsing, validation, variable coercion) and errors raised
    as ``GraphQLError`` are written for the client; so are the exceptions in ``CLIENT_ERRORS``.
    """
    if (code := _error_code(error)) is not None:
        return code
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        for exception_type, client_code in CLIENT_ERRORS:
            if isinstance(original, exception_type):
                return client_code
        return None
    return error_code_for(error)


class ErrorPolicy(MaskErrors):
    """Every error leaves with an ``extensions.code``; unexpected exceptions are masked.

    Unexpected means raised by our code or a library rather than written for the client; those
    become ``INTERNAL_SERVER_ERROR`` with a generic message (the original message is kept when
    ``DEBUG`` is on). Strawberry has already logged the original with its traceback.
    """

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: client_error_code(error) is None,
            error_message="Internal server error.",
        )
        self.debug: bool = settings.DEBUG

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            message=error.message if self.debug else self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": INTERNAL_SERVER_ERROR},
        )

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        # After masking, what is left was written for the client: give it its code.
        for error in getattr(self.execution_context.result, "errors", None) or ():
            if (code := client_error_code(error)) is not None:
                _stamp_code(error, code)
            suggestions_hide(error)
