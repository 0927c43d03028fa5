"""The schema's query optimizer: strawberry-django's, without its per-field hook."""

from strawberry.extensions import SchemaExtension
from strawberry_django.optimizer import DjangoOptimizerExtension


class QuerySetOptimizer(DjangoOptimizerExtension):
    """``DjangoOptimizerExtension`` minus its ``resolve`` hook.

    The hook wraps the resolver of every field (each column of each row) to catch a plain
    Strawberry field returning a ``QuerySet``. This schema has none: strawberry-django fields
    optimize the querysets they return themselves, and connections go through
    ``optimize_connection`` (``tests/graphql_catalog/test_query_counts.py`` pins that every
    ``QuerySet``-returning resolver is a strawberry-django field). Without the hook, one call
    layer leaves every resolved field (measured: docs/performance.md).
    """

    resolve = SchemaExtension.resolve
