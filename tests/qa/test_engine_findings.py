"""Bugs in the engine that the QA kit found while it was being built.

Each test states the correct behaviour; those of open bugs are marked
``xfail(strict=True)`` with the bug as their reason: when the engine is fixed, the test
passes, pytest reports XPASS as a failure, and the marker comes off. The lifecycle rule
the kit checks is named in each.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from complaintflow import Engine, InvalidInputError, load_workflow
from complaintflow.store import SqlStore
from complaintflow.testing import FakeClock, check_workflow, engine_on_temp_sqlite

from ._faults import breach_escalation_in_place
from ._support import AGENT, INTAKE

HERE = Path(__file__).resolve().parent
STANDARD = HERE.parents[1] / "workflows" / "standard.yaml"
FINDINGS = HERE / "findings"
START = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai


def timers(engine: Engine) -> list[dict[str, Any]]:
    store = engine.store
    assert isinstance(store, SqlStore)
    t = store.tables.timers
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]


def test_one_call_of_run_due_timers_fires_every_timer_due_now() -> None:
    """Found by the kit (rule timers-swept) and fixed in the sweeper since: a timer armed
    by one that fired, and already due, fires in the same call."""
    clock = FakeClock(START)
    with engine_on_temp_sqlite(STANDARD, clock=clock) as engine:
        engine.open(INTAKE, actor=AGENT)
        clock.advance(dt.timedelta(hours=30))  # acknowledge: warning at 18h, breach at 24h
        engine.run_due_timers()
        late = [
            t for t in timers(engine) if t["status"] == "pending" and t["due_at"] <= clock.now()
        ]
        assert late == []


def test_an_actor_id_that_is_not_unicode_text_is_refused_as_invalid_input() -> None:
    with engine_on_temp_sqlite(STANDARD) as engine:
        with pytest.raises(InvalidInputError):
            engine.open(INTAKE, actor=("li\ud800na", "agent"))
        assert engine.query().items == ()


def test_a_breach_escalation_follows_the_workflows_escalate_transition() -> None:
    workflow = load_workflow(FINDINGS / "escalate_moves.yaml")
    clock = FakeClock(START)
    with engine_on_temp_sqlite(workflow, clock=clock) as engine:
        complaint = engine.open(INTAKE, actor=AGENT)
        engine.fire(complaint.id, "start_handling", actor=AGENT)
        clock.advance(dt.timedelta(hours=9))  # the resolve clock's 8h target passes
        engine.run_due_timers()
        moves = [r for r in engine.history(complaint.id) if r.kind == "transition"]
        assert moves[-1].trigger == "escalate"
        for record in moves:
            assert record.to_state == workflow.destination(record.trigger, record.from_state)


def test_a_breach_escalation_stops_the_clocks_that_stop_on_escalate() -> None:
    clock = FakeClock(START)
    with engine_on_temp_sqlite(FINDINGS / "stops_on_escalate.yaml", clock=clock) as engine:
        complaint = engine.open(INTAKE, actor=AGENT)
        clock.advance(dt.timedelta(hours=5))  # first_line: warning at 2h, breach at 4h
        while engine.run_due_timers():
            pass
        assert [r.trigger for r in engine.history(complaint.id) if r.kind == "transition"] == [
            "escalate"
        ]
        first_line = engine.get(complaint.id).clock("first_line")
        assert first_line is not None
        assert first_line.status == "stopped"


def test_a_timer_cancelled_by_an_earlier_timer_of_the_same_sweep_stays_cancelled() -> None:
    clock = FakeClock(START)
    with engine_on_temp_sqlite(STANDARD, clock=clock) as engine:
        cid = engine.open(INTAKE, actor=AGENT).id
        engine.fire(cid, "acknowledge", actor=AGENT)
        engine.fire(cid, "classify", actor=AGENT, data={"tier": "minor", "category": "service"})
        engine.fire(cid, "start_handling", actor=AGENT)
        engine.fire(cid, "resolve", actor=AGENT, data={"solution": "replaced"})
        engine.fire(cid, "send_result", actor=AGENT, data={"channel": "phone", "said": "done"})
        # the feedback timer (7d) and the overall clock's warning (24d) fall due together
        clock.advance(dt.timedelta(days=25))
        while engine.run_due_timers():
            pass
        assert engine.get(cid).state == "closed"
        overall = [t for t in timers(engine) if t["clock"] == "overall"]
        assert [t["status"] for t in overall] == ["cancelled"]


def test_the_kit_finds_the_breach_escalation_bugs_with_its_default_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The two escalation findings above, as the kit reported them: with the old
    behaviour put back, each workflow breaks its rule; with the fix, neither does."""
    moves = FINDINGS / "escalate_moves.yaml"
    stops = FINDINGS / "stops_on_escalate.yaml"
    for path in (moves, stops):
        assert check_workflow(path, seed=1, shrink_seconds=1).passed, path.name
    breach_escalation_in_place(monkeypatch)
    moved = check_workflow(moves, seed=1, shrink_seconds=5)
    stopped = check_workflow(stops, seed=1, shrink_seconds=5)
    assert moved.violation is not None
    assert "audit-path" in moved.violation.names
    assert stopped.violation is not None
    assert "clock-stops" in stopped.violation.names
