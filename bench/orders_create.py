"""Benchmark ``order_place`` (the service behind orderCreate): orders/s and latency.

Service level: N threads, each with its own PostgreSQL connection, call ``order_place``
directly, for a fixed time, in two scenarios: every client buying one hot product (all
contend for one row lock) and clients buying among 1,000 distinct products. No HTTP or
GraphQL cost is included. Each client places at most ORDER_MAX_PENDING_PER_CUSTOMER orders
per customer, then continues as a new one, as many buyers would.

    DEBUG=true DATABASE_URL=postgres://... .venv/bin/python bench/orders_create.py \
        --clients 8 --seconds 10

It creates its own customers and products (prefixed ``bench-``) in the configured database
and deletes them, with their orders, afterwards. Tasks run in-process (no broker is used).
"""

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.pop("CELERY_BROKER_URL", None)  # stock never runs low here; keep the broker out

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from backend.accounts.models import User  # noqa: E402
from backend.catalog.models import Category, Product  # noqa: E402
from backend.orders.errors import OrderError  # noqa: E402
from backend.orders.models import Order  # noqa: E402
from backend.orders.services import OrderLine, order_place  # noqa: E402

PREFIX = f"bench-{uuid.uuid4().hex[:8]}"


@dataclass
class Result:
    scenario: str
    orders: int
    refusals: int
    seconds: float
    latencies_ms: list[float]

    def line(self) -> str:
        ordered = sorted(self.latencies_ms)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{self.scenario:<24} {self.orders / self.seconds:8.0f} orders/s   "
            f"p50 {statistics.median(ordered):6.1f} ms   p99 {p99:6.1f} ms   "
            f"({self.orders} orders, {self.refusals} refused, {self.seconds:.0f} s)"
        )


def products_create(products: int) -> list[int]:
    category = Category.objects.create(name=PREFIX, slug=PREFIX)
    created = Product.objects.bulk_create(
        Product(
            name=f"{PREFIX} product {i}",
            slug=f"{PREFIX}-{i}",
            sku=f"{PREFIX}-{i}",
            price=Decimal("19.99"),
            stock_quantity=10**9,  # never the bottleneck, never a low-stock alert
            category=category,
        )
        for i in range(products)
    )
    return [p.pk for p in created]


_customer_numbers = itertools.count()


def customer_create() -> User:
    return User.objects.create_user(f"{PREFIX}-{next(_customer_numbers)}@bench.local", None)


def scenario_run(name: str, clients: int, product_ids: list[int], seconds: float) -> Result:
    barrier = threading.Barrier(clients + 1)
    deadline: list[float] = []
    latencies: list[list[float]] = [[] for _ in range(clients)]
    refusals = [0] * clients

    def client(index: int) -> None:
        keys = (f"{name}-{index}-{n}" for n in itertools.count())
        product_choice = itertools.cycle(product_ids[index::clients] or product_ids)
        customer, placed = customer_create(), 0
        try:
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                if placed == settings.ORDER_MAX_PENDING_PER_CUSTOMER:
                    # A shop's buyers each hold a few unpaid orders: the next orders are the
                    # next buyer's (created outside the timed call), never a limit refusal.
                    customer, placed = customer_create(), 0
                started = time.perf_counter()
                try:
                    order_place(
                        customer=customer,
                        lines=[OrderLine(next(product_choice), 1)],
                        idempotency_key=next(keys),
                    )
                except OrderError:
                    refusals[index] += 1
                    continue
                latencies[index].append((time.perf_counter() - started) * 1000)
                placed += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline.append(time.perf_counter() + seconds)
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    all_latencies = [ms for per_client in latencies for ms in per_client]
    return Result(name, len(all_latencies), sum(refusals), elapsed, all_latencies)


def cleanup() -> None:
    Order.objects.filter(customer__email__startswith=PREFIX).delete()
    User.objects.filter(email__startswith=PREFIX).delete()
    Product.objects.filter(sku__startswith=PREFIX).delete()
    Category.objects.filter(slug=PREFIX).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--products", type=int, default=1000)
    args = parser.parse_args()

    product_ids = products_create(args.products)
    try:
        hot = scenario_run("one hot product", args.clients, product_ids[:1], args.seconds)
        spread = scenario_run(
            f"{args.products} distinct products", args.clients, product_ids, args.seconds
        )
    finally:
        connection.close()
        cleanup()
    print(f"order_place, {args.clients} concurrent clients, service level (no HTTP):")
    print(hot.line())
    print(spread.line())


if __name__ == "__main__":
    main()
