"""Local performance experiments, applied to the running process only (``BENCH_EXPERIMENT``,
comma-separated). Project code is unchanged; each one stands for a concrete change proposed
in ``docs/performance.md``.

- ``node_id_attr``: cache the Relay id attribute of ``Product`` and ``Category``. Without a
  ``relay.NodeID`` annotation strawberry-django never caches it and rescans every class's
  annotations (``eval_type``, ``compile``) for EVERY ``id`` it resolves. The project change is
  one annotation per type (``id: relay.NodeID[int]``) or ``_id_attr = "id"``.
- ``parser_cache`` / ``validation_cache``: Strawberry's ``ParserCache`` / ``ValidationCache``
  (module-level LRU caches) added to the schema's extensions.
"""

import os


def experiments_apply(*, names: list[str] | None = None) -> list[str]:
    """Apply the named experiments (default: from ``BENCH_EXPERIMENT``); returns them."""
    if names is None:
        names = [name for name in os.environ.get("BENCH_EXPERIMENT", "").split(",") if name]
    if not names:
        return []
    from strawberry.extensions import ParserCache, ValidationCache

    from backend.catalog.types import CategoryType, ProductType
    from backend.schema import schema

    for name in names:
        if name == "node_id_attr":
            ProductType._id_attr = "id"  # type: ignore[attr-defined]
            CategoryType._id_attr = "id"  # type: ignore[attr-defined]
        elif name == "parser_cache":
            schema.extensions = (*schema.extensions, ParserCache)
        elif name == "validation_cache":
            schema.extensions = (*schema.extensions, ValidationCache)
        else:
            raise SystemExit(f"bench: unknown experiment {name!r} in BENCH_EXPERIMENT")
    return names
