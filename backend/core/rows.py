"""A queryset iterable that builds model instances without ``Model.__init__``.

``Model.from_db`` pads a row with ``DEFERRED`` markers, then ``Model.__init__`` sends
``pre_init``, walks every concrete field and sends ``post_init``: about a tenth of the CPU of a
product page (decision 0011), for instances whose values need no conversion. ``field_names``
are the attribute names of a row's values, in order (Django's own iterables guarantee it), so
setting them is all ``__init__`` would do for a row; a fresh instance has no cached relation
for ``ForeignKey``'s attribute setter to clear.

Models stay plain Django models: only a queryset given ``DirectLoadIterable`` (the GraphQL
read path's page fetch, ``backend/api/graphql/rows.py``), and rows read outside a queryset
through ``row_builder`` (a product list's facet categories), load this way. Django's path is taken
whenever it could differ: a model that overrides ``__init__`` or ``from_db``, any
``pre_init``/``post_init`` receiver in the process (``ImageField``, audit-trail packages), or a
queryset with known related objects (a related manager's). The loop mirrors Django 6.1's
``ModelIterable.__iter__``; ``tests/platform/test_direct_load.py`` checks that both paths build
equal instances and ``tests/platform/test_private_apis.py`` that the mirrored code is unchanged.
"""

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any
from weakref import ref as weak_ref

from django.conf import settings
from django.db.models import FETCH_ONE, Model
from django.db.models.base import ModelState
from django.db.models.fetch_modes import FetchMode
from django.db.models.query import ModelIterable, RelatedPopulator, get_related_populators
from django.db.models.signals import post_init, pre_init

FromDb = Callable[[str | None, Sequence[str], Sequence[Any]], Model]


class DirectLoadIterable(ModelIterable):
    """``ModelIterable`` building each row's instance, and each instance ``select_related``
    joins in, by filling its ``__dict__``."""

    def __iter__(self) -> Iterator[Model]:
        queryset = self.queryset
        if queryset._known_related_objects:
            yield from super().__iter__()
            return
        db = queryset.db
        compiler = queryset.query.get_compiler(using=db)
        fetch_mode = queryset._fetch_mode
        results = compiler.execute_sql(chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size)
        select, klass_info, annotation_col_map = (
            compiler.select,
            compiler.klass_info,
            compiler.annotation_col_map,
        )
        model = klass_info["model"]
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        field_names = [column[0].target.attname for column in select[start:end]]
        from_db = row_builder(model, fetch_mode)
        related_populators = get_related_populators(klass_info, select, db, fetch_mode)
        _populate_directly(related_populators, fetch_mode)
        track_peers = fetch_mode.track_peers
        peers: list[weak_ref[Model]] = []
        for row in compiler.results_iter(results):
            instance = from_db(db, field_names, row[start:end])
            if track_peers:
                peers.append(weak_ref(instance))
                instance._state.peers = peers
            for populator in related_populators:
                populator.populate(row, instance)
            if annotation_col_map:
                for name, position in annotation_col_map.items():
                    setattr(instance, name, row[position])
            yield instance


def row_builder(model: type[Model], fetch_mode: FetchMode = FETCH_ONE) -> FromDb:
    """What builds ``model``'s instances from rows of ``fetch_mode``: ``direct_from_db``'s
    builder where it applies and ``NEXUS_FAST_PATHS`` is on, else ``model.from_db``. For rows
    read outside a queryset too (the categories of a product list's facets)."""
    direct = direct_from_db(model, fetch_mode) if settings.NEXUS_FAST_PATHS else None
    return direct or partial(model.from_db, fetch_mode=fetch_mode)


def direct_from_db(model: type[Model], fetch_mode: FetchMode) -> FromDb | None:
    """``model.from_db`` for rows of ``fetch_mode``, without ``__init__``; None where Django's
    own path could build something else."""
    if (
        pre_init.receivers
        or post_init.receivers
        or model.__init__ is not Model.__init__
        or model.from_db.__func__ is not Model.from_db.__func__  # type: ignore[attr-defined]
    ):
        return None

    def from_db(db: str | None, field_names: Sequence[str], values: Sequence[Any]) -> Model:
        instance = model.__new__(model)
        instance.__dict__.update(zip(field_names, values, strict=True))
        state = instance._state = ModelState()
        state.adding = False
        state.db = db
        state.fetch_mode = fetch_mode
        return instance

    return from_db


def _populate_directly(populators: list[RelatedPopulator], fetch_mode: FetchMode) -> None:
    # A populator calls its ``from_db`` attribute (``model.from_db`` with the fetch mode bound).
    for populator in populators:
        direct = direct_from_db(populator.model_cls, fetch_mode)
        if direct is not None:
            populator.from_db = direct
        _populate_directly(populator.related_populators, fetch_mode)
