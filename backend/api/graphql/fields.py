"""Keeping resolvers on the event loop when they run no query.

Under ASGI, strawberry-django calls every sync resolver through ``sync_to_async``: a hop to a
worker thread and back for each call, so for each row of a page when the resolver computes a
field of a row (counted: docs/performance.md, "Levers"). A resolver marked ``is_async_safe``
(the flag strawberry-django sets on its own query-free resolvers) is called on the event loop
instead.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry_django
from asgiref.sync import sync_to_async
from strawberry.utils.inspect import in_async_context


def query_free[ResolverT: Callable[..., Any]](resolver: ResolverT) -> ResolverT:
    """Mark ``resolver`` as running no query, so it is called on the event loop.

    For resolvers that read only what is already loaded, or build a lazy queryset that
    strawberry-django only filters before a connection fetches it in its own thread. Not for a
    single-object field returning a queryset: strawberry-django evaluates that right after the
    resolver. A query run here raises ``SynchronousOnlyOperation``; it is never silently
    blocking.
    """
    resolver.is_async_safe = True  # type: ignore[attr-defined]
    return resolver


def row_field(*, only: list[str], description: str) -> Callable[[Callable[..., Any]], Any]:
    """A field computed from columns of its own row, which ``only`` names for the optimizer:
    the page's one statement loads them, so the resolver is ``query_free``."""

    def decorate(resolver: Callable[..., Any]) -> Any:
        return strawberry_django.field(only=only, description=description)(query_free(resolver))

    return decorate


def off_event_loop[T](function: Callable[[], T]) -> T | Awaitable[T]:
    """Run ``function``, which queries, from a ``query_free`` resolver: under ASGI in a thread,
    returning an awaitable of its result (strawberry-django awaits what a resolver returns);
    in sync execution directly."""
    return sync_to_async(function)() if in_async_context() else function()
