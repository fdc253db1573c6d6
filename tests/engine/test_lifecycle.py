"""The standard workflow's lifecycle through the public Engine, on every backend."""

from __future__ import annotations

import datetime as dt

from complaintflow import AuditRecord, Engine, FakeClock

from ._support import (
    AGENT,
    LEADER,
    MANAGER,
    SUPERVISOR,
    TECH,
    dump,
    intake,
    outbox,
    to_awaiting_feedback,
    to_closed,
    to_in_progress,
)


def _transitions(records: list[AuditRecord]) -> list[tuple[str | None, str | None, str | None]]:
    return [(r.trigger, r.from_state, r.to_state) for r in records if r.kind == "transition"]


def _clock_events(records: list[AuditRecord]) -> list[tuple[str, str]]:
    return [(r.data["clock"], r.data["event"]) for r in records if r.kind == "clock"]


def _since(records: list[AuditRecord], version: int) -> list[AuditRecord]:
    return [r for r in records if r.version > version]


def test_open_puts_the_complaint_in_the_initial_state_owned_by_its_first_contact(
    engine: Engine, clock: FakeClock
) -> None:
    c = engine.open(intake(), actor=AGENT)
    assert (c.state, c.version, c.owner, c.owner_role) == ("received", 1, "agent-li", "agent")
    assert (c.opened_at, c.updated_at, c.closed_at) == (clock.now(), clock.now(), None)
    assert (c.assignee_role, c.escalation_level, c.contact_count) == ("agent", 0, 1)
    assert c.workflow == "standard-complaint@1"
    assert c.channel == "phone"
    assert c.customer_ref == "CUST-0042"


def test_get_returns_the_complaint_as_stored(engine: Engine) -> None:
    opened = engine.open(intake(), actor=AGENT)
    assert engine.get(opened.id) == opened


def test_open_records_a_late_intake_from_its_receipt(engine: Engine, clock: FakeClock) -> None:
    received = clock.now() - dt.timedelta(hours=3)
    c = engine.open(intake(received_at=received), actor=AGENT)
    assert c.opened_at == received
    assert c.clock("acknowledge") is not None
    assert c.clock("acknowledge").deadline == received + dt.timedelta(hours=24)  # type: ignore[union-attr]


def test_a_receipt_time_ahead_of_the_clock_counts_as_now(engine: Engine, clock: FakeClock) -> None:
    c = engine.open(intake(received_at=clock.now() + dt.timedelta(hours=1)), actor=AGENT)
    assert c.opened_at == clock.now()


def test_the_happy_path_runs_from_intake_to_closed(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    engine.fire(cid, "classify", actor=AGENT, data={"tier": "minor", "category": "technical"})
    engine.fire(cid, "start_handling", actor=AGENT)
    engine.fire(cid, "request_info", actor=AGENT, data={"question": "router model?"})
    engine.fire(cid, "customer_replied", actor=AGENT, data={"answer": "X200"})
    engine.fire(cid, "resolve", actor=AGENT, data={"solution": "replaced the router"})
    engine.fire(cid, "send_result", actor=AGENT, data={"channel": "phone", "said": "new router"})
    closed = engine.fire(cid, "customer_satisfied", actor=AGENT, data={"score": 5})

    assert _transitions(engine.history(cid)) == [
        ("acknowledge", "received", "acknowledged"),
        ("classify", "acknowledged", "classified"),
        ("start_handling", "classified", "in_progress"),
        ("request_info", "in_progress", "awaiting_customer"),
        ("customer_replied", "awaiting_customer", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("send_result", "resolved", "awaiting_feedback"),
        ("customer_satisfied", "awaiting_feedback", "closed"),
    ]
    assert (closed.state, closed.version) == ("closed", 9)


def test_closing_sets_closed_at_and_the_complaint_is_no_longer_open(
    engine: Engine, clock: FakeClock
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    clock.advance(dt.timedelta(hours=5))
    closed = to_closed(engine, cid)
    assert closed.closed_at == clock.now()
    assert [c.id for c in engine.query(open=False)] == [cid]
    assert list(engine.query(open=True)) == []


def test_classify_sets_tier_category_and_hands_the_complaint_to_the_tier_handler(
    engine: Engine,
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    c = engine.fire(cid, "classify", actor=AGENT, data={"tier": "moderate", "category": "service"})
    assert (c.tier, c.category, c.assignee_role) == ("moderate", "service", "tech_support")
    assert c.owner == "agent-li"


def test_event_data_is_kept_as_facts_and_in_the_audit_record(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid)
    c = engine.fire(cid, "resolve", actor=TECH, data={"solution": "firmware 2.1", "visits": 2})
    assert c.facts == {"solution": "firmware 2.1", "visits": 2}
    record = _transitions_records(engine, cid)[-1]
    assert record.data == {"solution": "firmware 2.1", "visits": 2}


def _transitions_records(engine: Engine, cid: str) -> list[AuditRecord]:
    return [r for r in engine.history(cid) if r.kind == "transition"]


def test_every_record_of_a_change_says_who_in_which_role_when_and_under_which_ids(
    engine: Engine, clock: FakeClock
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    clock.advance(dt.timedelta(minutes=7))
    engine.fire(cid, "acknowledge", actor=LEADER, correlation_id="req-77", idempotency_key="ack-1")
    records = _since(engine.history(cid), 1)
    assert records
    for r in records:
        assert (r.actor, r.role, r.at, r.version) == ("leader-wang", "group_leader", clock.now(), 2)
        assert (r.correlation_id, r.idempotency_key) == ("req-77", "ack-1")
    assert [r.seq for r in records] == list(range(len(records)))


def test_add_note_keeps_the_state_and_records_the_note(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    c = engine.fire(cid, "add_note", actor=TECH, data={"note": "called back, no answer"})
    assert (c.state, c.version) == ("received", 2)
    assert _transitions(engine.history(cid))[-1] == ("add_note", "received", "received")


def test_an_unsatisfied_customer_reopens_the_complaint_with_its_history_kept(
    engine: Engine,
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_awaiting_feedback(engine, cid)
    before = engine.history(cid)
    c = engine.fire(cid, "customer_unsatisfied", actor=AGENT, data={"score": 2})
    assert (c.state, c.reopen_count, c.closed_at) == ("reopened", 1, None)
    assert engine.history(cid)[: len(before)] == before


def test_a_reopened_complaint_is_handled_again_until_it_closes(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_awaiting_feedback(engine, cid)
    engine.fire(cid, "customer_unsatisfied", actor=AGENT, data={"score": 2})
    engine.fire(cid, "start_handling", actor=AGENT)
    engine.fire(cid, "resolve", actor=AGENT, data={"solution": "new router and a refund"})
    engine.fire(
        cid, "send_result", actor=AGENT, data={"channel": "email", "said": "refund approved"}
    )
    c = engine.fire(cid, "customer_satisfied", actor=AGENT, data={"score": 5})
    assert (c.state, c.reopen_count) == ("closed", 1)
    assert _transitions(engine.history(cid))[-5:] == [
        ("customer_unsatisfied", "awaiting_feedback", "reopened"),
        ("start_handling", "reopened", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("send_result", "resolved", "awaiting_feedback"),
        ("customer_satisfied", "awaiting_feedback", "closed"),
    ]


def test_reopening_restarts_the_resolve_clock(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    version = to_awaiting_feedback(engine, cid).version
    c = engine.fire(cid, "customer_unsatisfied", actor=AGENT, data={"score": 1})
    assert _clock_events(_since(engine.history(cid), version)) == [("resolve", "restarted")]
    assert c.clock("resolve").status == "running"  # type: ignore[union-attr]


def test_a_return_visit_is_recorded_on_the_closed_complaint(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    closed = to_closed(engine, cid)
    c = engine.fire(cid, "record_return_visit", actor=AGENT, data={"outcome": "works fine"})
    assert (c.state, c.version, c.closed_at) == ("closed", closed.version + 1, closed.closed_at)
    assert _transitions(engine.history(cid))[-1] == ("record_return_visit", "closed", "closed")


def test_a_return_visit_that_finds_the_problem_back_reopens_the_complaint(
    engine: Engine,
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_closed(engine, cid)
    c = engine.fire(cid, "return_visit_reopen", actor=AGENT, data={"outcome": "drops again"})
    assert (c.state, c.reopen_count, c.closed_at) == ("reopened", 1, None)
    assert [x.id for x in engine.query(open=True)] == [cid]


def test_withdrawing_ends_the_complaint_and_stops_its_clocks(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid)
    c = engine.fire(cid, "withdraw", actor=AGENT, data={"reason": "solved it himself"})
    assert c.state == "withdrawn"
    assert c.closed_at is not None
    assert {k.name: k.status for k in c.clocks} == {
        "acknowledge": "stopped",
        "respond": "stopped",
        "resolve": "stopped",
        "overall": "stopped",
    }


def test_allowed_triggers_follow_the_state_and_the_role(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    assert engine.allowed_triggers(cid, AGENT) == [
        "acknowledge",
        "add_note",
        "escalate",
        "withdraw",
    ]
    assert engine.allowed_triggers(cid, TECH) == ["add_note", "escalate"]
    to_closed(engine, cid)
    assert engine.allowed_triggers(cid, AGENT) == [
        "customer_reopened",
        "record_return_visit",
        "return_visit_reopen",
    ]
    assert engine.allowed_triggers(cid, TECH) == []


# --- urgent complaints and escalation -------------------------------------------------


def test_an_urgent_intake_informs_leadership_and_escalates_at_once(engine: Engine) -> None:
    c = engine.open(intake(tier="urgent"), actor=AGENT)
    assert (c.tier, c.assignee_role, c.escalation_level) == ("urgent", "leadership", 4)
    assert [(n.role, n.kind) for n in outbox(engine)] == [
        ("leadership", "notified"),
        ("manager", "notified"),
        ("leadership", "escalated"),
    ]
    escalation = next(r for r in engine.history(c.id) if r.trigger == "escalate")
    assert (escalation.data["from_role"], escalation.data["to_role"]) == ("manager", "leadership")


def test_classifying_a_complaint_as_urgent_informs_leadership(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    engine.fire(cid, "classify", actor=AGENT, data={"tier": "urgent", "category": "service"})
    assert ("leadership", "notified") in [(n.role, n.kind) for n in outbox(engine)]


def test_a_severe_complaint_is_reported_to_leadership_without_escalating(engine: Engine) -> None:
    c = engine.open(intake(tier="severe"), actor=AGENT)
    assert (c.assignee_role, c.escalation_level) == ("manager", 0)
    assert [(n.role, n.kind) for n in outbox(engine)] == [("leadership", "notified")]


def test_escalation_goes_up_the_chain_one_level_at_a_time(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    roles = []
    for _ in range(4):
        c = engine.fire(cid, "escalate", actor=AGENT, data={"reason": "beyond my authority"})
        roles.append((c.assignee_role, c.escalation_level))
    assert roles == [("group_leader", 1), ("supervisor", 2), ("manager", 3), ("leadership", 4)]
    steps = [
        (r.data["from_role"], r.data["to_role"])
        for r in engine.history(cid)
        if r.kind == "effect" and r.trigger == "escalate"
    ]
    assert steps == [
        ("agent", "group_leader"),
        ("group_leader", "supervisor"),
        ("supervisor", "manager"),
        ("manager", "leadership"),
    ]


def test_escalating_at_the_top_stays_there_and_tells_leadership(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    for _ in range(4):
        engine.fire(cid, "escalate", actor=MANAGER)
    c = engine.fire(cid, "escalate", actor=MANAGER)
    assert (c.assignee_role, c.escalation_level) == ("leadership", 4)
    assert outbox(engine)[-1].kind == "escalation_at_top"
    assert outbox(engine)[-1].role == "leadership"


def test_each_escalation_notifies_the_next_level(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "escalate", actor=AGENT)
    engine.fire(cid, "escalate", actor=LEADER)
    assert [(n.role, n.kind) for n in outbox(engine)] == [
        ("group_leader", "escalated"),
        ("supervisor", "escalated"),
    ]


def test_escalation_never_changes_the_owner(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "escalate", actor=AGENT)
    c = engine.fire(cid, "escalate", actor=SUPERVISOR)
    assert (c.owner, c.owner_role) == ("agent-li", "agent")


# --- clocks -----------------------------------------------------------------------------


def test_opening_starts_the_clocks_that_start_on_receipt(engine: Engine, clock: FakeClock) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    started = [
        (r.data["clock"], r.data["target"], r.data["deadline"])
        for r in engine.history(cid)
        if r.kind == "clock" and r.data["event"] == "started"
    ]
    assert started == [
        ("acknowledge", "24h", (clock.now() + dt.timedelta(hours=24)).isoformat()),
        ("respond", "24h", (clock.now() + dt.timedelta(hours=24)).isoformat()),
        ("overall", "30d", (clock.now() + dt.timedelta(days=30)).isoformat()),
    ]


def test_the_clocks_start_pause_resume_and_stop_on_the_audit_trail(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    steps = [
        ("acknowledge", {}),
        ("classify", {"tier": "minor", "category": "technical"}),
        ("start_handling", {}),
        ("request_info", {}),
        ("customer_replied", {}),
        ("resolve", {"solution": "replaced the router"}),
        ("send_result", {"channel": "phone", "said": "new router"}),
        ("customer_satisfied", {"score": 4}),
    ]
    seen = {}
    for trigger, data in steps:
        version = engine.get(cid).version
        engine.fire(cid, trigger, actor=AGENT, data=data)
        seen[trigger] = _clock_events(_since(engine.history(cid), version))
    assert seen == {
        "acknowledge": [("acknowledge", "stopped")],
        "classify": [("resolve", "started")],
        "start_handling": [("respond", "stopped")],
        "request_info": [("resolve", "paused")],
        "customer_replied": [("resolve", "resumed")],
        "resolve": [("resolve", "stopped")],
        "send_result": [],
        "customer_satisfied": [("overall", "stopped")],
    }


def test_a_paused_clock_counts_no_time_while_waiting_on_the_customer(
    engine: Engine, clock: FakeClock
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid)
    engine.fire(cid, "request_info", actor=AGENT)
    paused = engine.get(cid).clock("resolve")
    clock.advance(dt.timedelta(days=3))
    c = engine.fire(cid, "customer_replied", actor=AGENT)
    resumed = c.clock("resolve")
    assert paused is not None
    assert resumed is not None
    assert resumed.accrued_business == paused.accrued_business
    assert resumed.accrued_wall == paused.accrued_wall


def test_a_running_clock_has_one_pending_timer_and_a_paused_one_none(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid)

    def pending() -> list[str]:
        rows = dump(engine)["cf_timers"]
        return sorted(row["clock"] for row in rows if row["status"] == "pending")

    assert pending() == ["overall", "resolve"]
    engine.fire(cid, "request_info", actor=AGENT)
    assert pending() == ["overall"]
    engine.fire(cid, "customer_replied", actor=AGENT)
    assert pending() == ["overall", "resolve"]


def test_reclassifying_retargets_the_running_clocks(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid, tier="minor")
    version = engine.get(cid).version
    c = engine.fire(cid, "reclassify", actor=LEADER, data={"tier": "severe"})
    assert c.clock("resolve").target == "3bd"  # type: ignore[union-attr]
    assert ("resolve", "retargeted") in _clock_events(_since(engine.history(cid), version))
