"""The ERD in docs/ is generated from the models and must never drift from them."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Field, Model

from backend.core.management.commands import erd
from tests.paths import REPO_ROOT

DOCS_ERD = REPO_ROOT / "docs" / "erd.md"


def _relation_fields(model: type[Model]) -> list[Field]:
    """Every relation a model holds: foreign keys, one-to-ones and many-to-manys."""
    return [f for f in model._meta.concrete_fields if f.is_relation] + list(
        model._meta.local_many_to_many
    )


def test_docs_erd_md_matches_the_models() -> None:
    expected = erd.render_mermaid(erd.model_graph())
    assert DOCS_ERD.read_text(encoding="utf-8") == expected, (
        "docs/erd.md no longer matches the models: run `make erd` and commit the result."
    )


def test_mermaid_draws_every_model_with_all_its_columns() -> None:
    mermaid = erd.render_mermaid(erd.model_graph())
    for model in erd.diagram_models():
        block_start = mermaid.index(f"    {model._meta.object_name} {{\n")
        block = mermaid[block_start : mermaid.index("    }", block_start)]
        for field in model._meta.concrete_fields:
            assert f" {field.column}" in block, f"{model._meta.label}.{field.column} missing"


def test_mermaid_draws_every_relation_with_its_cardinality() -> None:
    mermaid = erd.render_mermaid(erd.model_graph())
    models = erd.diagram_models()
    drawn = 0
    for model in models:
        for field in _relation_fields(model):
            if field.related_model not in models:
                continue
            if field.many_to_many:
                arrow = "}o--o{"
            else:
                # A nullable foreign key points at zero or one row, a required one at exactly one.
                arrow = ("|o" if field.null else "||") + ("--o|" if field.one_to_one else "--o{")
            line = (
                f"    {field.related_model._meta.object_name} {arrow} "
                f'{model._meta.object_name} : "{field.name}"'
            )
            assert line in mermaid.splitlines(), f"relation missing: {line.strip()}"
            drawn += 1
    assert drawn == mermaid.count(' : "'), "the diagram draws a relation the models lack"


def test_diagram_covers_the_domain_apps_and_user_groups() -> None:
    labels = {model._meta.label for model in erd.diagram_models()}
    assert {
        "accounts.User",
        "auth.Group",
        "catalog.Category",
        "catalog.Product",
        "orders.Order",
        "orders.OrderItem",
        "orders.OrderEvent",
    } <= labels


def test_erd_output_is_deterministic() -> None:
    first, second = erd.model_graph(), erd.model_graph()
    assert erd.render_mermaid(first) == erd.render_mermaid(second)
    assert erd.render_dot(first) == erd.render_dot(second)


def test_dot_graph_has_a_node_per_model_and_an_edge_per_relation() -> None:
    graph = erd.model_graph()
    dot = erd.render_dot(graph)
    for entity in graph.entities:
        assert f"    {entity.name} [label=<" in dot
    for relation in graph.relations:
        assert f'    {relation.source} -> {relation.target} [label="{relation.label}"' in dot


def test_check_passes_on_a_current_file_and_fails_on_a_stale_one(tmp_path: Path) -> None:
    current = tmp_path / "erd.md"
    call_command("erd", markdown=current)
    call_command("erd", markdown=current, check=True)

    current.write_text(current.read_text() + "hand edit\n")
    with pytest.raises(CommandError, match="make erd"):
        call_command("erd", markdown=current, check=True)


def test_check_fails_when_the_markdown_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not match the models"):
        call_command("erd", markdown=tmp_path / "absent.md", check=True)


def test_png_without_graphviz_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erd.shutil, "which", lambda _name: None)
    with pytest.raises(CommandError, match="apt-get install graphviz"):
        call_command("erd", markdown=tmp_path / "erd.md", png=tmp_path / "erd.png")
