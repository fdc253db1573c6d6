"""The demo (``complaintflow demo``): a simulated week on a real SQLite database."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from complaintflow import Complaint, Engine
from complaintflow._demo import DemoResult, run_demo

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"


@dataclass
class Run:
    result: DemoResult
    printed: str
    complaints: list[Complaint]
    engine: Engine


def _demo(db: Path, *, complaints: int = 40, seed: int = 7) -> tuple[DemoResult, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, highlight=False)
    result = run_demo(
        db=db,
        complaints=complaints,
        seed=seed,
        workflows=WORKFLOWS,
        console=console,
        progress=False,
    )
    return result, buffer.getvalue()


def _all(engine: Engine) -> list[Complaint]:
    found: list[Complaint] = []
    cursor = None
    while True:
        page = engine.query(limit=1000, cursor=cursor)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One demo of 40 complaints, and an engine reading back the database it left."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result, printed = _demo(db)
    engine = Engine.from_url(
        f"sqlite:///{db}", workflows=WORKFLOWS / "standard.yaml", migrate=False
    )
    with engine:
        yield Run(result, printed, _all(engine), engine)


def test_the_demo_opens_every_complaint_it_was_asked_for(run: Run) -> None:
    # a repeat contact after its complaint closed opens a new one: never fewer
    assert len(run.complaints) >= 40
    assert run.result.complaints == len(run.complaints)


def test_the_demo_leaves_complaints_in_several_states(run: Run) -> None:
    states = {c.state for c in run.complaints}
    assert "closed" in states
    assert len(states) >= 4, states


def test_the_demo_classifies_into_every_tier(run: Run) -> None:
    assert {c.tier for c in run.complaints} >= {"minor", "moderate", "severe", "urgent"}


def test_the_audit_trail_holds_the_lifecycle_transitions(run: Run) -> None:
    triggers = {
        r.trigger
        for c in run.complaints
        for r in run.engine.history(c.id)
        if r.kind == "transition"
    }
    assert {"acknowledge", "classify", "start_handling", "resolve", "send_result"} <= triggers
    assert "customer_satisfied" in triggers


def test_every_history_chains_its_states_to_the_complaints_state(run: Run) -> None:
    initial = run.engine.workflow().initial_state
    for complaint in run.complaints:
        history = run.engine.history(complaint.id)
        assert history[0].kind == "opened"
        assert history[0].from_state is None
        assert history[0].to_state == initial
        for before, after in itertools.pairwise(history):
            assert after.from_state == before.to_state, (complaint.id, before, after)
            assert (after.version, after.seq) > (before.version, before.seq)
            if after.version > before.version:
                # within one change, clock records may carry the receipt time
                assert after.at >= before.at
        assert history[-1].to_state == complaint.state
        assert history[-1].version == complaint.version


def test_the_engine_refused_none_of_the_simulated_actions(run: Run) -> None:
    assert run.result.refused == []


def test_the_summary_names_each_tier_and_the_tables(run: Run) -> None:
    for tier in ("minor", "moderate", "severe", "urgent"):
        assert tier in run.printed
    for title in ("Complaints by state and tier", "SLA clocks", "Escalations", "outbox:"):
        assert title in run.printed
    assert "standard-complaint@1" in run.printed
    assert "after-sales@1" in run.printed


def test_the_summary_counts_what_the_database_holds(run: Run) -> None:
    by_state_and_tier = Counter((c.tier or "no tier", c.state) for c in run.complaints)
    assert run.result.by_tier_state == by_state_and_tier


def test_the_same_seed_replays_the_same_week(tmp_path: Path, run: Run) -> None:
    again, _ = _demo(tmp_path / "again.db")
    assert again.by_tier_state == run.result.by_tier_state
    assert again.audit_records == run.result.audit_records


def test_the_demo_replaces_an_existing_database_file(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    db.write_text("not a database")
    result, _ = _demo(db, complaints=5)
    assert result.complaints >= 5


def test_the_demo_command_runs_as_installed(tmp_path: Path) -> None:
    db = tmp_path / "out" / "demo.db"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("complaintflow")),
            "demo",
            "--complaints",
            "30",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Complaints by state and tier" in result.stdout
    assert db.exists()
