"""``read_beside`` (``backend/core/postgres/compiler.py``): a page cut from a materialized common
table of its list, whose statement also returns the rows of another SELECT over that table.

Every page is compared with the same page read the ordinary way, and the rows beside it with
the same SELECT run on its own: one statement gives what two gave.
"""

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import F, QuerySet

from backend.api.graphql.pagination import KeysetBound
from backend.catalog.models import Product
from backend.core.postgres.compiler import RowsBeside, read_beside, with_common_table
from tests.factories import category_create, product_create

pytestmark = pytest.mark.django_db

# Per category: how many products of the list, and their total price.
TOTALS = """SELECT category_id, count(*), sum(price) FROM {table}
GROUP BY category_id ORDER BY category_id"""


@pytest.fixture
def products() -> list[Product]:
    first, second = category_create(name="First"), category_create(name="Second")
    return [
        product_create(category=first if n % 3 else second, price=f"{10 + n}.00") for n in range(8)
    ]


def listed() -> QuerySet[Product]:
    """A list with a filter and an annotation the page orders by."""
    return Product.objects.filter(price__gte=Decimal("12.00")).annotate(doubled=F("price") * 2)


def page_of(queryset: QuerySet[Product], *, after: Any = None) -> QuerySet[Product]:
    if after is not None:
        queryset = queryset.filter(KeysetBound(["doubled", "id"], "<", after))
    return queryset.select_related("category").order_by(F("doubled").desc(), F("id").desc())[:3]


def totals_alone() -> list[tuple[Any, ...]]:
    sql, params = listed().order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            TOTALS.format(table=f"(SELECT * FROM catalog_product WHERE id IN ({sql})) t"), params
        )
        return cursor.fetchall()


def with_totals() -> tuple[QuerySet[Product], RowsBeside]:
    read = read_beside(listed(), table="listed", sql=TOTALS.format(table="listed"), width=3)
    assert read is not None
    return read


def rows(queryset: QuerySet[Product]) -> list[tuple[Any, ...]]:
    return [(p.pk, p.name, p.doubled, p.category.name) for p in queryset]


@pytest.mark.parametrize("page", ["first", "after a cursor", "past the end"])
def test_one_statement_returns_the_page_and_the_rows_beside_it(
    products: list[Product], count_queries: Any, page: str
) -> None:
    after = {
        "first": None,
        "after a cursor": (Decimal("34.00"), products[7].pk),  # past the first two rows
        "past the end": (Decimal("0"), 0),
    }[page]
    expected_page = rows(page_of(listed(), after=after))
    source, beside = with_totals()

    with count_queries() as captured:
        got = rows(page_of(source, after=after))

    assert captured.count == 1
    assert got == expected_page
    assert (len(got) == 0) == (page == "past the end")
    assert beside.rows == totals_alone()
    assert sum(count for _, count, _ in beside.rows) == 6


def test_the_page_reads_the_materialized_list_with_only_its_own_where_clause(
    products: list[Product],
) -> None:
    source, _ = with_totals()
    sql, _ = (
        page_of(source, after=(Decimal("30.00"), 0))
        .query.get_compiler(connection=connection)
        .as_sql()
    )

    assert sql.startswith('WITH listed AS MATERIALIZED (SELECT "catalog_product".* FROM ')
    table, page = sql.split(") SELECT ", 1)
    assert 'FROM "listed" "catalog_product" INNER JOIN "catalog_category"' in page
    filter_sql = '"catalog_product"."price" >= %s'
    assert filter_sql in table
    assert filter_sql not in page


def test_nothing_is_read_beside_a_list_joined_in_its_filter_or_one_that_cannot_match(
    products: list[Product],
) -> None:
    joined = Product.objects.filter(category__name="First")
    assert read_beside(joined, table="listed", sql=TOTALS.format(table="listed"), width=3) is None
    empty = Product.objects.none()
    assert read_beside(empty, table="listed", sql=TOTALS.format(table="listed"), width=3) is None


def test_rows_beside_are_read_by_the_page_s_statement_only(products: list[Product]) -> None:
    """Counting the source, or reading it unsliced, leaves the rows unread (None): a reader
    then runs its own statement."""
    source, beside = with_totals()

    assert source.count() == 6
    assert beside.rows is None


def test_common_tables_of_other_names_come_in_order_and_the_same_name_replaces() -> None:
    queryset = with_common_table(Product.objects.all(), "a AS (SELECT %s AS x)", [1])
    queryset = with_common_table(queryset, "b AS (SELECT x FROM a)", [])
    queryset = with_common_table(queryset, "a AS (SELECT %s AS x)", [2])

    sql, params = queryset.query.get_compiler(connection=connection).as_sql()

    assert sql.startswith("WITH a AS (SELECT %s AS x), b AS (SELECT x FROM a) SELECT ")
    assert params[0] == 2
