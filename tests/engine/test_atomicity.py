"""A change is written whole or not at all: a crash at any step leaves every table as it was.

The crash is injected at the SQL level (the statement raises before it reaches the
database), so these tests do not depend on how the store builds its statements.
"""

from __future__ import annotations

import pytest

from complaintflow import Engine

from ._support import (
    AGENT,
    LEADER,
    OTHER_AGENT,
    InjectedCrash,
    dump,
    failing_statement,
    intake,
    to_in_progress,
)

UPDATE_COMPLAINT = r"^\s*UPDATE \S*cf_complaints\b"
INSERT_COMPLAINT = r"^\s*INSERT INTO \S*cf_complaints\b"
INSERT_AUDIT = r"^\s*INSERT INTO \S*cf_audit_events\b"
INSERT_TIMER = r"^\s*INSERT INTO \S*cf_timers\b"
CANCEL_TIMER = r"^\s*UPDATE \S*cf_timers\b"
INSERT_OUTBOX = r"^\s*INSERT INTO \S*cf_outbox\b"
INSERT_CONTACT = r"^\s*INSERT INTO \S*cf_contacts\b"
INSERT_KEY = r"^\s*INSERT INTO \S*cf_idempotency_keys\b"


def test_a_crash_after_the_complaint_update_before_its_audit_record_writes_nothing(
    engine: Engine,
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    with failing_statement(engine, INSERT_AUDIT) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT)
    assert log.saw(UPDATE_COMPLAINT)
    assert dump(engine) == before


def test_a_crash_while_queueing_notifications_writes_nothing(engine: Engine) -> None:
    before = dump(engine)
    with failing_statement(engine, INSERT_OUTBOX) as log, pytest.raises(InjectedCrash):
        engine.open(intake(tier="urgent"), actor=AGENT)
    assert log.saw(INSERT_COMPLAINT)
    assert log.saw(INSERT_AUDIT)
    assert log.saw(INSERT_TIMER)
    assert dump(engine) == before


def test_a_crash_while_arming_timers_writes_nothing(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    before = dump(engine)
    with failing_statement(engine, INSERT_TIMER) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "classify", actor=AGENT, data={"tier": "minor", "category": "service"})
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_a_crash_while_cancelling_timers_writes_nothing(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid)
    before = dump(engine)
    with failing_statement(engine, CANCEL_TIMER) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "request_info", actor=AGENT)
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_a_crash_while_storing_the_idempotency_key_writes_nothing(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    with failing_statement(engine, INSERT_KEY) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_a_change_that_crashed_can_be_made_again_with_the_same_key(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    with failing_statement(engine, INSERT_KEY), pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    c = engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    assert (c.state, c.version) == ("acknowledged", 2)


def test_a_crash_while_joining_a_repeated_contact_leaves_no_contact(engine: Engine) -> None:
    engine.open(intake(), actor=AGENT)
    before = dump(engine)
    with failing_statement(engine, INSERT_AUDIT) as log, pytest.raises(InjectedCrash):
        engine.open(intake(channel="email"), actor=OTHER_AGENT)
    assert log.saw(INSERT_CONTACT)
    assert dump(engine) == before


def test_a_crash_in_the_middle_of_a_handover_hands_over_nothing(engine: Engine) -> None:
    for i in range(3):
        engine.open(intake(object=f"item {i}"), actor=AGENT)
    before = dump(engine)
    with (
        failing_statement(engine, UPDATE_COMPLAINT, skip=1) as log,
        pytest.raises(InjectedCrash),
    ):
        engine.handover("agent-li", OTHER_AGENT, actor=LEADER)
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_the_engine_carries_on_after_a_crash(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    with failing_statement(engine, INSERT_AUDIT), pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT)
    c = engine.fire(cid, "acknowledge", actor=AGENT)
    assert (c.state, c.version) == ("acknowledged", 2)
    assert [r.trigger for r in engine.history(cid) if r.kind == "transition"] == ["acknowledge"]
