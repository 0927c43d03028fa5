"""``product_stock_adjust`` under real concurrency: separate threads, separate connections."""

import threading

import pytest
from django.db import connection

from backend.catalog.errors import CatalogError, CatalogErrorCode
from backend.catalog.models import Product
from backend.catalog.services import product_stock_adjust
from tests.factories import product_create


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_decrements_of_stock_five_let_exactly_five_through() -> None:
    product = product_create(stock_quantity=5)
    start = threading.Barrier(10)
    results: list[int] = []
    refusals: list[CatalogError] = []
    lock = threading.Lock()

    def decrement() -> None:
        try:
            start.wait()  # all ten issue their UPDATE at the same moment
            try:
                remaining = product_stock_adjust(product_id=product.pk, delta=-1)
            except CatalogError as error:
                with lock:
                    refusals.append(error)
            else:
                with lock:
                    results.append(remaining)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=decrement) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [0, 1, 2, 3, 4]
    assert len(refusals) == 5
    assert {error.code for error in refusals} == {CatalogErrorCode.INSUFFICIENT_STOCK}
    assert {error.extras["available_quantity"] for error in refusals} == {0}
    assert Product.objects.get(pk=product.pk).stock_quantity == 0
