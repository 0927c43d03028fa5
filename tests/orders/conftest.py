"""Order test fixtures and a thread runner for the concurrency tests.

Celery runs in-process (the root conftest's default); the real-worker test asks for
``real_celery_broker``.
"""

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from backend.accounts.models import User
from backend.catalog.models import Product
from tests.factories import product_create, user_create

_buyers = itertools.count(1)


def threads_run(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; results or exceptions, in order.

    Each thread uses, then closes, its own database connection.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the caller
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def buyer_create() -> User:
    """A customer without a password: the concurrency tests make dozens, and hashing each
    with argon2 would dominate their run time."""
    return User.objects.create_user(f"buyer{next(_buyers)}@example.com", None)


@pytest.fixture
def customer(db: None) -> User:
    return user_create()


@pytest.fixture
def staff(db: None) -> User:
    return user_create(is_staff=True)


@pytest.fixture
def product(db: None) -> Product:
    return product_create(stock_quantity=10, price="9.99")
