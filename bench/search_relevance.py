"""PostgreSQL's execution time of a search's first page, with the candidate set bounded (as
served) and unbounded, for frequent, rare, misspelt and SKU searches
(docs/decisions/0028-search-relevance.md).

    DATABASE_URL=... .venv/bin/python bench/search_relevance.py [--rounds 7]

Run against a seeded catalog (``manage.py seed --products 100000``); the rare word's products
are added as ``bench/search_targets.py`` adds them. Each statement is the
one the catalog selector sends for a storefront's first page (20 rows and a look-ahead row,
most relevant first, published only), captured as it runs, then run under
``EXPLAIN (ANALYZE)``; the table shows the median execution time over the rounds, every
statement interleaved in every round after one warm-up run, with the number of matches (the
``COUNT`` of the unbounded list). "unbounded" is the same statement with
``SEARCH_CANDIDATES`` lifted: every match ranked, the cost decision 0028 removes.

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django

django.setup()

from backend.catalog import selectors  # noqa: E402
from backend.catalog.models import Product  # noqa: E402
from bench.search_features import execution_ms, statement, visible  # noqa: E402
from bench.search_targets import RARE_WORD, rare_products_ensure  # noqa: E402

SEARCHES = {
    "frequent, 3 materials (or)": "steel or wool or oak",
    "frequent, one word": "wireless",
    "every product (SKU prefix)": "seed",
    "rare word": RARE_WORD,
    "rare, four frequent words": "virtucon handmade steel candle",
    "one typo": "headphnes",
    "two typos": "stel candel",
    "prefix as typed": "northwind ergonomic ke",
    "SKU": "SEED-00054321",
    "nothing": "xylophone",
}


def first_page(search: str) -> Callable[[], Any]:
    return lambda: list(
        visible(search=search).order_by(*selectors.MOST_RELEVANT_FIRST.order_by)[:21]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    rare_products_ensure()
    print(f"{Product.objects.count():,} products, K = {selectors.SEARCH_CANDIDATES:,}")
    bounded = selectors.SEARCH_CANDIDATES
    statements: dict[tuple[str, str], str] = {}
    matches: dict[str, int] = {}
    for name, search in SEARCHES.items():
        statements[(name, "bounded")] = statement(first_page(search))
        selectors.SEARCH_CANDIDATES = 10**9
        try:
            statements[(name, "unbounded")] = statement(first_page(search))
            matches[name] = visible(search=search).count()
        finally:
            selectors.SEARCH_CANDIDATES = bounded
    for sql in statements.values():
        execution_ms(sql)  # warm-up
    times: dict[tuple[str, str], list[float]] = {key: [] for key in statements}
    for _ in range(rounds):
        for key, sql in statements.items():
            times[key].append(execution_ms(sql))
    print(f"{'search':<30} {'matches':>8} {'bounded':>10} {'unbounded':>10}")
    for name in SEARCHES:
        bounded_ms = statistics.median(times[(name, "bounded")])
        unbounded_ms = statistics.median(times[(name, "unbounded")])
        print(f"{name:<30} {matches[name]:>8,} {bounded_ms:>7.2f} ms {unbounded_ms:>7.2f} ms")


if __name__ == "__main__":
    main()
