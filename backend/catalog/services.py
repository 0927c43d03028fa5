"""Catalog business rules. Every transport (GraphQL, REST, admin, commands) calls these."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from backend.catalog.models import Category


def category_subtree(*, category: Category, include_self: bool = True) -> QuerySet[Category]:
    """The category and all its descendants: one query on the path index (``path LIKE 'p%'``)."""
    subtree = Category.objects.filter(path__startswith=category.path)
    return subtree if include_self else subtree.exclude(pk=category.pk)


def category_ancestors(*, category: Category) -> QuerySet[Category]:
    """The ancestors from the root down to the parent: one primary-key query, no recursion.

    The ids come from the category's own path; ordering by path puts the root first because
    each ancestor's path is a prefix of the next one's.
    """
    return Category.objects.filter(pk__in=category.ancestor_ids).order_by("path")


@transaction.atomic
def category_move(
    *, category: Category, parent: Category | None, position: int | None = None
) -> Category:
    """Move a category (and its whole subtree) under ``parent``, or to the top level.

    Runs in one transaction holding a row lock on the category; the database rewrites the
    descendants' paths in the same statement. A move under its own subtree raises
    ``ValidationError`` (and is refused by the database trigger even if this check is bypassed).
    """
    locked = Category.objects.select_for_update().get(pk=category.pk)
    if parent is not None:
        parent = Category.objects.get(pk=parent.pk)  # the current path, not a stale instance
    locked.parent = parent
    if position is not None:
        locked.position = position
    locked.full_clean()
    locked.save()
    return locked


def category_delete(*, category: Category) -> None:
    """Delete an empty category. One with products or subcategories is refused by PROTECT."""
    if category.children.exists() or category.products.exists():
        raise ValidationError("A category with subcategories or products cannot be deleted.")
    category.delete()
