"""The product search vector is a generated column: current after every save, no batch job."""

import pytest
from django.contrib.postgres.search import SearchQuery

from backend.catalog.models import Product
from tests.factories import product_create

pytestmark = pytest.mark.django_db


def found(word: str) -> set[int]:
    query = SearchQuery(word, config="english")
    return set(Product.objects.filter(search_vector=query).values_list("id", flat=True))


def test_a_new_product_is_found_by_a_word_of_its_name() -> None:
    product = product_create(name="Velvet armchair")
    assert found("velvet") == {product.pk}
    # English stemming: the plural finds the singular.
    assert found("armchairs") == {product.pk}


def test_a_renamed_product_is_found_by_the_new_word_and_not_the_old() -> None:
    product = product_create(name="Velvet armchair")
    product.name = "Leather armchair"
    product.save()
    assert found("leather") == {product.pk}
    assert found("velvet") == set()


def test_description_and_sku_are_searchable() -> None:
    product = product_create(name="Lamp", description="Handmade brass base", sku="LMP-777")
    assert found("brass") == {product.pk}
    assert Product.objects.filter(search_vector=SearchQuery("LMP-777", config="simple")).exists()
