"""One bounded pass over a GraphQL document: its size, depth and aliases, and its cost.

A fragment spread N times is executed N times, so a document's work is its size with every
spread expanded, which grows exponentially with chained fragments (``fragment F1 { ...F0 ...F0
...F0 ...F0 }`` up to F10 is 4^10 fields in 500 bytes). Walking the expansion to measure it is
the attack itself; ``analyse`` instead summarises each fragment once, in dependency order, and
adds a spread's summary where it appears: its work is one visit per node of the document, and it
needs no schema, so it runs before graphql-core's validation (whose OverlappingFieldsCanBeMerged
is quadratic in the fields a selection repeats).

``query_cost`` (it needs the schema and the request's variables, so it runs per request) walks
the selection with each fragment's cost memoised per page-size context, after the expanded size
has been checked against ``GRAPHQL_MAX_FIELDS``.

A fragment cycle is a validation error (graphql-core reports it); here a spread that would close
a cycle counts nothing, so every walk terminates.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.utilities import get_operation_ast

# The connection page-size ceiling: a connection queried without `first`/`last` is costed as a
# full page, so omitting the argument never makes a query look cheaper than it can be.
MAX_PAGE_SIZE = 100

# Fields whose work is not their shape, and what they add to it. A product list's facets and
# its totalCount read every row of the filtered list, whatever the page: the facets in one
# aggregate statement (backend/catalog/selectors.py, ``product_facets``), the count in a COUNT.
# Over a whole catalog each costs many pages' reads, the facets several counts'
# (docs/performance.md, "Search pages"), so the price bounds how often one document reads a
# list whole, aliases included: the facets at half the default budget (one list's facets per
# document, beside its page), a count at a fifth. A search's list is bounded and cheaper to read
# whole; it is priced the same, the price staying a property of the document's shape.
# Suggestions are a statement of their own returning scalars, which would otherwise cost
# nothing: one object's.
FACETS_COST = 500
PRODUCT_COUNT_COST = 200
FIELD_COSTS: Mapping[tuple[str, str], int] = {
    ("ProductConnection", "facets"): FACETS_COST,
    ("ProductConnection", "totalCount"): PRODUCT_COUNT_COST,
    ("Query", "productSuggest"): 1,
}

# The name Strawberry's depth limiter gave an operation without one (kept in messages).
ANONYMOUS_OPERATION = "anonymous"


@dataclass(frozen=True, slots=True)
class SelectionSummary:
    """A selection set with its fragments expanded.

    ``fields``: every selection (field, fragment spread, inline fragment) and every directive on
    one, each counted once per time it would be executed. ``depth``: nested object fields, as
    Strawberry's QueryDepthLimiter counted them (leaves 0, introspection fields ignored, spreads
    add their fragment's depth). ``aliases``: aliased fields, counted per use as Strawberry's
    MaxAliasesLimiter did.
    """

    fields: int = 0
    depth: int = 0
    aliases: int = 0


_EMPTY = SelectionSummary()


@dataclass(frozen=True, slots=True)
class OperationSummary:
    name: str
    node: OperationDefinitionNode
    summary: SelectionSummary


@dataclass(frozen=True, slots=True)
class DocumentAnalysis:
    """What the limits are checked against. ``fields`` and ``aliases`` are totals over the
    document (fragments no operation spreads count as operations do: validation walks them);
    depth is per operation. ``visits`` is the number of selection nodes the pass visited."""

    fields: int
    aliases: int
    operations: tuple[OperationSummary, ...]
    visits: int


class _Analyser:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.summaries: dict[str, SelectionSummary] = {}
        self.visits = 0

    def spreads(self, selection_set: SelectionSetNode) -> list[str]:
        """The fragment names spread anywhere in ``selection_set``, in order."""
        names: list[str] = []
        pending = [selection_set]
        while pending:
            for selection in pending.pop().selections:
                self.visits += 1
                if isinstance(selection, FragmentSpreadNode):
                    names.append(selection.name.value)
                elif selection.selection_set is not None:  # type: ignore[union-attr]
                    pending.append(selection.selection_set)  # type: ignore[union-attr]
        return names

    def summarise_fragments(self) -> dict[str, list[str]]:
        """Summarise every fragment after the fragments it spreads (an iterative depth-first
        post-order, so a long chain cannot exhaust the stack). A spread back to a fragment
        still being ordered closes a cycle: its fragment has no summary yet and counts nothing.
        Returns each fragment's spreads."""
        spreads = {name: self.spreads(node.selection_set) for name, node in self.fragments.items()}
        order: list[str] = []
        seen: set[str] = set()
        for root in spreads:
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter(spreads[root]))]
            while stack:
                name, children = stack[-1]
                for child in children:
                    if child in spreads and child not in seen:
                        seen.add(child)
                        stack.append((child, iter(spreads[child])))
                        break
                else:
                    stack.pop()
                    order.append(name)
        for name in order:
            self.summaries[name] = self.summarise(self.fragments[name].selection_set)
        return spreads

    def summarise(self, selection_set: SelectionSetNode) -> SelectionSummary:
        fields = depth = aliases = 0
        for selection in selection_set.selections:
            self.visits += 1
            fields += 1 + len(selection.directives or ())
            if isinstance(selection, FragmentSpreadNode):
                inner = self.summaries.get(selection.name.value, _EMPTY)
                inner_depth = inner.depth
            elif isinstance(selection, InlineFragmentNode):
                inner = self.summarise(selection.selection_set)
                inner_depth = inner.depth
            else:
                assert isinstance(selection, FieldNode)
                aliases += selection.alias is not None
                if selection.selection_set is None:
                    continue
                inner = self.summarise(selection.selection_set)
                # Introspection fields (__schema, __type) do not count towards the depth.
                inner_depth = 0 if selection.name.value.startswith("__") else 1 + inner.depth
            fields += inner.fields
            aliases += inner.aliases
            depth = max(depth, inner_depth)
        return SelectionSummary(fields, depth, aliases)


def analyse(document: DocumentNode) -> DocumentAnalysis:
    """Summarise ``document``: one visit per selection node per walk, two walks."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operation_nodes: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
        elif isinstance(definition, OperationDefinitionNode):
            operation_nodes.append(definition)
    analyser = _Analyser(fragments)
    spreads = analyser.summarise_fragments()
    operations = tuple(
        OperationSummary(
            node.name.value if node.name else ANONYMOUS_OPERATION,
            node,
            analyser.summarise(node.selection_set),
        )
        for node in operation_nodes
    )
    used = _reachable(
        spreads, (name for node in operation_nodes for name in analyser.spreads(node.selection_set))
    )
    unused_fields = sum(
        summary.fields for name, summary in analyser.summaries.items() if name not in used
    )
    return DocumentAnalysis(
        fields=sum(operation.summary.fields for operation in operations) + unused_fields,
        aliases=sum(operation.summary.aliases for operation in operations),
        operations=operations,
        visits=analyser.visits,
    )


def _reachable(spreads: Mapping[str, list[str]], roots: Iterable[str]) -> set[str]:
    reached: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in spreads and name not in reached:
            reached.add(name)
            pending.extend(spreads[name])
    return reached


# --- Cost ---------------------------------------------------------------------------------------


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
    # A fragment's cost depends only on the page size it is costed under (None outside a
    # connection's own fields): memoised, so a fragment spread N times is walked once.
    _fragment_costs: dict[tuple[str, int | None], int] = field(default_factory=dict)

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
                target = self.schema.get_type(condition.name.value) if condition else parent
                if not is_composite_type(target):
                    continue
                same_type = target is parent
                cost = self.selection_set(
                    target,  # type: ignore[arg-type]
                    selection.selection_set,
                    page_size if same_type else None,
                )
            else:
                assert isinstance(selection, FragmentSpreadNode)
                name = selection.name.value
                fragment = self.fragments.get(name)
                # Cycles are a validation error; guard so costing an invalid document terminates.
                if fragment is None or name in self._visiting:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                if not is_composite_type(target):
                    continue
                same_type = target is parent
                cost = self.fragment(name, fragment, page_size if same_type else None)
            if same_type:
                common += cost
            else:
                branches[target.name] = branches.get(target.name, 0) + cost  # type: ignore[union-attr]
        return common + max(branches.values(), default=0)

    def fragment(self, name: str, fragment: FragmentDefinitionNode, page_size: int | None) -> int:
        key = (name, page_size)
        cost = self._fragment_costs.get(key)
        if cost is None:
            target = self.schema.get_type(fragment.type_condition.name.value)
            self._visiting.add(name)
            cost = self.selection_set(target, fragment.selection_set, page_size)  # type: ignore[arg-type]
            self._visiting.discard(name)
            self._fragment_costs[key] = cost
        return cost

    def field(self, parent: GraphQLCompositeType, node: FieldNode, page_size: int | None) -> int:
        """The cost of the field's shape (``shape``) plus what ``FIELD_COSTS`` adds for it."""
        extra = FIELD_COSTS.get((parent.name, node.name.value), 0)
        return extra + self.shape(parent, node, page_size)

    def shape(self, parent: GraphQLCompositeType, node: FieldNode, page_size: int | None) -> int:
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
