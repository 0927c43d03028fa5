"""Celery tasks for the catalog: thin wrappers over the domain's writes, each idempotent."""

from backend.core.tasks import clean_up_task

# The search vocabulary's words no product holds any more.
search_words_prune = clean_up_task(
    "catalog.search_words_prune",
    "backend.catalog.services.search_words_prune",
    deleted="words",
)

# The facet counts' change rows, folded into one row per key.
product_facet_counts_compact = clean_up_task(
    "catalog.product_facet_counts_compact",
    "backend.catalog.services.product_facet_counts_compact",
    deleted="facet count rows",
)
