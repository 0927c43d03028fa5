"""A category page's facets and ``totalCount`` are summed from counts kept by PostgreSQL
triggers (``ProductFacetCount``), not by reading the list's products: the counts follow every
kind of product write, fold together without losing a change, and answer exactly what counting
the products answers, for every list they are kept for and for every category's subtree
(``Category.productCount``)."""

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.catalog import selectors, services, tasks
from backend.catalog.models import Category, Product, ProductFacetCount
from backend.catalog.selectors import FACET_PRICE_GRID, ProductFacets
from tests.beat import assert_beat_runs
from tests.factories import category_create, product_create, user_create

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")


Sums = Counter[tuple[int, int, bool, str]]


def nonzero(sums: Sums) -> Sums:
    return Counter({key: count for key, count in sums.items() if count})


def kept() -> Sums:
    """The counts' sums per key, keys summing to nothing left out."""
    sums: Sums = Counter()
    for row in ProductFacetCount.objects.all():
        key = (row.category_id, row.price_step, row.is_published)
        sums[(*key, "products")] += row.products
        sums[(*key, "in stock")] += row.in_stock
    return nonzero(sums)


def held() -> Sums:
    """The same sums, from the products themselves."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT category_id, catalog_price_step(price), is_published, count(*),"
            " count(*) FILTER (WHERE stock_quantity > 0) FROM catalog_product GROUP BY 1, 2, 3"
        )
        sums: Sums = Counter()
        for category_id, step, published, products, in_stock in cursor.fetchall():
            sums[(category_id, step, published, "products")] = products
            sums[(category_id, step, published, "in stock")] = in_stock
    return nonzero(sums)


def change_rows() -> int:
    return ProductFacetCount.objects.count()


@contextmanager
def counting_products() -> Iterator[None]:
    """Facets and counts read from the products, as for a list the counts do not keep."""
    counted_list = selectors._counted_list
    selectors._counted_list = lambda products: None  # type: ignore[assignment]
    try:
        yield
    finally:
        selectors._counted_list = counted_list


def listed(viewer: Any = None, **filters: Any) -> Any:
    return selectors.products_visible_to(viewer, selectors.product_list(viewer=viewer, **filters))


def test_the_price_step_function_is_the_facet_grid() -> None:
    """PostgreSQL's ``catalog_price_step`` (migration 0008) and ``FACET_PRICE_GRID`` must agree:
    a price range's bounds are read from the grid, its count from the function."""
    prices = [price for step in FACET_PRICE_GRID[:-1] for price in (step, step + CENT)]
    prices += [step - CENT for step in FACET_PRICE_GRID[1:]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT p, catalog_price_step(p) FROM unnest(%s::numeric[]) AS p", [prices])
        steps = dict(cursor.fetchall())
    for step, start in enumerate(FACET_PRICE_GRID[:-1], start=1):
        assert steps[start] == step
        assert steps[start + CENT] == step
        assert steps[FACET_PRICE_GRID[step] - CENT] == step


def test_every_kind_of_write_keeps_the_counts() -> None:
    lamps, rugs = category_create(name="Lamps"), category_create(name="Rugs")
    lamp = product_create(category=lamps, price="9.99", stock_quantity=2)
    Product.objects.bulk_create(
        [
            Product(name=f"Rug {n}", slug=f"rug-{n}", sku=f"RUG-{n}", category=rugs, price=n)
            for n in range(1, 6)
        ]
    )
    assert kept() == held()
    for change in (
        {"price": Decimal("10.00")},  # the next step
        {"price": Decimal("10.50")},  # the same step
        {"category": rugs},
        {"is_published": False},
    ):
        services.product_update(product=Product.objects.get(pk=lamp.pk), **change)
        assert kept() == held(), change
    for delta in (-2, 7):  # sold out, then restocked
        services.product_stock_adjust(product_id=lamp.pk, delta=delta)
        assert kept() == held(), delta
    Product.objects.filter(category=rugs).update(price=F("price") * 2)
    assert kept() == held()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_product SET category_id = %s", [lamps.pk])
    assert kept() == held()
    services.product_delete(product=Product.objects.get(pk=lamp.pk))
    Product.objects.filter(price__gt=4).delete()
    assert kept() == held()


@pytest.mark.django_db(transaction=True)
def test_truncating_the_products_truncates_their_counts() -> None:
    product_create()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE catalog_product CASCADE")
    assert change_rows() == 0


def test_a_stock_change_that_keeps_stock_appends_nothing() -> None:
    """An order's decrement leaves the counts alone until stock runs out."""
    product = product_create(stock_quantity=5)
    before = change_rows()
    Product.objects.filter(pk=product.pk).update(stock_quantity=4)
    Product.objects.filter(pk=product.pk).update(name="Renamed", description="New words")
    assert change_rows() == before
    Product.objects.filter(pk=product.pk).update(stock_quantity=0)
    assert change_rows() == before + 2
    assert kept() == held()


def test_compaction_folds_each_key_into_one_row_and_drops_the_empty_ones() -> None:
    category = category_create()
    products = [product_create(category=category, price="2.00") for _ in range(4)]
    gone = product_create(category=category_create(), price="500.00")
    services.product_delete(product=gone)
    for product in products[:2]:
        services.product_update(product=product, price=Decimal("3.00"))  # the next step
    before = kept()
    assert change_rows() == 4 + 2 + 2 * 2
    assert services.product_facet_counts_compact() == 10 - 2
    assert kept() == before == held()
    assert change_rows() == 2  # the category at 2.00 to 2.49, and at 3.00 to 3.99
    assert services.product_facet_counts_compact() == 0


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_compacting_is_kept() -> None:
    """A writer's change rows that the compaction's snapshot does not see stay beside the
    folded rows, whichever commits first."""
    category = category_create()
    for _ in range(3):
        product_create(category=category)
    inserted = threading.Event()
    compacted = threading.Event()

    def write() -> None:
        try:
            with transaction.atomic():
                product_create(category=category, price="77.00")
                inserted.set()
                compacted.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert inserted.wait(10)
    services.product_facet_counts_compact()  # does not wait for the writer
    compacted.set()
    writer.join(10)
    assert Product.objects.count() == 4
    assert kept() == held()
    services.product_facet_counts_compact()
    assert kept() == held()


def test_the_beat_task_compacts() -> None:
    services.product_delete(product=product_create())
    assert tasks.product_facet_counts_compact.apply().get() == 2
    assert change_rows() == 0


def test_beat_runs_the_compaction() -> None:
    assert_beat_runs("catalog.product_facet_counts_compact")


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"in_stock": True},
        {"in_stock": False},
        {"price_min": Decimal("10"), "price_max": Decimal("24.99")},
        {"price_min": Decimal("0")},
        {"price_max": Decimal("9.99")},
    ],
    ids=repr,
)
def test_lists_the_counts_keep_read_one_row_per_key_not_the_products(
    filters: dict[str, Any],
) -> None:
    product_create(price="12.00")
    products = listed(**filters)
    with CaptureQueriesContext(connection) as queries:
        selectors.product_facets(products=products)
        selectors.product_count(products=products)
    assert len(queries) == 2
    for query in queries:
        assert '"catalog_productfacetcount"' in query["sql"]
        assert '"catalog_product"' not in query["sql"]


@pytest.mark.parametrize(
    "filters",
    [
        {"search": "lamp"},  # bounded by its candidates, and no key holds a search
        {"price_min": Decimal("10.50")},  # between two steps of the grid
        {"price_max": Decimal("25.00")},
        {"created_after": "2020-01-01T00:00:00Z"},
    ],
    ids=repr,
)
def test_other_lists_are_counted_from_their_products(filters: dict[str, Any]) -> None:
    product_create(name="Desk lamp", price="12.00")
    assert selectors._counted_list(listed(**filters)) is None


# What the property test does to a small catalog: prices on and beside steps of the grid.
PRICES = [Decimal(p) for p in ("0.00", "0.99", "1.00", "9.99", "10.00", "24.99", "25.00", "812")]
CATEGORIES = 3
creates = st.tuples(
    st.just("create"),
    st.integers(0, CATEGORIES - 1),
    st.sampled_from(PRICES),
    st.sampled_from([0, 1, 5]),
    st.booleans(),
)
writes = st.lists(
    st.one_of(
        creates,
        st.tuples(st.just("price"), st.integers(0, 20), st.sampled_from(PRICES)),
        st.tuples(st.just("category"), st.integers(0, 20), st.integers(0, CATEGORIES - 1)),
        st.tuples(st.just("stock"), st.integers(0, 20), st.sampled_from([0, 1, 5])),
        st.tuples(st.just("publish"), st.integers(0, 20), st.booleans()),
        st.tuples(st.just("delete"), st.integers(0, 20)),
        st.tuples(st.just("compact")),
    ),
    max_size=20,
)
lists = st.fixed_dictionaries(
    {},
    optional={
        "in_stock": st.booleans(),
        "category": st.integers(0, CATEGORIES - 1),
        "price_min": st.sampled_from(FACET_PRICE_GRID[:12]),
        "price_max": st.sampled_from([step - CENT for step in FACET_PRICE_GRID[1:12]]),
        "staff": st.booleans(),
    },
)


def apply(operation: tuple[Any, ...], categories: list[Category]) -> None:
    kind, *arguments = operation
    if kind == "create":
        category, price, stock, published = arguments
        product_create(
            category=categories[category],
            price=price,
            stock_quantity=stock,
            is_published=published,
        )
        return
    if kind == "compact":
        services.product_facet_counts_compact()
        return
    ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return
    products = Product.objects.filter(pk=ids[arguments[0] % len(ids)])
    match kind, arguments[1:]:
        case "price", [price]:
            products.update(price=price)
        case "category", [category]:
            products.update(category=categories[category])
        case "stock", [stock]:
            products.update(stock_quantity=stock)
        case "publish", [published]:
            products.update(is_published=published)
        case "delete", []:
            products.delete()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(creates, min_size=4, max_size=12), writes, st.lists(lists, min_size=1, max_size=4))
def test_the_counts_answer_what_counting_the_products_answers(
    catalog: list[tuple[Any, ...]],
    operations: list[tuple[Any, ...]],
    filter_sets: list[dict[str, Any]],
) -> None:
    with transaction.atomic():
        categories = [category_create()]  # a root, its child and a second root
        categories += [category_create(parent=categories[0]), category_create()]
        for operation in [*catalog, *operations]:
            apply(operation, categories)
        staff = user_create(is_staff=True)
        for viewer in (None, staff):
            # Category.productCount: the visible products of each subtree.
            counts = selectors.category_product_counts(
                category_ids=[category.pk for category in categories], viewer=viewer
            )
            assert counts == {
                category.pk: selectors.products_visible_to(
                    viewer, Product.objects.filter(category__path__startswith=category.path)
                ).count()
                for category in Category.objects.filter(pk__in=[c.pk for c in categories])
            }
        for filters in filter_sets:
            filters = dict(filters)
            viewer = staff if filters.pop("staff", False) else None
            if "category" in filters:
                filters["category_id"] = categories[filters.pop("category")].pk
            if filters.get("price_min", 0) > filters.get("price_max", Decimal("Infinity")):
                continue  # refused by the selector before any count
            products = listed(viewer, **filters)
            assert selectors._counted_list(products) is not None
            counted: tuple[ProductFacets, int] = (
                selectors.product_facets(products=products),
                selectors.product_count(products=products),
            )
            with counting_products():
                assert counted == (
                    selectors.product_facets(products=products),
                    selectors.product_count(products=products),
                ), filters
        transaction.set_rollback(True)


def test_a_list_of_no_category_takes_no_statement(count_queries: Any) -> None:
    product_create()
    products = listed(in_category_id=2**40)  # no such category: an empty subtree
    with count_queries() as queries:
        assert selectors.product_count(products=products) == 0
        assert selectors.product_facets(products=products).in_stock == 0
    assert queries.count == 0
