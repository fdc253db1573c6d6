"""The documentation site: every page in the navigation, generated pages current.

The strict build itself (``mkdocs build --strict``) runs in ``make docs``, which
``make test`` runs.
"""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType
from typing import Any

import yaml

from complaintflow import load_workflow, to_mermaid

from ._blocks import ROOT, blocks

DOCS = ROOT / "docs"


class _MkdocsLoader(yaml.SafeLoader):
    """mkdocs.yml with its ``!!python/name:`` tags read as plain strings."""


_MkdocsLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/", lambda loader, suffix, node: f"python/{suffix}"
)


def _nav_pages(entries: Any) -> list[str]:
    found = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return found


def _generator() -> ModuleType:
    path = DOCS / "gen_format_reference.py"
    spec = importlib.util.spec_from_file_location("gen_format_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_page_is_in_the_navigation_and_every_entry_exists() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), _MkdocsLoader)
    listed = _nav_pages(config["nav"])
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(set(listed) - set(pages)) == [], "nav names pages that do not exist"
    assert sorted(set(pages) - set(listed)) == [], "add these pages to nav: in mkdocs.yml"


def test_the_format_reference_is_generated_from_the_current_schema() -> None:
    committed = (DOCS / "format-reference.md").read_text(encoding="utf-8")
    assert committed == _generator().generate(), (
        "docs/format-reference.md is stale: run .venv/bin/python docs/gen_format_reference.py"
    )


def test_the_format_reference_lists_every_key_of_the_schema() -> None:
    from complaintflow import workflow_json_schema

    schema = workflow_json_schema()
    text = (DOCS / "format-reference.md").read_text(encoding="utf-8")
    for key in schema["properties"]:
        assert f"| `{key}` |" in text
    for name, definition in schema["$defs"].items():
        assert f"## {name}\n" in text
        for key in definition.get("properties", {}):
            assert f"| `{key}` |" in text


def test_the_diagram_on_getting_started_is_what_complaintflow_graph_draws() -> None:
    diagram = next(b for b in blocks(DOCS / "getting-started.md") if b.language == "mermaid")
    workflow = load_workflow(ROOT / "examples" / "minimal" / "workflow.yaml")
    assert diagram.source.strip() == to_mermaid(workflow).strip()


def test_the_pages_link_only_to_pages_that_exist() -> None:
    link = re.compile(r"\]\((?!https?:|#|mailto:)([^)#\s]+)")
    for page in DOCS.glob("*.md"):
        for target in link.findall(page.read_text(encoding="utf-8")):
            assert (DOCS / target).exists(), f"{page.name} links to missing {target}"


def test_the_examples_table_on_the_home_page_names_every_example() -> None:
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    for folder in sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        assert f"examples/{folder.name}/" in home, f"docs/index.md does not list {folder.name}"
