"""Every shipped workflow keeps every lifecycle rule under the QA kit.

A moderate budget keeps CI time bounded (``complaintflow check workflows/`` runs the full
default budget); the seed is fixed so that a failure here can be replayed exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from complaintflow.definition._registry import iter_workflow_files
from complaintflow.testing import check_workflow

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SHIPPED = sorted(iter_workflow_files([WORKFLOWS]))


def test_the_shipped_workflows_are_found() -> None:
    assert {p.name for p in SHIPPED} >= {"standard.yaml", "after_sales.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_workflow_keeps_every_rule(path: Path) -> None:
    result = check_workflow(path, examples=30, seed=2026)
    assert result.passed, result.report()
