"""Deterministic, fast generation of a large benchmark catalog (``manage.py seed``).

Ownership: seed rows are recognised by their keys alone. Seed categories have slugs
``seed-c<index>-...``, seed products have SKUs ``SEED-<8-digit index>`` and slugs
``seed-p<index>-...``. Nothing else in the catalog (the demo catalog, hand-made rows) is read
for generation, modified or deleted.

Determinism: category ``i`` and product ``i`` are a pure function of ``(seed, i)`` (a product's
category also depends on the seed categories that exist when it is inserted). So seeding with
``--products 1000`` and later ``--products 2000`` gives the same rows as seeding 2000 at once.

Idempotency: a run inserts only the indexes that are missing (``existing count .. N``); the same
or a smaller count inserts nothing. Each run is one transaction, so seed rows always form a
contiguous index range and an interrupted run leaves neither rows nor schema changes behind.
"""

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from backend.catalog.models import Category, Product

CATEGORY_SLUG_PREFIX = "seed-c"
PRODUCT_SLUG_PREFIX = "seed-p"
PRODUCT_SKU_PREFIX = "SEED-"
# Deepest category level (0 = top level): four levels in all.
MAX_CATEGORY_DEPTH = 3
# Products are generated in fixed chunks, each from its own RNG, so that row i does not depend
# on the batch size or on where a previous run stopped.
CHUNK_SIZE = 1024
# From this many new rows on, the product's Meta.indexes are dropped and rebuilt around the
# load: one build per index beats maintaining them row by row for a large load (timings in
# docs/performance.md, "Levers"). Below it, rebuilding over the whole existing table would
# cost more than maintaining the indexes row by row.
INDEX_REBUILD_MIN_ROWS = 100_000
# Seed timestamps are fixed (not "now") so that equal arguments give equal rows.
SEED_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

DEPARTMENTS = (
    "Apparel", "Electronics", "Home", "Garden", "Sports", "Toys", "Books", "Beauty", "Kitchen",
    "Outdoors", "Automotive", "Office", "Music", "Pets", "Health", "Jewelry", "Tools", "Baby",
)  # fmt: skip
CATEGORY_NOUNS = (
    "Shoes", "Jackets", "Audio", "Headphones", "Lighting", "Furniture", "Cookware", "Bedding",
    "Cameras", "Laptops", "Monitors", "Bikes", "Tents", "Bags", "Watches", "Games", "Puzzles",
    "Skincare", "Fragrance", "Storage", "Rugs", "Tableware", "Drills", "Paint", "Supplements",
    "Guitars", "Keyboards", "Speakers", "Backpacks", "Socks", "Shirts", "Dresses", "Hats",
)  # fmt: skip
CATEGORY_QUALIFIERS = (
    "Running", "Trail", "Wireless", "Smart", "Outdoor", "Indoor", "Kids", "Vintage", "Travel",
    "Professional", "Compact", "Premium", "Everyday", "Winter", "Summer", "Eco", "Classic",
)  # fmt: skip
BRANDS = (
    "Acme", "Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell",
    "Hooli", "Vandelay", "Soylent", "Cyberdyne", "Wonka", "Aperture", "Oscorp", "Gringotts",
    "Monarch", "Pied Piper", "Blue Sun", "Virtucon", "Nakatomi", "Dunder", "Sterling", "Bluth",
)  # fmt: skip
ADJECTIVES = (
    "Ultralight", "Rugged", "Waterproof", "Ergonomic", "Wireless", "Compact", "Deluxe", "Classic",
    "Modern", "Portable", "Insulated", "Breathable", "Heavy-duty", "Slim", "Foldable", "Quiet",
    "Rechargeable", "Organic", "Handmade", "Vintage", "Smart", "Adjustable", "Durable", "Soft",
)  # fmt: skip
MATERIALS = (
    "Wool", "Cotton", "Leather", "Steel", "Bamboo", "Ceramic", "Oak", "Walnut", "Aluminium",
    "Carbon", "Linen", "Silk", "Glass", "Copper", "Canvas", "Nylon", "Merino", "Titanium",
)  # fmt: skip
PRODUCT_NOUNS = (
    "Jacket", "Sneaker", "Boot", "Headphones", "Speaker", "Lamp", "Chair", "Desk", "Mug", "Kettle",
    "Backpack", "Tent", "Watch", "Camera", "Keyboard", "Mouse", "Monitor", "Blanket", "Pillow",
    "Skillet", "Knife", "Drill", "Guitar", "Bicycle", "Helmet", "Scarf", "Sweater", "Wallet",
    "Bottle", "Notebook", "Pen", "Puzzle", "Candle", "Vase", "Rug", "Towel", "Shirt", "Hoodie",
)  # fmt: skip
DESCRIPTION_PHRASES = (
    "built to last", "perfect for travel", "easy to clean", "made from recycled materials",
    "loved by professionals", "ideal as a gift", "designed for everyday use",
    "with a two-year warranty", "tested in extreme weather", "energy efficient",
    "lightweight and strong", "comfortable all day", "sustainably sourced",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """One generated category; ``parent_index`` is ``None`` for a top-level category."""

    index: int
    name: str
    slug: str
    description: str
    parent_index: int | None
    depth: int
    position: int


@dataclass(frozen=True, slots=True)
class SeedResult:
    categories_created: int
    products_created: int
    indexes_rebuilt: bool


def _slug_part(text: str) -> str:
    return text.lower().replace(" ", "-")


def category_tree_generate(*, count: int, seed: int) -> list[CategorySpec]:
    """The first ``count`` seed categories, parents always before their children.

    Guarantees: category ``i`` depends only on ``(seed, i)``; the tree is four levels deep
    (depth 0..3) as soon as ``count >= 4`` (indexes 0-3 form a chain); slugs are unique.
    Later categories become a new top-level department with probability 1/25, otherwise a
    child of a random earlier category that is not yet at the deepest level.
    """
    specs: list[CategorySpec] = []
    children_count: dict[int | None, int] = {}
    expandable: list[int] = []  # indexes whose depth allows children
    for index in range(count):
        rng = random.Random(f"category:{seed}:{index}")
        if index == 0:
            parent_index = None
        elif index <= MAX_CATEGORY_DEPTH:
            parent_index = index - 1
        elif rng.random() < 1 / 25:
            parent_index = None
        else:
            parent_index = rng.choice(expandable)
        depth = 0 if parent_index is None else specs[parent_index].depth + 1
        if depth == 0:
            name = rng.choice(DEPARTMENTS)
        elif depth == 1:
            name = rng.choice(CATEGORY_NOUNS)
        else:
            name = f"{rng.choice(CATEGORY_QUALIFIERS)} {rng.choice(CATEGORY_NOUNS).lower()}"
        position = children_count.get(parent_index, 0)
        children_count[parent_index] = position + 1
        specs.append(
            CategorySpec(
                index=index,
                name=name,
                slug=f"{CATEGORY_SLUG_PREFIX}{index}-{_slug_part(name)}",
                description=f"{name}: {rng.choice(DESCRIPTION_PHRASES)}.",
                parent_index=parent_index,
                depth=depth,
                position=position,
            )
        )
        if depth < MAX_CATEGORY_DEPTH:
            expandable.append(index)
    return specs


def categories_seed(*, count: int, seed: int) -> tuple[list[int], int]:
    """Make sure seed categories ``0 .. count-1`` exist; return (their ids by index, created).

    Inserts level by level with one multi-row INSERT per level: the path trigger reads the
    parent's row, which a row inserted by the same statement could not see. ``path`` is never
    written here; the trigger fills it. Existing seed categories are never modified.
    Raises ``ValueError`` when the existing seed categories were made with another seed.
    """
    specs = category_tree_generate(count=count, seed=seed)
    existing = dict(
        Category.objects.filter(slug__startswith=CATEGORY_SLUG_PREFIX).values_list("slug", "id")
    )
    ids: dict[int, int] = {}
    for spec in specs:
        if spec.slug in existing:
            ids[spec.index] = existing[spec.slug]
    if existing and len(ids) < min(len(existing), count):
        raise ValueError(
            "The seed categories in the database were generated with another --seed; "
            "use the same --seed (or remove the seed-* rows first)."
        )
    missing = [spec for spec in specs if spec.index not in ids]
    created_at = SEED_EPOCH
    with connection.cursor() as cursor:
        for depth in range(MAX_CATEGORY_DEPTH + 1):
            level = [spec for spec in missing if spec.depth == depth]
            if not level:
                continue
            cursor.execute(
                "INSERT INTO catalog_category"
                " (name, slug, description, parent_id, position, created_at, updated_at)"
                " SELECT n, s, d, p, pos, %s, %s"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::int[])"
                " AS t(n, s, d, p, pos) RETURNING slug, id",
                [
                    created_at,
                    created_at,
                    [spec.name for spec in level],
                    [spec.slug for spec in level],
                    [spec.description for spec in level],
                    [
                        None if spec.parent_index is None else ids[spec.parent_index]
                        for spec in level
                    ],
                    [spec.position for spec in level],
                ],
            )
            by_slug = dict(cursor.fetchall())
            for spec in level:
                ids[spec.index] = by_slug[spec.slug]
    return [ids[index] for index in range(count)], len(missing)


def product_rows_generate(
    *, start: int, stop: int, seed: int, category_ids: list[int]
) -> Iterator[str]:
    """COPY text lines (tab-separated, newline-terminated) for seed products ``start .. stop-1``.

    Guarantees: row ``i`` depends only on ``(seed, i, category_ids)``; SKU and slug are unique;
    price is an exact two-decimal amount (integer cents, never a float) spread log-normally
    (median about 30, from 0.50 to 20000); stock is >= 0 and 0 for about one product in ten;
    about 95% are published; name and description are words that full-text search can match.
    The word lists hold no tab, newline or backslash, so no COPY escaping is needed.
    """
    first_chunk, last_chunk = start // CHUNK_SIZE, (stop - 1) // CHUNK_SIZE
    for chunk in range(first_chunk, last_chunk + 1):
        rng = random.Random(f"product:{seed}:{chunk}")
        # Bind hot methods locally: this loop runs a million times.
        choice, rand, gauss, randrange = rng.choice, rng.random, rng.gauss, rng.randrange
        chunk_start = chunk * CHUNK_SIZE
        for index in range(chunk_start, chunk_start + CHUNK_SIZE):
            brand, adjective, material, noun = (
                choice(BRANDS),
                choice(ADJECTIVES),
                choice(MATERIALS),
                choice(PRODUCT_NOUNS),
            )
            phrase = choice(DESCRIPTION_PHRASES)
            category_id = choice(category_ids)
            cents = min(max(int(2.0 ** gauss(11.55, 1.6)), 50), 2_000_000)
            if rand() < 0.6:  # most shop prices end in .99
                cents = max(cents - cents % 100 - 1, 99)
            stock = 0 if rand() < 0.1 else int(rng.expovariate(1 / 40))
            published = "t" if rand() < 0.95 else "f"
            created = (SEED_EPOCH + timedelta(seconds=index * 20 + randrange(20))).isoformat()
            if index < start or index >= stop:
                continue  # consumed the RNG so the rows after it stay the same
            name = f"{brand} {adjective} {material} {noun}"
            yield (
                f"{name}\t{PRODUCT_SLUG_PREFIX}{index}-{_slug_part(name)}\t"
                f"{PRODUCT_SKU_PREFIX}{index:08d}\t"
                f"{adjective} {material.lower()} {noun.lower()} by {brand}, {phrase}.\t"
                f"{cents // 100}.{cents % 100:02d}\t{stock}\t{category_id}\t{published}\t"
                f"{created}\t{created}\n"
            )


PRODUCT_COPY_SQL = (
    "COPY catalog_product (name, slug, sku, description, price, stock_quantity, category_id,"
    " is_published, created_at, updated_at) FROM STDIN"
)


def products_seed(
    *,
    count: int,
    seed: int,
    category_ids: list[int],
    batch_size: int = 50_000,
    rebuild_indexes: bool | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> tuple[int, bool]:
    """Make sure seed products ``0 .. count-1`` exist; return (created, indexes rebuilt).

    Streams rows with COPY (``search_vector`` is a generated column, so it is left out and
    PostgreSQL computes it). With ``rebuild_indexes`` (default: when at least
    INDEX_REBUILD_MIN_ROWS rows are added) the product's ``Meta.indexes`` are dropped first and
    recreated from the same model definitions afterwards, so the schema ends up identical.
    Must run inside a transaction (``seed`` provides it): a failure rolls back rows and DDL.
    ``progress(sent, total)`` is called after each batch with the rows sent in it and the
    number of rows this run adds.
    """
    existing = Product.objects.filter(sku__startswith=PRODUCT_SKU_PREFIX).count()
    if existing >= count:
        return 0, False
    to_create = count - existing
    if rebuild_indexes is None:
        rebuild_indexes = to_create >= INDEX_REBUILD_MIN_ROWS
    indexes = Product._meta.indexes
    if rebuild_indexes:
        with connection.schema_editor(atomic=False) as editor:
            for index in indexes:
                editor.remove_index(Product, index)
    connection.ensure_connection()
    raw = connection.connection  # the psycopg 3 connection, inside Django's transaction
    with raw.cursor() as cursor:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: a million queued checks
        # would cost memory and forbid CREATE INDEX ("pending trigger events"). Check each
        # row as it arrives instead, then restore the default for the rest of the transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with raw.cursor() as cursor, cursor.copy(PRODUCT_COPY_SQL) as copy:
        rows = product_rows_generate(
            start=existing, stop=count, seed=seed, category_ids=category_ids
        )
        batch: list[str] = []
        for line in rows:
            batch.append(line)
            if len(batch) >= batch_size:
                copy.write("".join(batch))
                if progress:
                    progress(len(batch), to_create)
                batch.clear()
        if batch:
            copy.write("".join(batch))
            if progress:
                progress(len(batch), to_create)
    with raw.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    if rebuild_indexes:
        with connection.schema_editor(atomic=False) as editor:
            for index in indexes:
                editor.add_index(Product, index)
    return to_create, rebuild_indexes


def catalog_seed(
    *,
    products: int,
    categories: int,
    seed: int = 0,
    batch_size: int = 50_000,
    rebuild_indexes: bool | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> SeedResult:
    """Make sure the seed catalog has ``categories`` categories and ``products`` products.

    One transaction with ``synchronous_commit`` off (a lost seed can be re-run) and a large
    ``maintenance_work_mem`` for index builds; ANALYZE afterwards so the planner sees the new
    row counts. Only seed-owned rows (see module docstring) are inserted; nothing is updated
    or deleted. Raises ``ValueError`` for products without categories or a mismatched seed.
    """
    if products > 0 and categories < 1:
        raise ValueError("Products need at least one category (--categories >= 1).")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        category_ids, categories_created = categories_seed(count=categories, seed=seed)
        products_created, rebuilt = (
            products_seed(
                count=products,
                seed=seed,
                category_ids=category_ids,
                batch_size=batch_size,
                rebuild_indexes=rebuild_indexes,
                progress=progress,
            )
            if products
            else (0, False)
        )
        if categories_created or products_created:
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE catalog_category, catalog_product, catalog_productfacetcount"
                )
    return SeedResult(categories_created, products_created, rebuilt)
