"""The search vocabulary (``SearchWord``): the words of product names and SKUs, kept by
triggers so every writer (services, admin, bulk loads, COPY, raw SQL) adds its words, and the
function a search corrects a query word with (docs/decisions/0028-search-relevance.md)."""

import django.contrib.postgres.indexes
from django.db import migrations, models

FORWARD = r"""
-- The words of a name and SKU as the vocabulary keeps them: lower-case, letters only (a typo
-- in a number or a SKU is not corrected).
CREATE FUNCTION catalog_search_words(name text, sku text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT word FROM unnest(tsvector_to_array(to_tsvector('simple', name || ' ' || sku))) AS word
    WHERE word ~ '^[[:alpha:]]+$'
$$;

-- Inserted words in byte order, so two transactions adding overlapping words cannot deadlock.
CREATE FUNCTION catalog_search_words_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_searchword (word)
    SELECT DISTINCT word FROM new_products, catalog_search_words(new_products.name, new_products.sku) AS word
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE FUNCTION catalog_search_words_rename() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_searchword (word)
    SELECT DISTINCT word FROM catalog_search_words(NEW.name, NEW.sku) AS word
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

-- Once per INSERT statement (a bulk load's batch is one set-based insert).
CREATE TRIGGER catalog_product_search_words_insert
    AFTER INSERT ON catalog_product
    REFERENCING NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_search_words_insert();

-- Only renames: stock and price updates do not pay for it.
CREATE TRIGGER catalog_product_search_words_rename
    AFTER UPDATE OF name, sku ON catalog_product
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.sku IS DISTINCT FROM NEW.sku)
    EXECUTE FUNCTION catalog_search_words_rename();

INSERT INTO catalog_searchword (word)
SELECT DISTINCT word FROM catalog_product, catalog_search_words(catalog_product.name, catalog_product.sku) AS word
ORDER BY 1
ON CONFLICT DO NOTHING;

-- A query word as a tsquery: the word itself (a prefix when ``as_prefix``), and, when the
-- vocabulary has no such word (or, for a prefix, no word starting so), OR'd with the
-- ``candidates`` most similar vocabulary words (trigram similarity at least ``threshold``).
-- STABLE: searches call it once per statement, as an InitPlan.
CREATE FUNCTION catalog_search_word(
    query_word text, as_prefix boolean, candidates integer, threshold real
) RETURNS tsquery
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    typed tsquery := to_tsquery(
        'english', quote_literal(query_word) || CASE WHEN as_prefix THEN ':*' ELSE '' END
    );
    similar_words text;
BEGIN
    IF EXISTS (SELECT FROM catalog_searchword WHERE word = query_word)
        OR (as_prefix AND EXISTS (
            SELECT FROM catalog_searchword WHERE starts_with(word, query_word)
        ))
    THEN
        RETURN typed;
    END IF;
    SELECT string_agg(quote_literal(word), ' | ') INTO similar_words FROM (
        SELECT word FROM catalog_searchword
        WHERE word % query_word AND similarity(word, query_word) >= threshold
        ORDER BY similarity(word, query_word) DESC, word
        LIMIT candidates
    ) AS nearest;
    IF similar_words IS NULL THEN
        RETURN typed;
    END IF;
    RETURN typed || to_tsquery('english', similar_words);
END;
$$;
"""

REVERSE = """
DROP FUNCTION catalog_search_word(text, boolean, integer, real);
DROP TRIGGER catalog_product_search_words_rename ON catalog_product;
DROP TRIGGER catalog_product_search_words_insert ON catalog_product;
DROP FUNCTION catalog_search_words_rename();
DROP FUNCTION catalog_search_words_insert();
DROP FUNCTION catalog_search_words(text, text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_product_name_prefix_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[
                ("word", models.TextField(db_collation="C", primary_key=True, serialize=False)),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.GinIndex(
                        fields=["word"],
                        name="catalog_searchword_trgm_idx",
                        opclasses=["gin_trgm_ops"],
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
