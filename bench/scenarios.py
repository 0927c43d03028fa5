"""The benchmark scenarios: each a GraphQL operation as a storefront sends it, plus the
hand-written floor (one SQL statement, PostgreSQL builds the same JSON with ``json_agg``).

The floor answers the same request body (``{"query", "variables"}``) with the same
``data`` shape: same nodes, same fields, same order. It applies the same visibility rule
(published only, the viewer is anonymous) and the same keyset pagination. Global ids are
computed in SQL the way Strawberry encodes them; cursors are opaque strings in both.
"""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The fields of one product in a list page: what a product card shows.
_PRODUCT_CARD = """
    edges {
      cursor
      node { id name slug price { amount currency } category { id name } }
    }
    pageInfo { hasNextPage endCursor }
"""

LIST_QUERY = (
    "query ProductListPage($first: Int!, $after: String) {\n"
    "  products(first: $first, after: $after) {" + _PRODUCT_CARD + "  }\n}\n"
)
FILTERED_QUERY = (
    "query ProductListFiltered($first: Int!, $category: ID!, $min: Decimal, $max: Decimal) {\n"
    "  products(\n"
    "    first: $first\n"
    "    filter: {\n"
    "      category: $category, includeDescendants: true, price: { min: $min, max: $max }\n"
    "    }\n"
    "    order: { field: PRICE, direction: ASC }\n"
    "  ) {" + _PRODUCT_CARD + "  }\n}\n"
)
SEARCH_QUERY = (
    "query ProductSearch($first: Int!, $search: String!) {\n"
    "  products(first: $first, filter: { search: $search }) {" + _PRODUCT_CARD + "  }\n}\n"
)
SEARCH_FACETS_QUERY = (
    "query ProductSearchFacets($first: Int!, $search: String!) {\n"
    "  products(first: $first, filter: { search: $search }) {\n"
    "    facets {\n"
    "      categories { category { id name } count }\n"
    "      priceRanges { min max count }\n"
    "      inStock { count }\n"
    "    }" + _PRODUCT_CARD + "  }\n}\n"
)
SUGGEST_QUERY = "query ProductSuggest($prefix: String!) { productSuggest(prefix: $prefix) }"
# What a shopper has typed of the seed's brand "Virtucon" (backend/catalog/seeding.py BRANDS):
# a name prefix of about one product in 25, so a suggestion reads 5 names out of many.
SUGGEST_PREFIX = "vir"
DETAIL_QUERY = """query ProductDetail($slug: String!) {
  product(slug: $slug) {
    id name slug sku description
    price { amount currency }
    inStock
    category { id name slug ancestors { id name slug } }
  }
}
"""


def _global_id(type_name: str, column: str) -> str:
    # Strawberry's relay GlobalID: standard base64 of "<Type>:<pk>" (short: no line breaks).
    return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"


def _cursor(order_name: str, key_column: str) -> str:
    # An opaque urlsafe-base64 JSON cursor, like the API's (PostgreSQL's base64 wraps lines
    # every 76 characters: the newlines are dropped).
    payload = (
        f"json_build_object('o', '{order_name}', 'k', json_build_array({key_column}, p.id))::text"
    )
    return f"translate(encode(convert_to({payload}, 'UTF8'), 'base64'), E'+/\\n', '-_')"


def _connection_sql(
    *,
    where: str,
    order_by: str,
    cursor: str,
    root_field: str,
    before: str = "",
    source: str = "catalog_product",
    fields: str = "",
) -> str:
    """One statement: the page (size + 1 look-ahead row) in a CTE, aggregated to JSON. The
    page reads ``source``; ``before`` holds common tables written ahead of the page's, and
    ``fields`` more entries of the connection's JSON object (``'name', expression,``)."""
    return f"""
WITH {before}page AS (
  SELECT p.id, p.name, p.slug, p.price, c.id AS category_id, c.name AS category_name,
         {cursor} AS cursor,
         row_number() OVER (ORDER BY {order_by}) AS position
  FROM {source} p JOIN catalog_category c ON c.id = p.category_id
  WHERE {where}
  ORDER BY {order_by}
  LIMIT %(size)s::int + 1
)
SELECT json_build_object('data', json_build_object('{root_field}', json_build_object(
  {fields}'edges', COALESCE(json_agg(json_build_object(
      'cursor', cursor,
      'node', json_build_object(
        'id', {_global_id("Product", "id")},
        'name', name,
        'slug', slug,
        'price', json_build_object('amount', price::text, 'currency', %(currency)s::text),
        'category', json_build_object('id', {_global_id("Category", "category_id")},
                                      'name', category_name)))
    ORDER BY position) FILTER (WHERE position <= %(size)s::int), '[]'),
  'pageInfo', json_build_object(
    'hasNextPage', count(*) > %(size)s::int,
    'endCursor',
      (array_agg(cursor ORDER BY position DESC) FILTER (WHERE position <= %(size)s::int))[1])
)))::text
FROM page
"""


def _decode_cursor(cursor: str | None) -> list[Any] | None:
    """The key values of an API cursor (the floor accepts the API's own cursors)."""
    if not cursor:
        return None
    return json.loads(base64.urlsafe_b64decode(cursor.encode()))["k"]


def _pk_of(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":", 1)[1])


def _list_params(variables: dict[str, Any]) -> dict[str, Any]:
    after = _decode_cursor(variables.get("after"))
    return {
        "size": variables["first"],
        "after_key": after[0] if after else None,
        "after_id": after[1] if after else None,
    }


def _filtered_params(variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "size": variables["first"],
        "category": _pk_of(variables["category"]),
        "min": variables.get("min"),
        "max": variables.get("max"),
    }


def _search_params(variables: dict[str, Any]) -> dict[str, Any]:
    # The floor reads a one-word search as the API does (decisions 0028 and 0029): a prefix,
    # corrected when no product name or SKU has it, among the first SEARCH_CANDIDATES matches
    # read tier by tier plus the exact SKU and name matches.
    # Imported here: the harness imports the scenarios before it sets Django up.
    from backend.catalog.selectors import SEARCH_CANDIDATES, TYPO_CANDIDATES, TYPO_SIMILARITY

    [word] = variables["search"].lower().split()
    return {
        "size": variables["first"],
        "text": variables["search"],
        "word": word,
        "typed": f"'{word}':*",
        "candidates": SEARCH_CANDIDATES,
        "typo_candidates": TYPO_CANDIDATES,
        "typo_similarity": TYPO_SIMILARITY,
    }


# The search statement's parts, as backend.catalog.selectors writes them for one word: the
# corrected query computed once, in a common table every part reads.
_CORRECTED_TABLE = (
    "corrected AS MATERIALIZED (SELECT catalog_search_word(%(word)s, true,"
    " %(typo_candidates)s::int, %(typo_similarity)s::real) AS query),\n"
)
_CORRECTED = "(SELECT query FROM corrected)"
_EXACT_SKU = "(p.sku IN (%(text)s::text, upper(%(text)s::text)))"
_EXACT_NAME = '(lower(p.name) COLLATE "C" = lower(%(text)s::text))'
_SEARCH_RANK_SQL = f"""(
  (CASE WHEN {_EXACT_SKU} THEN 4.0::float8 ELSE 0.0::float8 END
   + CASE WHEN {_EXACT_NAME} THEN 2.0::float8 ELSE 0.0::float8 END
   + CASE WHEN p.search_vector @@ to_tsquery('english', %(typed)s)
          THEN 1.0::float8 ELSE 0.0::float8 END
   + ts_rank(p.search_vector, {_CORRECTED}, 32)))"""


def _search_candidates() -> str:
    # Imported here: it needs Django set up, which the harness does after importing this.
    from backend.catalog.models import SEARCH_TIERS

    by_tier = " UNION ALL ".join(
        f"(SELECT id FROM catalog_product WHERE search_vector @@ {_CORRECTED}"
        f" AND search_tier = {tier})"
        for tier in SEARCH_TIERS
    )
    return f"""
  ({by_tier} LIMIT %(candidates)s::int)
  UNION
  (SELECT id FROM catalog_product p WHERE {_EXACT_SKU} OR {_EXACT_NAME})"""


def _search_sql() -> str:
    return _connection_sql(
        before=_CORRECTED_TABLE,
        where=f"p.is_published AND p.id IN ({_search_candidates()})",
        order_by=f"{_SEARCH_RANK_SQL} DESC, p.id DESC",
        cursor=_cursor("Product:RELEVANCE:DESC", _SEARCH_RANK_SQL),
        root_field="products",
    )


# A search's facets as backend.catalog.selectors counts them: its candidates grouped by
# category and by price step in one pass; the FACET_CATEGORIES_MAX categories holding the most
# (then by name, then id); FACET_PRICE_RANGES ranges cut at the step ends whose running count
# is nearest each fifth of the total (the earlier on a tie, never after the last step), each
# from its cheapest product's step to a cent below the step after its dearest.
_FACETS_TABLES = """
facet_counts AS (
  SELECT category_id, price_step, GROUPING(category_id) AS all_categories,
         GROUPING(price_step) AS all_steps, count(*) AS products,
         count(*) FILTER (WHERE stock_quantity > 0) AS in_stock
  FROM (SELECT category_id, stock_quantity,
               width_bucket((price * 100)::bigint, %(grid_cents)s::bigint[]) AS price_step
        FROM matched) AS matching
  GROUP BY GROUPING SETS ((category_id), (price_step), ())
),
facet_categories AS (
  SELECT f.products, c.id, c.name
  FROM facet_counts f JOIN catalog_category c ON c.id = f.category_id
  WHERE f.all_categories = 0
  ORDER BY f.products DESC, c.name, c.id
  LIMIT %(facet_categories)s::int
),
facet_steps AS (
  SELECT price_step, sum(products) OVER (ORDER BY price_step) AS counted,
         row_number() OVER (ORDER BY price_step) AS n, count(*) OVER () AS steps,
         sum(products) OVER () AS total
  FROM facet_counts WHERE all_steps = 0
),
facet_ends AS (
  (SELECT DISTINCT ON (part) n
   FROM generate_series(1, %(facet_ranges)s::int - 1) AS part CROSS JOIN facet_steps
   WHERE n < steps
   ORDER BY part, abs(counted * %(facet_ranges)s::int - total * part), n)
  UNION
  SELECT steps FROM facet_steps
),
facet_ranges AS (
  SELECT n, lag(n, 1, 0::bigint) OVER (ORDER BY n) AS previous FROM facet_ends
),
"""
_FACETS_FIELDS = """
  'facets', json_build_object(
    'categories', COALESCE((
      SELECT json_agg(json_build_object(
          'category', json_build_object('id', {category_id}, 'name', name), 'count', products)
        ORDER BY products DESC, name, id)
      FROM facet_categories), '[]'),
    'priceRanges', COALESCE((
      SELECT json_agg(json_build_object(
          'min', ((%(grid)s::numeric[])[first.price_step])::text,
          'max', ((%(grid)s::numeric[])[last.price_step + 1] - 0.01)::text,
          'count', last.counted - COALESCE(before.counted, 0)) ORDER BY r.n)
      FROM facet_ranges r
      JOIN facet_steps last ON last.n = r.n
      JOIN facet_steps first ON first.n = r.previous + 1
      LEFT JOIN facet_steps before ON before.n = r.previous), '[]'),
    'inStock', json_build_object('count', COALESCE((
      SELECT in_stock FROM facet_counts WHERE all_categories = 1 AND all_steps = 1), 0))),
"""


def _search_facets_sql() -> str:
    """Scenario (d)'s statement, its candidates materialized once (as the API's page with
    facets reads them, decision 0027) and counted into the facets beside the page."""
    return _connection_sql(
        before=f"{_CORRECTED_TABLE}matched AS MATERIALIZED (\n  SELECT p.* FROM catalog_product p"
        f" WHERE p.is_published AND p.id IN ({_search_candidates()})),{_FACETS_TABLES}",
        source="matched",
        where="true",
        order_by=f"{_SEARCH_RANK_SQL} DESC, p.id DESC",
        cursor=_cursor("Product:RELEVANCE:DESC", _SEARCH_RANK_SQL),
        root_field="products",
        fields=_FACETS_FIELDS.format(category_id=_global_id("Category", "id")),
    )


def _search_facets_params(variables: dict[str, Any]) -> dict[str, Any]:
    from backend.catalog.selectors import (
        FACET_CATEGORIES_MAX,
        FACET_PRICE_GRID,
        FACET_PRICE_RANGES,
    )

    return {
        **_search_params(variables),
        "grid": [str(step) for step in FACET_PRICE_GRID],
        "grid_cents": [int(step * 100) for step in FACET_PRICE_GRID],
        "facet_categories": FACET_CATEGORIES_MAX,
        "facet_ranges": FACET_PRICE_RANGES,
    }


def _suggest_params(variables: dict[str, Any]) -> dict[str, Any]:
    return {"prefix": variables["prefix"].lower()}


# As backend.catalog.selectors.product_suggest reads them: the name prefix index from the
# prefix on, one name per lower-case form, 5 by default.
SUGGEST_SQL = """
SELECT json_build_object('data', json_build_object('productSuggest',
  COALESCE(json_agg(name ORDER BY key), '[]')))::text
FROM (
  SELECT DISTINCT ON (lower(name) COLLATE "C") lower(name) COLLATE "C" AS key, name
  FROM catalog_product
  WHERE is_published AND lower(name) COLLATE "C" LIKE %(prefix)s || '%%'
  ORDER BY lower(name) COLLATE "C"
  LIMIT 5
) AS suggestions
"""


def _detail_params(variables: dict[str, Any]) -> dict[str, Any]:
    return {"slug": variables["slug"]}


DETAIL_SQL = f"""
SELECT json_build_object('data', json_build_object('product', (
  SELECT json_build_object(
    'id', {_global_id("Product", "p.id")},
    'name', p.name, 'slug', p.slug, 'sku', p.sku, 'description', p.description,
    'price', json_build_object('amount', p.price::text, 'currency', %(currency)s::text),
    'inStock', p.stock_quantity > 0,
    'category', json_build_object(
      'id', {_global_id("Category", "c.id")}, 'name', c.name, 'slug', c.slug,
      'ancestors', COALESCE((
        SELECT json_agg(json_build_object(
                 'id', {_global_id("Category", "a.id")}, 'name', a.name, 'slug', a.slug)
               ORDER BY length(a.path))
        FROM catalog_category a
        WHERE c.path LIKE a.path || '%%' AND a.id <> c.id), '[]')))
  FROM catalog_product p JOIN catalog_category c ON c.id = p.category_id
  WHERE p.slug = %(slug)s AND p.is_published)))::text
"""


@dataclass(frozen=True)
class Scenario:
    """One benchmark request: ``variables`` are filled in by the harness from the data."""

    key: str
    title: str
    query: str
    baseline_sql: str | Callable[[], str]  # a function when it needs Django set up
    baseline_params: Callable[[dict[str, Any]], dict[str, Any]]


SCENARIOS: dict[str, Scenario] = {
    scenario.key: scenario
    for scenario in (
        Scenario(
            key="a",
            title="product list page (first 20, category, price)",
            query=LIST_QUERY,
            baseline_sql=_connection_sql(
                where="p.is_published AND (%(after_key)s::timestamptz IS NULL"
                " OR (p.created_at, p.id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))",
                order_by="p.created_at DESC, p.id DESC",
                cursor=_cursor("Product:CREATED_AT:DESC", "p.created_at"),
                root_field="products",
            ),
            baseline_params=_list_params,
        ),
        Scenario(
            key="b",
            title="category subtree + price range, by price",
            query=FILTERED_QUERY,
            baseline_sql=_connection_sql(
                where="p.is_published"
                " AND c.path LIKE (SELECT path FROM catalog_category WHERE id = %(category)s)"
                " || '%%'"
                " AND (%(min)s::numeric IS NULL OR p.price >= %(min)s::numeric)"
                " AND (%(max)s::numeric IS NULL OR p.price <= %(max)s::numeric)",
                order_by="p.price, p.id",
                cursor=_cursor("Product:PRICE:ASC", "p.price::text"),
                root_field="products",
            ),
            baseline_params=_filtered_params,
        ),
        Scenario(
            key="c",
            title="deep page (cursor after row N/2)",
            query=LIST_QUERY,
            baseline_sql="",  # same statement as (a), with the cursor's bound
            baseline_params=_list_params,
        ),
        Scenario(
            key="d",
            title="full-text search (first 20, by relevance)",
            query=SEARCH_QUERY,
            baseline_sql=_search_sql,
            baseline_params=_search_params,
        ),
        Scenario(
            key="f",
            title="full-text search with facets (first 20, by relevance)",
            query=SEARCH_FACETS_QUERY,
            baseline_sql=_search_facets_sql,
            baseline_params=_search_facets_params,
        ),
        Scenario(
            key="e",
            title="product detail by slug (with breadcrumbs)",
            query=DETAIL_QUERY,
            baseline_sql=DETAIL_SQL,
            baseline_params=_detail_params,
        ),
        Scenario(
            key="s",
            title="as-you-type suggestions (5 names)",
            query=SUGGEST_QUERY,
            baseline_sql=SUGGEST_SQL,
            baseline_params=_suggest_params,
        ),
    )
}


def baseline_statement(key: str, variables: dict[str, Any], currency: str) -> tuple[str, dict]:
    """The floor's one SQL statement and its parameters for scenario ``key``."""
    scenario = SCENARIOS[key]
    sql = scenario.baseline_sql or SCENARIOS["a"].baseline_sql
    if callable(sql):
        sql = sql()
    return sql, {**scenario.baseline_params(variables), "currency": currency}
