"""The closed loop driven by hand: feedback, reopen, auto-close, return visits, surveys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from complaintflow import (
    Actor,
    Complaint,
    Engine,
    FakeClock,
    GuardRejectedError,
)

ROOT = Path(__file__).resolve().parents[2]
AGENT = Actor("li.na", "agent")
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def engine(tmp_path: Path, clock: FakeClock) -> Iterator[Engine]:
    with Engine.from_url(
        f"sqlite:///{tmp_path / 'loop.db'}",
        workflows=ROOT / "workflows" / "standard.yaml",
        clock=clock,
    ) as e:
        yield e


def _resolved(engine: Engine, contact: str = "138 0000 0001", klass: str = "B") -> Complaint:
    c = engine.open(
        {
            "customer_name": "王芳",
            "customer_contact": contact,
            "channel": "phone",
            "object": "router",
            "reason": "drops the line",
            "customer_class": klass,
        },
        actor=AGENT,
    )
    engine.fire(c.id, "acknowledge", actor=AGENT)
    engine.fire(c.id, "classify", actor=AGENT, data={"tier": "minor", "category": "technical"})
    engine.fire(c.id, "start_handling", actor=AGENT)
    engine.fire(c.id, "resolve", actor=AGENT, data={"solution": "replaced the router"})
    return engine.fire(
        c.id, "send_result", actor=AGENT, data={"channel": "phone", "said": "we replaced it"}
    )


def _timers(engine: Engine, complaint_id: str) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    store = engine.store
    t = store.tables.timers.c  # type: ignore[attr-defined]
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(t.clock, t.kind, t.status).where(t.complaint_id == complaint_id).order_by(t.id)
        ).all()
    return [tuple(r) for r in rows]


def test_unsatisfied_customer_reopens_with_history_and_counter(engine: Engine) -> None:
    c = _resolved(engine)
    c = engine.fire(
        c.id, "customer_unsatisfied", actor=AGENT, data={"score": 2, "comment": "still drops"}
    )
    assert (c.state, c.reopen_count) == ("reopened", 1)
    triggers = [r.trigger for r in engine.history(c.id) if r.kind == "transition"]
    assert triggers[-2:] == ["send_result", "customer_unsatisfied"]
    resolve = c.clock("resolve")
    assert resolve is not None
    assert resolve.status == "running"


def test_second_reopen_escalates_one_level(engine: Engine) -> None:
    c = _resolved(engine)
    c = engine.fire(c.id, "customer_unsatisfied", actor=AGENT, data={"score": 2})
    assert c.escalation_level == 0
    engine.fire(c.id, "start_handling", actor=AGENT)
    engine.fire(c.id, "resolve", actor=AGENT, data={"solution": "new firmware"})
    engine.fire(c.id, "send_result", actor=AGENT, data={"channel": "email", "said": "fixed"})
    c = engine.fire(c.id, "customer_unsatisfied", actor=AGENT, data={"score": 1})
    assert (c.reopen_count, c.escalation_level, c.assignee_role) == (2, 1, "group_leader")


def test_score_outside_one_to_five_is_refused(engine: Engine) -> None:
    c = _resolved(engine)
    with pytest.raises(GuardRejectedError, match=r"data\.score"):
        engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 9})
    assert engine.get(c.id).state == "awaiting_feedback"


def test_no_answer_within_seven_days_auto_closes_with_the_reason(
    engine: Engine, clock: FakeClock
) -> None:
    c = _resolved(engine)
    clock.advance(dt.timedelta(days=7) - dt.timedelta(minutes=1))
    assert engine.run_due_timers() == 0
    clock.advance(dt.timedelta(minutes=2))
    assert engine.run_due_timers() == 1
    c = engine.get(c.id)
    assert c.state == "closed"
    closing = [r for r in engine.history(c.id) if r.trigger == "auto_close"]
    assert len(closing) == 1
    assert closing[0].actor == "system"
    assert "no answer from the customer within 7 days" in closing[0].data["reason"]


def test_answer_before_the_deadline_cancels_auto_close(engine: Engine, clock: FakeClock) -> None:
    c = _resolved(engine)
    clock.advance(dt.timedelta(days=1))
    engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 5})
    clock.advance(dt.timedelta(days=10))
    engine.run_due_timers()
    assert not [r for r in engine.history(c.id) if r.trigger == "auto_close"]
    assert ("_feedback", "feedback", "cancelled") in _timers(engine, c.id)


@pytest.mark.parametrize(("klass", "days"), [("A", 7), ("B", 14), ("C", 30)])
def test_closing_arms_a_return_visit_by_customer_class(
    engine: Engine, clock: FakeClock, klass: str, days: int
) -> None:
    c = _resolved(engine, klass=klass)
    engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 4})
    clock.advance(dt.timedelta(days=days) - dt.timedelta(minutes=1))
    engine.run_due_timers()
    assert not [n for n in engine.outbox() if n.notification.kind == "return_visit_due"]
    clock.advance(dt.timedelta(minutes=2))
    engine.run_due_timers()
    due = [n for n in engine.outbox() if n.notification.kind == "return_visit_due"]
    assert [n.notification.complaint_id for n in due] == [c.id]


def test_recording_the_return_visit_cancels_its_reminder(engine: Engine, clock: FakeClock) -> None:
    c = _resolved(engine)
    engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 4})
    clock.advance(dt.timedelta(days=3))
    engine.fire(c.id, "record_return_visit", actor=AGENT, data={"outcome": "works fine"})
    clock.advance(dt.timedelta(days=30))
    engine.run_due_timers()
    assert not [n for n in engine.outbox() if n.notification.kind == "return_visit_due"]
    assert ("_return_visit", "return_visit", "cancelled") in _timers(engine, c.id)


def test_return_visit_finding_the_problem_back_reopens_within_the_window(
    engine: Engine, clock: FakeClock
) -> None:
    c = _resolved(engine)
    engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 4})
    clock.advance(dt.timedelta(days=10))
    c = engine.fire(c.id, "return_visit_reopen", actor=AGENT, data={"outcome": "drops again"})
    assert (c.state, c.reopen_count, c.closed_at) == ("reopened", 1, None)


def test_after_the_reopen_window_a_new_linked_complaint_is_opened(
    engine: Engine, clock: FakeClock
) -> None:
    c = _resolved(engine)
    engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 4})
    clock.advance(dt.timedelta(days=16))
    with pytest.raises(GuardRejectedError, match="reopen window") as info:
        engine.fire(c.id, "customer_reopened", actor=AGENT, data={"reason": "again"})
    assert f"related_to={c.id!r}" in info.value.reason
    follow_up = engine.open(
        {
            "customer_name": "王芳",
            "customer_contact": "138 0000 0001",
            "channel": "phone",
            "object": "router",
            "reason": "drops again",
            "related_to": c.id,
        },
        actor=AGENT,
    )
    assert follow_up.id != c.id
    assert follow_up.intake.related_to == c.id
    assert engine.get(c.id).state == "closed"


def test_survey_is_recorded_against_a_closed_complaint(engine: Engine) -> None:
    c = _resolved(engine)
    engine.fire(c.id, "customer_satisfied", actor=AGENT, data={"score": 4})
    after = engine.record_survey(c.id, score=5, comment="very good", actor=AGENT)
    survey = engine.history(c.id)[-1]
    assert (survey.kind, survey.data["score"], after.state) == ("survey", 5, "closed")


def test_survey_score_must_be_one_to_five(engine: Engine) -> None:
    from complaintflow import InvalidInputError

    c = _resolved(engine)
    with pytest.raises(InvalidInputError, match="1 to 5"):
        engine.record_survey(c.id, score=6, actor=AGENT)
