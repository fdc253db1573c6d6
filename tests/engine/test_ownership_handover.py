"""First-contact ownership (首问负责制): changed only by an explicit transfer or handover."""

from __future__ import annotations

import datetime as dt

import pytest

from complaintflow import (
    ConcurrencyConflictError,
    Engine,
    FakeClock,
    InvalidInputError,
    PermissionDeniedError,
)

from ._support import AGENT, LEADER, OTHER_AGENT, TECH, dump, intake, outbox, to_closed


def test_a_transfer_hands_the_complaint_to_its_new_owner(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    c = engine.transfer(cid, OTHER_AGENT, actor=LEADER, note="agent-li off sick")
    assert (c.owner, c.owner_role, c.version) == ("agent-chen", "agent", 2)


def test_a_transfer_keeps_the_state_and_who_is_asked_to_act(engine: Engine) -> None:
    cid = engine.open(intake(tier="moderate"), actor=AGENT).id
    c = engine.transfer(cid, OTHER_AGENT, actor=AGENT)
    assert (c.state, c.assignee_role) == ("received", "tech_support")


def test_a_transfer_is_on_the_record(engine: Engine, clock: FakeClock) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    clock.advance(dt.timedelta(minutes=5))
    engine.transfer(cid, OTHER_AGENT, actor=LEADER, note="rebalancing", correlation_id="r-1")
    record = engine.history(cid)[-1]
    assert (record.kind, record.trigger, record.actor, record.role, record.at) == (
        "transfer",
        "transfer",
        "leader-wang",
        "group_leader",
        clock.now(),
    )
    assert record.data == {
        "from_owner": "agent-li",
        "from_role": "agent",
        "to_owner": "agent-chen",
        "to_role": "agent",
        "note": "rebalancing",
    }
    assert record.correlation_id == "r-1"


def test_a_transfer_tells_the_new_owner(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.transfer(cid, TECH, actor=AGENT)
    assert [(n.role, n.kind, n.payload) for n in outbox(engine)] == [
        ("tech_support", "transfer", {"to_owner": "tech-sun", "from_owner": "agent-li"})
    ]


def test_a_transfer_by_a_role_the_workflow_does_not_know_is_denied(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    with pytest.raises(PermissionDeniedError) as info:
        engine.transfer(cid, OTHER_AGENT, actor=("visitor", "customer"))
    assert (info.value.trigger, info.value.role) == ("transfer", "customer")
    assert dump(engine) == before


def test_a_transfer_with_a_stale_version_is_a_conflict(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    with pytest.raises(ConcurrencyConflictError) as info:
        engine.transfer(cid, OTHER_AGENT, actor=AGENT, expected_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert engine.get(cid).owner == "agent-li"


def test_nothing_but_a_transfer_changes_the_owner(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=LEADER)
    engine.fire(cid, "classify", actor=LEADER, data={"tier": "severe", "category": "service"})
    engine.fire(cid, "escalate", actor=TECH)
    engine.fire(cid, "start_handling", actor=TECH)
    assert (engine.get(cid).owner, engine.get(cid).owner_role) == ("agent-li", "agent")


# --- shift handover (交接班) ----------------------------------------------------------------


def test_a_handover_moves_every_open_complaint_of_the_leaving_agent_oldest_first(
    engine: Engine, clock: FakeClock
) -> None:
    mine = []
    for i in range(3):
        mine.append(engine.open(intake(object=f"item {i}"), actor=AGENT).id)
        clock.advance(dt.timedelta(minutes=1))
    theirs = engine.open(intake(object="other"), actor=OTHER_AGENT).id
    handed = engine.handover("agent-li", OTHER_AGENT, actor=LEADER, note="night shift")
    assert [c.id for c in handed] == mine
    assert {engine.get(cid).owner for cid in mine} == {"agent-chen"}
    assert engine.get(theirs).version == 1


def test_a_handover_records_each_item_on_its_own_complaint(engine: Engine) -> None:
    ids = [engine.open(intake(object=f"item {i}"), actor=AGENT).id for i in range(2)]
    engine.handover("agent-li", OTHER_AGENT, actor=LEADER, note="night shift")
    for cid in ids:
        record = engine.history(cid)[-1]
        assert (record.kind, record.trigger) == ("transfer", "handover")
        assert record.actor == "leader-wang"
        assert (record.data["from_owner"], record.data["to_owner"], record.data["note"]) == (
            "agent-li",
            "agent-chen",
            "night shift",
        )


def test_a_handover_leaves_closed_complaints_with_their_owner(engine: Engine) -> None:
    closed = engine.open(intake(object="done"), actor=AGENT).id
    to_closed(engine, closed)
    open_one = engine.open(intake(object="open"), actor=AGENT).id
    handed = engine.handover("agent-li", OTHER_AGENT, actor=LEADER)
    assert [c.id for c in handed] == [open_one]
    assert engine.get(closed).owner == "agent-li"


def test_a_handover_with_nothing_open_hands_over_nothing(engine: Engine) -> None:
    engine.open(intake(), actor=OTHER_AGENT)
    before = dump(engine)
    assert engine.handover("agent-li", OTHER_AGENT, actor=LEADER) == []
    assert dump(engine) == before


def test_a_handover_to_a_role_the_workflow_does_not_know_moves_nothing(engine: Engine) -> None:
    engine.open(intake(object="a"), actor=AGENT)
    engine.open(intake(object="b"), actor=AGENT)
    before = dump(engine)
    with pytest.raises(InvalidInputError, match="role 'janitor' is not one of"):
        engine.handover("agent-li", ("cleaner", "janitor"), actor=LEADER)
    assert dump(engine) == before
