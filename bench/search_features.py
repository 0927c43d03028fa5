"""PostgreSQL's execution time of the statements behind a search page's extras: facets,
highlights and name suggestions (docs/decisions/0027-search-facets-highlights-suggest.md).

    DATABASE_URL=... .venv/bin/python bench/search_features.py [--rounds 7]

Run against a seeded catalog (``manage.py seed --products 1000000``, then ``manage.py
migrate``). Each case's statements are those the catalog selector sends (captured as it
runs: one, or two for a suggestion completing later words), then run again under
``EXPLAIN (ANALYZE)``; the table shows the median of their summed execution time over the
rounds, all statements interleaved in every round, each after one warm-up run. Next to the
facets: the count of the same list (``totalCount``), and for a list the facet counts keep (a
category, the whole catalog), both counted from its products as any other list is; a menu's
``Category.productCount`` (each subtree's products, summed from the same counts); next to
suggestions: the same prefix through the trigram index (``name ILIKE 'prefix%'``, btree index
scans off), the alternative decision 0027 rejects; next to a search page's rows highlighted:
the same rows plain.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import os
import re
import statistics
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import QuerySet  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from backend.catalog import selectors  # noqa: E402
from backend.catalog.models import Category, Product  # noqa: E402

_EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")


def statements_sent(run: Callable[[], Any]) -> list[str]:
    """The statements ``run`` sends, as sent (a suggestion that leaves places sends two)."""
    with CaptureQueriesContext(connection) as captured:
        run()
    return [query["sql"] for query in captured.captured_queries]


def execution_ms(sql: str, *, without_btree_scans: bool = False) -> float:
    with transaction.atomic(), connection.cursor() as cursor:
        if without_btree_scans:  # as if the name prefix index did not exist
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_indexonlyscan = off")
        cursor.execute("EXPLAIN (ANALYZE) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    match = _EXECUTION.search(plan)
    assert match is not None, plan
    return float(match.group(1))


def visible(**filters: Any) -> QuerySet[Product]:
    return selectors.products_visible_to(None, selectors.product_list(viewer=None, **filters))


def page_rows(search: str, *, highlights: bool) -> Callable[[], Any]:
    """The rows of a storefront search page (20 and a look-ahead row, most relevant first),
    read by id: what highlighting adds to a page is ts_headline over these rows, which
    PostgreSQL computes above the page's sort and limit."""
    ids = list(
        visible(search=search).order_by("-search_rank", "-id").values_list("id", flat=True)[:21]
    )

    def fetch() -> Any:
        products = Product.objects.filter(pk__in=ids)
        if highlights:
            products = selectors.product_highlights(products, search=search)
        return list(products)

    return fetch


def cases() -> dict[str, Callable[[], Any]]:
    lists: dict[str, dict[str, Any]] = {
        "whole catalog": {},
        "in stock": {"in_stock": True},
        'search "steel"': {"search": "steel"},
        'search "steel candle"': {"search": "steel candle"},
        "one category": {"category_id": _a_category_with_products()},
        "a department": {"in_category_id": _a_department()},
        "price range 10 to 24.99": {"price_min": Decimal(10), "price_max": Decimal("24.99")},
        "price 10 to 20": {"price_min": Decimal(10), "price_max": Decimal(20)},
    }
    found: dict[str, Callable[[], Any]] = {}
    for name, filters in lists.items():
        listed = visible(**filters)  # a department's subtree is read here, once
        found[f"facets: {name}"] = lambda p=listed: selectors.product_facets(products=p)
        found[f"  count: {name}"] = lambda p=listed: selectors.product_count(products=p)
        if selectors._counted_list(listed) is not None:
            found[f"  facets from its products: {name}"] = lambda p=listed: from_products(
                selectors.product_facets, p
            )
            found[f"  count from its products: {name}"] = lambda p=listed: p.count()
    roots = list(Category.objects.filter(parent__isnull=True).values_list("id", flat=True))
    for name, ids in (("the roots", roots), ("every category", all_categories())):
        found[f"productCount: {name}"] = lambda i=ids: selectors.category_product_counts(
            category_ids=i, viewer=None
        )
    for search in ("steel", "steel candle"):
        found[f'page rows "{search}", highlighted'] = page_rows(search, highlights=True)
        found[f'  page rows "{search}", plain'] = page_rows(search, highlights=False)
    for prefix in ("a", "v", "virtucon h", "virtucon handmade steel c", "zzz"):
        found[f'suggest "{prefix}"'] = lambda p=prefix: selectors.product_suggest(
            viewer=None, prefix=p
        )
        found[f'  trigram "{prefix}"'] = lambda p=prefix: _trigram_suggest(p)
    return found


def from_products(read: Callable[..., Any], products: QuerySet[Product]) -> Any:
    """``read`` of a list the facet counts keep, counted from its products instead: what every
    list cost before the counts."""
    counted_list = selectors._counted_list
    selectors._counted_list = lambda products: None  # type: ignore[assignment]
    try:
        return read(products=products)
    finally:
        selectors._counted_list = counted_list


def _trigram_suggest(prefix: str) -> list[str]:
    """The same suggestions found through the trigram index on names, which serves ILIKE."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT DISTINCT ON (lower(name) COLLATE "C") name FROM catalog_product '
            "WHERE is_published AND name ILIKE %s "
            'ORDER BY lower(name) COLLATE "C" LIMIT 5',
            [prefix + "%"],
        )
        return [row[0] for row in cursor.fetchall()]


def _a_category_with_products() -> int:
    return Product.objects.order_by("category_id").values_list("category_id", flat=True)[0]


def all_categories() -> list[int]:
    return list(Category.objects.values_list("id", flat=True))


def _a_department() -> int:
    """The root category whose subtree holds the most products."""
    roots = Category.objects.filter(parent__isnull=True).values_list("id", "path")
    return max(
        roots,
        key=lambda root: Product.objects.filter(category__path__startswith=root[1]).count(),
    )[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    print(f"{Product.objects.count():,} products")
    statements = {name: statements_sent(run) for name, run in cases().items()}
    trigram = {name for name in statements if name.lstrip().startswith("trigram")}

    def case_ms(name: str) -> float:
        return sum(
            execution_ms(sql, without_btree_scans=name in trigram) for sql in statements[name]
        )

    for name in statements:
        case_ms(name)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(rounds):
        for name in statements:
            times[name].append(case_ms(name))
    for name, measured in times.items():
        low, high = min(measured), max(measured)
        median = statistics.median(measured)
        print(f"{name:<45} {median:9.2f} ms  ({low:.2f} to {high:.2f})")


if __name__ == "__main__":
    main()
