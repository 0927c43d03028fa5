"""The shape cache (``backend/core/postgres/compiler.py``) gives Django's own statement.

A shape is compiled once; later queries of that shape compile only their WHERE clause and
annotations. Each test
compiles a shape with some values, then the same shape with other values, and compares the
second statement, its parameters and its rows with what Django's own compiler gives.
"""

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.backends.postgresql.compiler import SQLCompiler as DjangoSQLCompiler
from django.db.models import Count, F, Q, QuerySet, Value, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Lower, RowNumber, Upper

from backend.api.graphql.pagination import KeysetBound
from backend.catalog.models import Category, Product
from backend.catalog.selectors import product_list
from backend.core.postgres import compiler as shape_compiler
from backend.orders.models import OrderItem
from tests.factories import category_create, order_create, product_create

# The fast paths' own effects (decision 0020): run with NEXUS_FAST_PATHS on.
pytestmark = [pytest.mark.django_db, pytest.mark.fast_paths]


@pytest.fixture(autouse=True)
def empty_cache_without_verification(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests compare with Django themselves, and count the compilations the cache saves."""
    monkeypatch.setattr(shape_compiler, "VERIFY_HITS", False)
    shape_compiler._shapes.clear()
    yield
    shape_compiler._shapes.clear()


@pytest.fixture
def full_compilations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per statement compiled in full (select list, joins, order)."""
    calls: list[int] = []
    original = DjangoSQLCompiler.pre_sql_setup

    def counted(self: DjangoSQLCompiler, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DjangoSQLCompiler, "pre_sql_setup", counted)
    return calls


def compiled(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.get_compiler(DEFAULT_DB_ALIAS).as_sql()
    return sql, tuple(params)


class DjangoCompiler(DjangoSQLCompiler):
    """Django's compiler, with the query's common table before its statement
    (``with_common_table``'s, which Django does not know of)."""

    def as_sql(self, *args: Any, **kwargs: Any) -> tuple[str, tuple[Any, ...]]:
        sql, params = super().as_sql(*args, **kwargs)
        with_tables = shape_compiler.common_tables_sql(self.query)
        if with_tables is not None:
            return f"{with_tables[0]} {sql}", (*with_tables[1], *params)
        return sql, tuple(params)


def compiled_by_django(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    return DjangoCompiler(queryset.query.clone(), connection, DEFAULT_DB_ALIAS).as_sql()


def product_page(value: Any) -> QuerySet[Product]:
    """The catalog's page shape: visibility, only/select_related, keyset order, slice."""
    return (
        Product.objects.filter(is_published=True, price__gte=value)
        .select_related("category")
        .only("name", "price", "created_at", "category__name")
        .order_by(F("created_at").desc(), F("id").desc())[:21]
    )


SHAPES: dict[str, tuple[Callable[[Any], QuerySet[Any]], Any, Any]] = {
    "product page": (product_page, Decimal("1.00"), Decimal("12.00")),
    "page after a cursor": (
        lambda pk: (
            Product.objects.filter(KeysetBound(["price", "id"], ">", (Decimal(0), pk)))
            .select_related("category")
            .order_by(F("price").asc(), F("id").asc())[:5]
        ),
        0,
        2,
    ),
    "IN lists of other lengths": (
        lambda prices: Product.objects.filter(price__in=prices).order_by("name", "id"),
        [Decimal("10.00")],
        [Decimal("10.00"), Decimal("11.00"), Decimal("12.00")],
    ),
    "a filter through a join": (
        lambda slug: Product.objects.filter(category__slug=slug).select_related("category"),
        "first",
        "second",
    ),
    "two levels of select_related, OR-ed filters": (
        lambda quantity: (
            OrderItem.objects.filter(Q(quantity__gte=quantity) | Q(quantity=0))
            .select_related("order", "product__category")
            .order_by("-id")
        ),
        2,
        1,
    ),
    "a model's default order": (lambda name: Category.objects.filter(name=name), "A", "B"),
    "values()": (
        lambda price: Product.objects.filter(price__gte=price).values("pk", "name").order_by("pk"),
        Decimal("1.00"),
        Decimal("12.00"),
    ),
    "an annotation with a value, ordered by it": (
        lambda suffix: (
            Product.objects.filter(price__gte=1)
            .annotate(label=Concat(F("name"), Value(suffix)))
            .select_related("category")
            .order_by(F("label").desc(), F("id").desc())[:3]
        ),
        " (a)",
        " (b)",
    ),
    "no WHERE clause, a value in an annotation": (
        lambda suffix: (
            Product.objects.annotate(label=Concat(F("name"), Value(suffix)))
            .select_related("category")
            .order_by(F("label").desc(), F("id").desc())[:3]
        ),
        " (a)",
        " (b)",
    ),
    "a search page read from its materialized candidates (read_beside)": (
        lambda text: (
            shape_compiler.read_beside(
                product_list(viewer=AnonymousUser(), search=text),
                table="matched",
                sql="SELECT count(*) FROM matched",
                width=1,
            )[0]  # type: ignore[index]
            .select_related("category")
            .order_by(F("search_rank").desc(), F("id").desc())[:3]
        ),
        "product",
        "produ",
    ),
    "a search's facet columns (values() leaving its rank out)": (
        lambda text: (
            product_list(viewer=AnonymousUser(), search=text)
            .order_by()
            .values("category_id", "price", "stock_quantity")
        ),
        "product",
        "produ",
    ),
    "a search page": (
        lambda text: (
            product_list(viewer=AnonymousUser(), search=text)
            .select_related("category")
            .order_by(F("search_rank").desc(), F("id").desc())[:3]
        ),
        "product",
        "produ",
    ),
}


def plain(row: Any) -> Any:
    """A row to compare: a ``values()`` dict, or a model instance's attributes."""
    return row if isinstance(row, dict) else vars(row).copy() | {"_state": None}


@pytest.fixture
def catalog() -> None:
    first = category_create(slug="first", name="A")
    second = category_create(slug="second", name="B")
    products = [
        product_create(category=first if index % 2 else second, price=f"{10 + index}.00")
        for index in range(4)
    ]
    order_create(products=[(products[0], 1), (products[1], 3)])


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_a_shape_is_compiled_once_and_later_values_give_djangos_statement_and_rows(
    shape: str, full_compilations: list[int]
) -> None:
    build, first_value, second_value = SHAPES[shape]
    assert compiled(build(first_value)) == compiled_by_django(build(first_value))
    compilations = len(full_compilations)

    later = build(second_value)
    assert compiled(later) == compiled_by_django(later)
    assert len(full_compilations) == compilations + 1  # Django's, for the comparison
    rows = [plain(row) for row in build(second_value)]
    assert len(full_compilations) == compilations + 1  # the cached statement ran the rows
    expected = build(second_value)
    expected.query.get_compiler = lambda *args, **kwargs: DjangoCompiler(  # type: ignore[method-assign]
        expected.query, connection, DEFAULT_DB_ALIAS
    )
    assert rows
    assert rows == [plain(row) for row in expected]


def test_a_select_related_row_brings_its_related_object_on_a_cached_shape() -> None:
    category_create(slug="first", name="Cached")
    product_create(category=Category.objects.get(slug="first"), price="5.00")
    list(product_page(Decimal("1.00")))

    [product] = product_page(Decimal("2.00"))

    assert product.category.name == "Cached"
    assert product.get_deferred_fields() >= {"slug", "description"}


def unsliced_page() -> QuerySet[Product]:
    return Product.objects.filter(price__gte=1).select_related("category").order_by("-id")


VARIANTS: dict[str, Callable[[], QuerySet[Product]]] = {
    "other columns": lambda: unsliced_page().only("name", "category__name")[:21],
    "no select_related": lambda: unsliced_page().select_related(None)[:21],
    "another order": lambda: unsliced_page().order_by(F("price").asc(), F("id").asc())[:21],
    "another direction": lambda: unsliced_page().reverse()[:21],
    "another page size": lambda: unsliced_page()[:5],
    "an offset": lambda: unsliced_page()[5:26],
    "no slice": lambda: unsliced_page(),
    "no WHERE clause": lambda: Product.objects.select_related("category").order_by("-id")[:21],
    "another join": lambda: unsliced_page().filter(category__name="A")[:21],
    # The annotated page below is a shape too: its annotation's SQL is compiled every time.
    "another annotation under the same name": (
        lambda: unsliced_page().annotate(label=Upper("name"))[:21]
    ),
    "an annotation under another name": (
        lambda: unsliced_page().annotate(other_label=Lower("name"))[:21]
    ),
    "only some columns, as values()": lambda: unsliced_page().values("pk", "name")[:21],
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_a_query_differing_in_anything_but_values_is_another_shape(variant: str) -> None:
    compiled(unsliced_page()[:21])
    compiled(unsliced_page().annotate(label=Lower("name"))[:21])

    other = VARIANTS[variant]()

    assert compiled(other) == compiled_by_django(other)


LEFT_TO_DJANGO: dict[str, Callable[[], QuerySet[Any]]] = {
    "an aggregate": lambda: Category.objects.filter(pk=1).annotate(product_total=Count("products")),
    "a window function": lambda: Product.objects.filter(pk=1).annotate(row=Window(RowNumber())),
    # An annotation only ORDER BY names is written out there, with its values.
    "an annotation left out of the select list": lambda: (
        Product.objects.filter(pk=1).alias(doubled=F("price") * 2).order_by("doubled")
    ),
    "distinct": lambda: Product.objects.filter(pk=1).distinct(),
    "an expression in ORDER BY": lambda: Product.objects.filter(pk=1).order_by(F("price") * 2),
    "locking": lambda: Product.objects.filter(pk=1).select_for_update(),
}


@pytest.mark.parametrize("kind", LEFT_TO_DJANGO, ids=list(LEFT_TO_DJANGO))
def test_queries_with_more_than_columns_outside_the_where_clause_are_left_to_django(
    kind: str,
) -> None:
    queryset = LEFT_TO_DJANGO[kind]()

    assert (
        shape_compiler.shape_key(queryset.query.get_compiler(DEFAULT_DB_ALIAS), True, False) is None
    )


def test_a_cached_shape_with_an_always_false_where_clause_runs_no_statement(
    count_queries: Any,
) -> None:
    product = product_create()
    assert len(Product.objects.filter(pk__in=[product.pk, product.pk + 1])) == 1

    with count_queries() as queries:
        assert list(Product.objects.filter(pk__in=[])) == []

    assert queries.count == 0


def test_verification_catches_a_cached_statement_that_differs_from_djangos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite runs with every hit verified (tests/conftest.py); a wrong shape fails loudly."""
    compiled(product_page(Decimal("1.00")))
    [key] = shape_compiler._shapes
    shape = shape_compiler._shapes[key]
    shape_compiler._shapes[key] = shape_compiler._Shape(
        texts=(shape.texts[0].replace('"name"', '"slug"', 1), *shape.texts[1:]),
        where=shape.where,
        annotations=shape.annotations,
        select=shape.select,
        klass_info=shape.klass_info,
        annotation_col_map=shape.annotation_col_map,
    )
    monkeypatch.setattr(shape_compiler, "VERIFY_HITS", True)

    with pytest.raises(AssertionError, match="shape cache"):
        compiled(product_page(Decimal("2.00")))


def test_statements_of_cached_shapes_and_preparable_ones_are_prepared_and_no_others() -> None:
    """A generic plan is chosen on estimates (decision 0016): only plain SELECTs of cached
    shapes and the statements of querysets marked ``preparable`` (a search's page and its
    facets, whose estimates do not depend on their parameters: decision 0029) are prepared;
    a list's facets are not."""
    from django.contrib.auth.models import AnonymousUser

    from backend.catalog.selectors import product_facets, product_list

    product_create(name="Wireless mouse")
    for _ in range(7):
        list(product_page(Decimal("1.00")))
        list(product_list(viewer=AnonymousUser(), search="wireless")[:5])
        product_facets(products=product_list(viewer=AnonymousUser(), search="wireless"))
        product_facets(products=product_list(viewer=AnonymousUser(), price_min=Decimal(1)))
        Product.objects.filter(name__icontains="wireless").count()

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert any('"catalog_product"."price" >= $1' in statement for statement in prepared)
    assert any("search_tier = 3" in statement for statement in prepared), prepared
    [facets] = [statement for statement in prepared if "GROUPING SETS" in statement]
    assert "search_tier = 3" in facets, prepared
    assert not any("COUNT(*)" in statement for statement in prepared), prepared


@pytest.mark.django_db
def test_a_common_table_comes_before_the_statement_cached_or_not_and_in_subqueries() -> None:
    """``with_common_table``: the statement begins with it, on a shape's first compile and on
    its hits, with its parameters first; clones keep it; a statement holding the queryset as a
    subquery holds it there, and PostgreSQL runs both."""
    product_create(name="Lamp", price="10.00")
    product_create(name="Sofa", price="900.00")
    tabled = shape_compiler.with_common_table(
        Product.objects.filter(is_published=True).only("name").order_by("-id"),
        "bound AS (SELECT %s::numeric AS price)",
        [Decimal("20")],
    )
    cheap = tabled.filter(price__lt=RawSQL("(SELECT price FROM bound)", ()))[:5]
    for _ in range(2):  # the shape's first compile, then a hit
        sql, params = compiled(cheap)
        assert sql.startswith("WITH bound AS (SELECT %s::numeric AS price) SELECT ")
        assert params[0] == Decimal("20")
        assert [product.name for product in cheap.all()] == ["Lamp"]
    outer = Product.objects.filter(pk__in=tabled.filter(price__lt=RawSQL(
        "(SELECT price FROM bound)", ())).values("pk"))  # fmt: skip
    assert "(WITH bound AS" in compiled(outer)[0]
    assert outer.count() == 1
