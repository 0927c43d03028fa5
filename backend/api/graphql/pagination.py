"""Keyset (cursor) pagination for Relay connections.

Guarantees:
- A page is one ``WHERE (k1, ..., pk) > (v1, ..., id) ORDER BY k1, ..., pk LIMIT n + 1``
  statement: no OFFSET, so page 5,000 costs what page 1 costs, and rows inserted or deleted
  between requests never make a row skip or repeat (the primary key breaks every tie).
- Cursors are opaque base64 JSON naming the connection and the order they were issued for;
  a cursor of another connection or order, or a forged one, is refused with ``BAD_USER_INPUT``.
- ``first`` or ``last`` (exactly one) is required and must lie in 1..``MAX_PAGE_SIZE``;
  anything else is refused, never clamped.
- ``totalCount`` runs its one ``COUNT`` only when selected; a field about the whole list (a
  product list's ``facets``) reads ``unpaginated`` the same way.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any, ClassVar, Self

import orjson
import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import models
from django.db.models import Expression, F, QuerySet, Window
from django.db.models.functions import RowNumber
from graphql import FieldNode, InlineFragmentNode, NameNode, SelectionSetNode
from strawberry import Info, relay
from strawberry.dataloader import DataLoader
from strawberry.relay import NodeType, PageInfo
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.optimizer import optimizer

from backend.api.graphql.errors import BadUserInputError
from backend.api.graphql.fields import off_event_loop, query_free
from backend.api.graphql.optimizer import QuerySetOptimizer
from backend.api.graphql.rows import page_rows
from backend.core.numbers import decimal_parse
from backend.core.text import NUL

MAX_PAGE_SIZE = 100

# The Python type of each sort key, so cursor values are parsed back strictly.
KeyKind = type[Decimal] | type[int] | type[str] | type[datetime] | type[float]


# Arguments of the nested connection fields (a category's children, an order's events).
FirstArgument = Annotated[
    int | None, strawberry.argument(description="Page forwards: how many items (1..100).")
]
AfterArgument = Annotated[
    str | None, strawberry.argument(description="Page forwards from this cursor (exclusive).")
]
LastArgument = Annotated[
    int | None, strawberry.argument(description="Page backwards: how many items (1..100).")
]
BeforeArgument = Annotated[
    str | None, strawberry.argument(description="Page backwards from this cursor (exclusive).")
]


@dataclass(frozen=True)
class SortKey:
    """One column (or annotation) of a keyset order and the Python type of its values."""

    name: str
    kind: KeyKind


@dataclass(frozen=True)
class KeysetOrder:
    """A total order: ``keys`` end with the primary key and all share one direction.

    ``name`` identifies the connection and order; it is written into every cursor.
    """

    name: str
    keys: tuple[SortKey, ...]
    descending: bool

    def order_by(self, *, reverse: bool) -> list[models.OrderBy]:
        descending = self.descending != reverse
        return [F(key.name).desc() if descending else F(key.name).asc() for key in self.keys]

    def key_names(self) -> set[str]:
        return {key.name for key in self.keys}


@dataclass(frozen=True)
class PageWindow:
    """Validated pagination arguments: a direction, a size and the cursors' key values."""

    size: int
    backward: bool
    # Tuples, so a window is hashable and can key a per-request DataLoader.
    after: tuple[Any, ...] | None
    before: tuple[Any, ...] | None

    @classmethod
    def from_arguments(
        cls,
        *,
        order: KeysetOrder,
        first: int | None,
        last: int | None,
        after: str | None,
        before: str | None,
    ) -> Self:
        if (first is None) == (last is None):
            raise BadUserInputError(
                "Pass exactly one of `first` or `last` to page through this list.",
                field="first" if first is not None else "last",
            )
        size, argument = (first, "first") if first is not None else (last, "last")
        assert size is not None
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise BadUserInputError(
                f"`{argument}` must be between 1 and {MAX_PAGE_SIZE}, got {size}.",
                field=argument,
            )
        return cls(
            size=size,
            backward=last is not None,
            after=cursor_decode(after, order=order, argument="after") if after else None,
            before=cursor_decode(before, order=order, argument="before") if before else None,
        )


class KeysetBound(Expression):
    """``(k1, ..., pk) > (v1, ..., id)`` (or ``<``): PostgreSQL compares row values
    lexicographically, which is exactly the keyset condition and lets it use a composite index.

    One expression rather than ``GreaterThan(Func(F...), Func(Value...))``: Django resolves and
    compiles that as a lookup over two functions of expressions, which made a page after a
    cursor cost more than the first page (decision 0011; docs/performance.md, "Levers"). The
    values are bound as parameters, exactly as ``Value`` binds them on PostgreSQL.
    """

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, names: Sequence[str], operator: str, values: Sequence[Any]) -> None:
        super().__init__()
        self.names = tuple(names)
        self.operator = operator
        self.values = tuple(values)
        self.columns: tuple[Any, ...] = ()

    def resolve_expression(
        self,
        query: Any = None,
        allow_joins: bool = True,
        reuse: Any = None,
        summarize: bool = False,
        for_save: bool = False,
    ) -> Self:
        resolved = self.copy()
        resolved.columns = tuple(
            F(name).resolve_expression(query, allow_joins, reuse, summarize) for name in self.names
        )
        return resolved

    def get_source_expressions(self) -> list[Any]:
        return list(self.columns)

    def set_source_expressions(self, expressions: Sequence[Any]) -> None:
        self.columns = tuple(expressions)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        sqls: list[str] = []
        params: list[Any] = []
        for column in self.columns:
            sql, column_params = compiler.compile(column)
            sqls.append(sql)
            params.extend(column_params)
        placeholders = ", ".join(["%s"] * len(self.values))
        return f"({', '.join(sqls)}) {self.operator} ({placeholders})", (*params, *self.values)


def cursor_encode(row: models.Model, *, order: KeysetOrder) -> str:
    # orjson writes a datetime as ``isoformat()`` does, natively; a Decimal as its string.
    values = [getattr(row, key.name) for key in order.keys]
    payload = orjson.dumps({"o": order.name, "k": values}, default=_decimal_as_string)
    return base64.urlsafe_b64encode(payload).decode()


def cursor_decode(cursor: str, *, order: KeysetOrder, argument: str) -> tuple[Any, ...]:
    """The sort-key values of a cursor issued for ``order``; ``BadUserInputError`` otherwise."""
    invalid = BadUserInputError(
        f"`{argument}` is not a valid cursor for this list.", field=argument
    )
    try:
        # orjson refuses NaN, Infinity and integers beyond 64 bits, which json would accept.
        payload = orjson.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise invalid from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
        raise invalid
    if payload.get("o") != order.name:
        raise BadUserInputError(
            f"`{argument}` was issued for another list or another order; "
            "restart from the first page when the order changes.",
            field=argument,
        )
    raw_values = payload["k"]
    if len(raw_values) != len(order.keys):
        raise invalid
    try:
        return tuple(
            _from_json(raw, key.kind) for raw, key in zip(raw_values, order.keys, strict=True)
        )
    except (TypeError, ValueError, InvalidOperation):
        raise invalid from None


def _decimal_as_string(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"a sort key of type {type(value).__name__} cannot be written to a cursor")


def _from_json(raw: Any, kind: KeyKind) -> Any:
    """A cursor's sort-key value, read as strictly as a client's own input: a cursor is client
    input too, and a value PostgreSQL refuses (a NUL in text, a numeral beyond what numeric
    holds) would fail the statement instead of being an invalid cursor."""
    if kind is Decimal:
        if not isinstance(raw, str):
            raise TypeError
        return decimal_parse(raw)  # ASCII digits, an exponent numeric holds; NaN refused
    if kind is datetime:
        if not isinstance(raw, str):
            raise TypeError
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed
    if kind is float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise TypeError
        return float(raw)
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise TypeError
        return raw
    if not isinstance(raw, str):
        raise TypeError
    if NUL in raw:
        raise ValueError
    return raw


def keyset_filter(queryset: QuerySet[Any], *, order: KeysetOrder, window: PageWindow) -> QuerySet:
    """Apply the cursors' row-value bounds and make sure every sort key is loaded."""
    names = [key.name for key in order.keys]
    for values, after_cursor in ((window.after, True), (window.before, False)):
        if values is None:
            continue
        # "after" in a descending order means smaller values.
        operator = ">" if after_cursor != order.descending else "<"
        queryset = queryset.filter(KeysetBound(names, operator, values))
    return _with_keys_loaded(queryset, order)


def _with_keys_loaded(queryset: QuerySet[Any], order: KeysetOrder) -> QuerySet[Any]:
    """The optimizer may have restricted the columns with ``only()``; cursors need the keys."""
    fields, deferring = queryset.query.deferred_loading
    model_fields = {f.name for f in queryset.model._meta.concrete_fields}
    needed = {name for name in order.key_names() if name in model_fields}
    if deferring and fields & needed:
        return queryset.defer(None).defer(*(fields - needed))
    if not deferring and fields and not needed <= fields:
        return queryset.only(*(fields | needed))
    return queryset


def keyset_page(queryset: QuerySet[Any], *, order: KeysetOrder, window: PageWindow) -> QuerySet:
    """One page plus one look-ahead row, in query order (reversed for ``last``)."""
    page = keyset_filter(queryset, order=order, window=window).order_by(
        *order.order_by(reverse=window.backward)
    )
    # order_by() returned a copy only this function holds: slice it in place, not in a copy.
    page.query.set_limits(high=window.size + 1)
    return page


def keyset_pages_per_parent(
    queryset: QuerySet[Any], *, parent_field: str, order: KeysetOrder, window: PageWindow
) -> QuerySet:
    """The same page for many parents in ONE statement: ``ROW_NUMBER() OVER (PARTITION BY
    parent)`` limits each parent's rows to the page size plus one look-ahead row."""
    queryset = keyset_filter(queryset, order=order, window=window)
    ordering = order.order_by(reverse=window.backward)
    return (
        queryset.annotate(
            keyset_row=Window(RowNumber(), partition_by=F(parent_field), order_by=ordering)
        )
        .filter(keyset_row__lte=window.size + 1)
        .order_by(parent_field, *ordering)
    )


def optimize_connection(queryset: QuerySet[Any], info: Info) -> QuerySet[Any]:
    """Run the strawberry-django optimizer for a connection field, ``nodes`` included.

    The optimizer only reads the ``edges { node { ... } }`` selection; the ``nodes`` shorthand
    would otherwise load every related object row by row. Here ``nodes { X }`` is presented to
    it as ``edges { node { X } }``. The queryset comes back marked optimized, so the field's own
    optimizer pass does not run again.
    """
    extension = optimizer.get()
    if extension is None:
        return queryset
    raw_info = info._raw_info
    field_nodes = []
    for field_node in raw_info.field_nodes:
        selections = list(field_node.selection_set.selections) if field_node.selection_set else []
        for selection in list(selections):
            if isinstance(selection, FieldNode) and selection.name.value == "nodes":
                node = FieldNode(name=NameNode(value="node"), selection_set=selection.selection_set)
                edges = FieldNode(
                    name=NameNode(value="edges"), selection_set=SelectionSetNode(selections=(node,))
                )
                selections.append(edges)
        field_nodes.append(
            FieldNode(
                alias=field_node.alias,
                name=field_node.name,
                arguments=field_node.arguments,
                directives=field_node.directives,
                selection_set=SelectionSetNode(selections=tuple(selections)),
            )
        )
    info_with_edges = raw_info._replace(field_nodes=field_nodes)
    if isinstance(extension, QuerySetOptimizer):
        # The hints are cached per original field nodes: the rewritten ones are new each time.
        return extension.optimize_selection(
            queryset, info=info_with_edges, selection=raw_info.field_nodes
        )
    return extension.optimize(queryset, info=info_with_edges)


def _selected(info: Info, nodes: Iterable[FieldNode]) -> list[FieldNode]:
    """The fields selected directly in the selection sets of ``nodes`` (fragments flattened;
    ``@skip``/``@include`` not read, so a field they may drop counts as selected)."""
    fields: list[FieldNode] = []
    stack: list[Any] = list(nodes)
    while stack:
        node = stack.pop()
        selection_set = node.selection_set
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection)
            else:  # a named fragment spread
                fragment = info._raw_info.fragments.get(selection.name.value)
                if fragment is not None:
                    stack.append(fragment)
    return fields


def requested_fields(info: Info) -> set[str]:
    """The names selected directly on this field's result (fragments flattened)."""
    return {field.name.value for field in _selected(info, info._raw_info.field_nodes)}


def requested_node_fields(info: Info) -> set[str]:
    """The names selected on the items of this connection field, through ``nodes`` or
    ``edges { node }`` (fragments flattened)."""
    page = _selected(info, info._raw_info.field_nodes)
    edges = [field for field in page if field.name.value == "edges"]
    items = [field for field in page if field.name.value == "nodes"]
    items += [field for field in _selected(info, edges) if field.name.value == "node"]
    return {field.name.value for field in _selected(info, items)}


@strawberry.type(description="A page of a list, paginated with opaque keyset cursors.")
class KeysetConnection(relay.Connection[NodeType]):
    """Subclasses with one order set ``fixed_order``; others override ``keyset_order`` to
    derive it from the field's arguments. The resolver returns the filtered (unordered,
    unpaginated) queryset."""

    count_total: strawberry.Private[Callable[[], Awaitable[int]]]
    # The filtered list every page of a root connection is cut from (None for the pages of a
    # nested connection): what a field about the whole list, such as facets, reads.
    unpaginated: strawberry.Private[QuerySet[Any] | None]
    # What the page's statement read beside the page (``page_source``), for a field about the
    # whole list to read instead of running a statement of its own.
    read_with_page: strawberry.Private[Any] = None

    fixed_order: ClassVar[KeysetOrder | None] = None

    @strawberry.field(description="The nodes of this page, in order (shorthand for edges).")
    @query_free
    def nodes(self) -> list[NodeType]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description="How many items the whole list holds, across all pages. "
        "Costs one COUNT statement; it is only computed when selected."
    )
    async def total_count(self) -> int:
        return await self.count_total()

    @classmethod
    def count_of(cls, nodes: QuerySet[Any]) -> int:
        """``totalCount``: how many items the whole list ``nodes`` holds; one ``COUNT``."""
        return nodes.order_by().count()

    @classmethod
    def keyset_order(cls, **kwargs: Any) -> KeysetOrder:
        """The order for these field arguments; may raise ``BadUserInputError``."""
        if cls.fixed_order is None:
            raise NotImplementedError(f"{cls.__name__} sets no fixed_order")
        return cls.fixed_order

    @classmethod
    def page_source(cls, nodes: QuerySet[Any], *, selected: set[str]) -> tuple[QuerySet[Any], Any]:
        """The queryset a page of ``nodes`` is cut from, and what its statement reads beside
        the page (``read_with_page``), given the fields ``selected`` on the connection:
        ``nodes`` and nothing, unless a subclass reads more."""
        return nodes, None

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[models.Model],
        *,
        order: KeysetOrder,
        window: PageWindow,
        count_total: Callable[[], Awaitable[int]],
        unpaginated: QuerySet[Any] | None = None,
        read_with_page: Any = None,
    ) -> Self:
        """Build the page from up to ``size + 1`` rows fetched in query order."""
        has_more = len(rows) > window.size
        page = list(rows[: window.size])
        if window.backward:
            page.reverse()
        edge_class = relay.Edge  # the connection's concrete edge type is resolved by strawberry
        edges = [
            edge_class(cursor=cursor_encode(row, order=order), node=row)  # type: ignore[arg-type]
            for row in page
        ]
        return cls(
            edges=edges,  # type: ignore[arg-type]
            count_total=count_total,
            unpaginated=unpaginated,
            read_with_page=read_with_page,
            page_info=PageInfo(
                has_next_page=has_more if not window.backward else window.before is not None,
                has_previous_page=has_more if window.backward else window.after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @classmethod
    def resolve_connection(
        cls,
        nodes: Iterable[Any],
        *,
        info: Info,
        before: str | None = None,
        after: str | None = None,
        first: int | None = None,
        last: int | None = None,
        max_results: int | None = None,
        **kwargs: Any,
    ) -> Any:
        if not isinstance(nodes, QuerySet):
            raise TypeError(f"{cls.__name__} paginates querysets only")
        order = cls.keyset_order(**kwargs)
        window = PageWindow.from_arguments(
            order=order, first=first, last=last, after=after, before=before
        )
        unpaginated = nodes

        async def count_total() -> int:
            return await sync_to_async(cls.count_of)(unpaginated)

        selected = requested_fields(info)
        if not selected & {"edges", "nodes", "pageInfo"}:
            return cls.from_rows(
                [], order=order, window=window, count_total=count_total, unpaginated=nodes
            )
        source, read_with_page = cls.page_source(nodes, selected=selected)
        page = keyset_page(source, order=order, window=window)

        def fetch() -> Self:
            return cls.from_rows(
                page_rows(page),
                order=order,
                window=window,
                count_total=count_total,
                unpaginated=nodes,
                read_with_page=read_with_page,
            )

        return off_event_loop(fetch)


async def nested_connection_load[C: KeysetConnection[Any]](
    info: Info,
    *,
    parent_pk: int,
    connection: type[C],
    queryset: QuerySet[Any],
    parent_field: str,
    counts: Callable[[list[int]], dict[int, int]],
    loader_name: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> C:
    """A child connection (a category's children, an order's events) for one parent, in the
    connection's fixed order, batched per request: the pages of every parent on the page come
    from ONE windowed statement, and their ``totalCount`` from one GROUP BY (``counts``), run
    only when selected. ``queryset`` holds the children the viewer may see; the optimizer adds
    their own selection (only, select_related) as for any connection.
    """
    from backend.api.graphql.context import request_loader  # context imports this module

    queryset = optimize_connection(queryset, info)
    order = connection.keyset_order()
    window = PageWindow.from_arguments(
        order=order, first=first, last=last, after=after, before=before
    )

    def pages(parent_ids: list[int]) -> list[list[Any]]:
        rows = keyset_pages_per_parent(
            queryset.filter(**{f"{parent_field}__in": parent_ids}),
            parent_field=parent_field,
            order=order,
            window=window,
        )
        by_parent: dict[int, list[Any]] = {pk: [] for pk in parent_ids}
        for row in page_rows(rows):
            by_parent[getattr(row, parent_field)].append(row)
        return [by_parent[pk] for pk in parent_ids]

    async def load_totals(parent_ids: list[int]) -> list[int]:
        totals = await sync_to_async(counts)(parent_ids)
        return [totals.get(pk, 0) for pk in parent_ids]

    async def total(parent_id: int) -> int:
        totals = request_loader(info, (loader_name, "count"), lambda: DataLoader(load_totals))
        return await totals.load(parent_id)

    async def load_pages(parent_ids: list[int]) -> list[C]:
        return [
            connection.from_rows(
                rows, order=order, window=window, count_total=partial(total, parent_id)
            )
            for parent_id, rows in zip(
                parent_ids, await sync_to_async(pages)(parent_ids), strict=True
            )
        ]

    loader = request_loader(info, (loader_name, window), lambda: DataLoader(load_pages))
    return await loader.load(parent_pk)


class _KeysetConnectionField(StrawberryDjangoField):
    # For a connection, strawberry-django's queryset hook only composes the queryset (the
    # type's get_queryset visibility, optimizer hints); the page is fetched later, by
    # KeysetConnection.resolve_connection. Composing needs no thread of its own (a fast path:
    # with NEXUS_FAST_PATHS off, strawberry-django decides).
    def _can_run_qs_hook_inline(self, queryset: QuerySet[Any]) -> bool:
        return settings.NEXUS_FAST_PATHS or super()._can_run_qs_hook_inline(queryset)


def keyset_connection(
    connection: type[KeysetConnection[Any]], *, description: str
) -> Callable[[Callable[..., QuerySet[Any]]], Any]:
    """A root connection field whose resolver returns the filtered, unpaginated queryset.

    The resolver must only compose a lazy queryset (it is ``query_free``): under ASGI the whole
    field then costs ONE thread hop, the page fetch, instead of three. Where composing needs a
    query, the resolver returns ``off_event_loop(compose)``.
    """

    def decorate(resolver: Callable[..., QuerySet[Any]]) -> Any:
        return strawberry_django.connection(
            connection, description=description, field_cls=_KeysetConnectionField
        )(query_free(resolver))

    return decorate
