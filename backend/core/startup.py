"""What a server process does once, after loading Django and before its first request."""

import gc

from django.urls import get_resolver


def freeze_startup_objects() -> None:
    """Load what the first request would load (the URLconf, and through it the GraphQL schema),
    then exempt every object alive now from the cyclic garbage collector (``gc.freeze``).

    A server process holds a large number of tracked objects after start-up (modules, the
    schema, the ORM's metadata), nearly all of them alive until it exits. Each full collection
    walks them all, a pause that every request queued behind it waits out (decision 0013 has
    the counts and pauses). Frozen, they are never walked again, and a
    pre-forking server's workers keep sharing their pages. Garbage made before the freeze is
    collected first.
    """
    get_resolver().url_patterns  # noqa: B018  imports the URLconf
    gc.collect()
    gc.freeze()
