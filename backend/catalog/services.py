"""Catalog writes and their business rules. Every transport (GraphQL, REST, admin, commands)
calls these; the reads are ``selectors.py``."""

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from enum import Enum

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DataError, IntegrityError, connection, transaction

from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.catalog.models import Category, Product
from backend.core.errors import ErrorDetail
from backend.core.text import text_fields_validate


@transaction.atomic
def category_move(
    *, category: Category, parent: Category | None, position: int | None = None
) -> Category:
    """Move a category (and its whole subtree) under ``parent``, or to the top level.

    Runs in one transaction holding a row lock on the category; the database rewrites the
    descendants' paths in the same statement. A move under its own subtree raises
    ``ValidationError`` (and is refused by the database trigger even if this check is bypassed).
    """
    locked = Category.objects.select_for_update().get(pk=category.pk)
    if parent is not None:
        parent = Category.objects.get(pk=parent.pk)  # the current path, not a stale instance
    locked.parent = parent
    if position is not None:
        locked.position = position
    locked.full_clean()
    locked.save()
    return locked


def category_delete(*, category: Category) -> None:
    """Delete an empty category; ``CatalogError`` CATEGORY_NOT_EMPTY if it has products or
    subcategories, NOT_FOUND if it is already gone.

    The category row is locked (``FOR UPDATE``) before the emptiness check, and product and
    category writes lock the category they attach to: a product or child added concurrently
    either commits first (and this refuses) or waits and then finds the category gone.
    """
    with catalog_errors(), transaction.atomic():
        locked = _locked(Category, category.pk, field="id")
        if locked.children.exists() or locked.products.exists():
            raise CatalogError(
                CatalogErrorCode.CATEGORY_NOT_EMPTY,
                "A category with subcategories or products cannot be deleted.",
                field="id",
            )
        locked.delete()


# --- Writes (every one atomic; a CatalogError leaves the database as it was) -----------------


class Unchanged(Enum):
    """The type of ``UNCHANGED``: "leave this field as it is" in an update service."""

    UNCHANGED = "UNCHANGED"


UNCHANGED = Unchanged.UNCHANGED
PRICE_QUANTUM = Decimal("0.01")

_UNIQUE_FIELD_CODES = {"slug": CatalogErrorCode.SLUG_TAKEN, "sku": CatalogErrorCode.SKU_TAKEN}
# Codes that mean "missing", not "malformed": not a price problem even on the price field.
_MISSING_VALUE_CODES = {"null", "blank", "required"}


def _error_code(field: str, code: str | None) -> CatalogErrorCode:
    if code == "unique" and field in _UNIQUE_FIELD_CODES:
        return _UNIQUE_FIELD_CODES[field]
    if field == "price" and code not in _MISSING_VALUE_CODES:
        return CatalogErrorCode.PRICE_INVALID
    return CatalogErrorCode.INVALID


def _from_validation_error(error: ValidationError) -> CatalogError:
    """One CatalogError detail per Django field error (``field`` None for model-wide ones)."""
    details: list[ErrorDetail] = []
    for field, items in error.update_error_dict({}).items():
        for item in items:
            detail = ErrorDetail(
                _error_code(field, item.code),
                " ".join(item.messages),
                None if field == NON_FIELD_ERRORS else field,
            )
            if detail not in details:
                details.append(detail)
    return CatalogError.from_details(details)


# Constraint name fragment -> (code, field) for races the up-front validation cannot see.
_CONSTRAINT_ERRORS: tuple[tuple[str, CatalogErrorCode, str], ...] = (
    ("catalog_category_no_cycle", CatalogErrorCode.CATEGORY_CYCLE, "parent"),
    ("catalog_category_not_own_parent", CatalogErrorCode.CATEGORY_CYCLE, "parent"),
    ("catalog_product_price_not_negative", CatalogErrorCode.PRICE_INVALID, "price"),
    ("catalog_product_stock_not_negative", CatalogErrorCode.INSUFFICIENT_STOCK, "delta"),
    ("_sku_", CatalogErrorCode.SKU_TAKEN, "sku"),
    ("_slug_", CatalogErrorCode.SLUG_TAKEN, "slug"),
    ("_category_id_", CatalogErrorCode.NOT_FOUND, "category"),
    ("_parent_id_", CatalogErrorCode.NOT_FOUND, "parent"),
)


def _from_integrity_error(error: IntegrityError) -> CatalogError | None:
    diag = getattr(error.__cause__, "diag", None)
    constraint = f"{getattr(diag, 'constraint_name', None) or ''}_"
    for fragment, code, field in _CONSTRAINT_ERRORS:
        if fragment in constraint:
            return CatalogError(code, "The change conflicts with a concurrent one.", field=field)
    return None


@contextmanager
def catalog_errors() -> Iterator[None]:
    """Turn Django validation and constraint failures into ``CatalogError``.

    Wraps the outermost ``transaction.atomic`` of a write, so a constraint the database checks
    at COMMIT (deferred foreign keys) is translated too. An IntegrityError of a constraint not
    listed here is a bug and propagates unchanged.
    """
    try:
        yield
    except CatalogError:
        raise
    except ValidationError as error:
        raise _from_validation_error(error) from error
    except IntegrityError as error:
        translated = _from_integrity_error(error)
        if translated is None:
            raise
        raise translated from error


def _locked[M: Category | Product](
    model: type[M], pk: int | None, *, field: str, for_reference: bool = False
) -> M:
    """The current row of ``model`` locked for this transaction; NOT_FOUND (on ``field``) when
    it does not exist. ``for_reference`` takes the weaker ``FOR NO KEY UPDATE``: enough to stop
    a concurrent delete while a row that points at it is written."""
    try:
        return model._default_manager.select_for_update(no_key=for_reference).get(pk=pk)
    except model.DoesNotExist:
        raise CatalogError(
            CatalogErrorCode.NOT_FOUND,
            f"No {model._meta.verbose_name} with this id exists.",
            field=field,
        ) from None


def _exact_price(price: Decimal | None) -> Decimal | None:
    """``10.100`` is the same amount as ``10.10`` and is stored as such; an amount that needs a
    third decimal (``10.105``) is kept as given, so validation refuses it instead of rounding."""
    if price is None or not price.is_finite():
        return price
    try:
        rounded = price.quantize(PRICE_QUANTUM)
    except InvalidOperation:  # more digits than the decimal context holds: refused later
        return price
    return rounded if rounded == price else price


def _changes_apply(instance: Category | Product, **changes: object) -> None:
    """Set each field an update service was given, leaving those passed as ``UNCHANGED``."""
    for field, value in changes.items():
        if value is not UNCHANGED:
            setattr(instance, field, value)


# The text a client types into a category or product. Its surrounding whitespace is dropped
# here, once for every transport: Django's forms (the admin) and DRF's fields (REST) drop it
# before a service sees it, GraphQL passes it as sent, and the same input must be stored alike
# ("  Lamp  " as "Lamp", "   " a blank name) whichever API sent it.
_TYPED_TEXT_FIELDS = ("name", "slug", "sku", "description")


def _full_clean_and_save(instance: Category | Product) -> None:
    """Validate like a form would (fields, uniqueness, named constraints), then write. Typed
    text loses its surrounding whitespace first, so a blank name is an empty one; text
    PostgreSQL cannot store (a NUL character) is refused before the uniqueness queries."""
    for field in _TYPED_TEXT_FIELDS:
        if isinstance(value := getattr(instance, field, None), str):
            setattr(instance, field, value.strip())
    text_fields_validate(instance)
    instance.full_clean()
    instance.save()


def category_create(
    *,
    name: str,
    slug: str,
    description: str = "",
    parent: Category | None = None,
    position: int = 0,
) -> Category:
    """Create a category, at the top level or under ``parent``.

    Validated with ``full_clean`` (SLUG_TAKEN, INVALID per field); the parent is locked
    against a concurrent delete (NOT_FOUND if it is gone). One transaction.
    """
    with catalog_errors(), transaction.atomic():
        if parent is not None:
            parent = _locked(Category, parent.pk, field="parent", for_reference=True)
        category = Category(
            name=name, slug=slug, description=description, parent=parent, position=position
        )
        _full_clean_and_save(category)
        return category


def category_update(
    *,
    category: Category,
    name: str | Unchanged = UNCHANGED,
    slug: str | Unchanged = UNCHANGED,
    description: str | Unchanged = UNCHANGED,
    position: int | Unchanged = UNCHANGED,
    parent: Category | Unchanged | None = UNCHANGED,
) -> Category:
    """Change the given fields of a category; ``parent`` (None: the top level) moves it with
    its whole subtree through ``category_move``.

    A move under itself or its own subtree is CATEGORY_CYCLE, checked on locked rows before
    any write (and refused by the database trigger as a last line). One transaction: on any
    error nothing changed, the renames included.
    """
    with catalog_errors(), transaction.atomic():
        locked = _locked(Category, category.pk, field="id")
        if isinstance(parent, Category):
            parent = _locked(Category, parent.pk, field="parent", for_reference=True)
            if parent.path.startswith(locked.path):
                raise CatalogError(
                    CatalogErrorCode.CATEGORY_CYCLE,
                    "A category cannot move under itself or one of its subcategories.",
                    field="parent",
                )
        _changes_apply(locked, name=name, slug=slug, description=description, position=position)
        _full_clean_and_save(locked)
        if parent is not UNCHANGED and locked.parent_id != (parent.pk if parent else None):
            locked = category_move(category=locked, parent=parent)
        return locked


def product_create(
    *,
    name: str,
    slug: str,
    sku: str,
    price: Decimal,
    category: Category,
    description: str = "",
    stock_quantity: int = 0,
    is_published: bool = True,
) -> Product:
    """Create a product in ``category``.

    Validated with ``full_clean``: SLUG_TAKEN, SKU_TAKEN, PRICE_INVALID (negative, a third
    decimal, more than 12 digits), INVALID per field, all reported together; the category is
    locked against a concurrent delete (NOT_FOUND if it is gone). One transaction.
    """
    with catalog_errors(), transaction.atomic():
        category = _locked(Category, category.pk, field="category", for_reference=True)
        product = Product(
            name=name,
            slug=slug,
            sku=sku,
            price=_exact_price(price),
            category=category,
            description=description,
            stock_quantity=stock_quantity,
            is_published=is_published,
        )
        _full_clean_and_save(product)
        return product


def product_update(
    *,
    product: Product,
    name: str | Unchanged = UNCHANGED,
    slug: str | Unchanged = UNCHANGED,
    sku: str | Unchanged = UNCHANGED,
    description: str | Unchanged = UNCHANGED,
    price: Decimal | Unchanged = UNCHANGED,
    category: Category | Unchanged = UNCHANGED,
    is_published: bool | Unchanged = UNCHANGED,
) -> Product:
    """Change the given fields of a product (stock changes go through ``product_stock_adjust``).

    The product row is locked for the transaction, so concurrent updates apply one after the
    other; errors as in ``product_create``, and on any error nothing changed.
    """
    with catalog_errors(), transaction.atomic():
        locked = _locked(Product, product.pk, field="id")
        if isinstance(category, Category):
            locked.category = _locked(Category, category.pk, field="category", for_reference=True)
        if price is not UNCHANGED:
            locked.price = _exact_price(price)
        _changes_apply(
            locked,
            name=name,
            slug=slug,
            sku=sku,
            description=description,
            is_published=is_published,
        )
        _full_clean_and_save(locked)
        return locked


def product_delete(*, product: Product) -> None:
    """Delete a product; NOT_FOUND if it is already gone. Order history keeps its lines (their
    product reference becomes null; name, SKU and price were copied onto each line)."""
    with catalog_errors(), transaction.atomic():
        _locked(Product, product.pk, field="id").delete()


def products_lock(*, product_ids: Collection[int]) -> None:
    """Lock these products' rows (``FOR UPDATE``) for the caller's transaction, in ascending id.

    Ascending id is the order in which order placing and restocking take product rows, so a
    transaction that then writes the products one by one in another order (the admin's
    changelist saves rows in the order the page listed them) holds every row before it writes
    any and never waits on a checkout in a cycle. One statement; ids of products gone are
    skipped (the write that follows reports them). Outside a transaction Django refuses it.
    """
    locked = Product.objects.select_for_update().filter(pk__in=product_ids).order_by("pk")
    list(locked.values_list("pk", flat=True))  # evaluated for its locks alone


def product_stock_adjust(*, product_id: int, delta: int) -> int:
    """Add ``delta`` (negative: remove) units to a product's stock; returns the new quantity.

    ONE conditional statement, ``UPDATE ... SET stock_quantity = stock_quantity + delta
    WHERE id = ... AND stock_quantity + delta >= 0 RETURNING stock_quantity``: concurrent
    adjustments serialize on the row lock and each re-checks the condition on the latest
    value, so stock never goes below zero and no adjustment is lost. A refused one is
    INSUFFICIENT_STOCK carrying the units available, or NOT_FOUND.
    """
    with catalog_errors(), transaction.atomic(), connection.cursor() as cursor:
        try:
            cursor.execute(
                "UPDATE catalog_product SET stock_quantity = stock_quantity + %s, "
                "updated_at = now() WHERE id = %s AND stock_quantity + %s >= 0 "
                "RETURNING stock_quantity",
                [delta, product_id, delta],
            )
        except DataError:  # the sum leaves PostgreSQL's integer range
            raise CatalogError(
                CatalogErrorCode.INVALID, "The adjustment is too large.", field="delta"
            ) from None
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        available = (
            Product.objects.filter(pk=product_id).values_list("stock_quantity", flat=True).first()
        )
        if available is None:
            raise CatalogError(
                CatalogErrorCode.NOT_FOUND, "No product with this id exists.", field="id"
            )
        raise CatalogError(
            CatalogErrorCode.INSUFFICIENT_STOCK,
            f"Only {available} units are in stock; cannot remove {-delta}.",
            field="delta",
            available_quantity=available,
        )


# Words of the vocabulary (``SearchWord``) that no product's name or SKU holds any more, the
# same words migration 0004's triggers add.
_SEARCH_WORDS_PRUNE_SQL = """
DELETE FROM catalog_searchword AS vocabulary
WHERE NOT EXISTS (
    SELECT FROM (
        SELECT DISTINCT word
        FROM catalog_product, catalog_search_words(catalog_product.name, catalog_product.sku)
            AS word
    ) AS held
    WHERE held.word = vocabulary.word
)
"""


@transaction.atomic
def search_words_prune() -> int:
    """Delete the search vocabulary's words that no product's name or SKU holds any more (a
    product renamed or deleted), so a typo's few corrections go to words that find something;
    the number deleted.

    One statement reading every product's name and SKU (seconds at a million products). The
    vocabulary is locked against writers first (SHARE ROW EXCLUSIVE): a product inserted or
    renamed meanwhile adds its words through a trigger, which waits until this commits, and one
    that was adding words when this began is waited for and seen, so a word a product holds is
    never deleted. Only product inserts and renames wait; stock and price updates do not touch
    the vocabulary.
    """
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE catalog_searchword IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(_SEARCH_WORDS_PRUNE_SQL)
        return cursor.rowcount


# Each key's rows of ``ProductFacetCount`` folded into one, keys summing to nothing dropped; the
# number of rows it removed. The DELETE's snapshot decides what moves: a change committed after
# it, or still uncommitted, is left as it is and counted beside the folded row.
_FACET_COUNTS_COMPACT_SQL = """
WITH moved AS (
    DELETE FROM catalog_productfacetcount
    RETURNING category_id, price_step, is_published, products, in_stock
),
kept AS (
    INSERT INTO catalog_productfacetcount
        (category_id, price_step, is_published, products, in_stock)
    SELECT category_id, price_step, is_published, sum(products), sum(in_stock)
    FROM moved
    GROUP BY 1, 2, 3
    HAVING sum(products) <> 0 OR sum(in_stock) <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) - (SELECT count(*) FROM kept)
"""


def product_facet_counts_compact() -> int:
    """Fold the facet counts' change rows (``ProductFacetCount``, appended by triggers on every
    product write that changes a count) into one row per key, so a facets read sums a row per
    category, price step and published state rather than every change since; the number of rows
    removed. One statement, safe beside writers and beside another compaction."""
    with connection.cursor() as cursor:
        cursor.execute(_FACET_COUNTS_COMPACT_SQL)
        return int(cursor.fetchone()[0])
