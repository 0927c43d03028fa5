"""Catalog reads: what a viewer may list of the catalog, filtered and ordered.

GraphQL and REST call these (and ``policies.py`` for what a viewer may see), so
a filter, a default order or a search ranking means the same on every transport
(docs/decisions/0019-one-read-semantics.md).
"""

import html
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import accumulate
from typing import Any

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
)
from django.core.exceptions import EmptyResultSet, PermissionDenied, ValidationError
from django.db import connections, router
from django.db.models import (
    Count,
    F,
    FloatField,
    Func,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.expressions import Col, RawSQL
from django.db.models.functions import Collate, Lower
from django.db.models.lookups import Lookup
from django.db.models.sql.where import AND, WhereNode

from backend.accounts.policies import ViewerType
from backend.catalog.models import SEARCH_TIERS, Category, Product, ProductFacetCount
from backend.catalog.policies import unpublished_visible_to
from backend.core.postgres.compiler import (
    RowsBeside,
    preparable,
    preparable_around,
    preparable_text,
    read_beside,
    with_common_table,
)
from backend.core.rows import row_builder

# --- Categories -----------------------------------------------------------------------------

# How a level of the tree reads (GraphQL's order, REST's ``ordering=position``).
CATEGORY_SIBLING_ORDER = ("position", "name", "id")
# The whole tree, parents before their children (REST's default); ``path`` is unique.
CATEGORY_TREE_ORDER = ("path",)


def category_list(
    *, top_level_only: bool = False, parent_id: int | None = None
) -> QuerySet[Category]:
    """Categories, optionally only the top level or only one category's children."""
    categories = Category.objects.all()
    if top_level_only:
        categories = categories.filter(parent__isnull=True)
    if parent_id is not None:
        categories = categories.filter(parent_id=parent_id)
    return categories


def categories_by_id(*, ids: Iterable[int]) -> dict[int, Category]:
    """The existing categories among ``ids``, by id: one primary-key statement. With
    ``Category.ancestor_ids`` (root first, read from the path) these are the breadcrumbs of
    every category of a page at once."""
    return Category.objects.in_bulk(list(ids))


def category_subtree_ids(*, category_id: int) -> list[int]:
    """The ids of the category and all its descendants (none if it does not exist): one
    statement on the path index."""
    path = Category.objects.filter(pk=category_id).values("path")[:1]
    return list(
        Category.objects.filter(path__startswith=Subquery(path)).values_list("id", flat=True)
    )


# Each category's subtree (its path a prefix of theirs, itself included) and the facet counts
# of the subtree's categories, summed: as many rows as the subtrees hold categories and count
# keys, whatever the number of products. The paths hold digits and slashes only, so a path is
# a LIKE pattern as it is.
_CATEGORY_PRODUCT_COUNTS = """
SELECT category.id, coalesce(sum(counts.products), 0)
FROM {categories} AS category
JOIN {categories} AS member ON member.path LIKE category.path || '%%'
LEFT JOIN {counts} AS counts ON counts.category_id = member.id {visible}
WHERE category.id = ANY(%s)
GROUP BY category.id
"""


def category_product_counts(*, category_ids: list[int], viewer: ViewerType) -> dict[int, int]:
    """Products ``viewer`` may see in each category's whole subtree, for many categories in
    ONE statement, summed from the facet counts (``ProductFacetCount``) of the subtree's
    categories; categories absent from the database are absent from the result."""
    database = router.db_for_read(Category)
    quote_name = connections[database].ops.quote_name
    sql = _CATEGORY_PRODUCT_COUNTS.format(
        categories=quote_name(Category._meta.db_table),
        counts=_quoted_counts_table(database),
        visible="" if unpublished_visible_to(viewer) else "AND counts.is_published",
    )
    with connections[database].cursor() as cursor:
        cursor.execute(sql, [list(category_ids)])
        return dict(cursor.fetchall())


def category_children_counts(*, parent_ids: list[int]) -> dict[int, int]:
    """How many direct subcategories each parent has: one GROUP BY statement."""
    return dict(
        Category.objects.filter(parent_id__in=parent_ids)
        .order_by()
        .values("parent_id")
        .annotate(n=Count("id"))
        .values_list("parent_id", "n")
    )


# --- Products: visibility and filters -------------------------------------------------------

PRICE_BOUND_LIMIT = Decimal(10) ** 10  # Product.price is numeric(12, 2)


def products_visible_to(
    viewer: ViewerType, products: QuerySet[Product] | None = None
) -> QuerySet[Product]:
    """The products (all of them by default) ``viewer`` may see: unpublished ones exist only
    for staff (``policies.unpublished_visible_to``). The one visibility rule of product lists,
    product pages, ``node`` and category counts."""
    products = Product.objects.all() if products is None else products
    return products if unpublished_visible_to(viewer) else products.filter(is_published=True)


def product_list(
    *,
    viewer: ViewerType,
    category_id: int | None = None,
    in_category_id: int | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    in_stock: bool | None = None,
    published: bool | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    search: str | None = None,
) -> QuerySet[Product]:
    """Products matching every given filter, unordered (the caller orders with
    ``product_ordering`` and paginates, and applies ``products_visible_to``: GraphQL does it
    through the type, for ``node`` too).

    ``category_id`` is exactly that category; ``in_category_id`` that category and all its
    subcategories, which is what a category filter means unless it says "exactly".
    ``published`` is a staff-only filter: anyone else gets ``PermissionDenied`` (it would tell
    them which products are unpublished).

    The products are ONE statement whatever the filters (search included). With
    ``in_category_id`` the subtree's category ids are read first, by one more statement
    (``category_subtree_ids``), so PostgreSQL plans the products with them as constants and its
    row estimate follows the subtree's size: a department holding most of the catalog walks the
    price index and stops at the page, a leaf reads its own rows. A path test inside the same
    statement is estimated as one category whatever the subtree, and the largest department's
    page then sorted every match (docs/performance.md). With ``search`` (read by
    ``product_search``) the list is its matches, typos corrected, among at most
    ``SEARCH_CANDIDATES`` of them plus the exact SKU and name matches, and the rows carry
    ``search_rank``: an exact SKU match ranks first, then an exact name (ignoring case), then
    the matches of the words as typed, then those through a correction, each by ``ts_rank``
    (name and SKU weigh more than the description). Raises ``ValidationError`` for an
    unusable search or an inverted range.
    """
    if published is not None and not unpublished_visible_to(viewer):
        raise PermissionDenied("Only staff can filter products by published state.")
    products = Product.objects.all()
    if published is not None:
        products = products.filter(is_published=published)
    if category_id is not None:
        products = products.filter(category_id=category_id)
    if in_category_id is not None:
        products = products.filter(category_id__in=category_subtree_ids(category_id=in_category_id))
    for bound in (price_min, price_max):
        # A bound PostgreSQL's numeric(12, 2) column cannot compare against is a client error.
        if bound is not None and (not bound.is_finite() or abs(bound) >= PRICE_BOUND_LIMIT):
            raise ValidationError(
                f"Price bounds must be numbers below {PRICE_BOUND_LIMIT:,}.", code="price_bound"
            )
    for low, high, field in (
        (price_min, price_max, "price"),
        (created_after, created_before, "created_at"),
        (updated_after, updated_before, "updated_at"),
    ):
        if low is not None and high is not None and low > high:
            raise ValidationError(f"The {field} range is empty (minimum above maximum).")
        if low is not None:
            products = products.filter(**{f"{field}__gte": low})
        if high is not None:
            products = products.filter(**{f"{field}__lte": high})
    if in_stock is not None:
        products = (
            products.filter(stock_quantity__gt=0) if in_stock else products.filter(stock_quantity=0)
        )
    if (text := search_text(search)) is not None:
        products = _product_search(products, search=product_search(text=text))
    return products


def search_text(search: str | None) -> str | None:
    """The text of a search, or None for no search: absent, or empty or only whitespace (a
    storefront's empty search box) within ``SEARCH_MAX_LENGTH``, over which any text is
    ``product_search``'s to refuse. ``product_list`` and ``product_ordering`` both read a
    search through it, so a blank one neither filters nor orders by relevance."""
    if search is None or (not search.strip() and len(search) <= SEARCH_MAX_LENGTH):
        return None
    return search


# --- Products: search -----------------------------------------------------------------------

SEARCH_MAX_LENGTH = 200
SEARCH_MAX_WORDS = 8  # the parts starting after this many words are ignored
# The matches a search ranks: at most this many, read tier by tier (Product.search_tier), plus
# the exact SKU and name matches. A term matching more products is ranked among these only:
# the price of a first page that grows neither with the matches nor with how frequent the words
# are (docs/decisions/0028-search-relevance.md, 0029-search-tiers.md). Once reading is bounded,
# ranking the candidates is most of a frequent term's cost.
SEARCH_CANDIDATES = 300
# What a search text means, for the transports to document their search parameter with.
SEARCH_SYNTAX = (
    'every word must match, "quoted phrases" as adjacent words, `-word` excludes, `or` joins '
    "alternatives; the last word is a prefix; a misspelt word also matches the catalog's most "
    "similar words. An exact SKU, then an exact name, ranks first. A search matching more than "
    f"{SEARCH_CANDIDATES} products ranks {SEARCH_CANDIDATES} of them and the exact matches: the "
    f"list, its count and its facets hold those. At most {SEARCH_MAX_LENGTH} characters; blank "
    "text is no search."
)
# Typo correction (catalog_search_word, migration 0004): a query word of at least
# TYPO_MIN_LENGTH letters that no product name or SKU has is OR'd with its TYPO_CANDIDATES
# most similar vocabulary words, those of trigram similarity TYPO_SIMILARITY or more.
TYPO_MIN_LENGTH = 4
TYPO_CANDIDATES = 3
TYPO_SIMILARITY = 0.35
# A search's rank: these bonuses over ts_rank (normalised to [0, 1)), so an exact SKU comes
# first, then an exact name, then matches of the words as typed, then matches through a
# typo's correction; ts_rank orders within each.
_EXACT_SKU, _EXACT_NAME, _AS_TYPED = 4.0, 2.0, 1.0
_WORD = re.compile(r"\w+", re.UNICODE)
# A quoted phrase (the closing quote may be missing) or a run of anything else but spaces.
_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True, slots=True)
class _SearchClause:
    """One part of a search: a ``word`` (``\\w+`` only, lower-case), or ``words`` that must
    be adjacent (a quoted phrase, or a token such as a SKU's ``AUD-HP-001``)."""

    text: str
    is_word: bool
    excluded: bool = False
    prefix: bool = False  # the last word, which the shopper may still be typing


@dataclass(frozen=True, slots=True)
class ProductSearch:
    """A shopper's search text read as ``websearch_to_tsquery`` does: words must all match,
    ``"quoted phrases"`` match as adjacent words, ``-word`` and ``-"phrase"`` exclude, ``or``
    between two parts matches either side. The last word is a prefix. Build one with
    ``product_search``."""

    text: str  # the text as given, without surrounding spaces and quotes
    alternatives: tuple[tuple[_SearchClause, ...], ...]  # OR of ANDs

    @property
    def exact_params(self) -> tuple[str, str, str]:
        """What an exact match compares: the SKU as typed and in capitals, the name in lower
        case (the name prefix index's key)."""
        return (self.text, self.text.upper(), self.text.lower())

    def query(self, *, corrected: bool) -> SearchQuery:
        """The tsquery, ``corrected`` or not: corrected, each word that no product name or
        SKU has also matches its most similar words (``catalog_search_word``). Computed once
        per statement (an InitPlan), however many rows it is tested against."""
        params: list[object] = []

        def clause_sql(clause: _SearchClause) -> str:
            if not clause.is_word:
                params.append(clause.text)
                sql = "phraseto_tsquery('english', %s)"
            elif (
                corrected
                and not clause.excluded
                and len(clause.text) >= TYPO_MIN_LENGTH
                and not any(character.isdigit() for character in clause.text)
            ):
                params.extend([clause.text, clause.prefix])
                sql = f"catalog_search_word(%s, %s, {TYPO_CANDIDATES}, {TYPO_SIMILARITY}::real)"
            else:
                params.append(_tsquery_word(clause.text, prefix=clause.prefix))
                sql = "to_tsquery('english', %s)"
            return f"!!{sql}" if clause.excluded else sql

        sql = " || ".join(
            "(" + " && ".join(clause_sql(clause) for clause in alternative) + ")"
            for alternative in self.alternatives
        )
        return _SqlSearchQuery(f"(SELECT {sql})", tuple(params))


def _tsquery_word(word: str, *, prefix: bool) -> str:
    """A word (``\\w+``, so no quote) as one tsquery term, matching the words it starts if
    ``prefix``."""
    return f"'{word}'{':*' if prefix else ''}"


class _SqlSearchQuery(SearchQuery):
    """A tsquery written as SQL, for ``search_vector=``, ``SearchRank`` and ``SearchHeadline``
    (which accept a ``SearchQuery`` only)."""

    def __init__(self, sql: str, params: tuple[object, ...]) -> None:
        super().__init__(Value(sql), search_type="raw")
        self.sql, self.params = sql, params

    def as_sql(
        self,
        compiler: object,
        connection: object,
        function: str | None = None,
        template: str | None = None,
    ) -> tuple[str, list[object]]:
        return self.sql, list(self.params)


def product_search(*, text: str) -> ProductSearch:
    """``text`` read as a search (``ProductSearch``); ``ValidationError`` when it is over
    ``SEARCH_MAX_LENGTH`` characters or has no letter or digit."""
    if len(text) > SEARCH_MAX_LENGTH:
        raise ValidationError(
            f"Search text is limited to {SEARCH_MAX_LENGTH} characters.", code="search_too_long"
        )
    alternatives: list[list[_SearchClause]] = [[]]
    words = 0
    for match in _SEARCH_TOKEN.finditer(text.lower()):
        minus, phrase, token = match.groups()
        if token == "or" and alternatives[-1]:  # with nothing before it, "or" is a word
            alternatives.append([])
            continue
        excluded = bool(minus) or (token is not None and token.startswith("-"))
        # Punctuation around a token is not part of it ("speaker," "(wireless)").
        content = phrase if token is None else re.sub(r"^\W+|\W+$", "", token)
        parts = _WORD.findall(content)
        if not parts or words >= SEARCH_MAX_WORDS:
            continue
        words += len(parts)
        is_word = token is not None and len(parts) == 1 and parts[0] == content
        alternatives[-1].append(_SearchClause(content, is_word=is_word, excluded=excluded))
    alternatives = [alternative for alternative in alternatives if alternative]
    if not alternatives:
        raise ValidationError(
            "Search text must contain at least one letter or digit.", code="search_empty"
        )
    # A part that only excludes would match most of the catalog: its minus signs are read as
    # part of the words ("-café-" finds café).
    alternatives = [
        alternative
        if not all(clause.excluded for clause in alternative)
        else [_SearchClause(clause.text, is_word=clause.is_word) for clause in alternative]
        for alternative in alternatives
    ]
    last = alternatives[-1][-1]
    if last.is_word and not last.excluded:
        alternatives[-1][-1] = _SearchClause(last.text, is_word=True, prefix=True)
    return ProductSearch(
        text=text.strip().strip('"').strip(),
        alternatives=tuple(tuple(alternative) for alternative in alternatives),
    )


def _exact_match_sql(*, sku: str, name: str) -> tuple[str, str]:
    """What an exact SKU match and an exact name match test, given the SQL of the two columns;
    their parameters are ``ProductSearch.exact_params``. The name is compared as the name
    prefix index holds it (``_SUGGEST_KEY``), so the candidates' lookup can use that index."""
    return f"{sku} IN (%s, %s)", f'lower({name}) COLLATE "C" = %s'


# The exact matches, wherever they are: by the SKU's btree and the name prefix index.
_EXACT_SQL = 'SELECT "id" FROM "catalog_product" WHERE {} OR {}'.format(
    *_exact_match_sql(sku='"sku"', name='"name"')
)


# A search's corrected query, as its statement's parts read it (the candidates' tiers, the
# rank, the highlights): from a MATERIALIZED common table expression (``_with_corrected``), so
# it is computed once per statement, not once per part. Correcting a misspelt word searches the
# whole vocabulary's trigrams (docs/performance.md, "Typos against a large vocabulary").
_CORRECTED = _SqlSearchQuery("(SELECT query FROM corrected)", ())


def _with_corrected(products: QuerySet[Product], search: ProductSearch) -> QuerySet[Product]:
    """``products``, whose statements compute ``search``'s corrected query first, for
    ``_CORRECTED``."""
    corrected = search.query(corrected=True)
    return with_common_table(
        products, f"corrected AS MATERIALIZED (SELECT {corrected.sql} AS query)", corrected.params
    )


class _SearchRank(Func):
    """A search's rank (``product_list``): an exact SKU, an exact name (ignoring case), the words
    as typed, each a bonus over ``ts_rank`` of the corrected query. One node over the three
    columns it reads, so a request resolves and compiles three columns and a template, not a
    tree of a dozen expressions."""

    output_field = FloatField()

    def __init__(self, search: ProductSearch) -> None:
        super().__init__(F("sku"), F("name"), F("search_vector"))
        self.search = search

    def as_sql(
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, tuple[object, ...]]:
        # Columns: their SQL has no parameters.
        sku, name, vector = (compiler.compile(column)[0] for column in self.source_expressions)
        as_typed = self.search.query(corrected=False)
        # double precision, not ts_rank's real: a real read back as text loses digits, and
        # keyset cursors must compare equal to the stored rank. Normalisation 32: rank /
        # (rank + 1), below 1 whatever the rank.
        exact_sku, exact_name = _exact_match_sql(sku=sku, name=name)
        sql = (
            f"(CASE WHEN {exact_sku} THEN {_EXACT_SKU}::float8 ELSE 0::float8 END"
            f" + CASE WHEN {exact_name} THEN {_EXACT_NAME}::float8 ELSE 0::float8 END"
            f" + CASE WHEN {vector} @@ {as_typed.sql} THEN {_AS_TYPED}::float8 ELSE 0::float8 END"
            f" + ts_rank({vector}, {_CORRECTED.sql}, 32))"
        )
        return sql, (*self.search.exact_params, *as_typed.params)


def _candidates_by_tier(
    products: QuerySet[Product], query: SearchQuery
) -> tuple[str, tuple[object, ...]] | None:
    """The SQL and parameters of the ids of the first ``SEARCH_CANDIDATES`` of ``products``
    matching ``query``, read tier by tier, the smallest sample of the catalog first: PostgreSQL
    stops reading tiers once it has enough, so a frequent word's long posting lists are never
    read. None when ``products`` cannot match anything.

    Each tier is a literal in the statement's text, not a parameter: a generic plan of the
    prepared statement must still prove the tier's partial index usable. The matches are
    compiled once, and the candidates are SQL text from then on: as querysets, the five
    subqueries would be copied again by every later clone (the page, the cursor, the
    optimizer's columns)."""
    try:
        matches, params = (
            products.filter(search_vector=query)
            .order_by()
            .values("pk", "search_tier")
            .query.sql_with_params()
        )
    except EmptyResultSet:
        return None
    by_tier = " UNION ALL ".join(
        f"(SELECT pk FROM ({matches}) AS matches WHERE search_tier = {tier})"
        for tier in SEARCH_TIERS
    )
    return f"{by_tier} LIMIT {SEARCH_CANDIDATES}", tuple(params) * len(SEARCH_TIERS)


def _product_search(products: QuerySet[Product], *, search: ProductSearch) -> QuerySet[Product]:
    # The candidates: the first matches read tier by tier, and the exact SKU and name matches.
    tiered = _candidates_by_tier(products, _CORRECTED)
    if tiered is None:  # a filter that cannot match (an empty subtree): no statement
        return products.none().annotate(search_rank=Value(0.0, output_field=FloatField()))
    matches, params = tiered
    candidates = RawSQL(f"({matches}) UNION ({_EXACT_SQL})", (*params, *search.exact_params))
    # Prepared on its connection: planning the five parts costs more than running a rare
    # search, and its generic plan is its custom one (the corrected query, the one estimate
    # that matters, is an InitPlan in both).
    searched = products.filter(pk__in=candidates).annotate(search_rank=_SearchRank(search))
    return preparable(_with_corrected(searched, search))


# --- Products: ordering ---------------------------------------------------------------------


class ProductSort(StrEnum):
    """What a product list can be ordered by; the value is the column (or the search's
    ``search_rank``)."""

    PRICE = "price"
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    RELEVANCE = "search_rank"


@dataclass(frozen=True, slots=True)
class ProductOrdering:
    """A sort key and direction; the id breaks ties in the same direction."""

    sort: ProductSort
    descending: bool

    @property
    def order_by(self) -> tuple[str, str]:
        """The ``order_by`` arguments, e.g. ``("-price", "-id")``."""
        sign = "-" if self.descending else ""
        return (f"{sign}{self.sort.value}", f"{sign}id")


NEWEST_FIRST = ProductOrdering(ProductSort.CREATED_AT, descending=True)
MOST_RELEVANT_FIRST = ProductOrdering(ProductSort.RELEVANCE, descending=True)


def product_ordering(*, requested: ProductOrdering | None, search: str | None) -> ProductOrdering:
    """The order of a product list: the requested one, else the most relevant first when
    searching and the newest first otherwise (as Shopify's and Saleor's searches).

    Relevance only exists for a search: asked for without one, ``ValidationError``.
    """
    searched = search_text(search) is not None
    if requested is None:
        return MOST_RELEVANT_FIRST if searched else NEWEST_FIRST
    if requested.sort is ProductSort.RELEVANCE and not searched:
        raise ValidationError(
            "Ordering by relevance needs a search.", code="relevance_without_search"
        )
    return requested


# --- Products: facets -----------------------------------------------------------------------

# The categories a facet lists: those holding the most matches (a storefront shows a few).
FACET_CATEGORIES_MAX = 20
# Price ranges: at most this many, holding about as many products each. Their bounds are steps
# of a fixed grid of round prices (0, 1, 1.50, 2, 2.50, 3, 4, 5, 6, 8, 10, 15, ... 8,000,000,000,
# then the column's bound): ranges follow where the matching prices are, and read as a shopper
# expects ("20.00 to 24.99"), whatever the outliers.
FACET_PRICE_RANGES = 5
_CENT = Decimal("0.01")
FACET_PRICE_GRID: tuple[Decimal, ...] = tuple(
    step.quantize(_CENT)
    for step in (
        Decimal(0),
        *(
            Decimal(m) * 10**e
            for e in range(10)
            for m in ["1", "1.5", "2", "2.5", "3", "4", "5", "6", "8"]
        ),
        PRICE_BOUND_LIMIT,
    )
)
# PostgreSQL's catalog_price_step(price) (migration 0008) is a price's step number on this grid:
# step i holds prices from FACET_PRICE_GRID[i - 1] up to FACET_PRICE_GRID[i].
_STEP_STARTING_AT = {price: step for step, price in enumerate(FACET_PRICE_GRID, start=1)}


@dataclass(frozen=True, slots=True)
class CategoryFacet:
    """``count`` matching products are in exactly ``category`` (not in its subcategories): the
    list the ``category_id`` filter, added to the same filters, returns."""

    category: Category
    count: int


@dataclass(frozen=True, slots=True)
class PriceRangeFacet:
    """``count`` matching products cost from ``min`` to ``max``, both inclusive: the list the
    ``price_min``/``price_max`` filters with these bounds, added to the same filters, return."""

    min: Decimal
    max: Decimal
    count: int


@dataclass(frozen=True, slots=True)
class ProductFacets:
    """What a filtered product list holds, for a storefront's refinement sidebar."""

    categories: list[CategoryFacet]  # most matches first, then by name; FACET_CATEGORIES_MAX
    price_ranges: list[PriceRangeFacet]  # cheapest first; at most FACET_PRICE_RANGES
    in_stock: int  # matching products with at least one unit in stock


# One statement over the list, however large. ``facets`` counts the matching rows (the list's
# own SELECT, inlined) by category, by step of the price grid (``catalog_price_step``) and in
# total (the grouping set ``()``, present even when nothing matches). The categories come back
# joined to their rows, the FACET_CATEGORIES_MAX largest only. A list of any size is first
# counted per category and step in ``per_group``, one hash aggregate, whose few groups the
# grouping sets then sum: grouping sets straight over the whole catalog's rows were slower
# (decision 0027). A search's list is bounded, so its rows are grouped directly, sparing a
# second aggregate over about as many groups as rows.
_FACET_COUNTS = """
    SELECT category_id, catalog_price_step(price) AS price_step,
        count(*) AS products, count(*) FILTER (WHERE stock_quantity > 0) AS in_stock
    FROM ({matching}) AS matching"""
_FACETS_OVER_GROUPS = """
facets AS (
    SELECT category_id, price_step, sum(products)::bigint AS products,
        sum(in_stock)::bigint AS in_stock
    FROM per_group
    GROUP BY GROUPING SETS ((category_id), (price_step), ())
),"""
_FACETS_PER_GROUP = (
    """
WITH per_group AS ("""
    + _FACET_COUNTS
    + """
    GROUP BY 1, 2
),"""
    + _FACETS_OVER_GROUPS
)
# A list the facet counts answer (``_counted_list``): its groups are the sums of their keys'
# rows of ``ProductFacetCount``, kept by triggers, however many products the list holds.
_FACETS_FROM_COUNTS = (
    """
WITH per_group AS (
    SELECT category_id, price_step, sum({products}) AS products, sum({in_stock}) AS in_stock
    FROM {counts_table}
    WHERE {counted}
    GROUP BY 1, 2
    HAVING sum({products}) > 0
),"""
    + _FACETS_OVER_GROUPS
)
_FACETS_DIRECT = (
    """
WITH facets AS ("""
    + _FACET_COUNTS
    + """
    GROUP BY GROUPING SETS ((category_id), (2), ())
),"""
)
_FACETS_RANKED = """
ranked AS (
    SELECT facets.*, {category_columns}, row_number() OVER (
        PARTITION BY facets.category_id IS NULL
        ORDER BY facets.products DESC, category.name, category.id
    ) AS facet_rank
    FROM facets
    LEFT JOIN {category_table} AS category ON category.id = facets.category_id
)
SELECT price_step, products, in_stock, {ranked_columns}
FROM ranked
WHERE category_id IS NULL OR facet_rank <= {categories}
ORDER BY category_id IS NULL, facet_rank
"""


def product_facets(
    *, products: QuerySet[Product], read_with_page: RowsBeside | None = None
) -> ProductFacets:
    """Counts over the whole of ``products`` (a ``product_list`` as ``products_visible_to``
    restricts it, before any ordering or page): by category, by price range and in stock.

    ONE statement, which reads every matching row once: its cost grows with the list, as a
    ``COUNT`` does, not with a page. None at all when a page's statement read them
    (``read_with_page``, from ``product_pages_with_facets``). Price ranges split the matching
    products into at most ``FACET_PRICE_RANGES`` parts of about equal size at steps of
    ``FACET_PRICE_GRID`` (``_price_ranges``); each range starts at its cheapest product's step
    and ends a cent below the step after its dearest (prices have cents), so its bounds are
    filter values that return exactly its count.
    """
    if read_with_page is not None and read_with_page.rows is not None:
        return _facets_from_rows(read_with_page.rows, database=products.db)
    counted = _counted_list(products)
    try:
        if counted is not None:
            sql, params = counted.facets_sql(database=products.db)
        else:
            matching, params = (
                products.order_by()
                .values("category_id", "price", "stock_quantity")
                .query.sql_with_params()
            )
            head = _FACETS_DIRECT if _searched(products) else _FACETS_PER_GROUP
            sql = _facets_sql(head, database=products.db, matching=matching)
            preparable_around(products, sql)  # a search's facets: prepared as its page is
    except EmptyResultSet:  # a filter that cannot match (an empty subtree): no statement
        return ProductFacets(categories=[], price_ranges=[], in_stock=0)
    with connections[products.db].cursor() as cursor:
        cursor.execute(sql, params)
        return _facets_from_rows(cursor.fetchall(), database=products.db)


def product_pages_with_facets(
    products: QuerySet[Product],
) -> tuple[QuerySet[Product], RowsBeside] | None:
    """The queryset to cut pages of ``products`` (a ``product_list``) from so that a page's
    statement also reads the list's facets, and what ``product_facets`` then reads them from;
    None where a page and its facets are better read apart.

    For a search: PostgreSQL reads its bounded candidates in full for the page anyway, so the
    page's statement keeps them (a ``MATERIALIZED`` common table) and counts them too, instead
    of a second statement reading them again (decision 0027). Any other list is left alone:
    its page stops early along an index, and its facets read every row.
    """
    if not _searched(products):
        return None
    matched = "matched_products"
    return read_beside(
        products,
        table=matched,
        sql=_facets_sql(
            _FACETS_DIRECT,
            database=products.db,
            matching=f"SELECT category_id, price, stock_quantity FROM {matched}",
        ),
        width=3 + len(Category._meta.concrete_fields),
    )


def product_count(*, products: QuerySet[Product]) -> int:
    """How many products ``products`` holds (a ``product_list`` as ``products_visible_to``
    restricts it): summed from the facet counts where they are kept for the list (a category,
    a price range of the facets, stock, published state), else one ``COUNT``."""
    counted = _counted_list(products)
    if counted is None:
        return products.order_by().count()
    try:
        sql, params = counted.count_sql(database=products.db)
    except EmptyResultSet:  # no category: no statement, as Django's COUNT takes none
        return 0
    with connections[products.db].cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def _searched(products: QuerySet[Product]) -> bool:
    """Whether ``products`` is a search's list: bounded, ``SEARCH_CANDIDATES`` and the exact
    matches at most."""
    return isinstance(products.query.annotations.get("search_rank"), _SearchRank)


def _facets_sql(head: str, *, database: str, **parts: str) -> str:
    """The facets' statement: ``head`` (``_FACETS_DIRECT`` or ``_FACETS_PER_GROUP`` over
    ``matching``, a SELECT of the list's category_id, price and stock_quantity, a search's list
    directly; or ``_FACETS_FROM_COUNTS``) with its ``parts`` filled in, then the ranking."""
    quote_name = connections[database].ops.quote_name
    columns = [quote_name(f.column) for f in Category._meta.concrete_fields]
    return (head + _FACETS_RANKED).format(
        **parts,
        category_columns=", ".join(f"category.{column}" for column in columns),
        category_table=quote_name(Category._meta.db_table),
        ranked_columns=", ".join(columns),
        categories=FACET_CATEGORIES_MAX,
    )


@dataclass(frozen=True, slots=True)
class _CountedList:
    """A product list that is a union of the facet counts' keys (``ProductFacetCount``): the
    products of some categories, published or not, in stock or not, between two steps of the
    price grid. A storefront's category page and a price range it offers are such lists."""

    published: bool | None = None
    category_ids: frozenset[int] | None = None
    in_stock: bool | None = None
    first_step: int | None = None
    last_step: int | None = None

    def facets_sql(self, *, database: str) -> tuple[str, list[object]]:
        """The facets' statement, summing the list's keys."""
        counted, params = self._where()
        products, in_stock = self._sums()
        sql = _facets_sql(
            _FACETS_FROM_COUNTS,
            database=database,
            products=products,
            in_stock=in_stock,
            counts_table=_quoted_counts_table(database),
            counted=counted,
        )
        return sql, params

    def count_sql(self, *, database: str) -> tuple[str, list[object]]:
        """The statement of the list's length."""
        counted, params = self._where()
        products, _ = self._sums()
        table = _quoted_counts_table(database)
        return f"SELECT coalesce(sum({products}), 0) FROM {table} WHERE {counted}", params

    def _where(self) -> tuple[str, list[object]]:
        """The condition on the keys and its parameters; ``EmptyResultSet`` when no key is the
        list's (no category), as Django's compiler raises it for an empty ``IN``."""
        if self.category_ids == frozenset():
            raise EmptyResultSet
        conditions, params = ["TRUE"], list[object]()
        if self.published is not None:
            conditions.append("is_published = %s")
            params.append(self.published)
        if self.category_ids is not None:
            conditions.append("category_id = ANY(%s)")
            params.append(sorted(self.category_ids))
        for bound, operator in ((self.first_step, ">="), (self.last_step, "<=")):
            if bound is not None:
                conditions.append(f"price_step {operator} %s")
                params.append(bound)
        return " AND ".join(conditions), params

    def _sums(self) -> tuple[str, str]:
        """What a key's rows add up to the list's products and to those in stock."""
        return {
            None: ("products", "in_stock"),
            True: ("in_stock", "in_stock"),
            False: ("products - in_stock", "0"),
        }[self.in_stock]


def _quoted_counts_table(database: str) -> str:
    return connections[database].ops.quote_name(ProductFacetCount._meta.db_table)


def _counted_list(products: QuerySet[Product]) -> _CountedList | None:
    """``products`` as a ``_CountedList``, or None when its conditions are not all ones the
    counts are kept by (a search, a date range, a price bound between two grid steps, any
    condition this does not read): those lists are counted row by row.

    Reads the queryset's WHERE clause: a conjunction of ``exact``, ``in``, ``gt``, ``gte`` and
    ``lte`` lookups of plain values on the product's own columns, as ``product_list`` and
    ``products_visible_to`` write them."""
    query = products.query
    if query.model is not Product or query.combinator or query.distinct or query.is_sliced:
        return None
    # The product table's alias, read without registering a reference (get_initial_alias would).
    lookups = _conjunction(query.where, alias=next(iter(query.alias_map), ""))
    if lookups is None:
        return None
    counted: dict[str, Any] = {}
    for column, operator, value in lookups:
        match column, operator, value:
            case "is_published", "exact", bool():
                key, read = "published", value
            case "category_id", "exact" | "in", _:
                key, read = "category_ids", frozenset(value if operator == "in" else [value])
            case "stock_quantity", "gt" | "exact", 0:
                key, read = "in_stock", operator == "gt"
            case "price", "gte", Decimal() if value in _STEP_STARTING_AT:
                key, read = "first_step", _STEP_STARTING_AT[value]
            case "price", "lte", Decimal() if value + _CENT in _STEP_STARTING_AT:
                key, read = "last_step", _STEP_STARTING_AT[value + _CENT] - 1
            case _:
                return None
        if key == "category_ids" and key in counted:
            read = counted[key] & read  # two category filters: the categories of both
        elif counted.get(key, read) != read:
            return None  # two different bounds or flags: rare enough to count row by row
        counted[key] = read
    return _CountedList(**counted)


def _conjunction(where: WhereNode, *, alias: str) -> list[tuple[str, str, Any]] | None:
    """The (column, lookup, value) triples ANDed by ``where``, or None for anything else."""
    if where.connector != AND or where.negated:
        return None
    lookups = []
    for child in where.children:
        if isinstance(child, WhereNode):
            nested = _conjunction(child, alias=alias)
            if nested is None:
                return None
            lookups.extend(nested)
        elif (
            isinstance(child, Lookup)
            and isinstance(child.lhs, Col)
            and child.lhs.alias == alias
            and not hasattr(child.rhs, "resolve_expression")
            and not (child.lookup_name == "in" and not isinstance(child.rhs, Iterable))
        ):
            lookups.append((child.lhs.target.column, child.lookup_name, child.rhs))
        else:
            return None
    return lookups


def _facets_from_rows(rows: list[tuple[Any, ...]], *, database: str) -> ProductFacets:
    """The facets from the rows of ``_facets_sql``'s statement."""
    names = [field.attname for field in Category._meta.concrete_fields]
    category_from_db = row_builder(Category)
    categories: list[CategoryFacet] = []
    price_steps: dict[int, int] = {}
    in_stock = 0
    for price_step, count, in_stock_count, *category in rows:
        if category[0] is not None:
            categories.append(CategoryFacet(category_from_db(database, names, category), count))
        elif price_step is not None:
            price_steps[price_step] = count
        else:
            in_stock = in_stock_count or 0  # NULL: nothing matches
    return ProductFacets(
        categories=categories, price_ranges=_price_ranges(price_steps), in_stock=in_stock
    )


def _price_ranges(price_steps: dict[int, int]) -> list[PriceRangeFacet]:
    """The ranges of grid steps (``catalog_price_step`` numbers, each with its count): cut at the
    step ends whose running count is nearest each fifth of the total (the earlier one on a
    tie), so one crowded step stays a range of its own and the cheapest and dearest few are
    not swallowed by it."""
    steps = sorted(price_steps.items())
    counted = list(accumulate(count for _, count in steps))
    total = counted[-1] if counted else 0
    cuts: set[int] = set()
    if len(steps) > 1:  # a cut after the last step would leave nothing after it
        ends = len(steps) - 1
        for part in range(1, FACET_PRICE_RANGES):
            # Every step holds a product, so running counts rise strictly: the nearest end is
            # one of the two around where this fifth falls.
            after = bisect_left(counted, total * part / FACET_PRICE_RANGES, hi=ends)
            cuts.add(
                min(
                    (end for end in (after - 1, after) if 0 <= end < ends),
                    key=lambda end: (abs(counted[end] * FACET_PRICE_RANGES - total * part), end),
                )
            )
    ranges: list[PriceRangeFacet] = []
    start = 0
    for end in [*sorted(cuts), len(steps) - 1] if steps else []:
        ranges.append(
            PriceRangeFacet(
                min=FACET_PRICE_GRID[steps[start][0] - 1],
                max=FACET_PRICE_GRID[steps[end][0]] - _CENT,
                count=counted[end] - (counted[start - 1] if start else 0),
            )
        )
        start = end + 1
    return ranges


# --- Products: highlights -------------------------------------------------------------------

# ts_headline marks the matches with these. They are removed from the text it reads, so every
# one in its result is a marker: control characters, which product text has no use for.
_MATCH_START, _MATCH_END = "\x02", "\x03"
# A description's highlight: up to two passages around matches (its opening words without one).
_DESCRIPTION_HIGHLIGHT = {
    "max_words": 20,
    "min_words": 8,
    "max_fragments": 2,
    "fragment_delimiter": " … ",
}


def product_highlights(products: QuerySet[Product], *, search: str) -> QuerySet[Product]:
    """``products`` (searched for ``search`` by ``product_list``) annotated with
    ``highlight_name`` (the whole name) and ``highlight_description`` (passages of it), their
    words matching the search marked for ``highlighted_html``.

    Columns of the same statement, not a statement of their own. PostgreSQL computes them
    after the sort and the limit, so a page pays ``ts_headline`` for its own rows only. The
    words a typo was corrected to are marked as the typed ones are.
    """

    def headline(column: str, **options: object) -> SearchHeadline:
        text = Func(
            F(column),
            Value(_MATCH_START + _MATCH_END),
            Value(""),
            function="translate",
            output_field=TextField(),
        )
        return SearchHeadline(
            text,
            _CORRECTED,
            config="english",
            start_sel=_MATCH_START,
            stop_sel=_MATCH_END,
            **options,
        )

    highlighted = products.annotate(
        highlight_name=headline("name", highlight_all=True),
        highlight_description=headline("description", **_DESCRIPTION_HIGHLIGHT),
    )
    return _with_corrected(highlighted, product_search(text=search))


def highlighted_html(headline: str) -> str:
    """A highlight as HTML: the matched words in ``<mark>...</mark>``, everything else escaped
    (a name holding ``<script>`` or ``&`` reads as that text)."""
    return html.escape(headline).replace(_MATCH_START, "<mark>").replace(_MATCH_END, "</mark>")


# --- Products: suggestions ------------------------------------------------------------------

SUGGEST_PREFIX_MAX_LENGTH = 100
SUGGEST_MAX = 10
SUGGEST_DEFAULT = 5
# Letters and digits a prefix needs before names in which a later word starts with it are
# suggested: "ke" would complete half the catalog's words.
SUGGEST_WORD_MIN_LENGTH = 3
# What a suggestion is, as both APIs describe it.
SUGGEST_RULE = (
    "Names of products that start with `prefix`, then, once it holds "
    f"{SUGGEST_WORD_MIN_LENGTH} letters or digits, names in which a later word starts with it "
    '("kett" completes "Copper Kettle"), ignoring case, for completing a search box as the '
    "shopper types: each group in alphabetical order, each name once, only products the viewer "
    "may see. A later word's completions come from a search's first "
    f"{SEARCH_CANDIDATES} matches, so they are bounded however large the catalog."
)
# Served by catalog_prod_name_prefix_idx (the same expression): the "C" collation makes a
# btree serve both the prefix match and the order, so the scan stops after a few names.
_SUGGEST_KEY = Collate(Lower("name"), "C")


def product_suggest(*, viewer: ViewerType, prefix: str, first: int = SUGGEST_DEFAULT) -> list[str]:
    """Up to ``first`` names of products ``viewer`` may see, ignoring case and leading spaces:
    as-you-type completions, one spelling per lower-case form (``SUGGEST_RULE``). First the
    names that start with ``prefix``, in the order of their lower-case form (byte order); then,
    while places are left, names in which a later word starts with it
    (``_word_start_names``), in the same order.

    The first statement reads the name prefix index from the prefix on and stops after
    ``first`` distinct names, however many products match; the second is sent only when places
    are left. A blank prefix suggests nothing, without a statement. ``ValidationError``
    (naming ``prefix`` or ``first``) for a prefix over ``SUGGEST_PREFIX_MAX_LENGTH`` characters
    or ``first`` outside 1..``SUGGEST_MAX``.
    """
    if len(prefix) > SUGGEST_PREFIX_MAX_LENGTH:
        raise ValidationError(
            {"prefix": f"A prefix is limited to {SUGGEST_PREFIX_MAX_LENGTH} characters."}
        )
    if not 1 <= first <= SUGGEST_MAX:
        raise ValidationError({"first": f"Ask for 1 to {SUGGEST_MAX} names, not {first}."})
    prefix = prefix.lstrip()
    if not prefix:
        return []
    database = router.db_for_read(Product)
    key = (database, unpublished_visible_to(viewer), first)
    sql = _suggest_statements.get(key)
    if sql is None:
        sql = _suggest_statements[key] = suggest_statement(viewer, database=database, first=first)
    with connections[database].cursor() as cursor:
        cursor.execute(sql, (suggest_pattern(prefix, database=database),))
        suggestions = dict(cursor.fetchall())
    if len(suggestions) < first:
        for lowered, name in _word_start_names(viewer, prefix):
            suggestions.setdefault(lowered, name)
            if len(suggestions) == first:
                break
    return list(suggestions.values())


def _word_start_names(viewer: ViewerType, prefix: str) -> list[tuple[str, str]]:
    """(lower-case form, name) of products ``viewer`` may see in which a word starts with
    ``prefix`` (those whose first word does are the first statement's too), in order, one per
    lower-case form, at most ``2 * SUGGEST_MAX``; none for a prefix of fewer than
    ``SUGGEST_WORD_MIN_LENGTH`` letters and digits (``word_start_statement``)."""
    words = _WORD.findall(prefix.lower())[:SEARCH_MAX_WORDS]
    if sum(map(len, words)) < SUGGEST_WORD_MIN_LENGTH:
        return []
    typing = _WORD.fullmatch(prefix[-1]) is not None  # no space or mark after the last word
    database = router.db_for_read(Product)
    key = (database, unpublished_visible_to(viewer), len(words), typing)
    statement = _word_start_statements.get(key)
    if statement is None:
        statement = _word_start_statements[key] = word_start_statement(
            viewer, database=database, words=len(words), typing=typing
        )
    sql, template = statement
    terms = _word_terms(_word_placeholders(len(words)), typing)
    values = dict(zip(terms, _word_terms(words, typing), strict=True))
    values[_WORD_PLACEHOLDER_PATTERN] = word_start_pattern(prefix.lower())
    preparable_text(sql)
    with connections[database].cursor() as cursor:
        cursor.execute(sql, tuple(_filled(value, values) for value in template))
        return cursor.fetchall()


# The statement and parameters of each (database, whether the viewer sees unpublished products,
# number of words, whether the last is a prefix), built with placeholders for the words and the
# pattern, as the first statement is (``_suggest_statements``).
_word_start_statements: dict[tuple[str, bool, int, bool], tuple[str, tuple[object, ...]]] = {}
_WORD_PLACEHOLDER_PATTERN = "\x00pattern"


def word_start_queryset(
    viewer: ViewerType, words: list[str], typing: bool, pattern: str
) -> QuerySet[Any]:
    """``word_start_statement``'s query for ``words`` (the last a prefix if ``typing``) and
    the regular expression ``pattern``."""
    clauses = [_SearchClause(word, is_word=True) for word in words[:-1]]
    clauses.append(_SearchClause(words[-1], is_word=True, prefix=typing))
    search = ProductSearch(text="", alternatives=(tuple(clauses),))
    tiered = _candidates_by_tier(products_visible_to(viewer), search.query(corrected=False))
    if tiered is None:  # only a filter such as an empty subtree compiles to nothing
        raise AssertionError("a viewer's visible products compiled to no statement")
    return (
        Product.objects.filter(pk__in=RawSQL(*tiered))
        .annotate(word_key=Lower("name"), suggest_key=_SUGGEST_KEY)
        .filter(word_key__regex=pattern)
        .order_by("suggest_key")
        .distinct("suggest_key")
        .values_list("suggest_key", "name")
    )[: 2 * SUGGEST_MAX]


def _filled(value: object, values: dict[str, str]) -> object:
    return values.get(value, value) if isinstance(value, str) else value


def _word_placeholders(count: int) -> list[str]:
    return [f"\x00word{n}" for n in range(count)]


def _word_terms(words: list[str], typing: bool) -> list[str]:
    """The tsquery terms of a prefix's ``words``, as ``ProductSearch.query`` writes them: the
    last one a prefix if ``typing``."""
    last = len(words) - 1
    return [_tsquery_word(word, prefix=typing and n == last) for n, word in enumerate(words)]


def word_start_statement(
    viewer: ViewerType, *, database: str, words: int, typing: bool
) -> tuple[str, tuple[object, ...]]:
    """The SQL of ``_word_start_names`` for ``viewer`` and a prefix of ``words`` words, the
    last a prefix if ``typing``, and its parameters with placeholders for the words' tsquery
    terms and the pattern.

    Bounded whatever the prefix: the candidates are a search's first ``SEARCH_CANDIDATES``
    matches of the prefix's words as typed (every word, the last a prefix unless a space
    follows it; no typo correction), read tier by tier as a search page reads them; only their
    names are matched against the prefix, by a regular expression on ``lower(name)``, which no
    index serves (the trigram index on names would: it cannot tell a word's start from a
    word's middle, and rechecks every name holding the letters, docs/decisions/0027).
    Prepared on its connection, as a search page is (``_product_search``): the tiers are
    literals, so no estimate in its plan depends on the words, and planning it cost more than
    running it for most prefixes.
    """
    placeholders = _word_placeholders(words)
    names = word_start_queryset(viewer, placeholders, typing, _WORD_PLACEHOLDER_PATTERN)
    sql, params = names.query.get_compiler(database).as_sql()
    if not {_WORD_PLACEHOLDER_PATTERN, *_word_terms(placeholders, typing)} <= set(params):
        raise AssertionError(f"the word-start statement lacks a placeholder: {params!r}")
    return sql, tuple(params)


# What a PostgreSQL regular expression gives a meaning to; a backslash before any of them makes
# it literal. Only these: a backslash before a letter or digit would be an escape (\m, \d).
_REGEX_SPECIAL = re.compile(r"[\\^$.|?*+()\[\]{}]")


def word_start_pattern(prefix: str) -> str:
    """The PostgreSQL regular expression of a word starting with ``prefix``: ``\\m`` (a
    word's start), then the prefix with the expression's special characters escaped, so every
    character matches itself."""
    return "\\m" + _REGEX_SPECIAL.sub(r"\\\g<0>", prefix)


# The statement of each (database, whether the viewer sees unpublished products, first): the
# only value in it is the prefix's pattern. Built by the ORM once, instead of on every
# keystroke of every shopper, which was most of a suggestion's own CPU (docs/performance.md).
_suggest_statements: dict[tuple[str, bool, int], str] = {}
_SUGGEST_PATTERN_PLACEHOLDER = "\x00"


def suggest_statement(viewer: ViewerType, *, database: str, first: int) -> str:
    """The SQL of ``product_suggest`` for ``viewer`` (``products_visible_to``'s rule) and
    ``first``, with one parameter, ``suggest_pattern``'s. Never prepared: a generic plan does
    not know the pattern's fixed prefix, the bounds of the index scan."""
    names = (
        products_visible_to(viewer)
        .annotate(suggest_key=_SUGGEST_KEY)
        .filter(suggest_key__startswith=_SUGGEST_PATTERN_PLACEHOLDER)
        .order_by("suggest_key")
        .distinct("suggest_key")
        .values_list("suggest_key", "name")
    )[:first]
    sql, params = names.query.get_compiler(database).as_sql()
    if params != (suggest_pattern(_SUGGEST_PATTERN_PLACEHOLDER, database=database),):
        raise AssertionError(f"the suggestion statement has other parameters: {params!r}")
    return sql


def suggest_pattern(prefix: str, *, database: str) -> str:
    """The LIKE pattern of the names starting with ``prefix`` in lower case, as Django's
    ``startswith`` escapes it."""
    return connections[database].ops.prep_for_like_query(prefix.lower()) + "%"
