"""A compiled workflow answers questions and applies triggers through one shared machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from complaintflow import Workflow, WorkflowValidationError, load_workflow

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Row:
    state: str


@pytest.fixture(scope="module")
def standard() -> Workflow:
    return load_workflow(ROOT / "workflows" / "standard.yaml")


def test_allowed_triggers_depend_on_state(standard: Workflow) -> None:
    assert standard.allowed_triggers("received") == (
        "acknowledge",
        "add_note",
        "escalate",
        "withdraw",
    )


def test_allowed_triggers_depend_on_role(standard: Workflow) -> None:
    assert standard.allowed_triggers("awaiting_feedback", "system") == ("auto_close",)
    assert "auto_close" not in standard.allowed_triggers("awaiting_feedback", "agent")


def test_apply_moves_a_plain_object(standard: Workflow) -> None:
    row = Row("received")
    assert standard.apply(row, "acknowledge") == "acknowledged"
    assert row.state == "acknowledged"


def test_internal_transition_keeps_the_state(standard: Workflow) -> None:
    row = Row("in_progress")
    assert standard.apply(row, "escalate") == "in_progress"


def test_apply_refuses_a_trigger_not_defined_from_the_state(standard: Workflow) -> None:
    with pytest.raises(KeyError):
        standard.apply(Row("received"), "resolve")


def test_machine_holds_no_complaint_models(standard: Workflow) -> None:
    for _ in range(100):
        standard.apply(Row("received"), "acknowledge")
    assert standard.machine.models == []


def test_guards_must_be_registered(tmp_path: Path) -> None:
    text = (ROOT / "workflows" / "standard.yaml").read_text()
    text = text.replace(
        "    requires: [tier, category]\n",
        "    requires: [tier, category]\n    guards: [has_contract]\n",
    )
    (tmp_path / "calendars.yaml").write_text((ROOT / "workflows" / "calendars.yaml").read_text())
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    with pytest.raises(WorkflowValidationError, match="guard 'has_contract' is not registered"):
        load_workflow(path)
    workflow = load_workflow(path, guards={"has_contract": lambda complaint, data: True})
    assert workflow.candidates("classify", "acknowledged")[0].guards[0][0] == "has_contract"


def test_roles_for_a_trigger(standard: Workflow) -> None:
    assert standard.roles_for("auto_close", "awaiting_feedback") == ("system",)
