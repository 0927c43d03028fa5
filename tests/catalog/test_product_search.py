"""Search: the vector is a generated column (current after every save, no batch job); a
search corrects typos word by word, ranks an exact SKU then an exact name first, and reads
phrases, exclusions and "or"."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection, transaction
from psycopg.types.numeric import Int2, Int4

from backend.catalog import selectors
from backend.catalog.models import SEARCH_TIER_BLOCK, SEARCH_TIERS, Product, SearchWord
from tests.factories import product_create

pytestmark = pytest.mark.django_db


def found(word: str) -> set[int]:
    query = SearchQuery(word, config="english")
    return set(Product.objects.filter(search_vector=query).values_list("id", flat=True))


def test_a_new_product_is_found_by_a_word_of_its_name() -> None:
    product = product_create(name="Velvet armchair")
    assert found("velvet") == {product.pk}
    # English stemming: the plural finds the singular.
    assert found("armchairs") == {product.pk}


def test_a_renamed_product_is_found_by_the_new_word_and_not_the_old() -> None:
    product = product_create(name="Velvet armchair")
    product.name = "Leather armchair"
    product.save()
    assert found("leather") == {product.pk}
    assert found("velvet") == set()


def test_description_and_sku_are_searchable() -> None:
    product = product_create(name="Lamp", description="Handmade brass base", sku="LMP-777")
    assert found("brass") == {product.pk}
    assert Product.objects.filter(search_vector=SearchQuery("LMP-777", config="simple")).exists()


def searched(text: str) -> list[str]:
    """Names of the first page of a search, most relevant first."""
    products = selectors.product_list(viewer=None, search=text)
    return list(
        products.order_by(*selectors.MOST_RELEVANT_FIRST.order_by).values_list("name", flat=True)[
            :20
        ]
    )


def test_a_one_word_typo_finds_the_product() -> None:
    product_create(name="Portable speaker")
    product_create(name="Noise-cancelling headphones")
    product_create(name="Wired studio headphones")
    assert searched("speker") == ["Portable speaker"]
    assert set(searched("headphnes")) == {"Noise-cancelling headphones", "Wired studio headphones"}


def test_an_exact_sku_ranks_its_product_first() -> None:
    lamp = product_create(name="Desk lamp", sku="LAMP-100")
    # Its SKU in another product's name, which weighs as much, twice.
    product_create(name="Shade for LAMP-100 lamps, LAMP-100 ready", sku="SHD-1")
    assert searched("LAMP-100")[0] == lamp.name
    assert searched("lamp-100")[0] == lamp.name


def test_an_exact_name_ranks_before_longer_names() -> None:
    product_create(name="Speaker stand for portable speaker")
    product_create(name="Portable speaker")
    assert searched("portable speaker") == [
        "Portable speaker",
        "Speaker stand for portable speaker",
    ]


def test_words_as_typed_rank_before_corrections() -> None:
    product_create(name="Oven mitt")
    product_create(name="Basket", description="Hand woven.")
    # "woven" is in no name: corrected to "oven" too, whose match in a name weighs more than
    # the description's, but the word as typed ranks first.
    assert searched("woven") == ["Basket", "Oven mitt"]


def test_equal_ranks_are_in_descending_id_order() -> None:
    first = product_create(name="Wool scarf")
    second = product_create(name="Wool scarf")
    ids = list(
        selectors.product_list(viewer=None, search="wool scarf")
        .order_by(*selectors.MOST_RELEVANT_FIRST.order_by)
        .values_list("pk", flat=True)
    )
    assert ids == [second.pk, first.pk]


def test_phrases_exclusions_and_or() -> None:
    product_create(name="Wired studio headphones")
    product_create(name="Studio monitor, wired")
    product_create(name="Noise-cancelling headphones")
    assert searched('"wired studio"') == ["Wired studio headphones"]
    assert set(searched("headphones -wired")) == {"Noise-cancelling headphones"}
    assert set(searched("monitor or noise")) == {
        "Studio monitor, wired",
        "Noise-cancelling headphones",
    }


def test_the_vocabulary_follows_inserts_renames_and_bulk_loads() -> None:
    product = product_create(name="Velvet armchair", sku="VLV-1")
    assert searched("velvt armchair") == ["Velvet armchair"]
    product.name = "Corduroy armchair"
    product.save()
    assert searched("cordroy") == ["Corduroy armchair"]
    Product.objects.bulk_create(
        [Product(name="Mahogany bookcase", slug="m", sku="M-1", category=product.category, price=1)]
    )
    assert searched("mahogny") == ["Mahogany bookcase"]
    words = {"velvet", "corduroy", "mahogany", "vlv"}
    assert set(SearchWord.objects.filter(word__in=words).values_list("word", flat=True)) == words


def test_a_search_ranks_a_bounded_set_of_matches_and_the_exact_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(5):
        product_create(name=f"Lamp {n}", sku=f"LMP-{n}")
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 2)
    assert len(searched("lamp")) == 2
    # The last ones inserted, beyond the first two matches, exactly: still found, first.
    assert searched("LMP-4")[0] == "Lamp 4"
    assert searched("lamp 3")[0] == "Lamp 3"


def _an_id_in_tier(tier: int) -> int:
    """The first id of a block whose number is an odd multiple of 8**tier: in that tier."""
    return 8**tier * (8 * 10**6 + 1) * SEARCH_TIER_BLOCK


def test_a_frequent_terms_candidates_are_read_from_the_smallest_tier_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    category = product_create().category
    for tier in SEARCH_TIERS:
        product_create(id=_an_id_in_tier(tier), name=f"Lamp {tier}", category=category)
    assert dict(
        Product.objects.filter(name__startswith="Lamp ").values_list("name", "search_tier")
    ) == {f"Lamp {tier}": tier for tier in SEARCH_TIERS}
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 2)
    assert sorted(searched("lamp")) == ["Lamp 2", "Lamp 3"]
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 3)
    assert sorted(searched("lamp")) == ["Lamp 1", "Lamp 2", "Lamp 3"]


_SQL_TYPES = {
    str: "text",
    bool: "boolean",
    int: "bigint",
    Int2: "smallint",
    Int4: "integer",
    float: "double precision",
}


def test_every_tier_of_a_search_reads_its_own_index_even_in_a_generic_plan() -> None:
    """Each tier's part of the statement can use that tier's partial index, also in the
    generic plan PostgreSQL may switch a prepared statement to (where a parameter's value is
    unknown, so a tier given as a parameter could not prove its index usable)."""
    products = selectors.product_list(viewer=None, search="lamp")
    sql, params = products.query.sql_with_params()
    numbered = iter(range(1, len(params) + 1))
    prepared = re.sub("%s", lambda _: f"${next(numbered)}", sql.replace("%%", "%"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        types = ", ".join(_SQL_TYPES[type(value)] for value in params)
        cursor.execute(f"PREPARE tiered ({types}) AS {prepared}")
        try:
            # Values inlined: this statement is EXPLAIN itself, not the prepared one.
            cursor.execute(
                "EXPLAIN EXECUTE tiered("
                + ", ".join(connection.ops.compose_sql("%s", [value]) for value in params)
                + ")"
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE tiered")
    assert all(f"catalog_product_search_t{tier}_idx" in plan for tier in SEARCH_TIERS), plan


def test_a_search_in_a_category_that_does_not_exist_finds_nothing_without_a_search_statement(
    django_assert_num_queries: Callable[..., Any],
) -> None:
    product_create(name="Lamp")
    with django_assert_num_queries(1):  # the subtree's ids only
        products = selectors.product_list(viewer=None, search="lamp", in_category_id=0)
        assert list(products.order_by(*selectors.MOST_RELEVANT_FIRST.order_by)) == []


def test_or_alone_or_at_the_start_is_a_word() -> None:
    product_create(name="Gold nugget")
    assert searched("or") == []  # an English stop word: accepted, it matches nothing
    assert searched("or nugget") == ["Gold nugget"]
    assert searched("nugget or") == ["Gold nugget"]


def test_a_misspelt_word_is_corrected_once_per_statement() -> None:
    """Correcting a word searches the whole vocabulary's trigrams: a statement computes the
    corrected query once, in a materialized common table expression that the candidates'
    tiers, the rank and the highlights all read, however many of them it holds."""
    products = selectors.product_list(viewer=None, search="lampz")
    highlighted = selectors.product_highlights(products, search="lampz")
    for queryset in (products, highlighted, highlighted.order_by("-search_rank")[:3]):
        sql, _ = queryset.query.sql_with_params()
        assert sql.startswith("WITH corrected AS MATERIALIZED (SELECT")
        assert sql.count("catalog_search_word(") == 1
    product_create(name="Desk lamp")
    [row] = highlighted
    assert selectors.highlighted_html(row.highlight_name) == "Desk <mark>lamp</mark>"
    assert highlighted.count() == 1


@pytest.mark.parametrize(
    ("word", "as_prefix", "corrected"),
    [
        ("lamp", False, "'lamp'"),
        ("lam", True, "'lam':*"),  # starts a word: read as typed
        ("lampz", True, "'lampz':* | 'lamp'"),  # starts none: corrected
        ("lampz", False, "'lampz' | 'lamp'"),
        ("zzzzzz", True, "'zzzzzz':*"),  # after every word in byte order, near none
        ("aaaa", True, "'aaaa':*"),  # before every word
    ],
)
def test_a_word_is_corrected_only_when_no_vocabulary_word_is_it_or_starts_with_it(
    word: str, as_prefix: bool, corrected: str
) -> None:
    product_create(name="Desk lamp", sku="100")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT catalog_search_word(%s, %s, %s, %s::real)::text",
            [word, as_prefix, selectors.TYPO_CANDIDATES, selectors.TYPO_SIMILARITY],
        )
        assert cursor.fetchone()[0] == corrected
