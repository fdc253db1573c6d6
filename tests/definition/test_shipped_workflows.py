"""The shipped workflows are valid and express the rules of DOMAIN.md."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from complaintflow import Workflow, load_workflow, load_workflows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def standard() -> Workflow:
    return load_workflow(ROOT / "workflows" / "standard.yaml")


@pytest.fixture(scope="module")
def after_sales() -> Workflow:
    return load_workflow(ROOT / "workflows" / "after_sales.yaml")


def test_every_shipped_workflow_loads() -> None:
    loaded = load_workflows(ROOT / "workflows")
    assert set(loaded) == {"standard-complaint@1", "after-sales@1"}


def test_standard_has_the_four_tiers_with_their_handlers(standard: Workflow) -> None:
    handlers = {name: (t.level, t.handled_by) for name, t in standard.tiers.items()}
    assert handlers == {
        "minor": (1, "agent"),
        "moderate": (2, "tech_support"),
        "severe": (3, "manager"),
        "urgent": (4, "manager"),
    }


def test_standard_escalates_one_level_at_a_time_up_the_chain(standard: Workflow) -> None:
    assert standard.escalation_chain == (
        "agent",
        "group_leader",
        "supervisor",
        "manager",
        "leadership",
    )


def test_standard_acknowledges_within_24h_and_resolves_in_working_days(
    standard: Workflow,
) -> None:
    assert str(standard.clocks["acknowledge"].target) == "24h"
    resolve = {n: str(t.clocks["resolve"]) for n, t in standard.tiers.items()}
    assert resolve == {"minor": "7bd", "moderate": "5bd", "severe": "3bd", "urgent": "24h"}


def test_urgent_informs_leadership_and_escalates_on_entry(standard: Workflow) -> None:
    kinds = [a.kind for a in standard.tiers["urgent"].on_enter]
    assert kinds == ["notify", "escalate"]
    assert "leadership" in (standard.tiers["urgent"].on_enter[0].notify or [])


def test_standard_reopens_when_the_customer_is_not_satisfied(standard: Workflow) -> None:
    assert standard.destination("customer_unsatisfied", "awaiting_feedback") == "reopened"
    assert standard.destination("start_handling", "reopened") == "in_progress"
    assert "record_return_visit" in standard.allowed_triggers("closed")


def test_after_sales_has_on_site_and_remote_time_limits(after_sales: Workflow) -> None:
    assert str(after_sales.clocks["on_site"].target) == "24h"
    assert str(after_sales.clocks["fix_plan"].target) == "48h"
    assert {str(t.clocks["resolve"]) for t in after_sales.tiers.values()} <= {"3bd", "5bd", "7bd"}


def test_compiling_the_standard_workflow_takes_milliseconds() -> None:
    # a generous bound: a regression to per-complaint machines or O(n^2) setup shows up here
    start = time.perf_counter()
    for _ in range(10):
        load_workflow(ROOT / "workflows" / "standard.yaml")
    assert (time.perf_counter() - start) / 10 < 0.25
