"""SLA clocks fire their timers at the right moments, with a FakeClock (no sleeping).

The workflow ``sla.yaml``: the ``handle`` clock starts in ``in_progress`` with a target
by tier (minor 10 h, urgent 4 h), warns at 50 % and 75 %, escalates on breach and
again every 2 h while breached; it pauses while waiting on the customer. The
``reply`` clock (30 h, never pauses) runs from intake.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

from complaintflow import AuditRecord, Complaint, ComplaintError, Engine, FakeClock
from complaintflow.core._clocks import has_pending_timer, next_timer
from complaintflow.core._loop import FEEDBACK_TIMER, RETURN_VISIT_TIMER

from ._support import AGENT, intake, timer_rows
from .conftest import START

H = dt.timedelta(hours=1)
SUPERVISOR = ("s-1", "supervisor")


def start_handling(engine: Engine, tier: str = "minor", n: int = 0) -> Complaint:
    complaint = engine.open(intake(n), actor=AGENT)
    return engine.fire(complaint.id, "start", actor=AGENT, data={"tier": tier})


def pending(engine: Engine, complaint_id: str, clock: str) -> list[dict[str, Any]]:
    return [
        r
        for r in timer_rows(engine, complaint_id)
        if r["status"] == "pending" and r["clock"] == clock
    ]


def timer_records(engine: Engine, complaint_id: str) -> list[AuditRecord]:
    return [r for r in engine.history(complaint_id) if r.kind == "timer"]


def escalations(engine: Engine, complaint_id: str) -> list[tuple[str | None, str | None]]:
    """(from_role, to_role) of each escalation; (None, None) for one at the top."""
    return [
        (r.data.get("from_role"), r.data.get("to_role"))
        for r in engine.history(complaint_id)
        if r.kind == "effect" and r.trigger == "escalate"
    ]


def fire_all_due(engine: Engine) -> int:
    """Sweep until nothing more is due (each firing may arm a timer that is due too)."""
    total = 0
    for _ in range(50):
        fired = engine.run_due_timers()
        if fired == 0:
            return total
        total += fired
    raise AssertionError("timers kept falling due")


def assert_timers_match_clocks(engine: Engine, complaint_id: str) -> None:
    """The invariant: a running clock with a next threshold has exactly one pending timer,
    for that threshold; every other clock has none. The closed loop's own timers
    (``_feedback`` while waiting for the customer's opinion, ``_return_visit`` after
    closing) are pending at most once, for the current round of the complaint."""
    complaint = engine.get(complaint_id)
    workflow = engine.workflow(complaint.workflow)
    rows = [r for r in timer_rows(engine, complaint_id) if r["status"] == "pending"]
    counts = Counter(str(r["clock"]) for r in rows)
    loop = {name for name in counts if name.startswith("_")}
    assert set(counts) - loop <= set(workflow.clocks), counts
    assert loop <= {FEEDBACK_TIMER, RETURN_VISIT_TIMER}, counts
    for name in loop:
        [row] = [r for r in rows if r["clock"] == name]
        assert row["sequence"] == complaint.reopen_count, (name, complaint.state)
    feedback = workflow.spec.feedback
    waiting = feedback is not None and complaint.state == feedback.state
    expects_feedback = waiting and feedback is not None and feedback.no_answer_after is not None
    assert counts[FEEDBACK_TIMER] == int(expects_feedback), (complaint.state, counts)
    if counts[RETURN_VISIT_TIMER]:
        assert workflow.is_final(complaint.state), complaint.state
    for name, spec in workflow.clocks.items():
        state = complaint.clock(name)
        where = f"{complaint_id} clock {name} ({state and state.status}, state {complaint.state})"
        if not has_pending_timer(state, spec):
            assert counts[name] == 0, f"{where}: {counts[name]} pending timers, expected none"
            continue
        assert state is not None
        assert counts[name] == 1, f"{where}: {counts[name]} pending timers, expected one"
        row = next(r for r in rows if r["clock"] == name)
        assert row["sequence"] == state.fired, where
        repeat = spec.on_breach.repeat_every
        if not state.business and not (repeat and repeat.is_business):
            # wall-clock due times can be recomputed without a calendar
            expected = next_timer(complaint_id, state, spec, None)
            assert expected is not None
            assert (row["kind"], row["due_at"]) == (expected.kind, expected.due_at), where


# --- warnings and breaches ------------------------------------------------------------


def test_warnings_fire_at_their_percentages_of_the_target(engine: Engine, clock: FakeClock) -> None:
    complaint = start_handling(engine)
    clock.set(START + 5 * H - dt.timedelta(seconds=1))
    assert engine.run_due_timers() == 0
    clock.set(START + 5 * H)
    assert engine.run_due_timers() == 1
    clock.set(START + 7.5 * H)
    assert engine.run_due_timers() == 1

    records = timer_records(engine, complaint.id)
    assert [(r.trigger, r.data["clock"], r.data["threshold"]) for r in records] == [
        ("warning", "handle", 50.0),
        ("warning", "handle", 75.0),
    ]
    assert [r.data["due_at"] for r in records] == [
        (START + 5 * H).isoformat(),
        (START + 7.5 * H).isoformat(),
    ]
    assert [r.data["lag_seconds"] for r in records] == [0.0, 0.0]
    assert {(r.actor, r.role) for r in records} == {("system", "system")}
    after = engine.get(complaint.id)
    assert after.escalation_level == 0
    warnings = [m.notification for m in engine.outbox() if m.notification.kind == "clock_warning"]
    assert [(n.role, n.payload["threshold"]) for n in warnings] == [
        ("agent", 50.0),
        ("agent", 75.0),
    ]


def test_the_lag_of_a_late_timer_is_recorded(engine: Engine, clock: FakeClock) -> None:
    complaint = start_handling(engine)
    clock.set(START + 5 * H + dt.timedelta(seconds=90))
    assert engine.run_due_timers() == 1
    assert timer_records(engine, complaint.id)[0].data["lag_seconds"] == 90.0


def test_a_breach_escalates_one_level_as_an_audited_system_event(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    for hours in (5, 7.5, 10):
        clock.set(START + hours * H)
        assert engine.run_due_timers() == 1

    after = engine.get(complaint.id)
    assert (after.escalation_level, after.assignee_role) == (1, "group_leader")
    assert after.owner == AGENT[0]  # escalation moves the assignee, never the owner
    history = engine.history(complaint.id)
    breach = [r for r in history if r.version == after.version]
    assert [(r.kind, r.trigger, r.actor) for r in breach] == [
        ("timer", "breach", "system"),
        ("transition", "escalate", "system"),
        ("effect", "escalate", "system"),
    ]
    assert breach[0].data["threshold"] == 100.0
    assert breach[1].from_state == breach[1].to_state == "in_progress"
    assert escalations(engine, complaint.id) == [("agent", "group_leader")]


def test_while_breached_a_repeat_falls_due_every_repeat_interval(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    for hours in (5, 7.5, 10):
        clock.set(START + hours * H)
        engine.run_due_timers()
    due = []
    for hours in (12, 14):
        [row] = pending(engine, complaint.id, "handle")
        due.append((row["kind"], row["sequence"], row["due_at"]))
        clock.set(START + hours * H - dt.timedelta(seconds=1))
        assert engine.run_due_timers() == 0
        clock.set(START + hours * H)
        assert engine.run_due_timers() == 1
    assert due == [("repeat", 3, START + 12 * H), ("repeat", 4, START + 14 * H)]
    [row] = pending(engine, complaint.id, "handle")
    assert (row["kind"], row["sequence"], row["due_at"]) == ("repeat", 5, START + 16 * H)


def test_each_repeat_escalates_one_more_level_until_the_top_of_the_chain(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    for hours in (5, 7.5, 10, 12, 14, 16, 18, 20):
        clock.set(START + hours * H)
        assert engine.run_due_timers() == 1
    assert escalations(engine, complaint.id) == [
        ("agent", "group_leader"),
        ("group_leader", "supervisor"),
        ("supervisor", "manager"),
        ("manager", "leadership"),
        (None, None),  # at the top: recorded, the assignee stays
        (None, None),
    ]
    after = engine.get(complaint.id)
    assert (after.escalation_level, after.assignee_role) == (4, "leadership")
    tops = [r.data for r in engine.history(complaint.id) if r.data.get("escalation") == "at_top"]
    assert len(tops) == 2


def test_after_an_outage_thresholds_fire_in_order_one_level_at_a_time(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    clock.set(START + 13 * H)  # 50 %, 75 %, breach (10 h) and the first repeat (12 h) are due
    assert fire_all_due(engine) == 4
    records = timer_records(engine, complaint.id)
    assert [(r.trigger, r.data["threshold"]) for r in records] == [
        ("warning", 50.0),
        ("warning", 75.0),
        ("breach", 100.0),
        ("repeat", None),
    ]
    assert escalations(engine, complaint.id) == [
        ("agent", "group_leader"),
        ("group_leader", "supervisor"),
    ]
    assert_timers_match_clocks(engine, complaint.id)


def test_run_due_timers_also_fires_what_falls_due_by_its_own_firings(
    engine: Engine, clock: FakeClock
) -> None:
    start_handling(engine)
    clock.set(START + 13 * H)
    assert engine.run_due_timers() == 4  # documented: "fire every timer due now"


# --- pause, resume, tier change, stop ----------------------------------------------------


def test_waiting_on_the_customer_pauses_the_clock_and_cancels_its_timer(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    [armed] = pending(engine, complaint.id, "handle")
    clock.set(START + 2 * H)
    engine.fire(complaint.id, "request_info", actor=AGENT)

    assert pending(engine, complaint.id, "handle") == []
    [cancelled] = [r for r in timer_rows(engine, complaint.id) if r["id"] == armed["id"]]
    assert cancelled["status"] == "cancelled"
    state = engine.get(complaint.id).clock("handle")
    assert state is not None
    assert (state.status, state.accrued_wall, state.deadline) == ("paused", 7200.0, None)
    assert len(pending(engine, complaint.id, "reply")) == 1  # pause_policy: never
    assert_timers_match_clocks(engine, complaint.id)

    clock.set(START + 9 * H)  # the 50 % warning would have been due at 5 h
    assert engine.run_due_timers() == 0
    assert timer_records(engine, complaint.id) == []


def test_resuming_arms_the_next_threshold_for_the_time_left(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    clock.set(START + 2 * H)
    engine.fire(complaint.id, "request_info", actor=AGENT)
    clock.set(START + 7 * H)
    engine.fire(complaint.id, "customer_replied", actor=AGENT)

    [row] = pending(engine, complaint.id, "handle")
    # 2 h counted before the pause; 50 % of 10 h is 3 h more from the resumption
    assert (row["kind"], row["sequence"], row["due_at"]) == ("warning", 0, START + 10 * H)
    state = engine.get(complaint.id).clock("handle")
    assert state is not None
    assert state.deadline == START + 15 * H
    assert_timers_match_clocks(engine, complaint.id)
    clock.set(START + 10 * H)
    assert engine.run_due_timers() == 1
    assert timer_records(engine, complaint.id)[0].data["due_at"] == (START + 10 * H).isoformat()


def test_a_tier_change_moves_the_target_and_keeps_the_time_counted(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine, "minor")
    [old] = pending(engine, complaint.id, "handle")
    clock.set(START + 1 * H)
    engine.fire(complaint.id, "reclassify", actor=SUPERVISOR, data={"tier": "urgent"})

    state = engine.get(complaint.id).clock("handle")
    assert state is not None
    assert (state.target, state.target_seconds) == ("4h", 4 * 3600.0)
    assert state.started_at == START
    assert state.deadline == START + 4 * H  # the hour counted stays counted
    [row] = pending(engine, complaint.id, "handle")
    assert (row["kind"], row["sequence"], row["due_at"]) == ("warning", 0, START + 2 * H)
    assert [r["status"] for r in timer_rows(engine, complaint.id) if r["id"] == old["id"]] == [
        "cancelled"
    ]
    retargeted = [
        r.data for r in engine.history(complaint.id) if r.data.get("event") == "retargeted"
    ]
    assert retargeted == [
        {
            "clock": "handle",
            "event": "retargeted",
            "target": "4h",
            "deadline": state.deadline.isoformat(),
        }
    ]
    assert_timers_match_clocks(engine, complaint.id)


def test_a_shorter_target_fires_its_passed_thresholds_at_once_in_order(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine, "minor")
    clock.set(START + 5.5 * H)
    assert engine.run_due_timers() == 1  # the 50 % warning of 10 h
    assignee = engine.fire(
        complaint.id, "reclassify", actor=SUPERVISOR, data={"tier": "urgent"}
    ).assignee_role
    [row] = pending(engine, complaint.id, "handle")
    # the 50 % warning is not repeated; 75 % of 4 h has passed already
    assert (row["kind"], row["sequence"], row["due_at"]) == ("warning", 1, START + 3 * H)

    assert fire_all_due(engine) == 2
    records = timer_records(engine, complaint.id)
    assert [(r.trigger, r.data["due_at"]) for r in records] == [
        ("warning", (START + 5 * H).isoformat()),
        ("warning", (START + 3 * H).isoformat()),
        ("breach", (START + 4 * H).isoformat()),
    ]
    chain = engine.workflow().escalation_chain
    assert assignee is not None
    assert escalations(engine, complaint.id) == [(assignee, chain[chain.index(assignee) + 1])]
    [repeat] = pending(engine, complaint.id, "handle")
    assert (repeat["kind"], repeat["due_at"]) == ("repeat", START + 6 * H)


def test_a_stopped_clock_has_no_pending_timer(engine: Engine, clock: FakeClock) -> None:
    complaint = start_handling(engine)
    for hours in (5, 7.5, 10):  # breached: a repeat is pending
        clock.set(START + hours * H)
        engine.run_due_timers()
    assert len(pending(engine, complaint.id, "handle")) == 1
    engine.fire(complaint.id, "resolve", actor=AGENT)

    after = engine.get(complaint.id)
    assert {c.name: c.status for c in after.clocks} == {"handle": "stopped", "reply": "stopped"}
    assert [r for r in timer_rows(engine, complaint.id) if r["status"] == "pending"] == []
    assert_timers_match_clocks(engine, complaint.id)
    clock.set(START + 100 * H)
    assert engine.run_due_timers() == 0
    assert engine.get(complaint.id).version == after.version


# --- the invariant after every change ---------------------------------------------------


def test_every_change_leaves_one_pending_timer_per_running_clock(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = engine.open(intake(0), actor=AGENT)
    steps: list[tuple[float, str | None, dict[str, str]]] = [
        (0, "start", {"tier": "minor"}),
        (6, None, {}),
        (1, "request_info", {}),
        (30, None, {}),  # the reply clock breaches while handling is paused
        (2, "customer_replied", {}),
        (1, "reclassify", {"tier": "urgent"}),
        (3, None, {}),
        (1, "escalate", {}),
        (1, "resolve", {}),
        (1, "close", {}),
        (50, None, {}),
    ]
    assert_timers_match_clocks(engine, complaint.id)
    for hours, trigger, data in steps:
        clock.advance(hours * H)
        if trigger is not None:
            actor = SUPERVISOR if trigger == "reclassify" else AGENT
            engine.fire(complaint.id, trigger, actor=actor, data=data)
            assert_timers_match_clocks(engine, complaint.id)
        fire_all_due(engine)
        assert_timers_match_clocks(engine, complaint.id)
    assert engine.get(complaint.id).state == "closed"


def data_for(engine: Engine, complaint_id: str, trigger: str, tier: str) -> dict[str, object]:
    """Values for the fields ``trigger`` requires (as the workflow says today)."""
    workflow = engine.workflow()
    data: dict[str, object] = {}
    for candidate in workflow.candidates(trigger, engine.get(complaint_id).state):
        for name in candidate.spec.requires:
            if name in ("tier", "category"):
                data[name] = tier if name == "tier" else "service"
            elif name == "data.score":
                data["score"] = 5 if trigger == "customer_satisfied" else 1
            elif name.startswith("data."):
                data[name[5:]] = f"{name[5:]} given"
    return data


_WEIGHT = {"withdraw": 0.02, "add_note": 0.1}
_STEPS = [dt.timedelta(minutes=10), H, 3 * H, 9 * H, 26 * H]


def test_the_invariant_holds_through_random_histories_of_the_standard_workflow(
    standard_engine: Engine, clock: FakeClock
) -> None:
    engine = standard_engine
    rng = random.Random(20260105)
    ids = [engine.open(intake(n), actor=AGENT).id for n in range(4)]
    tiers = list(engine.workflow().tiers)
    fired: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for _ in range(60):
        clock.advance(rng.choice(_STEPS))
        for complaint_id in ids:
            # the customer's answer needs a score to be allowed; withdrawing ends a history
            # early and notes change no clock: those rarely
            allowed = [
                t
                for t in engine.allowed_triggers(complaint_id, SUPERVISOR)
                if _WEIGHT.get(t, 1.0) > rng.random()
            ]
            if engine.get(complaint_id).state == "awaiting_feedback" and rng.random() < 0.5:
                allowed += ["customer_satisfied", "customer_unsatisfied"]
            if not allowed or rng.random() < 0.3:
                continue
            trigger = rng.choice(allowed)
            data = data_for(engine, complaint_id, trigger, rng.choice(tiers))
            try:
                engine.fire(complaint_id, trigger, actor=SUPERVISOR, data=data)
                fired[trigger] += 1
            except ComplaintError:  # e.g. a return visit reopening after the reopen window
                refused[trigger] += 1
            assert_timers_match_clocks(engine, complaint_id)
        fire_all_due(engine)
        for complaint_id in ids:
            assert_timers_match_clocks(engine, complaint_id)
    # the histories went through pauses, tier changes and reopenings
    assert {"request_info", "customer_replied", "reclassify", "customer_unsatisfied"} <= set(fired)
    assert sum(refused.values()) < sum(fired.values()) // 4, refused
    timers = Counter(r.trigger for c in ids for r in engine.history(c) if r.kind == "timer")
    assert {"warning", "breach", "repeat"} <= set(timers), timers


def test_the_closed_loop_timers_auto_close_and_remind_of_the_return_visit(
    standard_engine: Engine, clock: FakeClock
) -> None:
    engine = standard_engine
    complaint_id = engine.open(intake(0), actor=AGENT).id
    for trigger in ("acknowledge", "classify", "start_handling", "resolve", "send_result"):
        clock.advance(H)
        data = data_for(engine, complaint_id, trigger, "minor")
        engine.fire(complaint_id, trigger, actor=SUPERVISOR, data=data)
        assert_timers_match_clocks(engine, complaint_id)
    [feedback] = pending(engine, complaint_id, FEEDBACK_TIMER)

    clock.set(feedback["due_at"])  # no answer from the customer
    fire_all_due(engine)
    closed = engine.get(complaint_id)
    assert closed.state == "closed"
    first, *_ = [r for r in engine.history(complaint_id) if r.version == closed.version]
    assert (first.kind, first.trigger, first.actor) == ("transition", "auto_close", "system")
    assert_timers_match_clocks(engine, complaint_id)
    [visit] = pending(engine, complaint_id, RETURN_VISIT_TIMER)

    clock.set(visit["due_at"])
    fire_all_due(engine)
    assert [r.trigger for r in engine.history(complaint_id) if r.kind == "timer"][-1] == (
        "return_visit_due"
    )
    assert pending(engine, complaint_id, RETURN_VISIT_TIMER) == []
    assert_timers_match_clocks(engine, complaint_id)
