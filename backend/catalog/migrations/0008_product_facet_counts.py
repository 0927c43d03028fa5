"""Product counts per category, price step and published state (``ProductFacetCount``), kept by
triggers so every writer (services, admin, bulk loads, COPY, raw SQL) keeps them, and the price
step function the facets count with (docs/decisions/0027-search-facets-highlights-suggest.md).

Writers only append changes (+1 and -1 rows), so concurrent writers never wait on a count row;
``services.product_facet_counts_compact`` folds them together on the beat schedule."""

from django.db import migrations, models

# selectors.FACET_PRICE_GRID in cents (tests/catalog/test_facet_counts.py checks they agree).
PRICE_GRID_CENTS = (
    "0,100,150,200,250,300,400,500,600,800,1000,1500,2000,2500,3000,4000,5000,6000,8000,10000,"
    "15000,20000,25000,30000,40000,50000,60000,80000,100000,150000,200000,250000,300000,400000,"
    "500000,600000,800000,1000000,1500000,2000000,2500000,3000000,4000000,5000000,6000000,"
    "8000000,10000000,15000000,20000000,25000000,30000000,40000000,50000000,60000000,80000000,"
    "100000000,150000000,200000000,250000000,300000000,400000000,500000000,600000000,800000000,"
    "1000000000,1500000000,2000000000,2500000000,3000000000,4000000000,5000000000,6000000000,"
    "8000000000,10000000000,15000000000,20000000000,25000000000,30000000000,40000000000,"
    "50000000000,60000000000,80000000000,100000000000,150000000000,200000000000,250000000000,"
    "300000000000,400000000000,500000000000,600000000000,800000000000,1000000000000"
)

FORWARD = (
    r"""
-- A price's step of the facets' grid: step i holds prices from grid[i - 1] up to grid[i]
-- (width_bucket over the grid in cents: a probe compares two bigints, not two numerics). A
-- one-expression SQL function, inlined where it is called.
CREATE FUNCTION catalog_price_step(price numeric) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT width_bucket((price * 100)::bigint, '{"""
    + PRICE_GRID_CENTS
    + r"""}'::bigint[])
$$;

CREATE FUNCTION catalog_product_facet_counts_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_productfacetcount (category_id, price_step, is_published, products, in_stock)
    SELECT category_id, catalog_price_step(price), is_published, count(*),
        count(*) FILTER (WHERE stock_quantity > 0)
    FROM new_products GROUP BY 1, 2, 3;
    RETURN NULL;
END;
$$;

CREATE FUNCTION catalog_product_facet_counts_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_productfacetcount (category_id, price_step, is_published, products, in_stock)
    SELECT category_id, catalog_price_step(price), is_published, -count(*),
        -count(*) FILTER (WHERE stock_quantity > 0)
    FROM old_products GROUP BY 1, 2, 3;
    RETURN NULL;
END;
$$;

CREATE FUNCTION catalog_product_facet_counts_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_productfacetcount (category_id, price_step, is_published, products, in_stock)
    VALUES
        (OLD.category_id, catalog_price_step(OLD.price), OLD.is_published, -1,
            -(OLD.stock_quantity > 0)::integer),
        (NEW.category_id, catalog_price_step(NEW.price), NEW.is_published, 1,
            (NEW.stock_quantity > 0)::integer);
    RETURN NULL;
END;
$$;

-- Once per INSERT or DELETE statement (a bulk load's batch is one set-based insert).
CREATE TRIGGER catalog_product_facet_counts_insert
    AFTER INSERT ON catalog_product
    REFERENCING NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_product_facet_counts_insert();

CREATE TRIGGER catalog_product_facet_counts_delete
    AFTER DELETE ON catalog_product
    REFERENCING OLD TABLE AS old_products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_product_facet_counts_delete();

-- Only a change of what is counted: an order's stock decrement that leaves stock pays nothing.
CREATE TRIGGER catalog_product_facet_counts_update
    AFTER UPDATE OF category_id, price, is_published, stock_quantity ON catalog_product
    FOR EACH ROW WHEN (
        OLD.category_id IS DISTINCT FROM NEW.category_id
        OR OLD.is_published IS DISTINCT FROM NEW.is_published
        OR (OLD.stock_quantity > 0) IS DISTINCT FROM (NEW.stock_quantity > 0)
        OR catalog_price_step(OLD.price) IS DISTINCT FROM catalog_price_step(NEW.price)
    )
    EXECUTE FUNCTION catalog_product_facet_counts_update();

-- TRUNCATE fires no row or statement trigger above: the counts go with the products.
CREATE FUNCTION catalog_product_facet_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM catalog_productfacetcount;
    RETURN NULL;
END;
$$;

CREATE TRIGGER catalog_product_facet_counts_truncate
    AFTER TRUNCATE ON catalog_product
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_product_facet_counts_truncate();

INSERT INTO catalog_productfacetcount (category_id, price_step, is_published, products, in_stock)
SELECT category_id, catalog_price_step(price), is_published, count(*),
    count(*) FILTER (WHERE stock_quantity > 0)
FROM catalog_product GROUP BY 1, 2, 3;
"""
)

REVERSE = """
DROP TRIGGER catalog_product_facet_counts_truncate ON catalog_product;
DROP TRIGGER catalog_product_facet_counts_update ON catalog_product;
DROP TRIGGER catalog_product_facet_counts_delete ON catalog_product;
DROP TRIGGER catalog_product_facet_counts_insert ON catalog_product;
DROP FUNCTION catalog_product_facet_counts_truncate();
DROP FUNCTION catalog_product_facet_counts_update();
DROP FUNCTION catalog_product_facet_counts_delete();
DROP FUNCTION catalog_product_facet_counts_insert();
DROP FUNCTION catalog_price_step(numeric);
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0007_search_word_no_pattern_index")]

    operations = [
        migrations.CreateModel(
            name="ProductFacetCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("category_id", models.BigIntegerField()),
                ("price_step", models.IntegerField()),
                ("is_published", models.BooleanField()),
                ("products", models.IntegerField()),
                ("in_stock", models.IntegerField()),
            ],
            options={
                "indexes": [
                    models.Index(fields=["category_id"], name="catalog_facetcount_category")
                ],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
