"""A product list's facets, search highlights and name suggestions through /graphql/: what
they answer, what they cost in statements (facets: exactly one more, only when selected, and
none more beside a search's page; highlights: none more) and in the static query cost."""

from typing import Any

import pytest
from graphql import build_schema, parse

from backend.api.graphql.analysis import FACETS_COST, query_cost
from backend.catalog.models import Category
from tests.api.graphql.catalog.test_catalog_queries import global_id
from tests.factories import category_create, lamp_shop_create, product_create, varied_shop_create
from tests.graphql_client import GraphQLClient
from tests.paths import REPO_ROOT


@pytest.fixture
def shop(db: None) -> dict[str, Category]:
    return lamp_shop_create()


FACETS = """
facets {
  categories { category { id name } count }
  priceRanges { min max count }
  inStock { count }
}"""
PAGE = """query($filter: ProductFilter) { products(first: 2, filter: $filter) {
  totalCount nodes { name } %s } }"""


def test_facets_count_the_whole_filtered_list_not_the_page(
    gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    everything = gql.data(PAGE % FACETS)["products"]
    assert len(everything["nodes"]) == 2
    assert everything["facets"]["categories"] == [
        {"category": {"id": global_id("Category", shop["lighting"].pk), "name": "Lighting"},
         "count": 3},
        {"category": {"id": global_id("Category", shop["seating"].pk), "name": "Seating"},
         "count": 2},
        {"category": {"id": global_id("Category", shop["rugs"].pk), "name": "Rugs"},
         "count": 1},
    ]  # fmt: skip
    assert everything["facets"]["inStock"] == {"count": 4}
    assert sum(r["count"] for r in everything["facets"]["priceRanges"]) == 6
    lamps = gql.data(PAGE % FACETS, {"filter": {"search": "lamp", "inStock": True}})
    assert lamps["products"]["facets"] == {
        "categories": [
            {"category": {"id": global_id("Category", shop["lighting"].pk), "name": "Lighting"},
             "count": 2}
        ],
        "priceRanges": [
            {"min": "10.00", "max": "14.99", "count": 1},
            {"min": "40.00", "max": "49.99", "count": 1},
        ],
        "inStock": {"count": 2},
    }  # fmt: skip


def test_a_price_range_is_a_filter_that_lists_its_count(
    gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    facets = gql.data(PAGE % FACETS, {"filter": {"search": "lamp"}})["products"]["facets"]
    for price_range in facets["priceRanges"]:
        price = {"min": price_range["min"], "max": price_range["max"]}
        refined = gql.data(PAGE % "", {"filter": {"search": "lamp", "price": price}})
        assert refined["products"]["totalCount"] == price_range["count"]


def test_staff_facets_count_unpublished_products(
    staff_gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    facets = staff_gql.data(PAGE % FACETS)["products"]["facets"]
    assert [c["count"] for c in facets["categories"]] == [4, 2, 1]


def statements(gql: GraphQLClient, count_queries: Any, query: str, variables: Any = None) -> int:
    with count_queries() as captured:
        gql.data(query, variables)
    return captured.count


@pytest.mark.parametrize(
    ("filter", "added"),
    [
        ({}, 1),
        ({"search": "lamp"}, 0),
        ({"search": 'brass lammp or "table" -stool'}, 0),
        ({"inStock": True, "price": {"max": "100"}}, 1),
        ({"inStock": True, "search": "lamp"}, 0),
    ],
    ids=["everything", "search", "search_syntax_and_typo", "filters", "filtered_search"],
)
def test_facets_cost_one_statement_none_beside_a_search_page_and_none_unselected(
    gql: GraphQLClient,
    shop: dict[str, Category],
    count_queries: Any,
    filter: dict[str, Any],
    added: int,
) -> None:
    """A search's page statement counts its facets too (decision 0027); another list's page
    stops early along an index, so its facets are a statement of their own. Without a page,
    the facets are one statement either way."""
    variables = {"filter": filter}
    without = statements(gql, count_queries, PAGE % "", variables)
    assert statements(gql, count_queries, PAGE % FACETS, variables) == without + added
    facets_only = "query($filter: ProductFilter) { products(first: 2, filter: $filter) { %s } }"
    assert statements(gql, count_queries, facets_only % FACETS, variables) == 1


def test_facets_of_a_subtree_reuse_its_category_ids(
    gql: GraphQLClient, shop: dict[str, Category], count_queries: Any
) -> None:
    """1: the subtree's category ids; 2: the page; 3: the facets (not the ids again)."""
    variables = {"filter": {"inCategory": global_id("Category", shop["home"].pk)}}
    assert statements(gql, count_queries, PAGE.replace("totalCount", "") % FACETS, variables) == 3


SEARCH_PAGE = """query($filter: ProductFilter, $first: Int, $last: Int, $after: String) {
  products(first: $first, last: $last, after: $after, filter: $filter) {
    nodes { name } pageInfo { endCursor } %s } }"""


def test_a_search_counts_the_same_facets_on_every_page_in_either_direction(
    gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    """Facets count the whole list: the first page, the last and a page after a cursor of the
    same search agree."""
    search = {"filter": {"search": "lamp or chair"}}
    first = gql.data(SEARCH_PAGE % FACETS, {**search, "first": 2})["products"]
    last = gql.data(SEARCH_PAGE % FACETS, {**search, "last": 2})["products"]
    after = {"first": 2, "after": first["pageInfo"]["endCursor"]}
    later = gql.data(SEARCH_PAGE % FACETS, {**search, **after})["products"]
    assert first["facets"] == last["facets"] == later["facets"]
    assert [facet["count"] for facet in first["facets"]["categories"]] == [3, 2]
    assert first["facets"]["inStock"] == {"count": 3}
    assert sum(price_range["count"] for price_range in first["facets"]["priceRanges"]) == 5


FACETS_ONLY = """query($filter: ProductFilter) { products(first: 1, filter: $filter) { %s } }"""


@pytest.fixture
def varied_shop(db: None) -> None:
    varied_shop_create()


@pytest.mark.usefixtures("varied_shop")
@pytest.mark.parametrize(
    "filter",
    [
        {"search": "lamp"},
        {"search": "oak or wool"},
        {"search": "brass -table"},
        {"search": '"oak brass"'},
        {"search": "lammp"},
        {"search": "ch"},
        {"search": "nothing-matches-this"},
        {"search": "table", "inStock": True, "price": {"min": "10", "max": "4000"}},
    ],
    ids=["word", "or", "exclusion", "phrase", "typo", "prefix", "no_match", "filtered"],
)
@pytest.mark.parametrize("viewer", ["anonymous", "staff"])
def test_facets_read_with_a_search_page_are_those_of_their_own_statement(
    gql: GraphQLClient, staff_gql: GraphQLClient, filter: dict[str, Any], viewer: str
) -> None:
    """Beside a search's page, the page's statement counts the facets (decision 0027): the
    same facets as their own statement (no page selected), and the same pages as without
    facets, first, after a cursor and last, for every kind of search."""
    client = staff_gql if viewer == "staff" else gql
    alone = client.data(FACETS_ONLY % FACETS, {"filter": filter})["products"]["facets"]
    pages = [{"first": 4}, {"last": 3}]
    first = client.data(SEARCH_PAGE % "", {"filter": filter, "first": 4})["products"]
    if first["pageInfo"]["endCursor"] is not None:
        pages.append({"first": 4, "after": first["pageInfo"]["endCursor"]})
    for page in pages:
        variables = {"filter": filter, **page}
        with_facets = client.data(SEARCH_PAGE % FACETS, variables)["products"]
        assert with_facets["facets"] == alone
        without = client.data(SEARCH_PAGE % "", variables)["products"]
        assert with_facets["nodes"] == without["nodes"]
        assert with_facets["pageInfo"] == without["pageInfo"]
    if filter["search"] != "nothing-matches-this":
        assert alone["categories"]
        assert first["nodes"]


def test_facet_categories_resolve_like_any_category(
    gql: GraphQLClient, shop: dict[str, Category], count_queries: Any
) -> None:
    """productCount and breadcrumbs of the facet categories are batched (an event loop runs
    the productCount DataLoader): one statement each, however many categories."""
    query = """{ products(first: 1) { facets { categories { category {
        slug productCount ancestors { name } } count } } } }"""
    with count_queries() as captured:
        categories = gql.data(query)["products"]["facets"]["categories"]
    assert categories == [
        {"category": {"slug": shop["lighting"].slug, "productCount": 3,
                      "ancestors": [{"name": "Home"}]}, "count": 3},
        {"category": {"slug": shop["seating"].slug, "productCount": 2,
                      "ancestors": [{"name": "Home"}]}, "count": 2},
        {"category": {"slug": shop["rugs"].slug, "productCount": 1, "ancestors": []},
         "count": 1},
    ]  # fmt: skip
    assert captured.count == 3  # facets, productCount, ancestors


@pytest.mark.fast_paths
def test_parents_and_breadcrumbs_of_facet_categories_load_once_for_all(
    gql: GraphQLClient, count_queries: Any, db: None
) -> None:
    """Without a DataLoader field the document runs without an event loop: the facet's
    categories are each other's peers, as a page's rows are (decision 0012)."""
    for i in range(6):
        leaf = category_create(parent=category_create(name=f"Dept {i}"))
        product_create(category=leaf)
    query = """{ products(first: 1) { facets { categories { category {
        parent { name } ancestors { name } } } } } }"""
    with count_queries() as captured:
        categories = gql.data(query)["products"]["facets"]["categories"]
    parents = sorted(c["category"]["parent"]["name"] for c in categories)
    assert parents == [f"Dept {i}" for i in range(6)]
    assert captured.count == 3  # facets, the parents, the breadcrumbs


def test_facets_add_their_cost_to_the_query_cost(
    gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    query = "{ products(first: 2) { nodes { name } %s } }"
    without = gql.post(query % "")["extensions"]["cost"]["requestedQueryCost"]
    with_facets = gql.post(query % FACETS)["extensions"]["cost"]["requestedQueryCost"]
    # facets 1 + FACETS_COST, and 1 for each of its objects: categories (with its category),
    # priceRanges, inStock.
    assert with_facets == without + 1 + FACETS_COST + (1 + 1) + 1 + 1


@pytest.mark.parametrize(
    ("field", "allowed"), [("facets { inStock { count } }", 1), ("totalCount", 4)]
)
def test_a_document_reads_a_product_list_whole_only_a_few_times(
    gql: GraphQLClient,
    shop: dict[str, Category],
    count_queries: Any,
    field: str,
    allowed: int,
) -> None:
    """Facets and totalCount read every product of the list, however small the page: their
    prices let one document ask for one list's facets and up to four counts, never a list's
    facets again under another alias. Refused before any SQL."""

    def aliased(copies: int) -> str:
        lists = (
            f"p{i}: products(first: 1, filter: {{price: {{min: {i}}}}}) {{ {field} }}"
            for i in range(copies)
        )
        return "{ " + " ".join(lists) + " }"

    assert "errors" not in gql.post(aliased(allowed))
    with count_queries() as captured:
        assert gql.error_codes(aliased(allowed + 1)) == ["MAX_COST_EXCEEDED"]
    assert captured.count == 0


def test_the_committed_schema_prices_facets_and_suggestions_as_the_server_does(
    gql: GraphQLClient, db: None
) -> None:
    """The storefront documents are costed against schema.graphql (the contract tests): the
    extra costs key on type and field names, so both schemas give the same cost."""
    contract = build_schema((REPO_ROOT / "schema.graphql").read_text(encoding="utf-8"))
    facets = f"{{ products(first: 3) {{ nodes {{ name }} {FACETS} }} }}"
    suggestions = '{ a: productSuggest(prefix: "a") b: productSuggest(prefix: "b") }'
    for query, cost in [(facets, 1 + 3 + 1 + FACETS_COST + 4), (suggestions, 2)]:
        assert gql.post(query)["extensions"]["cost"]["requestedQueryCost"] == cost
        assert query_cost(contract, parse(query)) == cost


SEARCH = """query($search: String) { products(first: 10, filter: {search: $search}) {
  nodes { name %s } } }"""
HIGHLIGHT = "highlight { name description }"


def test_search_results_highlight_the_matches_escaping_the_rest(
    gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    nodes = gql.data(SEARCH % HIGHLIGHT, {"search": "lamp"})["products"]["nodes"]
    highlights = {node["name"]: node["highlight"] for node in nodes}
    assert highlights["Brass lamp"] == {"name": "Brass <mark>lamp</mark>", "description": ""}
    assert highlights["Lamp <b>table</b> & stool"] == {
        "name": "<mark>Lamp</mark> &lt;b&gt;table&lt;/b&gt; &amp; stool",
        "description": "",
    }


def test_a_corrected_search_page_with_highlights_is_one_statement(
    gql: GraphQLClient, shop: dict[str, Category], count_queries: Any
) -> None:
    """The typo's correction and the highlights are parts of the page's own statement."""
    variables = {"search": "brass lammp"}
    assert statements(gql, count_queries, SEARCH % HIGHLIGHT, variables) == 1
    nodes = gql.data(SEARCH % HIGHLIGHT, variables)["products"]["nodes"]
    assert [node["highlight"]["name"] for node in nodes] == ["<mark>Brass</mark> <mark>lamp</mark>"]


def test_highlight_is_null_without_a_search(gql: GraphQLClient, shop: dict[str, Category]) -> None:
    query = "{ products(first: 10) { nodes { id highlight { name } } } }"
    nodes = gql.data(query)["products"]["nodes"]
    assert len(nodes) == 6
    assert all(node["highlight"] is None for node in nodes)
    one = f'{{ product(id: "{nodes[0]["id"]}") {{ highlight {{ name }} }} }}'
    assert gql.data(one) == {"product": {"highlight": None}}
    node = f'{{ node(id: "{nodes[0]["id"]}") {{ ... on Product {{ highlight {{ name }} }} }} }}'
    assert gql.data(node) == {"node": {"highlight": None}}


def test_highlight_through_edges_and_fragments(
    gql: GraphQLClient, shop: dict[str, Category]
) -> None:
    query = """query { products(first: 1, filter: {search: "oak"}) {
        edges { node { ...Card } } } }
        fragment Card on Product { ... on Product { highlight { name } } }"""
    [edge] = gql.data(query)["products"]["edges"]
    assert edge["node"]["highlight"] == {"name": "<mark>Oak</mark> chair"}


def test_highlights_add_no_statement_to_a_search_page(
    gql: GraphQLClient, shop: dict[str, Category], count_queries: Any
) -> None:
    for search in ("lamp", "lmap"):  # full text, then similar names (typos)
        variables = {"search": search}
        without = statements(gql, count_queries, SEARCH % "", variables)
        assert statements(gql, count_queries, SEARCH % HIGHLIGHT, variables) == without == 1


def test_the_page_statement_carries_highlights_only_when_selected(
    gql: GraphQLClient, shop: dict[str, Category], count_queries: Any
) -> None:
    for selection, expected in (("", False), (HIGHLIGHT, True)):
        with count_queries() as captured:
            gql.data(SEARCH % selection, {"search": "lamp"})
        [page] = captured.captured_queries
        assert ("ts_headline" in page["sql"]) is expected


SUGGEST = "query($prefix: String!, $first: Int) { productSuggest(prefix: $prefix, first: $first) }"


def test_suggest_completes_visible_names(gql: GraphQLClient, staff_gql: GraphQLClient,
                                         shop: dict[str, Category]) -> None:  # fmt: skip
    assert gql.data(SUGGEST, {"prefix": "lAm", "first": 5}) == {
        "productSuggest": ["Lamp <b>table</b> & stool", "Brass lamp", "Desk lamp", "Floor lamp"]
    }
    assert gql.data('{ productSuggest(prefix: "") }') == {"productSuggest": []}
    assert staff_gql.data(SUGGEST, {"prefix": "p", "first": 5}) == {
        "productSuggest": ["Prototype lamp"]
    }
    assert gql.data(SUGGEST, {"prefix": "p", "first": 5}) == {"productSuggest": []}
    names = gql.data('{ productSuggest(prefix: "d") }')["productSuggest"]
    assert names == ["Desk lamp"]


def test_suggest_is_one_statement_and_a_second_while_places_are_left(
    gql: GraphQLClient, shop: dict[str, Category], count_queries: Any
) -> None:
    assert statements(gql, count_queries, SUGGEST, {"prefix": "lamp", "first": 1}) == 1
    assert statements(gql, count_queries, SUGGEST, {"prefix": "lamp", "first": 3}) == 2


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"prefix": "x" * 101, "first": 5}, "prefix"), ({"prefix": "la", "first": 0}, "first"),
     ({"prefix": "la", "first": 11}, "first")],
)  # fmt: skip
def test_suggest_refuses_a_long_prefix_or_a_count_out_of_range(
    gql: GraphQLClient, db: None, variables: dict[str, Any], field: str
) -> None:
    body = gql.post(SUGGEST, variables)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert body["data"] is None


def test_a_null_count_is_refused_before_any_statement(
    gql: GraphQLClient, db: None, count_queries: Any
) -> None:
    with count_queries() as captured:
        codes = gql.error_codes(SUGGEST, {"prefix": "la", "first": None})
    assert codes == ["BAD_USER_INPUT"]
    assert captured.count == 0
