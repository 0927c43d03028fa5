"""``catalog_search_word`` tells whether a prefix starts some vocabulary word by one probe of
the primary key's btree (the first word from the prefix on, in byte order), instead of
``starts_with`` over every word: with a vocabulary of 300,000 words that test read them all,
30 to 50 ms for each misspelt last word (docs/decisions/0028-search-relevance.md)."""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION catalog_search_word(
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
        OR (as_prefix AND starts_with(
            (SELECT word FROM catalog_searchword WHERE word >= query_word ORDER BY word LIMIT 1),
            query_word
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


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_product_search_tiers")]

    # Backwards, the function keeps this body: it answers exactly as 0004's did, and 0004's
    # own reverse drops it.
    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
