"""``manage.py export_schema``: the GraphQL schema as SDL, checked in as schema.graphql.

The output is deterministic: types, fields, arguments and enum values are sorted by name
(graphql-core's ``lexicographic_sort_schema``), so it is byte-identical across runs and hash
seeds and a diff shows only real changes, never a reordering.
"""

from argparse import ArgumentParser
from difflib import unified_diff
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string
from graphql import build_schema, lexicographic_sort_schema, print_schema

DEFAULT_SCHEMA = "backend.api.schema.schema"
CONTRACT_FILE = Path(settings.BASE_DIR) / "schema.graphql"


def schema_sdl(schema_path: str = DEFAULT_SCHEMA) -> str:
    """The SDL of the Strawberry schema at ``schema_path``, sorted, ending in one newline."""
    schema = import_string(schema_path)
    # Strawberry prints its own schema (it knows how to show Python enum defaults); rebuilding
    # that SDL with graphql-core gives a plain schema that lexicographic_sort_schema can sort.
    plain = build_schema(schema.as_str())
    return print_schema(lexicographic_sort_schema(plain)).rstrip("\n") + "\n"


class Command(BaseCommand):
    # Exporting needs no database; the system checks would connect to one.
    requires_system_checks: list[str] = []
    help = "Print the GraphQL schema as SDL, write it to a file, or check that file is current."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--output", type=Path, help="Write the SDL to this file instead of standard output."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"Write nothing; fail if the file (--output, default {CONTRACT_FILE.name}) "
            "differs from the schema in the code.",
        )
        parser.add_argument(
            "--schema", default=DEFAULT_SCHEMA, help="Dotted path of the Strawberry schema."
        )

    def handle(
        self, *args: Any, output: Path | None, check: bool, schema: str, **options: Any
    ) -> None:
        sdl = schema_sdl(schema)
        if check:
            target = output or CONTRACT_FILE
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != sdl:
                diff = "".join(
                    unified_diff(
                        current.splitlines(keepends=True),
                        sdl.splitlines(keepends=True),
                        fromfile=f"{target} (committed)",
                        tofile="schema in the code",
                    )
                )
                raise CommandError(f"{target} is stale: run `make schema`.\n{diff}")
            self.stdout.write(f"{target} is up to date.")
            return
        if output is None:
            # Write the bytes as they are: the SDL already ends with its one newline.
            self.stdout.write(sdl, ending="")
            return
        output.write_text(sdl, encoding="utf-8")
        self.stdout.write(f"Wrote {output}.")
