"""The category tree: subtree ids and breadcrumbs in one query each, transactional moves, no cycles,
and paths kept by the database trigger for every writer (ORM, bulk_create, raw SQL)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from backend.catalog.models import Category
from backend.catalog.selectors import categories_by_id, category_subtree_ids
from backend.catalog.services import category_move
from tests.factories import category_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree() -> dict[str, Category]:
    """apparel / shoes / running / trail, apparel / jackets, electronics."""
    apparel = category_create(name="Apparel")
    shoes = category_create(name="Shoes", parent=apparel)
    running = category_create(name="Running", parent=shoes)
    trail = category_create(name="Trail", parent=running)
    jackets = category_create(name="Jackets", parent=apparel)
    electronics = category_create(name="Electronics")
    return {
        "apparel": apparel,
        "shoes": shoes,
        "running": running,
        "trail": trail,
        "jackets": jackets,
        "electronics": electronics,
    }


def paths() -> dict[int, str]:
    return dict(Category.objects.values_list("id", "path"))


def test_paths_are_the_ids_from_the_root_down(tree: dict[str, Category]) -> None:
    apparel, shoes, running = tree["apparel"], tree["shoes"], tree["running"]
    assert running.path == f"/{apparel.pk}/{shoes.pk}/{running.pk}/"
    assert running.depth == 2
    assert apparel.depth == 0


def subtree_names(category: Category) -> set[str]:
    ids = category_subtree_ids(category_id=category.pk)
    return {category.name for category in Category.objects.filter(pk__in=ids)}


def test_subtree_is_one_query_and_holds_exactly_the_descendants(
    tree: dict[str, Category], count_queries
) -> None:
    with count_queries() as queries:
        subtree = set(category_subtree_ids(category_id=tree["shoes"].pk))
    assert queries.count == 1
    assert subtree == {tree[name].pk for name in ("shoes", "running", "trail")}
    assert category_subtree_ids(category_id=0) == []


def test_breadcrumbs_are_one_query_root_first(tree: dict[str, Category], count_queries) -> None:
    """``ancestor_ids`` comes from the path (no query); the rows are one primary-key query."""
    trail = tree["trail"]
    with count_queries() as queries:
        found = categories_by_id(ids=trail.ancestor_ids)
        ancestors = [found[pk].name for pk in trail.ancestor_ids]
    assert queries.count == 1
    assert ancestors == ["Apparel", "Shoes", "Running"]
    assert tree["apparel"].ancestor_ids == []


def test_moving_a_category_rewrites_every_descendant_path(tree: dict[str, Category]) -> None:
    electronics, shoes, running, trail = (
        tree["electronics"],
        tree["shoes"],
        tree["running"],
        tree["trail"],
    )
    moved = category_move(category=shoes, parent=electronics, position=3)
    assert moved.path == f"/{electronics.pk}/{shoes.pk}/"
    assert moved.position == 3
    current = paths()
    assert current[running.pk] == f"/{electronics.pk}/{shoes.pk}/{running.pk}/"
    assert current[trail.pk] == f"/{electronics.pk}/{shoes.pk}/{running.pk}/{trail.pk}/"
    # Untouched branches keep their paths.
    assert current[tree["jackets"].pk] == tree["jackets"].path
    assert subtree_names(electronics) == {
        "Electronics",
        "Shoes",
        "Running",
        "Trail",
    }


def test_moving_a_category_to_the_top_level(tree: dict[str, Category]) -> None:
    running, trail = tree["running"], tree["trail"]
    category_move(category=running, parent=None)
    current = paths()
    assert current[running.pk] == f"/{running.pk}/"
    assert current[trail.pk] == f"/{running.pk}/{trail.pk}/"


def test_move_under_own_descendant_is_refused_by_the_service(tree: dict[str, Category]) -> None:
    before = paths()
    with pytest.raises(ValidationError, match="own subtree"):
        category_move(category=tree["apparel"], parent=tree["trail"])
    assert paths() == before


def test_move_under_own_descendant_is_refused_by_the_database(tree: dict[str, Category]) -> None:
    before = paths()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_category SET parent_id = %s WHERE id = %s",
            [tree["trail"].pk, tree["apparel"].pk],
        )
    assert paths() == before


def test_a_category_cannot_be_its_own_parent(tree: dict[str, Category]) -> None:
    shoes = tree["shoes"]
    with pytest.raises(ValidationError, match="own parent"):
        category_move(category=shoes, parent=shoes)
    before = paths()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_category SET parent_id = id WHERE id = %s", [shoes.pk])
    assert paths() == before


def test_bulk_created_and_raw_inserted_categories_get_their_path(
    tree: dict[str, Category],
) -> None:
    jackets = tree["jackets"]
    (bulk,) = Category.objects.bulk_create([Category(name="Rain", slug="rain", parent=jackets)])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_category (name, slug, description, parent_id, position, path,"
            " created_at, updated_at) VALUES ('Raw', 'raw', '', %s, 0, '', now(), now())"
            " RETURNING id",
            [bulk.pk],
        )
        (raw_id,) = cursor.fetchone()
    current = paths()
    assert current[bulk.pk] == f"{jackets.path}{bulk.pk}/"
    assert current[raw_id] == f"{jackets.path}{bulk.pk}/{raw_id}/"


def test_renaming_a_category_keeps_its_path(tree: dict[str, Category]) -> None:
    shoes = tree["shoes"]
    shoes.name = "Footwear"
    shoes.save()
    assert paths()[shoes.pk] == tree["shoes"].path
