"""Catalog reads: what a viewer may list of the catalog, filtered and ordered.

GraphQL and REST call these (and ``policies.py`` for what a viewer may see), so
a filter, a default order or a search ranking means the same on every transport
(docs/decisions/0019-one-read-semantics.md).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Cast

from backend.accounts.policies import ViewerType
from backend.catalog.models import Category, Product
from backend.catalog.policies import unpublished_visible_to

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


def category_product_counts(*, category_ids: list[int], viewer: ViewerType) -> dict[int, int]:
    """Products ``viewer`` may see in each category's whole subtree, for many categories in
    ONE statement.

    A correlated subquery per category row (``path LIKE parent_path || '%'`` on the path
    index); categories absent from the database are absent from the result.
    """
    in_subtree = products_visible_to(
        viewer, Product.objects.filter(category__path__startswith=OuterRef("path"))
    )
    count = in_subtree.order_by().annotate(n=Func(F("id"), function="COUNT")).values("n")
    return dict(
        Category.objects.filter(pk__in=category_ids)
        .annotate(product_count=Subquery(count[:1], output_field=IntegerField()))
        .values_list("pk", "product_count")
    )


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

SEARCH_MAX_LENGTH = 200
PRICE_BOUND_LIMIT = Decimal(10) ** 10  # Product.price is numeric(12, 2)
SEARCH_MAX_TERMS = 8
# Letters and digits only: every tsquery operator and LIKE/regex metacharacter is dropped.
_SEARCH_TERM = re.compile(r"\w+", re.UNICODE)


def search_terms(*, text: str) -> list[str]:
    """The searchable words of ``text``; ``ValidationError`` when too long or empty.

    The terms contain only letters, digits and underscores, so they are safe to join into a
    raw ``to_tsquery`` expression.
    """
    if len(text) > SEARCH_MAX_LENGTH:
        raise ValidationError(
            f"Search text is limited to {SEARCH_MAX_LENGTH} characters.", code="search_too_long"
        )
    terms = _SEARCH_TERM.findall(text.lower())[:SEARCH_MAX_TERMS]
    if not terms:
        raise ValidationError(
            "Search text must contain at least one letter or digit.", code="search_empty"
        )
    return terms


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
    page then sorted every match (docs/performance.md). With ``search`` the rows carry
    ``search_rank``: full-text matches (``to_tsquery`` with each term as a prefix, ranked by
    ``ts_rank``) or, only when nothing in the filtered set matches that way, names similar by
    trigram (typos), ranked by similarity. Raises ``ValidationError`` for an unusable search
    or an inverted range.
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
    if search is not None:
        products = _product_search(products, terms=search_terms(text=search))
    return products


def _product_search(products: QuerySet[Product], *, terms: list[str]) -> QuerySet[Product]:
    query = SearchQuery(
        " & ".join(f"{term}:*" for term in terms), search_type="raw", config="english"
    )
    phrase = " ".join(terms)
    full_text = Q(search_vector=query)
    any_full_text_match = Exists(products.filter(full_text))
    return products.filter(
        full_text | (~any_full_text_match & Q(name__trigram_similar=phrase))
    ).annotate(
        # double precision, not ts_rank's real: a real read back as text loses digits, and
        # keyset cursors must compare equal to the stored rank.
        search_rank=Cast(
            Case(
                When(full_text, then=SearchRank(F("search_vector"), query)),
                default=TrigramSimilarity("name", phrase),
                output_field=FloatField(),
            ),
            FloatField(),
        )
    )


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
    if requested is None:
        return NEWEST_FIRST if search is None else MOST_RELEVANT_FIRST
    if requested.sort is ProductSort.RELEVANCE and search is None:
        raise ValidationError(
            "Ordering by relevance needs a search.", code="relevance_without_search"
        )
    return requested
