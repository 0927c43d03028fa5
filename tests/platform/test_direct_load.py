"""``DirectLoadModel.from_db`` builds the same instances as Django's ``Model.__init__`` path."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model, QuerySet
from django.db.models.query import RawQuerySet
from django.db.models.signals import post_init, pre_init

from backend.catalog.models import Category, Product
from backend.orders.models import OrderEvent, OrderItem, OrderStatus
from tests.factories import category_create, order_create, product_create

pytestmark = pytest.mark.django_db


def snapshot(instance: Model) -> dict[str, Any]:
    """Everything an instance holds: field values, state, and the related objects it caches."""
    state = {
        name: value
        for name, value in vars(instance._state).items()
        if name not in ("fields_cache", "peers")
    }
    return {
        "class": type(instance),
        "values": {name: value for name, value in vars(instance).items() if name != "_state"},
        "state": state,
        "related": {
            name: snapshot(related) if related is not None else None
            for name, related in instance._state.fields_cache.items()
        },
        "deferred": instance.get_deferred_fields(),
    }


def _ignore(**kwargs: Any) -> None:
    return None


def load(queryset: QuerySet[Any] | RawQuerySet) -> list[dict[str, Any]]:
    return [snapshot(row) for row in queryset]


def load_through_django_init(queryset: QuerySet[Any] | RawQuerySet) -> list[dict[str, Any]]:
    """Any ``post_init`` receiver in the process sends every model down Django's own path."""
    post_init.connect(_ignore, sender=Category)
    try:
        return load(queryset)
    finally:
        post_init.disconnect(_ignore, sender=Category)


QUERYSETS: dict[str, Callable[[], QuerySet[Any] | RawQuerySet]] = {
    "every column": lambda: Product.objects.all(),
    "only some columns": lambda: Product.objects.only("name", "price"),
    "deferred columns": lambda: Product.objects.defer("description", "search_vector"),
    "select_related": lambda: Product.objects.select_related("category__parent"),
    "select_related with only": lambda: Product.objects.select_related("category").only(
        "name", "category__name"
    ),
    "extra select": lambda: Category.objects.extra(select={"twice": "id * 2"}),
    "raw": lambda: Product.objects.raw("SELECT id, name, price FROM catalog_product"),
    "order lines with order and product": lambda: OrderItem.objects.select_related(
        "order", "product"
    ),
    "order events": lambda: OrderEvent.objects.select_related("order"),
}


@pytest.mark.parametrize("name", QUERYSETS)
def test_direct_load_builds_the_instances_django_builds(name: str) -> None:
    assert not pre_init.receivers, "the direct path must be on"
    assert not post_init.receivers, "the direct path must be on"
    parent = category_create()
    product = product_create(category=category_create(parent=parent), description="long text")
    order = order_create(products=[(product, 2)])
    OrderEvent.objects.create(order=order, from_status=None, to_status=OrderStatus.PENDING)

    direct = load(QUERYSETS[name]())

    assert direct, "the comparison needs rows"
    assert direct == load_through_django_init(QUERYSETS[name]())


def test_directly_loaded_instance_saves_as_an_update_and_loads_deferred_fields() -> None:
    product = product_create(description="long text")
    loaded = Product.objects.only("name").get(pk=product.pk)
    assert loaded.description == "long text"  # a deferred field still loads on access
    loaded.name = "Renamed"
    loaded.save(update_fields=["name"])
    assert Product.objects.count() == 1
    assert Product.objects.get(pk=product.pk).name == "Renamed"


def test_a_post_init_receiver_still_sees_every_loaded_instance() -> None:
    product_create()
    seen: list[Model] = []

    def record(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(record, sender=Product)
    try:
        loaded = list(Product.objects.all())
    finally:
        post_init.disconnect(record, sender=Product)
    assert seen == loaded
