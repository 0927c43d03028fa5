"""The benchmark's floors answer what the API answers: a floor that returned other rows, or
other facets, would measure other work. ``bench/search_targets.py`` checks it at the start of
every run against the catalog it measures; these tests check it on a catalog whose searches
differ in size, categories, prices and stock, for each search scenario and suggestions."""

import json
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from bench.catalog import response_nodes
from bench.scenarios import SCENARIOS, baseline_statement
from tests.factories import category_create, product_create, varied_shop_create
from tests.graphql_client import GraphQLClient

# One word each: the floor reads a search of one word, as the bench sends. A word in many
# names, one in few, a typo, a prefix, a SKU's word, and one that matches nothing.
SEARCHES = ["lamp", "brass", "lammp", "ch", "sku", "nothing"]


@pytest.fixture
def varied_shop(db: None) -> None:
    """The facet tests' sixty products, and sixty more over 24 categories created in reverse
    order of their names, two or three products of each word per category: more categories
    than a facet lists, tied counts at its cut, and names that order them unlike their ids."""
    varied_shop_create()
    categories = [category_create(name=f"Shelf {n:02d}") for n in reversed(range(24))]
    for n in range(60):
        product_create(
            name=f"{('Lamp', 'Brass lamp', 'Chair')[n % 3]} {n}",
            category=categories[n % 24],
            price=f"{2 + n * 3.5:.2f}",
            stock_quantity=n % 2,
        )


def floor_data(key: str, variables: dict[str, Any]) -> Any:
    sql, params = baseline_statement(key, variables, settings.STORE_CURRENCY)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return json.loads(cursor.fetchone()[0])["data"]


@pytest.mark.usefixtures("varied_shop")
@pytest.mark.parametrize("key", ["d", "f"])
def test_a_search_floor_answers_the_nodes_and_facets_of_the_api(
    gql: GraphQLClient, key: str
) -> None:
    for search in SEARCHES:
        for first in (3, 50):  # a page with more after it, and the whole list
            variables = {"first": first, "search": search}
            api = gql.data(SCENARIOS[key].query, variables)
            floor = floor_data(key, variables)
            assert response_nodes(floor) == response_nodes(api), (search, first)
            api_page, floor_page = api["products"]["pageInfo"], floor["products"]["pageInfo"]
            assert floor_page["hasNextPage"] == api_page["hasNextPage"], (search, first)
        if key == "f" and search != "nothing":
            facets = api["products"]["facets"]
            assert facets["categories"]
            assert facets["priceRanges"]
            assert facets["inStock"]["count"]


@pytest.mark.usefixtures("varied_shop")
def test_the_suggestion_floor_answers_the_names_of_the_api(gql: GraphQLClient) -> None:
    for prefix in ["l", "lamp w", "oak", "zz"]:
        variables = {"prefix": prefix}
        assert floor_data("s", variables) == gql.data(SCENARIOS["s"].query, variables), prefix
