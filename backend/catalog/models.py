"""Catalog data and its invariants. Workflows live in ``services.py``.

The category tree is a materialized path kept by PostgreSQL triggers (see
docs/decisions/0002-category-tree-materialized-path.md): ``path`` is ``/<root id>/.../<own id>/``.
"""

from decimal import Decimal
from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Collate, Lower, Mod
from django.db.models.lookups import Exact

# Product.search_tier's values, its smallest sample first: tier t > 0 holds one block of
# SEARCH_TIER_BLOCK consecutive product ids in 8**t (the blocks of higher tiers aside), tier 0
# the rest.
SEARCH_TIERS = (3, 2, 1, 0)
SEARCH_TIER_BLOCK = 32


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,  # a category with subcategories must be emptied first
        null=True,
        blank=True,
        related_name="children",
        db_index=False,  # covered by catalog_category_sibling_idx
    )
    position = models.PositiveIntegerField(default=0, help_text="Order among its siblings.")
    # Maintained by the database on insert and on parent change; never written by Python.
    # The "C" collation makes the unique index serve prefix (LIKE 'path%') subtree scans.
    path = models.CharField(max_length=1024, editable=False, default="", db_collation="C")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["position", "name", "id"]
        constraints = [
            # Serves subtree queries (path LIKE '/1/5/%') and ancestor lookups by path.
            models.UniqueConstraint(fields=["path"], name="catalog_category_path_unique"),
            models.CheckConstraint(
                condition=~Q(parent=F("id")),
                name="catalog_category_not_own_parent",
                violation_error_message="A category cannot be its own parent.",
            ),
        ]
        indexes = [
            # Serves children of a category in sibling order (and top-level: parent IS NULL).
            models.Index(
                fields=["parent", "position", "name", "id"], name="catalog_category_sibling_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # The trigger computed the path; read it back so the instance is not stale.
        self.path = Category.objects.values_list("path", flat=True).get(pk=self.pk)

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent, read from the path without a query."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1] if part]

    @property
    def depth(self) -> int:
        """0 for a top-level category."""
        return self.path.count("/") - 2 if self.path else 0

    def clean(self) -> None:
        super().clean()
        if self.pk and self.parent_id is not None:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": "A category cannot be its own parent."})
            parent_path = self.parent.path if self.parent else ""
            if self.path and parent_path.startswith(self.path):
                raise ValidationError({"parent": "A category cannot move under its own subtree."})


class Product(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    sku = models.CharField("SKU", max_length=64, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    stock_quantity = models.IntegerField(default=0, validators=[MinValueValidator(0)])
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,  # a category with products cannot be deleted
        related_name="products",
        db_index=False,  # covered by catalog_prod_cat_price_idx
    )
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Kept current by PostgreSQL itself: a stored generated column, never stale.
    search_vector = models.GeneratedField(
        expression=SearchVector("name", weight="A", config="english")
        + SearchVector("sku", weight="A", config="simple")
        + SearchVector("description", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # The sample of the catalog the product is in (SEARCH_TIERS), so that a frequent search
    # term's first matches are read from a short posting list (selectors._product_search,
    # decision 0029): 3 for one block of ids in 512, 2 for one in 64, 1 for one in 8, 0 for the
    # others. Blocks rather than single ids, so a tier's rows share heap pages.
    search_tier = models.GeneratedField(
        expression=Case(
            *(
                When(
                    Exact(Mod(F("id") / Value(SEARCH_TIER_BLOCK), Value(8**tier)), Value(0)),
                    then=Value(tier),
                )
                for tier in SEARCH_TIERS[:-1]
            ),
            default=Value(SEARCH_TIERS[-1]),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stock_quantity__gte=0),
                name="catalog_product_stock_not_negative",
                violation_error_message="Stock cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="catalog_product_price_not_negative",
                violation_error_message="Price cannot be negative.",
            ),
        ]
        indexes = [
            # Serve full-text search, tier by tier (search_tier above): each holds one tier's
            # vectors, so a word's posting list in tier 3 is about 1/512 of its whole list.
            *(
                GinIndex(
                    fields=["search_vector"],
                    condition=Q(search_tier=tier),
                    name=f"catalog_product_search_t{tier}_idx",
                )
                for tier in SEARCH_TIERS
            ),
            # Serves substring search on names (the admin's): name ILIKE '%query%'.
            GinIndex(
                fields=["name"], opclasses=["gin_trgm_ops"], name="catalog_product_name_trgm_idx"
            ),
            # Serves as-you-type suggestions (selectors.product_suggest): a name prefix, ignoring
            # case, in the order of the lower-case names. The "C" collation lets one btree serve
            # both the LIKE 'prefix%' range and that order, so a scan stops after a few names.
            models.Index(Collate(Lower("name"), "C"), name="catalog_prod_name_prefix_idx"),
            # Serves category pages ordered by price with an id tie-breaker (keyset pagination).
            models.Index(fields=["category", "price", "id"], name="catalog_prod_cat_price_idx"),
            # Serves the storefront's default listing: newest published first, keyset by id.
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(is_published=True),
                name="catalog_prod_pub_created_idx",
            ),
            # Serves the storefront ordered by price (either direction), keyset by id.
            models.Index(
                fields=["price", "id"],
                condition=Q(is_published=True),
                name="catalog_product_pub_price_idx",
            ),
            # Serves the storefront ordered by name, keyset by id.
            models.Index(
                fields=["name", "id"],
                condition=Q(is_published=True),
                name="catalog_product_pub_name_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0


class SearchWord(models.Model):
    """A word of some product's name or SKU, lower-cased: the vocabulary a search's typos are
    corrected against (``selectors.product_list``).

    Written by PostgreSQL triggers on every product insert and every rename (migration 0004),
    so bulk loads and raw SQL keep it current too. They only add words: a word whose last
    product was renamed or deleted stays until the daily ``services.search_words_prune``, and
    meanwhile at worst takes one of a typo's few candidates (which then matches nothing).
    """

    # "C" collation: byte order, so the primary key's btree also serves prefix lookups.
    word = models.TextField(primary_key=True, db_collation="C")

    class Meta:
        indexes = [
            # Serves typo correction: words similar to a query word (word % 'speker').
            GinIndex(
                fields=["word"], opclasses=["gin_trgm_ops"], name="catalog_searchword_trgm_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.word


class ProductFacetCount(models.Model):
    """A change to how many products one category holds at one step of the facets' price grid
    (``selectors.FACET_PRICE_GRID``), published or not, and how many of them are in stock: the
    sum of a key's rows is its count, read by ``selectors.product_facets``.

    Written by PostgreSQL triggers on every product insert and delete and every change of what
    is counted (migration 0008), so bulk loads and raw SQL keep it current too. Writers only
    append rows (+1 and -1), so none waits on another's count; ``services.product_facet_counts_
    compact`` folds each key's rows into one on the beat schedule.
    """

    # No foreign key: a category whose last product moved away may be deleted while its rows
    # still sum to zero.
    category_id = models.BigIntegerField()
    price_step = models.IntegerField()  # catalog_price_step(price), migration 0008
    is_published = models.BooleanField()
    products = models.IntegerField()
    in_stock = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["category_id"], name="catalog_facetcount_category")]

    def __str__(self) -> str:
        return (
            f"category {self.category_id}, price step {self.price_step}, "
            f"{'published' if self.is_published else 'unpublished'}: {self.products:+d} products, "
            f"{self.in_stock:+d} in stock"
        )
