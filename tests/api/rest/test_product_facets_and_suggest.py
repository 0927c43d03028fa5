"""The REST product list's facets (`?facets=true`) and `/products/suggest`: the catalog's
selectors, with the statement counts GraphQL has."""

from collections.abc import Callable
from typing import Any

import pytest

from backend.catalog.models import Category
from tests.api.rest.conftest import RestClient, assert_problem
from tests.factories import lamp_shop_create, product_create


@pytest.fixture
def shop(db: None) -> dict[str, Category]:
    return lamp_shop_create()


def test_facets_come_with_the_page_when_asked_for(
    anonymous: RestClient, shop: dict[str, Category]
) -> None:
    body = anonymous.get("/api/v1/products", {"facets": "true", "search": "lamp"}).json()
    assert len(body["results"]) == 4
    facets = body["facets"]
    lighting, seating = facets["categories"]
    assert (lighting["category"]["id"], lighting["category"]["path"], lighting["count"]) == (
        shop["lighting"].pk,
        shop["lighting"].path,
        3,
    )
    assert (seating["category"]["id"], seating["count"]) == (shop["seating"].pk, 1)
    assert facets["price_ranges"] == [
        {"min": "10.00", "max": "14.99", "count": 1},
        {"min": "15.00", "max": "19.99", "count": 1},
        {"min": "40.00", "max": "49.99", "count": 1},
        {"min": "150.00", "max": "199.99", "count": 1},
    ]
    assert facets["in_stock"] == {"count": 2}
    for value in ("false", None):
        params = {"search": "lamp"} if value is None else {"search": "lamp", "facets": value}
        assert "facets" not in anonymous.get("/api/v1/products", params).json()


def test_facets_count_the_whole_list_on_every_page(
    anonymous: RestClient, shop: dict[str, Category]
) -> None:
    first = anonymous.get("/api/v1/products", {"facets": "true", "page_size": 1}).json()
    second = anonymous.get(first["next"]).json()  # the link keeps facets=true
    assert first["facets"] == second["facets"]
    assert [c["count"] for c in first["facets"]["categories"]] == [3, 2, 1]


def test_staff_facets_count_unpublished_products(
    staff: RestClient, shop: dict[str, Category]
) -> None:
    facets = staff.get("/api/v1/products", {"facets": "true"}).json()["facets"]
    assert [c["count"] for c in facets["categories"]] == [4, 2, 1]


def test_a_facets_value_other_than_true_or_false_is_refused(
    anonymous: RestClient, shop: dict[str, Category], count_queries: Callable[[], Any]
) -> None:
    for value in ("yes", "", "TRUE"):
        with count_queries() as queries:
            response = anonymous.get("/api/v1/products", {"facets": value})
        body = assert_problem(response, 400, "INVALID")
        assert [e["field"] for e in body["errors"]] == ["facets"]
        assert queries.count == 0


def _statements(count_queries: Callable[[], Any], client: RestClient, url: str) -> int:
    client.get(url)  # warm-up: permission and content-type caches
    with count_queries() as queries:
        assert client.get(url).status_code == 200
    return queries.count


@pytest.mark.parametrize(
    ("query", "page"),
    [("", 1), ("search=lamp&in_stock=true&price_max=50", 1), ("category={home}", 2)],
    ids=["everything", "filters", "subtree"],
)
def test_facets_cost_exactly_one_statement(
    anonymous: RestClient,
    shop: dict[str, Category],
    count_queries: Callable[[], Any],
    query: str,
    page: int,
) -> None:
    """``page``: the page's own statements (a subtree's ids first, then the rows)."""
    url = "/api/v1/products?page_size=2&" + query.format(home=shop["home"].pk)
    assert _statements(count_queries, anonymous, url) == page
    assert _statements(count_queries, anonymous, url + "&facets=true") == page + 1


def test_suggest_completes_visible_names(
    anonymous: RestClient, staff: RestClient, shop: dict[str, Category]
) -> None:
    assert anonymous.get("/api/v1/products/suggest", {"prefix": "D"}).json() == {
        "results": ["Desk lamp"]
    }
    assert anonymous.get("/api/v1/products/suggest", {"prefix": "p"}).json() == {"results": []}
    assert staff.get("/api/v1/products/suggest", {"prefix": "p"}).json() == {
        "results": ["Prototype lamp"]
    }
    assert anonymous.get("/api/v1/products/suggest", {"prefix": ""}).json() == {"results": []}
    product_create(name="Brass bell")
    response = anonymous.get("/api/v1/products/suggest", {"prefix": "bRASS", "first": "1"})
    assert response.json() == {"results": ["Brass bell"]}


def test_suggest_is_one_statement_and_a_second_while_places_are_left(
    anonymous: RestClient, shop: dict[str, Category], count_queries: Callable[[], Any]
) -> None:
    url = "/api/v1/products/suggest?prefix=lamp"
    assert _statements(count_queries, anonymous, url + "&first=1") == 1
    assert _statements(count_queries, anonymous, url) == 2
    assert anonymous.get(url).json() == {
        "results": ["Lamp <b>table</b> & stool", "Brass lamp", "Desk lamp", "Floor lamp"]
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "prefix"), ({"prefix": "x" * 101}, "prefix"), ({"prefix": "a\x00"}, "prefix"),
     ({"prefix": "a", "first": "0"}, "first"), ({"prefix": "a", "first": "11"}, "first"),
     ({"prefix": "a", "first": ""}, "first"), ({"prefix": "a", "first": "two"}, "first")],
)  # fmt: skip
def test_suggest_refuses_bad_parameters_before_any_statement(
    anonymous: RestClient,
    db: None,
    count_queries: Callable[[], Any],
    params: dict[str, str],
    field: str,
) -> None:
    with count_queries() as queries:
        response = anonymous.get("/api/v1/products/suggest", params)
    body = assert_problem(response, 400, "INVALID")
    assert [e["field"] for e in body["errors"]] == [field]
    assert queries.count == 0


def test_suggest_takes_no_list_parameters(anonymous: RestClient, db: None) -> None:
    response = anonymous.get("/api/v1/products/suggest", {"prefix": "a", "search": "lamp"})
    body = assert_problem(response, 400, "INVALID")
    assert [e["field"] for e in body["errors"]] == ["search"]
