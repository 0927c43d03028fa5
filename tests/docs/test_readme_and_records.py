"""README, the docs and the decision records stay true to the code and the files."""

import ast
import re
from pathlib import Path

from tests.paths import REPO_ROOT

ROOT = REPO_ROOT
SETTINGS = ROOT / "backend" / "settings.py"
README = ROOT / "README.md"
DECISIONS = ROOT / "docs" / "decisions"
# Files besides settings.py that read environment variables (make, shell scripts, compose).
OTHER_READERS = [
    ROOT / "Makefile",
    ROOT / ".ci" / "run",
    ROOT / "docker-compose.yml",
    *sorted((ROOT / "scripts").iterdir()),
]
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list"}


def settings_variables() -> set[str]:
    """Names passed to the settings' env_* helpers or os.environ lookups, found by parsing."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        first = node.args[0]
        if called in ENV_READERS | {"getenv", "get"} and isinstance(first, ast.Constant):
            if called == "get" and not _is_os_environ(func):
                continue
            names.add(first.value)
    return names


def _is_os_environ(func: ast.expr) -> bool:
    return isinstance(func, ast.Attribute) and ast.unparse(func.value) in {"os.environ", "environ"}


def readme_configuration_variables() -> set[str]:
    """Every name in the first column of the README's Configuration table."""
    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    section = section.split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_settings_reader_finds_the_variables_it_must() -> None:
    # Guards the parser itself: if it silently found nothing, the next test would prove nothing.
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL"} <= settings_variables()


def test_readme_documents_every_variable_the_settings_read() -> None:
    undocumented = settings_variables() - readme_configuration_variables()
    assert not undocumented, f"add to README's Configuration table: {sorted(undocumented)}"


def test_readme_documents_no_variable_that_nothing_reads() -> None:
    sources = SETTINGS.read_text(encoding="utf-8") + "".join(
        path.read_text(encoding="utf-8") for path in OTHER_READERS if path.is_file()
    )
    unread = {
        name for name in readme_configuration_variables() if not re.search(rf"\b{name}\b", sources)
    }
    assert not unread, f"README documents variables nothing reads: {sorted(unread)}"


def test_decision_index_links_every_record_and_only_existing_ones() -> None:
    records = {path.name for path in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md")}
    linked = set(re.findall(r"\]\(([0-9]{4}-[^)]+\.md)\)", (DECISIONS / "README.md").read_text()))
    assert records, "docs/decisions holds no records"
    assert linked == records


def test_each_decision_record_has_context_decision_and_consequences() -> None:
    for record in sorted(DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md")):
        headings = set(re.findall(r"^## (.+)$", record.read_text(encoding="utf-8"), re.M))
        assert {"Context", "Decision", "Consequences"} <= headings, record.name


DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
# A path of the repository written in a document: `backend/...` or `tests/...`, up to the first
# character that cannot be part of one.
REPOSITORY_PATH = re.compile(r"(?<![\w./-])((?:backend|tests)/[\w./-]*[\w/])")
# [text](target) links; external (scheme) and mail links are not followed.
MARKDOWN_LINK = re.compile(r"\]\((?![a-z]+:)([^)\s#]*)(?:#([^)\s]+))?\)")


def _heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    return {_heading_anchor(h) for h in re.findall(r"^#+ (.+)$", document.read_text(), re.M)}


def _describes_the_present(document: Path) -> bool:
    """History (performance-history.md, a superseded decision) may name code since removed."""
    text = document.read_text(encoding="utf-8")
    return document.name != "performance-history.md" and "Status: superseded" not in text


def test_every_code_path_the_documents_name_exists() -> None:
    missing = [
        f"{document.relative_to(ROOT)}: {path}"
        for document in DOCUMENTS
        if _describes_the_present(document)
        for path in REPOSITORY_PATH.findall(document.read_text(encoding="utf-8"))
        if not (ROOT / path).exists()
    ]
    assert not missing, f"documents name paths that do not exist: {missing}"


def test_every_relative_link_of_the_documents_resolves() -> None:
    broken: list[str] = []
    for document in DOCUMENTS:
        for target, anchor in MARKDOWN_LINK.findall(document.read_text(encoding="utf-8")):
            linked = (document.parent / target).resolve() if target else document
            if not linked.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{document.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, f"broken links: {broken}"


def test_docs_describe_the_project_not_the_sessions_that_built_it() -> None:
    diary = re.compile(
        r"\b(this|the previous|the last|the next) (session|run)\b|\bthis work\b|\bthis machine\b"
        r"|\bthe start of this\b",
        re.I,
    )
    narrated = [
        f"{document.relative_to(ROOT)}: {match.group(0)}"
        for document in DOCUMENTS
        for match in diary.finditer(document.read_text(encoding="utf-8"))
    ]
    assert not narrated, f"write what is true now, with dates and machines: {narrated}"


def test_code_comments_link_measurements_instead_of_carrying_them() -> None:
    # Benchmark numbers rot in docstrings; they live in docs/performance.md and the records.
    measurement = re.compile(
        r"\d+(\.\d+)? ?(µs|ms|microseconds|milliseconds)\b|req/s|requests/s|\d ?M instructions"
    )
    carrying = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "backend").rglob("*.py"))
        if "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if measurement.search(line)
    ]
    assert not carrying, f"move these numbers to docs/performance.md: {carrying}"
