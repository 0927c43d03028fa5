"""A model base whose rows load without ``Model.__init__`` and know the rows loaded with them."""

from collections.abc import Sequence
from typing import Any, Self

from django.db import models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


class PeerFetchingManager[M: models.Model](models.Manager[M]):
    """Querysets in Django's ``FETCH_PEERS`` mode: each row (and each row ``select_related``
    loads with it) keeps weak references to the rows of the same query, so a lazy load on one
    row (a deferred column, a foreign key not joined) is done for all of them in one statement,
    and batching code (the catalog's breadcrumbs) can find the rows to batch with."""

    def get_queryset(self) -> models.QuerySet[M]:
        queryset = super().get_queryset()
        # What ``fetch_mode()`` sets, without its copy of a queryset nobody else holds yet.
        queryset._fetch_mode = models.FETCH_PEERS
        return queryset


class DirectLoadModel(models.Model):
    """Builds instances read from the database by filling ``__dict__`` directly; its default
    manager is a ``PeerFetchingManager``.

    ``Model.from_db`` pads the row with ``DEFERRED`` markers, then ``Model.__init__`` sends
    ``pre_init``, walks every concrete field and sends ``post_init``: a measurable share of a
    product page's CPU (decision 0011; docs/performance.md, "Levers"), for instances whose
    values need no conversion. ``field_names`` are the
    attribute names of ``values``, in order (Django's own iterables guarantee it), so setting
    them is all ``__init__`` would do for a row; a fresh instance has no cached relation for
    ``ForeignKey``'s attribute setter to clear.

    Django's path is taken whenever it could differ: a class that overrides ``__init__``, or any
    ``pre_init``/``post_init`` receiver in the process (``ImageField``, audit-trail packages).
    ``tests/platform/test_direct_load.py`` checks that both paths build equal instances.
    """

    objects = PeerFetchingManager()

    class Meta:
        abstract = True

    @classmethod
    def from_db(
        cls,
        db: str | None,
        field_names: Sequence[str],
        values: Sequence[Any],
        *,
        fetch_mode: Any = None,
    ) -> Self:
        if pre_init.receivers or post_init.receivers or cls.__init__ is not models.Model.__init__:
            return super().from_db(db, field_names, values, fetch_mode=fetch_mode)
        instance = cls.__new__(cls)
        instance.__dict__.update(zip(field_names, values, strict=True))
        state = instance._state = ModelState()
        state.adding = False
        state.db = db
        if fetch_mode is not None:
            state.fetch_mode = fetch_mode
        return instance
