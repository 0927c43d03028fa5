"""The search vocabulary loses, by a daily beat task, the words no product's name or SKU holds
any more, and never one a product holds, even one added while the prune runs; a typo then
corrects to words that find something. Its table keeps only the indexes its reads use."""

import threading

import pytest
from django.db import connection, transaction

from backend.catalog import selectors, services, tasks
from backend.catalog.models import Product, SearchWord
from tests.beat import assert_beat_runs
from tests.factories import product_create


def vocabulary() -> set[str]:
    return set(SearchWord.objects.values_list("word", flat=True))


@pytest.mark.django_db
def test_the_words_no_product_holds_are_deleted_and_only_those() -> None:
    lamp = product_create(name="Brass lamp", sku="LMP-BRASS-1")
    gone = product_create(name="Zeppelin model", sku="ZEP-9")
    renamed = product_create(name="Quokka plush", sku="TOY-1")
    services.product_delete(product=gone)
    services.product_update(product=renamed, name="Wombat plush")
    assert {"zeppelin", "model", "zep", "quokka"} <= vocabulary()
    assert services.search_words_prune() == 4
    assert vocabulary() == {"brass", "lamp", "lmp", "wombat", "plush", "toy"}
    assert services.search_words_prune() == 0  # idempotent
    assert Product.objects.get(pk=lamp.pk).name == "Brass lamp"


@pytest.mark.django_db
def test_a_typo_then_corrects_to_a_word_that_finds_something() -> None:
    """Before the prune, the three nearest words of "lampz" are stale ones and the lamp is not
    found; after it, "lamp" is among them."""
    product_create(name="Desk lamp")
    for name in ["Lampza", "Lampzo", "Lampzi"]:  # nearer to "lampz" than "lamp" is
        services.product_delete(product=product_create(name=f"{name} stand"))

    def found(search: str) -> list[str]:
        return list(
            selectors.product_list(viewer=None, search=search).values_list("name", flat=True)
        )

    assert found("lampz desk") == []
    services.search_words_prune()
    assert found("lampz desk") == ["Desk lamp"]


@pytest.mark.django_db
def test_the_beat_task_prunes() -> None:
    services.product_delete(product=product_create(name="Zeppelin", sku="100-200"))
    assert tasks.search_words_prune.apply().get() == 1
    assert "zeppelin" not in vocabulary()


def test_beat_runs_the_prune_task() -> None:
    assert_beat_runs("catalog.search_words_prune")


@pytest.mark.django_db(transaction=True)
def test_a_word_a_product_is_adding_while_the_prune_runs_is_kept() -> None:
    """A stale word that a product being created holds again: the prune waits for that
    transaction, sees the product, and keeps the word."""
    services.product_delete(product=product_create(name="Zeppelin"))  # "zeppelin" is stale
    added, release = threading.Event(), threading.Event()

    def create() -> None:
        try:
            with transaction.atomic():
                product_create(name="Zeppelin kit")
                added.set()
                release.wait(10)
        finally:
            connection.close()

    creator = threading.Thread(target=create)
    creator.start()
    pruned: list[int] = []
    pruner = threading.Thread(target=lambda: (pruned.append(services.search_words_prune()),
                                              connection.close()))  # fmt: skip
    try:
        assert added.wait(10)
        pruner.start()
        pruner.join(0.5)
        assert pruner.is_alive()  # waiting for the creator's words
    finally:
        release.set()
        creator.join()
        pruner.join(10)
    assert pruned == [0]
    assert {"zeppelin", "kit"} <= vocabulary()


@pytest.mark.django_db
def test_the_vocabulary_keeps_one_btree_its_primary_key() -> None:
    """Its "C" key's btree serves equality and prefixes; the trigram index serves typos. A third
    index would only make every word the triggers add dearer."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_searchword'"
            " ORDER BY indexname"
        )
        indexes = dict(cursor.fetchall())
    assert set(indexes) == {"catalog_searchword_pkey", "catalog_searchword_trgm_idx"}
    assert "USING gin (word gin_trgm_ops)" in indexes["catalog_searchword_trgm_idx"]
