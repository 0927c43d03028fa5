"""schema.graphql is the API contract: exported from the code, deterministic, never broken by
accident. Regenerate it with ``make schema`` (``manage.py export_schema --output schema.graphql``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from backend.api.management.commands.export_schema import schema_sdl
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
CONTRACT = ROOT / "schema.graphql"
ALLOW_FILE = ROOT / "graphql" / "breaking-changes-allowed.txt"


def allowed_breaking_changes(text: str) -> dict[str, str]:
    """``description -> reason`` from the allow file; an entry without a reason is an error."""
    allowed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        description, _, reason = (part.strip() for part in line.partition("|"))
        if not reason:
            raise ValueError(f"line {number}: {description!r} needs a reason after '|'")
        allowed[description] = reason
    return allowed


def unallowed_breaking_changes(old_sdl: str, new_sdl: str, allowed: dict[str, str]) -> list[str]:
    """graphql-core's description of every breaking change from old to new not in ``allowed``."""
    changes = find_breaking_changes(build_schema(old_sdl), build_schema(new_sdl))
    return sorted(
        f"{change.type.name}: {change.description}"
        for change in changes
        if change.description not in allowed
    )


def baseline_sdl() -> tuple[str, str]:
    """The schema to compare with, and where it came from.

    ``SCHEMA_BASELINE_REF`` names a git ref (CI sets it to the pull request's target after
    ``git fetch origin main``); otherwise ``origin/main`` when this clone has it, else ``HEAD``
    (a fresh clone: the check then catches uncommitted breaking changes). A ref that was asked
    for explicitly and cannot be read fails the test rather than silently comparing less.
    """
    requested = os.environ.get("SCHEMA_BASELINE_REF", "").strip()
    git = shutil.which("git")
    for ref in [requested] if requested else ["origin/main", "HEAD"]:
        if git is None:
            break
        shown = subprocess.run(
            [git, "show", f"{ref}:schema.graphql"], cwd=ROOT, capture_output=True, text=True
        )
        if shown.returncode == 0:
            return shown.stdout, f"git {ref}"
    if requested:
        pytest.fail(f"SCHEMA_BASELINE_REF={requested}: no schema.graphql there (fetch the ref?)")
    return CONTRACT.read_text(encoding="utf-8"), "the committed schema.graphql (no git baseline)"


def test_committed_schema_matches_the_code() -> None:
    assert CONTRACT.exists(), "schema.graphql is missing: run `make schema` and commit it"
    assert CONTRACT.read_text(encoding="utf-8") == schema_sdl(), (
        "schema.graphql is stale: run `make schema` and commit it "
        "(`manage.py export_schema --check` shows the diff)"
    )


def test_export_is_byte_identical_across_processes_and_hash_seeds() -> None:
    def export(seed: str) -> bytes:
        env = {**os.environ, "PYTHONHASHSEED": seed, "DEBUG": "true"}
        return subprocess.run(
            [sys.executable, "manage.py", "export_schema"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        ).stdout

    first, second = export("0"), export("4242")
    assert first == second
    assert first == CONTRACT.read_bytes()


def test_export_check_fails_on_a_stale_file_and_names_the_fix(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text(schema_sdl().replace("type Product ", "type Item "), encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, "manage.py", "export_schema", "--check", "--output", str(stale)],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true"},
        capture_output=True,
        text=True,
    )
    assert checked.returncode != 0
    assert "run `make schema`" in checked.stderr
    assert "+type Product " in checked.stderr


def test_no_unallowed_breaking_change_against_the_baseline() -> None:
    old, origin = baseline_sdl()
    allowed = allowed_breaking_changes(ALLOW_FILE.read_text(encoding="utf-8"))
    unallowed = unallowed_breaking_changes(old, schema_sdl(), allowed)
    assert not unallowed, (
        f"Breaking schema changes against {origin}:\n  "
        + "\n  ".join(unallowed)
        + f"\nRevert them, or list each in {ALLOW_FILE.relative_to(ROOT)} as "
        "'<description> | <reason>'."
    )


OLD_SDL = "type Query { product(slug: String): Product }  type Product { name: String sku: String }"
NEW_SDL = "type Query { product(slug: String!): Product }  type Product { name: String }"


def test_breaking_change_check_reports_removed_fields_and_tightened_arguments() -> None:
    assert unallowed_breaking_changes(OLD_SDL, NEW_SDL, {}) == [
        "ARG_CHANGED_KIND: Argument Query.product(slug:) has changed type from String to String!.",
        "FIELD_REMOVED: Field Product.sku was removed.",
    ]
    assert unallowed_breaking_changes(OLD_SDL, OLD_SDL + " type Extra { a: Int }", {}) == []


def test_breaking_change_listed_with_a_reason_is_allowed() -> None:
    allowed = allowed_breaking_changes(
        "# comment\nField Product.sku was removed. | SKUs moved to variants\n"
        "Argument Query.product(slug:) has changed type from String to String!. | slug required\n"
    )
    assert unallowed_breaking_changes(OLD_SDL, NEW_SDL, allowed) == []


def test_allow_entry_without_a_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        allowed_breaking_changes("Field Product.sku was removed.\n")
    assert allowed_breaking_changes(ALLOW_FILE.read_text(encoding="utf-8")) is not None
