"""How the GraphQL read path fetches the rows of a page: the one place that applies the row
fast paths of decision 0020, and the only reader of the peers they record.

With ``NEXUS_FAST_PATHS`` on, a page's rows (a connection's page, the children pages of every
parent on a page) are fetched

- in Django's ``FETCH_PEERS`` mode: each row, and each row ``select_related`` joins in, keeps
  weak references to the rows of the same query, so a lazy load on one of them is done for all
  in one statement and a sync resolver can batch over them (the breadcrumbs, decision 0012);
- with ``DirectLoadIterable`` (``backend/core/rows.py``, decision 0011): instances are built
  without ``Model.__init__``.

With it off they are fetched as any queryset is. The models themselves stay plain: services,
the admin, REST and Celery load rows the standard way. Rows built outside a queryset (the
categories of a product list's facets) become peers through ``rows_as_peers``.
"""

import weakref
from typing import Any

from django.conf import settings
from django.db.models import FETCH_PEERS, Model, QuerySet
from django.db.models.query import ModelIterable

from backend.core.rows import DirectLoadIterable


def page_rows[M: Model](queryset: QuerySet[M]) -> list[M]:
    """Evaluate ``queryset``, a page this caller alone holds, with the row fast paths."""
    if settings.NEXUS_FAST_PATHS and queryset._iterable_class is ModelIterable:
        # What ``fetch_mode()`` sets, without copying a queryset nobody else holds.
        queryset._fetch_mode = FETCH_PEERS
        queryset._iterable_class = DirectLoadIterable
    return list(queryset)


def rows_as_peers[M: Model](rows: list[M]) -> list[M]:
    """``rows``, built outside a queryset (the categories of a product list's facets), made
    each other's ``FETCH_PEERS`` peers as ``page_rows`` makes a page's: a relation loaded on one
    is loaded for all in one statement, and ``rows_loaded_with`` returns them all."""
    if settings.NEXUS_FAST_PATHS:
        peers = [weakref.ref(row) for row in rows]
        for row in rows:
            row._state.fetch_mode = FETCH_PEERS
            row._state.peers = peers
    return rows


def rows_loaded_with[M: Model](row: M) -> list[M]:
    """``row`` and the rows its query loaded with it (its ``FETCH_PEERS`` peers; only ``row``
    when it was not fetched by ``page_rows`` with the fast paths on)."""
    references: Any = row._state.peers
    if not references:
        return [row]
    return [peer for reference in references if (peer := reference()) is not None]
