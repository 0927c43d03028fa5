"""``DirectLoadIterable`` builds the same instances as Django's ``Model.__init__`` path, and
only the querysets given it load that way: the models are plain Django models."""

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db.models import FETCH_ONE, FETCH_PEERS, F, Manager, Model, QuerySet
from django.db.models.query import ModelIterable
from django.db.models.signals import post_init, pre_init
from pytest_django.fixtures import Settings

from backend.catalog.models import Category, Product
from backend.core.rows import DirectLoadIterable, row_builder
from backend.orders.models import Order, OrderEvent, OrderItem, OrderStatus
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


def load(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    return [snapshot(row) for row in queryset]


def directly(queryset: QuerySet[Any]) -> QuerySet[Any]:
    queryset._iterable_class = DirectLoadIterable
    return queryset


def load_through_django_init(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    """Any ``post_init`` receiver in the process sends every model down Django's own path."""
    post_init.connect(_ignore, sender=Category)
    try:
        return load(directly(queryset))
    finally:
        post_init.disconnect(_ignore, sender=Category)


QUERYSETS: dict[str, Callable[[], QuerySet[Any]]] = {
    "every column": lambda: Product.objects.all(),
    "only some columns": lambda: Product.objects.only("name", "price"),
    "deferred columns": lambda: Product.objects.defer("description", "search_vector"),
    "select_related": lambda: Product.objects.select_related("category__parent"),
    "select_related with only": lambda: Product.objects.select_related("category").only(
        "name", "category__name"
    ),
    "extra select": lambda: Category.objects.extra(select={"twice": "id * 2"}),
    "annotated": lambda: Product.objects.annotate(twice=F("stock_quantity") * 2),
    "peers, select_related": lambda: Product.objects.select_related("category").fetch_mode(
        FETCH_PEERS
    ),
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

    direct = load(directly(QUERYSETS[name]()))

    assert direct, "the comparison needs rows"
    assert direct == load_through_django_init(QUERYSETS[name]())
    assert direct == load(QUERYSETS[name]())


def test_directly_loaded_instance_saves_as_an_update_and_loads_deferred_fields() -> None:
    product = product_create(description="long text")
    [loaded] = directly(Product.objects.only("name").filter(pk=product.pk))
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
        loaded = list(directly(Product.objects.all()))
    finally:
        post_init.disconnect(record, sender=Product)
    assert seen == loaded


def test_the_models_are_plain_and_load_through_django_by_default() -> None:
    """Services, the admin, REST and Celery load rows the standard way (decision 0020)."""
    for model in (Category, Product, Order, OrderItem, OrderEvent):
        assert model.from_db.__func__ is Model.from_db.__func__, model
        assert type(model._default_manager) is Manager, model
        queryset = model._default_manager.all()
        assert queryset._iterable_class is ModelIterable, model
        assert queryset._fetch_mode is FETCH_ONE, model


@pytest.mark.fast_paths
def test_row_builder_builds_the_instances_django_builds_from_a_row() -> None:
    """A row read outside a queryset (a product list's facet categories) becomes the instance
    ``Model.from_db`` builds from it; with the fast paths off it is ``Model.from_db``'s own."""
    category_create(name="Lamps")
    names = [field.attname for field in Category._meta.concrete_fields]
    row = Category.objects.values_list(*names).get()
    direct = row_builder(Category)
    assert direct.__name__ == "from_db"
    assert not isinstance(direct, partial)
    assert snapshot(direct("default", names, row)) == snapshot(
        Category.from_db("default", names, row, fetch_mode=FETCH_ONE)
    )


def test_row_builder_is_django_s_from_db_with_the_fast_paths_off(
    settings: Settings,
) -> None:
    settings.NEXUS_FAST_PATHS = False
    builder = row_builder(Category)
    assert isinstance(builder, partial)
    assert builder.func == Category.from_db
