"""Server CPU per refused hostile GraphQL document, per family of attack.

    .venv/bin/python bench/hostile.py [--requests 200] 2>/dev/null

Posts ``--requests`` distinct documents of each family (a unique comment defeats the parse and
validation caches: every request is a first sight) to ``/graphql/`` through Django's test
client, in this process, and reports the process CPU time (``time.process_time``) per request
and the error code each was refused with. The families are those of
tests/api/graphql/contract/test_hostile_documents.py, at the sizes the issue reported (the 4x10
fragment chain took 10 s of CPU before the analysis pass). Strawberry logs every refused
request's error; send stderr elsewhere to keep the table readable (the logging is counted).

Not part of ``make test``: speed is measured here, never asserted in tests.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django

django.setup()

from django.test import Client  # noqa: E402

from tests.api.graphql.contract.test_hostile_documents import (  # noqa: E402
    duplicated_fields,
    fragment_chain,
    nested_inline_fragments,
    repeated_directives,
    wide_fragment,
)

FAMILIES: dict[str, Callable[[], str]] = {
    "fragment chain 4x10 (the issue's)": lambda: fragment_chain(4, 10),
    "fragment chain 2x12": lambda: fragment_chain(2, 12),
    "wide fragment 150 fields x 40": lambda: wide_fragment(150, 40),
    "nested inline fragments 150 x 20": lambda: nested_inline_fragments(150, 20),
    "repeated directives 100 x 40": lambda: repeated_directives(100, 40),
    "duplicated fields 100 x 20": lambda: duplicated_fields(100, 20),
    "fragment cycle 4x8": lambda: fragment_chain(4, 8).replace(
        "fragment F0 on Query { __typename }", "fragment F0 on Query { __typename ...F8 }"
    ),
    "2,500 tokens": lambda: "{ " + "__typename " * 2500 + "}",
    "1 MB text": lambda: "{ __typename }" + " " * (1024 * 1024),
}


def measure(client: Client, make_query: Callable[[], str], requests: int) -> tuple[float, str]:
    base = make_query()
    bodies = [json.dumps({"query": f"# {index}\n{base}"}) for index in range(requests)]
    codes: set[str] = set()
    started = time.process_time()
    for body in bodies:
        response = client.post("/graphql/", body, content_type="application/json")
        codes.update(error["extensions"]["code"] for error in response.json().get("errors", []))
    elapsed = time.process_time() - started
    return elapsed / requests * 1000, ",".join(sorted(codes)) or "(answered)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    client = Client(HTTP_HOST="localhost")
    measure(client, lambda: "{ __typename }", 20)  # warm up imports and the schema
    print(f"{'family':<40} {'CPU ms/request':>15}  refused with")
    for name, make_query in FAMILIES.items():
        per_request, codes = measure(client, make_query, arguments.requests)
        print(f"{name:<40} {per_request:>15.2f}  {codes}")
    baseline, _ = measure(client, lambda: "{ __typename }", arguments.requests)
    print(f"{'(baseline: { __typename }, answered)':<40} {baseline:>15.2f}")


if __name__ == "__main__":
    main()
