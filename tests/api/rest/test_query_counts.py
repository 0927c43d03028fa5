"""List endpoints cost a constant number of SQL statements whatever the page size."""

from collections.abc import Callable
from typing import Any

import pytest

from backend.orders.models import OrderStatus
from tests.api.rest.conftest import RestClient
from tests.factories import category_create, order_create, product_create, user_create


def _count(count_queries: Callable[[], Any], client: RestClient, url: str, rows: int) -> int:
    client.get(url)  # warm-up: permission and content-type caches
    with count_queries() as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) == rows
    return queries.count


@pytest.mark.parametrize("page_size", [1, 50])
def test_product_list_costs_two_statements(
    staff: RestClient, count_queries: Callable[[], Any], page_size: int
) -> None:
    category = category_create()
    for _ in range(50):
        product_create(category=category)
    # The bearer user load, then the page itself.
    assert _count(count_queries, staff, f"/api/v1/products?page_size={page_size}", page_size) == 2


def test_product_list_with_filters_is_constant_in_page_size(
    anonymous: RestClient, count_queries: Callable[[], Any]
) -> None:
    root = category_create()
    for _ in range(50):
        product_create(category=category_create(parent=root), name="Green tea")
    url = f"/api/v1/products?category={root.pk}&search=tea&in_stock=true&price_min=1&page_size="
    # 1: the category's subtree ids (selectors.product_list says why first); 2: the page.
    assert (
        _count(count_queries, anonymous, url + "1", 1)
        == _count(count_queries, anonymous, url + "50", 50)
        == 2
    )


@pytest.mark.parametrize("page_size", [1, 50])
@pytest.mark.parametrize("options", ["", "&ordering=position&top_level=true"])
def test_category_list_is_one_statement(
    anonymous: RestClient, count_queries: Callable[[], Any], page_size: int, options: str
) -> None:
    for _ in range(50):
        category_create()
    url = f"/api/v1/categories?page_size={page_size}{options}"
    assert _count(count_queries, anonymous, url, page_size) == 1


@pytest.mark.parametrize("page_size", [1, 50])
def test_order_list_costs_three_statements(
    db: None, count_queries: Callable[[], Any], page_size: int
) -> None:
    customer = user_create()
    product = product_create()
    for _ in range(50):
        order_create(customer=customer, products=[(product, 2)])
    client = RestClient(customer)
    # The bearer user load, the page of orders, their items in one prefetch.
    assert _count(count_queries, client, f"/api/v1/orders?page_size={page_size}", page_size) == 3


@pytest.mark.parametrize("page_size", [1, 50])
def test_order_list_filtered_by_status_costs_three_statements(
    db: None, count_queries: Callable[[], Any], page_size: int
) -> None:
    customer = user_create()
    product = product_create()
    for status in [OrderStatus.PAID, OrderStatus.SHIPPED] * 25 + [OrderStatus.PENDING] * 5:
        order_create(customer=customer, products=[(product, 2)], status=status)
    client = RestClient(customer)
    url = f"/api/v1/orders?status=PAID&status=SHIPPED&page_size={page_size}"
    # As unfiltered: the bearer user load, the page of orders, their items in one prefetch.
    assert _count(count_queries, client, url, page_size) == 3
