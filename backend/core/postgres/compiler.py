"""A SELECT compiler that compiles each query shape once, and its values every time.

Compiling a product page's SELECT was a large share of the request's CPU (decision 0015; the
share in docs/performance.md, "Levers"): the select list with its ``select_related`` columns,
the joins and the ORDER BY are worked out from the model's metadata on every request, although
they only depend on the query's shape, which a storefront repeats. The WHERE clause carries the
request's values, and it is cheap.

So the SQL around the parts that carry values is kept per shape: the model, the joins with
their reference counts, the loaded columns (``only``/``defer``, ``values()``), the names and
places of the selected annotations, ``select_related``, the order, the slice and the compile
options. The values live in the WHERE clause and in the annotations' own SQL (a search's rank,
its highlights), which are compiled anew for each query, so a shape never carries a value
from one query to another. Only shapes proven to split cleanly are kept: the statement is its
select list, then the rest, and all its parameters come from the annotations and the WHERE
clause, which occurs in it exactly once. An annotation is referred to by its position in
ORDER BY, so its own SQL occurs once too. Anything else is compiled by Django as usual:
aggregates, window functions, ORDER BY an annotation left out of the select list, ``extra()``,
DISTINCT, GROUP BY, subqueries, locking, expressions in ORDER BY other than a column or
annotation name, an always-true WHERE clause or annotation, and every query with
``NEXUS_FAST_PATHS`` off (decision 0020).

With ``VERIFY_HITS`` set (the test suite sets it, ``tests/conftest.py``), every hit is also
compiled by Django's compiler and must give the same statement, parameters and columns.

Django has no ``WITH``: a queryset marked by ``with_common_table`` gets its common table
expressions written before the statement here, whether the SELECT came from a shape or from
Django, fast paths on or off.

Nor does Django read two kinds of rows from one statement. ``read_beside`` cuts a queryset's
pages from a ``MATERIALIZED`` common table of its rows, and has the page's statement return, in
the same result, the rows of another SELECT over that table (a list's facets): PostgreSQL
reads the list once for both, and the client makes one round trip.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.backends.postgresql.compiler import (
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)
from django.db.backends.postgresql.compiler import SQLCompiler as PostgresSQLCompiler
from django.db.models import F, Model, QuerySet
from django.db.models.expressions import OrderBy
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE, MULTI
from django.db.models.sql.datastructures import BaseTable
from django.db.models.sql.where import WhereNode

__all__ = [
    "SQLAggregateCompiler",
    "SQLCompiler",
    "SQLDeleteCompiler",
    "SQLInsertCompiler",
    "SQLUpdateCompiler",
]

# Distinct shapes kept per process; cleared when full, like the document caches.
SHAPE_CACHE_SIZE = 256
VERIFY_HITS = False


@dataclass(frozen=True, slots=True)
class _Shape:
    """A compiled statement minus its annotations and WHERE clause, and the compiler state its
    rows need. ``texts`` are the SQL between them: before each annotation (``annotations``,
    their names and places in the select list), then before and after the WHERE clause (the
    rest of the statement and nothing, for a query without one)."""

    texts: tuple[str, ...]
    where: bool
    annotations: tuple[tuple[str, int], ...]
    select: list[Any]
    klass_info: dict[str, Any] | None
    annotation_col_map: dict[str, int]


_shapes: dict[tuple[Any, ...], _Shape] = {}
# Statements answered from a cached shape: the ones the backend lets psycopg prepare (base.py).
# A shape has several (an IN list of each length), hence a larger bound than the shapes'.
PREPARABLE_STATEMENTS_SIZE = SHAPE_CACHE_SIZE * 4
preparable_statements: set[str] = set()


def preparable[M: Model](queryset: QuerySet[M]) -> QuerySet[M]:
    """``queryset``, whose statements psycopg may prepare from their fifth run, as a cached
    shape's (decision 0016): for a statement that costs more to plan than to run, and whose
    generic plan PostgreSQL estimates as well as its custom ones, because no estimate in it
    depends on a parameter's value. Only with ``NEXUS_FAST_PATHS`` on."""
    queryset = queryset.all()
    queryset.query.preparable = True  # kept by every clone: Query.clone copies its __dict__
    return queryset


def with_common_table[M: Model](queryset: QuerySet[M], sql: str, params: Any) -> QuerySet[M]:
    """``queryset``, whose statements begin ``WITH <sql>`` (a common table expression, ``name
    AS ...``, with ``params``), so its expressions can read a value computed once per statement
    however many parts of it need it (a search's corrected query). A statement that holds it as
    a subquery holds the expression there: PostgreSQL accepts ``WITH`` in a subquery. Marked
    again with another name, the statement holds both, the earlier first (the later may read
    it); with the same name, the later replaces the earlier in its place."""
    queryset = queryset.all()
    name = sql.split(maxsplit=1)[0]
    # A new dict: clones share the old one (Query.clone copies __dict__), as they keep the mark.
    queryset.query.common_tables = {**common_tables(queryset.query), name: (sql, tuple(params))}
    return queryset


def common_tables(query: Any) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """The common table expressions ``with_common_table`` gave ``query``, by name, in order."""
    return getattr(query, "common_tables", {})


def common_tables_sql(query: Any) -> tuple[str, tuple[Any, ...]] | None:
    """What ``query``'s statements begin with (``WITH ...``) and its parameters; None without
    common tables."""
    tables = common_tables(query).values()
    if not tables:
        return None
    return (
        "WITH " + ", ".join(sql for sql, _ in tables),
        tuple(param for _, params in tables for param in params),
    )


@dataclass(slots=True)
class RowsBeside:
    """The rows of ``sql``, a SELECT of ``width`` columns over the common table ``read_beside``
    names, read by the statement of a page; ``rows`` is None until that statement has run, and
    stays None when it did not (an empty filter), so the reader runs its own statement."""

    sql: str
    width: int
    rows: list[tuple[Any, ...]] | None = field(default=None)


def read_beside[M: Model](
    queryset: QuerySet[M], *, table: str, sql: str, width: int
) -> tuple[QuerySet[M], RowsBeside] | None:
    """The queryset to cut ``queryset``'s pages from, reading ``sql`` (a SELECT of ``width``
    columns over ``table``) with each page; None where this does not apply.

    ``table`` is a ``MATERIALIZED`` common table of ``queryset``'s rows, all their columns: the
    page reads them from there (its FROM names ``table`` under the model's own alias, so every
    column, annotation and join reads as before) with only its own WHERE (a cursor's bound),
    and the statement returns ``sql``'s rows after the page's, in the same result. For a list
    PostgreSQL reads in full anyway (a search's bounded candidates): materializing a list that
    an index would cut at the page instead is a full read. Does not apply to a queryset with
    joins in its WHERE (a join is not in ``table``'s columns) or that cannot match."""
    query = queryset.query
    alias = query.get_initial_alias()
    if len(query.alias_map) != 1:
        return None
    listed = queryset.order_by().values_list("pk")
    listed.query.common_tables = {}  # written once, before both
    connection = connections[queryset.db]
    try:
        listed_sql, params = listed.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return None
    quote_name = connection.ops.quote_name
    key, _, rest = listed_sql.partition(" FROM ")
    if key != f'SELECT {quote_name(alias)}.{quote_name(query.model._meta.pk.column)} AS "pk"':
        raise AssertionError(f"read_beside: an unexpected select list: {listed_sql!r}")
    table_sql = f"{table} AS MATERIALIZED (SELECT {quote_name(alias)}.* FROM {rest})"
    source = with_common_table(queryset, table_sql, params)
    source.query.where = WhereNode()
    source.query.alias_map[alias] = BaseTable(table, alias)
    beside = source.query.rows_beside = RowsBeside(sql=sql, width=width)
    return source, beside


def preparable_around(queryset: QuerySet[Any], sql: str) -> None:
    """Let psycopg prepare ``sql``, a statement written around ``queryset``'s own SQL, when
    ``queryset`` is ``preparable``: its estimates are as independent of the parameters."""
    if getattr(queryset.query, "preparable", False):
        preparable_text(sql)


def preparable_text(sql: str) -> None:
    """Let psycopg prepare ``sql``, a statement whose estimates do not depend on its
    parameters, kept as text by its caller (a suggestion's later-word statement): registered
    on every use, since the set of preparable statements is bounded and may have been emptied
    since. Only with ``NEXUS_FAST_PATHS`` on."""
    if settings.NEXUS_FAST_PATHS:
        _preparable_add(sql)


def _preparable_add(sql: str) -> None:
    if len(preparable_statements) >= PREPARABLE_STATEMENTS_SIZE:
        preparable_statements.clear()
    preparable_statements.add(sql)


def _frozen(select_related: Any) -> Any:
    if isinstance(select_related, dict):
        return tuple(sorted((name, _frozen(value)) for name, value in select_related.items()))
    return select_related


def _ordering_key(order_by: tuple[Any, ...]) -> tuple[Any, ...] | None:
    key: list[Any] = []
    for item in order_by:
        if isinstance(item, str):
            key.append(item)
        elif isinstance(item, OrderBy) and type(item.expression) is F:
            key.append((item.expression.name, item.descending, item.nulls_first, item.nulls_last))
        else:
            return None
    return tuple(key)


def _names_annotation(ordering: tuple[Any, ...], names: set[str]) -> bool:
    """Whether an item of ``ordering`` (``_ordering_key``'s) is one of the annotations
    ``names``, or goes through one."""
    for item in ordering:
        name = item[0] if isinstance(item, tuple) else item.removeprefix("-")
        if name.split("__", 1)[0] in names:
            return True
    return False


def shape_key(compiler: PostgresSQLCompiler, with_limits: bool, with_col_aliases: bool) -> Any:
    """Everything but the values that the statement's text depends on; None for a query this
    cache leaves to Django."""
    query = compiler.query
    if (
        query.model is None
        or query.subquery
        or query.combinator
        or query.extra
        or query.extra_tables
        or query.extra_order_by
        or query.distinct
        or query.group_by is not None
        or query.select_for_update
        or query.explain_info
        or query.external_aliases
        or query._filtered_relations
        or query.where.contains_aggregate
        or query.where.contains_over_clause
    ):
        return None
    ordering = _ordering_key(query.order_by)
    if ordering is None:
        return None
    annotations = query.annotation_select
    if query.annotations and (
        any(
            annotation.contains_aggregate or annotation.contains_over_clause
            for annotation in query.annotations.values()
        )
        # One left out of the select list is written out, values and all, where ORDER BY
        # names it (elsewhere only in the WHERE clause, compiled every time).
        or _names_annotation(ordering, query.annotations.keys() - annotations.keys())
    ):
        return None
    joins = tuple(
        (
            alias,
            join.identity,
            getattr(join, "join_type", None),
            getattr(join, "nullable", None),
            query.alias_refcount[alias],
        )
        for alias, join in query.alias_map.items()
    )
    deferred_names, deferring = query.deferred_loading
    return (
        compiler.connection.alias,
        query.model,
        with_limits,
        with_col_aliases,
        joins,
        query.alias_prefix,
        query.alias_cols,
        query.default_cols,
        tuple(query.select),
        None if query.selected is None else tuple(query.selected.items()),
        tuple(annotations),
        _frozen(query.select_related),
        query.max_depth,
        frozenset(deferred_names),
        deferring,
        ordering,
        query.default_ordering,
        query.standard_ordering,
        query.low_mark,
        query.high_mark,
        bool(query.where.children),
    )


class SQLCompiler(PostgresSQLCompiler):
    # Set while execute_sql runs the statement of a page that reads rows beside it.
    _beside: RowsBeside | None = None

    def as_sql(
        self, with_limits: bool = True, with_col_aliases: bool = False
    ) -> tuple[str, tuple[Any, ...]]:
        sql, params, prepare = self._select(with_limits, with_col_aliases)
        if self._beside is not None:
            sql = self._with_rows_beside(sql, self._beside)
        with_tables = common_tables_sql(self.query)
        if with_tables is not None:
            sql, params = f"{with_tables[0]} {sql}", (*with_tables[1], *params)
        if prepare:
            _preparable_add(sql)
        return sql, tuple(params)

    def _with_rows_beside(self, sql: str, beside: RowsBeside) -> str:
        """The page ``sql``, then a marker column (NULL on the page's rows), then the rows
        beside it: every row has the columns of both, the other's NULL."""
        width = len(self.select)
        return (
            f"(SELECT page.*, NULL AS beside{', NULL' * beside.width} FROM ({sql}) AS page)"
            f" UNION ALL (SELECT {'NULL, ' * width}TRUE, beside.* FROM ({beside.sql}) AS beside)"
        )

    def execute_sql(
        self,
        result_type: Any = MULTI,
        chunked_fetch: bool = False,
        chunk_size: int = GET_ITERATOR_CHUNK_SIZE,
    ) -> Any:
        beside = getattr(self.query, "rows_beside", None)
        if beside is None or result_type != MULTI:
            return super().execute_sql(result_type, chunked_fetch, chunk_size)
        self._beside = beside
        try:  # a page is small: read at once, to split
            chunks = super().execute_sql(MULTI, chunked_fetch=False, chunk_size=chunk_size)
        finally:
            self._beside = None
        width = len(self.select)
        page: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for chunk in chunks:
            for row in chunk:
                if row[width] is None:
                    page.append(row[:width])
                else:
                    rows.append(row[width + 1 :])
        # Not a list when the page cannot match (no statement): the reader runs its own.
        if isinstance(chunks, list):
            beside.rows = rows
        return [page]

    def _select(
        self, with_limits: bool, with_col_aliases: bool
    ) -> tuple[str, tuple[Any, ...], bool]:
        """The SELECT, from its cached shape where there is one, and whether psycopg may
        prepare it."""
        key = shape_key(self, with_limits, with_col_aliases) if settings.NEXUS_FAST_PATHS else None
        preparable = getattr(self.query, "preparable", False)
        if key is None:
            sql, params = super().as_sql(with_limits, with_col_aliases)
            return sql, tuple(params), settings.NEXUS_FAST_PATHS and preparable
        shape = _shapes.get(key)
        if shape is None:
            sql, params = super().as_sql(with_limits, with_col_aliases)
            self._remember(key, sql, tuple(params))
            return sql, tuple(params), preparable
        select = shape.select
        parts: list[str] = []
        params: list[Any] = []
        try:
            if shape.annotations:
                select = list(select)  # the rows' converters come from this query's annotations
                annotations = self.query.annotation_select
                # texts holds two more entries, around the WHERE clause.
                for text, (name, position) in zip(shape.texts, shape.annotations, strict=False):
                    expression = annotations[name]
                    annotation_sql, annotation_params = expression.select_format(
                        self, *self.compile(expression)
                    )
                    select[position] = (expression, (annotation_sql, annotation_params), name)
                    parts += (text, annotation_sql)
                    params += annotation_params
            if shape.where:
                where_sql, where_params = self.compile(self.query.where)
                parts += (shape.texts[-2], where_sql, shape.texts[-1])
                params += where_params
            else:
                parts += shape.texts[-2:]
        except (EmptyResultSet, FullResultSet):
            # Django's own path knows what an empty or always-true part compiles to.
            sql, django_params = super().as_sql(with_limits, with_col_aliases)
            return sql, tuple(django_params), False
        # The state pre_sql_setup leaves for the row iterators (no HAVING: no aggregates).
        self.where, self.having, self.qualify = self.query.where, None, None
        self.select = select
        self.klass_info = shape.klass_info
        self.annotation_col_map = shape.annotation_col_map
        self.col_count = len(select)
        self.has_extra_select = False
        sql = "".join(parts)
        if VERIFY_HITS:
            self._verify(sql, tuple(params), with_limits, with_col_aliases)
        # A plain SELECT's estimates do not depend on its values; an annotated one is prepared
        # only when its queryset says so (decision 0016).
        return sql, tuple(params), not shape.annotations or preparable

    def _remember(self, key: tuple[Any, ...], sql: str, params: tuple[Any, ...]) -> None:
        """Keep ``sql``'s shape if it splits into literal text, annotations and WHERE clause,
        which hold all of ``params``."""
        if self.has_extra_select or self.where is not self.query.where:
            return
        where_sql, where_params = "", []
        try:
            if self.where.children:
                where_sql, where_params = self.compile(self.where)
        except (EmptyResultSet, FullResultSet):
            return
        annotations = self.query.annotation_select
        quote_name = self.connection.ops.quote_name
        texts: list[str] = []  # the literal SQL before each annotation
        places: list[tuple[str, int]] = []
        text = "SELECT "  # the literal SQL since the last annotation
        columns: list[str] = []
        expected_params: list[Any] = []
        for position, (expression, (column_sql, column_params), alias) in enumerate(self.select):
            columns.append(column_sql if alias is None else f"{column_sql} AS {quote_name(alias)}")
            text += ", " if position else ""
            if alias in annotations and expression is annotations[alias]:
                texts.append(text)
                places.append((alias, position))
                expected_params += column_params
                text = f" AS {quote_name(alias)}"
            elif column_params:
                return
            else:
                text += columns[-1]
        select_sql = "SELECT " + ", ".join(columns)
        rest = sql[len(select_sql) :]
        marker = f" WHERE {where_sql}" if where_sql else " WHERE "
        if (
            not sql.startswith(select_sql)
            or rest.count(marker) != (1 if where_sql else 0)
            or (*expected_params, *where_params) != params
        ):
            return
        if where_sql:
            start = rest.index(marker)
            around_where = (text + rest[:start] + " WHERE ", rest[start + len(marker) :])
        else:
            around_where = (text + rest, "")
        if len(_shapes) >= SHAPE_CACHE_SIZE:
            _shapes.clear()
        _shapes[key] = _Shape(
            texts=(*texts, *around_where),
            where=bool(where_sql),
            annotations=tuple(places),
            select=self.select,
            klass_info=self.klass_info,
            annotation_col_map=self.annotation_col_map,
        )

    def _verify(
        self, sql: str, params: tuple[Any, ...], with_limits: bool, with_col_aliases: bool
    ) -> None:
        django = PostgresSQLCompiler(self.query, self.connection, self.using, self.elide_empty)
        expected = django.as_sql(with_limits, with_col_aliases)
        if (sql, params) != (expected[0], tuple(expected[1])):
            raise AssertionError(f"shape cache: {sql!r} {params!r} != Django's {expected!r}")
        if [column for column, _, _ in django.select] != [column for column, _, _ in self.select]:
            raise AssertionError(f"shape cache: the columns of {sql!r} differ from Django's")
        if _klass_info_outline(django.klass_info) != _klass_info_outline(self.klass_info):
            raise AssertionError(f"shape cache: the row layout of {sql!r} differs from Django's")


def _klass_info_outline(klass_info: dict[str, Any] | None) -> Any:
    if klass_info is None:
        return None
    return (
        klass_info["model"],
        tuple(klass_info["select_fields"]),
        klass_info.get("field"),
        klass_info.get("reverse"),
        tuple(_klass_info_outline(info) for info in klass_info.get("related_klass_infos", ())),
    )
