"""The JSON Schema of the workflow format: the committed copy is current, and it agrees
with the loader on the shipped workflows and on the shorthands a designer writes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from complaintflow import WorkflowSpec, workflow_json_schema
from complaintflow.definition._registry import iter_workflow_files, workflow_json_schema_text

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "workflow.schema.json"
STANDARD = ROOT / "workflows" / "standard.yaml"
SHIPPED = sorted(iter_workflow_files([ROOT / "workflows"]))


class _EditorYamlLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it: a date stays text."""


_EditorYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_EditorYamlLoader)


@pytest.fixture(scope="module")
def schema_errors() -> Callable[[Any], list[str]]:
    """A function listing what the JSON Schema finds wrong in a document."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra")
    validator = jsonschema.Draft202012Validator(workflow_json_schema())

    def errors(document: Any) -> list[str]:
        return [
            f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
            for e in validator.iter_errors(document)
        ]

    return errors


def test_committed_schema_is_the_current_one() -> None:
    if COMMITTED.read_text(encoding="utf-8") != workflow_json_schema_text():
        pytest.fail(
            "docs/workflow.schema.json differs from the models' schema; regenerate it with "
            "`.venv/bin/complaintflow schema > docs/workflow.schema.json` and commit it"
        )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra")

    jsonschema.Draft202012Validator.check_schema(workflow_json_schema())


def test_main_sections_have_descriptions_for_editors() -> None:
    properties = workflow_json_schema()["properties"]

    missing = [
        name
        for name, spec in properties.items()
        if not spec.get("description") and name != "description"
    ]
    assert missing == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_workflow_satisfies_the_schema(
    path: Path, schema_errors: Callable[[Any], list[str]]
) -> None:
    assert schema_errors(_read(path)) == []


def _standard_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(_read(STANDARD))
    change(document)
    return document


SHORTHANDS: dict[str, Callable[[dict[str, Any]], None]] = {
    "percent_and_plain_number": lambda d: d["clocks"]["resolve"].update(warn_at=["50%", 75, 90.5]),
    "source_every_state": lambda d: d["transitions"][0].update(source="*"),
    "notify_one_role": lambda d: d["tiers"]["severe"].update(on_enter=[{"notify": "manager"}]),
    "notify_list": lambda d: d["tiers"]["severe"].update(on_enter=[{"notify": ["manager"]}]),
    "action_words": lambda d: d["tiers"]["urgent"].update(on_enter=["escalate", "raise_tier"]),
    "breach_words": lambda d: d["clocks"]["respond"].update(on_breach="none"),
    "state_names": lambda d: d["states"].insert(1, "triaged"),
}


@pytest.mark.parametrize("name", SHORTHANDS)
def test_schema_accepts_the_shorthands_the_loader_accepts(
    name: str, schema_errors: Callable[[Any], list[str]]
) -> None:
    document = _standard_with(SHORTHANDS[name])
    WorkflowSpec.model_validate(document)  # the loader's shape check agrees

    assert schema_errors(document) == []


MISTAKES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown_key": lambda d: d["transitions"][0].update(destination="closed"),
    "percent_word": lambda d: d["clocks"]["resolve"].update(warn_at=["half"]),
    "percent_above_100": lambda d: d["clocks"]["resolve"].update(warn_at=[150]),
    "breach_word": lambda d: d["clocks"]["respond"].update(on_breach="page"),
    "action_word": lambda d: d["tiers"]["urgent"].update(on_enter=["shout"]),
    "state_as_list": lambda d: d["states"].insert(1, ["triaged"]),
    "duration_with_space": lambda d: d["clocks"]["respond"].update(target="24 h"),
    "source_bad_name": lambda d: d["transitions"][0].update(source="not a state"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_schema_rejects_what_the_loader_rejects(
    name: str, schema_errors: Callable[[Any], list[str]]
) -> None:
    document = _standard_with(MISTAKES[name])
    with pytest.raises(ValueError, match="validation error"):
        WorkflowSpec.model_validate(document)

    assert schema_errors(document) != []
