"""In-process A/B of the experiments on scenario (a): interleaved rounds, so machine load
drifts affect every variant alike. Reports the median ms per executed request.

    DATABASE_URL=... .venv/bin/python bench/inprocess_ab.py [--rounds 7] [--requests 40]

Runs ``schema.execute_sync`` + JSON encoding (no HTTP); the database must be seeded
(``bench/catalog.py`` does it).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.catalog import throwaway_signing_key

VARIANTS: dict[str, list[str]] = {
    "as is": [],
    "node_id_attr": ["node_id_attr"],
    "parser_cache,validation_cache": ["parser_cache", "validation_cache"],
    "all three": ["node_id_attr", "parser_cache", "validation_cache"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40)
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    if not os.environ.get("JWT_PRIVATE_KEY_FILE"):
        os.environ.setdefault("JWT_PRIVATE_KEY", throwaway_signing_key())
    import django

    django.setup()
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.test import RequestFactory
    from strawberry.django.views import AsyncGraphQLView

    from backend.catalog.types import CategoryType, ProductType
    from backend.core.graphql.context import NexusContext
    from backend.schema import schema
    from bench.experiments import experiments_apply
    from bench.scenarios import SCENARIOS

    request = RequestFactory(SERVER_NAME="127.0.0.1").post("/graphql/")
    request.user = AnonymousUser()
    encode = AsyncGraphQLView(schema=schema).encode_json
    original_extensions = schema.extensions

    def reset() -> None:
        schema.extensions = original_extensions
        ProductType._id_attr = None  # type: ignore[attr-defined]
        CategoryType._id_attr = None  # type: ignore[attr-defined]

    def one() -> None:
        context = NexusContext(request=request, response=HttpResponse())
        result = schema.execute_sync(
            SCENARIOS["a"].query, variable_values={"first": 20}, context_value=context
        )
        assert not result.errors, result.errors
        encode({"data": result.data, "extensions": result.extensions})

    timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(arguments.rounds):
        for name, experiments in VARIANTS.items():
            reset()
            experiments_apply(names=experiments)
            for _ in range(5):
                one()
            started = time.perf_counter()
            for _ in range(arguments.requests):
                one()
            timings[name].append((time.perf_counter() - started) / arguments.requests * 1000)
    reset()
    base = statistics.median(timings["as is"])
    print(f"load average {os.getloadavg()}")
    print("| variant | median ms per request of (a), in-process | vs as is |")
    print("|---|---:|---:|")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {base / median:.1f}x |")


if __name__ == "__main__":
    main()
