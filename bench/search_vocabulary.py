"""Typo searches against a large vocabulary: PostgreSQL's execution time of a search page's
statement, plain and highlighted, and of its facets statement, for misspelt, correct and rare
terms.

    DATABASE_URL=... .venv/bin/python bench/search_vocabulary.py [--words 300000] [--rounds 5]

The seed catalog's vocabulary (``catalog_searchword``, the words of names and SKUs) holds about
a hundred words; a real catalog's holds hundreds of thousands, and correcting a misspelt word
searches all their trigrams. So the bench first adds ``--words`` random lower-case words of 4
to 12 letters (a fixed random seed; kept when they are already there, so runs compare alike),
then times each statement as the selectors send it under ``EXPLAIN (ANALYZE)``, all of them
interleaved in every round after one warm-up run, and prints the medians. The words it added
have no product: ``catalog.search_words_prune`` deletes them. Run against a seeded catalog
(``manage.py seed --products 1000000``).

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import random
import statistics
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script

# Sets Django up, as a bench of the same statements' execution times.
from bench.search_features import execution_ms, statement, visible  # noqa: I001
from django.db import connection

from backend.catalog import selectors
from backend.catalog.models import SearchWord

SEARCHES = ("headphnes", "speker", "wireless speker", "portable spek", "wireless", "theremin")
WORDS_SEED = 20


def vocabulary_grow(words: int) -> int:
    """Add ``words`` random words to the vocabulary (fewer where they exist); its size."""
    generator = random.Random(WORDS_SEED)
    added = {
        "".join(generator.choice(string.ascii_lowercase) for _ in range(generator.randint(4, 12)))
        for _ in range(words)
    }
    SearchWord.objects.bulk_create(
        (SearchWord(word=word) for word in sorted(added)), batch_size=10_000, ignore_conflicts=True
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_searchword")
    return SearchWord.objects.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    print(f"{vocabulary_grow(arguments.words):,} words in the vocabulary")
    statements: dict[str, str] = {}
    for search in SEARCHES:
        products = visible(search=search)
        page = products.order_by(*selectors.MOST_RELEVANT_FIRST.order_by)[:21]
        statements[f'page "{search}"'] = statement(lambda page=page: list(page))
        highlighted = selectors.product_highlights(products, search=search).order_by(
            *selectors.MOST_RELEVANT_FIRST.order_by
        )[:21]
        statements[f'  page "{search}", highlighted'] = statement(
            lambda highlighted=highlighted: list(highlighted)
        )
        statements[f'  facets "{search}"'] = statement(
            lambda products=products: selectors.product_facets(products=products)
        )
    for sql in statements.values():
        execution_ms(sql)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(arguments.rounds):
        for name, sql in statements.items():
            times[name].append(execution_ms(sql))
    for name, measured in times.items():
        print(f"{name:40} {statistics.median(measured):8.2f} ms")


if __name__ == "__main__":
    main()
