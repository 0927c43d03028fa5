"""Suggestions complete what a shopper types: visible names starting with it, in order, from
one statement on the name prefix index; then, while places are left, names in which a later
word starts with it, from a second statement bounded as a search's candidates are."""

import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import QuerySet
from django.db.models.functions import Collate, Lower
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.catalog import selectors
from backend.core.postgres import compiler
from tests.factories import product_create, user_create

pytestmark = pytest.mark.django_db


def suggest(prefix: str, first: int = 5, viewer: Any = None) -> list[str]:
    return selectors.product_suggest(viewer=viewer, prefix=prefix, first=first)


def test_names_starting_with_the_prefix_in_order_ignoring_case() -> None:
    for name in ["Lamp shade", "lamp", "Lampe", "Desk lamp", "LAMINATOR", "Lantern"]:
        product_create(name=name)
    assert suggest("lam", first=4) == ["LAMINATOR", "lamp", "Lamp shade", "Lampe"]
    assert suggest("LAMP", first=3) == ["lamp", "Lamp shade", "Lampe"]
    assert suggest("lamp ") == ["Lamp shade"]  # a space typed is part of the prefix
    assert suggest("  lan") == ["Lantern"]  # leading spaces are not


def test_then_names_in_which_a_later_word_starts_with_the_prefix() -> None:
    for name in ["Kettle", "Soylent Copper Kettle", "Brass kettles", "Nettle tea", "Ket-pot",
                 "Big KETCHUP", "Pocket knife"]:  # fmt: skip
        product_create(name=name)
    product_create(name="Steel pan", description="Not a kettle.")
    assert suggest("kett") == ["Kettle", "Brass kettles", "Soylent Copper Kettle"]
    assert suggest("ket") == ["Ket-pot", "Kettle", "Big KETCHUP", "Brass kettles",
                              "Soylent Copper Kettle"]  # fmt: skip
    assert suggest("ket", first=2) == ["Ket-pot", "Kettle"]
    assert suggest("copper ket") == ["Soylent Copper Kettle"]  # across words
    assert suggest("pot") == ["Ket-pot"]  # after a hyphen: a word starts there
    assert suggest("ettle") == []  # inside a word: "Kettle" and "Nettle" are not suggested
    assert suggest("ke") == ["Ket-pot", "Kettle"]  # under three letters: names' starts only


def test_a_later_words_completions_come_from_a_searchs_candidates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(6):
        product_create(name=f"Brand{i} kettle")
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 3)
    monkeypatch.setattr(selectors, "_word_start_statements", {})  # built with the new bound
    assert len(suggest("kettle", first=10)) == 3


def test_at_most_first_names_each_once() -> None:
    for name in ["Mug", "Mug", "mug", "Mug rack", "Mugwort", "Mule"]:
        product_create(name=name)
    names = suggest("mu", first=3)
    assert len(names) == 3
    assert [name.lower() for name in names] == ["mug", "mug rack", "mugwort"]
    assert suggest("mu", first=1)[0].lower() == "mug"


def test_only_products_the_viewer_may_see() -> None:
    product_create(name="Prototype lamp", is_published=False)
    product_create(name="Pro lamp")
    product_create(name="Unreleased prototype", is_published=False)
    assert suggest("pro") == ["Pro lamp"]
    staff = user_create(is_staff=True)
    assert suggest("pro", viewer=staff) == ["Pro lamp", "Prototype lamp", "Unreleased prototype"]


def test_like_wildcards_in_the_prefix_match_themselves() -> None:
    product_create(name="50% off lamp")
    product_create(name="500 watt lamp")
    product_create(name="a_b lamp")
    product_create(name="axb lamp")
    assert suggest("50%") == ["50% off lamp"]
    assert suggest("a_") == ["a_b lamp"]


def test_a_blank_prefix_suggests_nothing_without_a_statement(count_queries: Any) -> None:
    product_create(name="Lamp")
    with count_queries() as queries:
        assert suggest("") == []
        assert suggest("   ") == []
    assert queries.count == 0


def test_one_statement_when_the_names_starting_with_the_prefix_fill_the_places(
    count_queries: Any,
) -> None:
    for i in range(30):
        product_create(name=f"Lamp {i:02d}")
    product_create(name="Desk lamp")
    with count_queries() as queries:
        assert suggest("lamp", first=10) == [f"Lamp {i:02d}" for i in range(10)]
        assert suggest("de") == ["Desk lamp"]  # places left, but too short for a later word
    assert queries.count == 1 + 1
    with count_queries() as queries:
        assert suggest("lamp 29") == ["Lamp 29"]  # places left: a second statement
    assert queries.count == 2


def test_a_later_words_completions_read_the_search_tiers(count_queries: Any) -> None:
    """The second statement reads a search's candidates tier by tier, through the tiers'
    indexes, at most SEARCH_CANDIDATES of them, whatever the number of matches."""
    for i in range(50):
        product_create(name=f"Brand{i} kettle")
    with count_queries() as queries:
        suggest("kettle")
    _, statement = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "catalog_product_search_t" in plan
    assert f"LIMIT {selectors.SEARCH_CANDIDATES}" in statement["sql"]


def prepared_word_start_runs() -> int:
    """How many times this connection has run a later-word statement prepared."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["SELECT DISTINCT ON%search_tier = 3%"],
        )
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("fast_paths", [True, False], ids=["fast paths on", "off"])
def test_a_later_words_statement_is_prepared_only_with_the_fast_paths(
    fast_paths: bool, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its tiers are literals, so its generic plan is as good as its custom ones (decision
    0029): psycopg prepares it from its fifth run, as a search page's statement, and the
    answers do not change. (Prepared statements outlive a test's transaction on the
    connection, hence the count of prepared runs rather than of statements.)"""
    request.getfixturevalue("settings").NEXUS_FAST_PATHS = fast_paths  # pytest-django's
    monkeypatch.setattr(compiler, "preparable_statements", set())  # none from earlier tests
    for name in ["Soylent Copper Kettle", "Brass kettles"]:
        product_create(name=name)
    before = prepared_word_start_runs()
    answers = [suggest("kett") for _ in range(7)]
    assert answers == [["Brass kettles", "Soylent Copper Kettle"]] * 7
    prepared_runs = prepared_word_start_runs() - before
    assert prepared_runs >= 2 if fast_paths else prepared_runs == 0


@pytest.mark.parametrize(
    ("prefix", "first", "field"),
    [("x" * (selectors.SUGGEST_PREFIX_MAX_LENGTH + 1), 5, "prefix"), ("la", 0, "first"),
     ("la", selectors.SUGGEST_MAX + 1, "first")],
)  # fmt: skip
def test_a_long_prefix_or_a_count_out_of_range_is_refused(
    prefix: str, first: int, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        suggest(prefix, first=first)
    assert list(refused.value.message_dict) == [field]


def test_the_longest_prefix_and_the_most_names_are_accepted() -> None:
    product_create(name="x" * selectors.SUGGEST_PREFIX_MAX_LENGTH)
    assert len(suggest("x" * selectors.SUGGEST_PREFIX_MAX_LENGTH)) == 1
    assert suggest("x", first=selectors.SUGGEST_MAX)


def test_the_statement_reads_the_name_prefix_index_in_order(count_queries: Any) -> None:
    """The prefix bounds a range scan of the index that also yields the order: no sort, so the
    scan stops after a few names however many match (measured at a million products:
    docs/decisions/0027-search-facets-highlights-suggest.md)."""
    for i in range(50):
        product_create(name=f"Lamp {i}")
    with count_queries() as queries:
        suggest("lamp")
    [statement] = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
        # 50 rows fit one page: only without sequential and bitmap scans does PostgreSQL show
        # the plan it picks for a large table.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + statement["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using catalog_prod_name_prefix_idx" in plan
    assert "Index Cond" in plan
    assert "Sort" not in plan


def reference_suggestions(viewer: Any, prefix: str, first: int) -> QuerySet[Any]:
    """What a suggestion is, in the ORM's words: the visible names starting with ``prefix``
    ignoring case, one per lower-case form, in its order."""
    return (
        selectors.products_visible_to(viewer)
        .annotate(suggest_key=Collate(Lower("name"), "C"))
        .filter(suggest_key__startswith=prefix.lower())
        .order_by("suggest_key")
        .distinct("suggest_key")
        .values_list("suggest_key", "name")
    )[:first]


@pytest.fixture
def tricky_names() -> None:
    for name in ["50% off", "5_0 off", "a\\b", "A\\B lamp", "Ölkanne", "ölkanne", "x", "X-ray",
                 "Lamp", "lamp", "LAMPE", "ß-set", "Ärmel", "_under", "%pct", "Learn c++ fast",
                 "A big (x) box", "a.b test", "Tee-kanne", "Old lamp", "Das Öl"]:  # fmt: skip
        product_create(name=name)
    product_create(name="Lampion", is_published=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=6,
    )
    | st.sampled_from(
        [
            "5",
            "50%",
            "5_",
            "a\\",
            "%",
            "_",
            "öl",
            "LA",
            "lamp",
            "x",
            "off",
            "kanne",
            "lamp ",
            "rmel",
            "c++",
            "a.b",
            "(x",
            "x)",
            "[a",
            "a|b",
            "\\m",
            "^a",
            "a$",
            "{2}",
            "ray",
            "-ray",
            "set",
            "learn c",
            "big (x",
        ]
    ),
    first=st.integers(min_value=1, max_value=selectors.SUGGEST_MAX),
    staff=st.booleans(),
)
def test_the_statement_built_once_is_the_one_the_orm_builds_for_every_prefix(
    tricky_names: None, prefix: str, first: int, staff: bool
) -> None:
    """The statement kept per viewer kind and count, with the prefix's pattern as its one
    parameter, is the statement and parameter Django compiles for the suggestion's queryset,
    and answers the same, whatever the prefix (LIKE's wildcards and escape, other scripts)."""
    viewer = user_create(is_staff=True) if staff else None
    reference = reference_suggestions(viewer, prefix.lstrip(), first)
    sql, params = reference.query.get_compiler(DEFAULT_DB_ALIAS).as_sql()
    kept = selectors.suggest_statement(viewer, database=DEFAULT_DB_ALIAS, first=first)
    assert kept == sql
    assert (selectors.suggest_pattern(prefix.lstrip(), database=DEFAULT_DB_ALIAS),) == params
    starting = [name for _, name in reference] if prefix.strip() else []
    answer = selectors.product_suggest(viewer=viewer, prefix=prefix, first=first)
    assert answer[: len(starting)] == starting
    later = [name.lower() for name in answer[len(starting) :]]
    assert later == sorted(set(later))  # in order, each once
    assert not {name.lower() for name in starting} & set(later)
    word_start = re.compile(r"(?<!\w)" + re.escape(prefix.lstrip().lower()))
    visible = {
        name.lower()
        for name in selectors.products_visible_to(viewer).values_list("name", flat=True)
    }
    for name in later:
        assert name in visible
        assert word_start.search(name), name
    # The second statement, kept per shape with placeholders, answers what the ORM's statement
    # for the prefix's own words and pattern answers.
    words = selectors._WORD.findall(prefix.lower())[: selectors.SEARCH_MAX_WORDS]
    if sum(map(len, words)) >= selectors.SUGGEST_WORD_MIN_LENGTH:
        typing = selectors._WORD.fullmatch(prefix[-1]) is not None
        pattern = selectors.word_start_pattern(prefix.lstrip().lower())
        reference_later = selectors.word_start_queryset(viewer, words, typing, pattern)
        assert selectors._word_start_names(viewer, prefix.lstrip()) == list(reference_later)
    if later or len(starting) < first:
        assert len(answer) <= first
