"""Celery tasks for accounts: thin wrappers over the domain's writes, each idempotent."""

from backend.core.tasks import clean_up_task

# The login throttle's forgotten rows, in bounded batches.
throttle_buckets_purge = clean_up_task(
    "accounts.throttle_buckets_purge",
    "backend.accounts.throttling.expired_buckets_purge",
    deleted="buckets",
)
