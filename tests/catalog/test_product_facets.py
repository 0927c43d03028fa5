"""Facets count the whole filtered list in one statement, and every count is what the list
holds once the matching filter is added too."""

from decimal import Decimal
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.catalog import selectors
from backend.catalog.models import Category
from backend.catalog.selectors import (
    FACET_PRICE_GRID,
    FACET_PRICE_RANGES,
    CategoryFacet,
    PriceRangeFacet,
    ProductFacets,
    _price_ranges,
)
from tests.factories import category_create, lamp_shop_create, product_create, user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> dict[str, Category]:
    return lamp_shop_create()


def facets(viewer: Any = None, **filters: Any) -> ProductFacets:
    products = selectors.product_list(viewer=viewer, **filters)
    return selectors.product_facets(products=selectors.products_visible_to(viewer, products))


def category_counts(result: ProductFacets) -> list[tuple[str, int]]:
    return [(facet.category.name, facet.count) for facet in result.categories]


def test_the_whole_catalog_by_category_price_and_stock(shop: dict[str, Category]) -> None:
    result = facets()
    assert category_counts(result) == [("Lighting", 3), ("Seating", 2), ("Rugs", 1)]
    assert result.in_stock == 4
    assert sum(r.count for r in result.price_ranges) == 6


def test_counts_follow_the_filter_and_the_search(shop: dict[str, Category]) -> None:
    lamps = facets(search="lamp")
    assert category_counts(lamps) == [("Lighting", 3), ("Seating", 1)]
    assert lamps.in_stock == 2  # the brass and floor lamps; the desk lamp and table are sold out
    in_home = facets(search="lamp", in_category_id=shop["home"].pk, price_max=Decimal("50"))
    assert category_counts(in_home) == [("Lighting", 3)]
    assert facets(in_stock=False).in_stock == 0


def test_staff_counts_include_unpublished_products(shop: dict[str, Category]) -> None:
    result = facets(user_create(is_staff=True), search="lamp")
    assert category_counts(result) == [("Lighting", 4), ("Seating", 1)]


def test_every_count_is_what_the_filter_it_names_returns(shop: dict[str, Category]) -> None:
    """A shopper who clicks a facet gets exactly as many products as it promised."""
    result = facets(search="lamp")
    for category in result.categories:
        refined = selectors.product_list(
            viewer=None, search="lamp", category_id=category.category.pk
        )
        assert selectors.products_visible_to(None, refined).count() == category.count
    for price in result.price_ranges:
        refined = selectors.product_list(
            viewer=None, search="lamp", price_min=price.min, price_max=price.max
        )
        assert selectors.products_visible_to(None, refined).count() == price.count
    in_stock = selectors.product_list(viewer=None, search="lamp", in_stock=True)
    assert selectors.products_visible_to(None, in_stock).count() == result.in_stock


def test_nothing_matching_has_empty_facets(shop: dict[str, Category]) -> None:
    assert facets(search="zeppelin") == ProductFacets(categories=[], price_ranges=[], in_stock=0)


def test_facets_are_one_statement_whatever_the_filter(
    shop: dict[str, Category], count_queries: Any
) -> None:
    products = selectors.products_visible_to(
        None, selectors.product_list(viewer=None, search="lamp", in_category_id=shop["home"].pk)
    )  # the subtree's ids are read here, once, as for the page
    with count_queries() as queries:
        selectors.product_facets(products=products)
    assert queries.count == 1


def test_facets_of_a_list_that_cannot_match_take_no_statement(
    shop: dict[str, Category], count_queries: Any
) -> None:
    products = selectors.products_visible_to(
        None, selectors.product_list(viewer=None, in_category_id=2**40)
    )  # no such category: an empty subtree, a list Django knows is empty
    with count_queries() as queries:
        empty = selectors.product_facets(products=products)
    assert empty == ProductFacets(categories=[], price_ranges=[], in_stock=0)
    assert queries.count == 0


def test_categories_are_the_largest_ones_most_first_then_by_name(db: None) -> None:
    categories = [category_create(name=f"Aisle {i:02d}") for i in range(25)]
    for i, category in enumerate(categories):
        for _ in range(1 + i // 10):  # aisles 20-24 hold 3 products, 10-19 two, 0-9 one
            product_create(category=category)
    listed = category_counts(facets())
    assert len(listed) == selectors.FACET_CATEGORIES_MAX
    assert listed[:6] == [(f"Aisle {i}", 3) for i in range(20, 25)] + [("Aisle 10", 2)]
    assert listed[-1] == ("Aisle 04", 1)  # the first five one-product aisles, by name


def test_a_category_facet_carries_the_whole_category_row(shop: dict[str, Category]) -> None:
    [lighting, *_] = facets().categories
    assert lighting == CategoryFacet(category=shop["lighting"], count=3)
    assert lighting.category.path == shop["lighting"].path
    assert lighting.category.parent_id == shop["home"].pk


def prices_of(*prices: str) -> list[PriceRangeFacet]:
    category = category_create()
    for price in prices:
        product_create(category=category, price=price)
    return facets().price_ranges


def test_price_ranges_split_the_products_into_fifths_at_round_prices(db: None) -> None:
    ranges = prices_of(*(f"{p}.00" for p in range(1, 101)))  # 1.00 to 100.00
    assert [(str(r.min), str(r.max), r.count) for r in ranges] == [
        ("1.00", "19.99", 19),
        ("20.00", "39.99", 20),
        ("40.00", "59.99", 20),
        ("60.00", "79.99", 20),
        ("80.00", "149.99", 21),
    ]


def test_an_outlier_does_not_swallow_the_other_ranges(db: None) -> None:
    ranges = prices_of("9.00", "11.00", "12.00", "16.00", "22.00", "27.00", "4999.00")
    assert [(str(r.min), str(r.max), r.count) for r in ranges] == [
        ("8.00", "9.99", 1),
        ("10.00", "14.99", 2),
        ("15.00", "19.99", 1),
        ("20.00", "29.99", 2),
        ("4000.00", "4999.99", 1),
    ]


def test_one_crowded_step_is_one_range(db: None) -> None:
    ranges = prices_of(*["20.00"] * 8, "0.50", "99999.99")
    assert [(str(r.min), str(r.max), r.count) for r in ranges] == [
        ("0.00", "0.99", 1),
        ("20.00", "24.99", 8),
        ("80000.00", "99999.99", 1),
    ]


def test_the_dearest_possible_price_has_a_range(db: None) -> None:
    [price_range] = prices_of("9999999999.99")
    assert (price_range.min, price_range.max) == (
        Decimal("8000000000.00"),
        Decimal("9999999999.99"),
    )


@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=40), st.data())
def test_price_ranges_cut_at_the_step_ends_nearest_each_fifth(
    counts: list[int], data: st.DataObject
) -> None:
    """Any counts over any steps of the grid: the cuts are the step ends whose running count is
    nearest each fifth of the total, the earlier one on a tie, as a search over every end
    finds them; the ranges hold every product once, in order."""
    steps = sorted(
        data.draw(
            st.sets(
                st.integers(min_value=1, max_value=len(FACET_PRICE_GRID) - 1),
                min_size=len(counts),
                max_size=len(counts),
            )
        )
    )
    ranges = _price_ranges(dict(zip(steps, counts, strict=True)))

    running = list(accumulate(counts))
    total = running[-1]
    parts = FACET_PRICE_RANGES
    cuts = (
        {
            min(
                range(len(steps) - 1),
                key=lambda end: (abs(running[end] * parts - total * part), end),
            )
            for part in range(1, parts)
        }
        if len(steps) > 1
        else set()
    )
    ends = [*sorted(cuts), len(steps) - 1]
    assert [r.max for r in ranges] == [
        FACET_PRICE_GRID[steps[end]] - Decimal("0.01") for end in ends
    ]
    assert [r.count for r in ranges] == [
        running[end] - (running[start - 1] if start else 0)
        for start, end in zip([0, *(end + 1 for end in ends[:-1])], ends, strict=True)
    ]
    assert sum(r.count for r in ranges) == total
