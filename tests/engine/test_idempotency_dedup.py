"""Idempotency keys give the first result again; repeated contacts join the open complaint."""

from __future__ import annotations

import datetime as dt

import pytest

from complaintflow import Engine, FakeClock, IdempotencyConflictError, InvalidInputError

from ._support import AGENT, OTHER_AGENT, dump, intake, to_closed

# --- idempotency ----------------------------------------------------------------------------


def test_firing_again_with_the_same_key_returns_the_first_result_and_writes_nothing(
    engine: Engine,
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    first = engine.fire(cid, "add_note", actor=AGENT, data={"note": "a"}, idempotency_key="n-1")
    before = dump(engine)
    again = engine.fire(cid, "add_note", actor=AGENT, data={"note": "a"}, idempotency_key="n-1")
    assert again == first
    assert dump(engine) == before


def test_opening_again_with_the_same_key_opens_one_complaint(engine: Engine) -> None:
    first = engine.open(intake(object="printer"), actor=AGENT, idempotency_key="intake-9")
    before = dump(engine)
    again = engine.open(intake(object="printer"), actor=AGENT, idempotency_key="intake-9")
    assert again == first
    assert dump(engine) == before


def test_a_replay_gives_the_first_result_even_after_later_changes(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    engine.fire(cid, "add_note", actor=AGENT, data={"note": "later"})
    replayed = engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    assert (replayed.state, replayed.version) == ("acknowledged", 2)
    assert engine.get(cid).version == 3


def test_the_correlation_id_is_not_part_of_the_request(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    first = engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="k", correlation_id="a")
    again = engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="k", correlation_id="b")
    assert again == first


def test_a_key_is_not_kept_when_its_change_was_refused(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    with pytest.raises(InvalidInputError):
        engine.fire(cid, "add_note", actor=AGENT, data={"note": {1}}, idempotency_key="k")
    c = engine.fire(cid, "add_note", actor=AGENT, data={"note": "fine"}, idempotency_key="k")
    assert c.version == 2


def test_a_key_used_to_open_cannot_be_used_to_fire(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT, idempotency_key="k").id
    with pytest.raises(IdempotencyConflictError, match=r"\(first used for open on complaint"):
        engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="k")


def test_a_key_used_for_one_complaint_cannot_be_used_for_another(engine: Engine) -> None:
    one = engine.open(intake(object="a"), actor=AGENT).id
    two = engine.open(intake(object="b"), actor=AGENT).id
    engine.fire(one, "acknowledge", actor=AGENT, idempotency_key="k")
    with pytest.raises(IdempotencyConflictError):
        engine.fire(two, "acknowledge", actor=AGENT, idempotency_key="k")
    assert engine.get(two).state == "received"


def test_keys_older_than_the_retention_are_forgotten_in_batches(
    engine: Engine, clock: FakeClock
) -> None:
    old = [
        engine.open(intake(object=f"router {n}"), actor=AGENT, idempotency_key=f"old-{n}")
        for n in range(3)
    ]
    clock.advance(dt.timedelta(days=8))
    kept = engine.open(intake(object="printer"), actor=AGENT, idempotency_key="new-1")
    assert engine.forget_idempotency_keys(dt.timedelta(days=7), batch=2) == 3
    # a kept key still replays, writing nothing
    before = dump(engine)
    assert engine.open(intake(object="printer"), actor=AGENT, idempotency_key="new-1") == kept
    assert dump(engine) == before
    # a forgotten key is free again: the same request is a new one (here it joins the
    # open matter as a recorded contact, as any new contact would)
    again = engine.open(intake(object="router 0"), actor=AGENT, idempotency_key="old-0")
    assert again.id == old[0].id
    assert again.contact_count == 2
    assert engine.forget_idempotency_keys(dt.timedelta(days=7)) == 0


@pytest.mark.parametrize(
    ("older_than", "batch", "message"),
    [
        (dt.timedelta(0), 1000, "older_than: expected a positive datetime.timedelta"),
        (dt.timedelta(days=-1), 1000, "older_than: expected a positive"),
        (7, 1000, "older_than: expected a positive"),
        (dt.timedelta(days=7), 0, "batch: expected an integer from 1 to 10000"),
        (dt.timedelta(days=7), True, "batch: expected an integer"),
    ],
)
def test_forgetting_keys_refuses_bad_input_and_deletes_nothing(
    engine: Engine, clock: FakeClock, older_than: object, batch: object, message: str
) -> None:
    engine.open(intake(), actor=AGENT, idempotency_key="k-1")
    clock.advance(dt.timedelta(days=30))
    before = dump(engine)
    with pytest.raises(InvalidInputError, match=message):
        engine.forget_idempotency_keys(older_than, batch=batch)  # type: ignore[arg-type]
    assert dump(engine) == before


# --- no duplicates (不重复) -----------------------------------------------------------------


def test_a_repeated_contact_about_an_open_matter_joins_the_open_complaint(
    engine: Engine, clock: FakeClock
) -> None:
    first = engine.open(intake(), actor=AGENT)
    clock.advance(dt.timedelta(hours=2))
    again = engine.open(
        intake(channel="email", object="  ROUTER   x200 ", reason="still broken"),
        actor=OTHER_AGENT,
    )
    assert again.id == first.id
    assert (again.contact_count, again.version, again.owner) == (2, 2, "agent-li")
    rows = dump(engine)
    assert len(rows["cf_complaints"]) == 1
    assert [(r["channel"], r["actor"], r["at"]) for r in rows["cf_contacts"]] == [
        ("email", "agent-chen", clock.now())
    ]


def test_a_repeated_contact_is_on_the_audit_trail(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.open(intake(channel="chat"), actor=OTHER_AGENT)
    record = engine.history(cid)[-1]
    assert (record.kind, record.actor, record.from_state, record.to_state) == (
        "contact",
        "agent-chen",
        "received",
        "received",
    )
    assert record.data["channel"] == "chat"


def test_a_contact_about_another_object_opens_a_new_complaint(engine: Engine) -> None:
    first = engine.open(intake(object="router X200"), actor=AGENT)
    other = engine.open(intake(object="set-top box"), actor=AGENT)
    assert other.id != first.id
    assert other.contact_count == 1


def test_a_contact_about_a_closed_matter_opens_a_new_complaint(engine: Engine) -> None:
    first = engine.open(intake(), actor=AGENT)
    to_closed(engine, first.id)
    again = engine.open(intake(), actor=AGENT)
    assert again.id != first.id
    assert engine.get(first.id).contact_count == 1


def test_a_contact_after_the_dedup_window_opens_a_new_complaint(
    engine: Engine, clock: FakeClock
) -> None:
    first = engine.open(intake(), actor=AGENT)
    clock.advance(dt.timedelta(days=31))
    again = engine.open(intake(), actor=AGENT)
    assert again.id != first.id


def test_the_complaint_left_behind_by_the_window_can_still_be_handled(
    engine: Engine, clock: FakeClock
) -> None:
    first = engine.open(intake(), actor=AGENT)
    clock.advance(dt.timedelta(days=31))
    engine.open(intake(), actor=AGENT)
    assert engine.fire(first.id, "acknowledge", actor=AGENT).state == "acknowledged"


def test_after_the_window_further_contacts_join_the_newer_complaint(
    engine: Engine, clock: FakeClock
) -> None:
    first = engine.open(intake(), actor=AGENT)
    clock.advance(dt.timedelta(days=31))
    newer = engine.open(intake(), actor=AGENT)
    engine.fire(first.id, "acknowledge", actor=AGENT)
    again = engine.open(intake(), actor=AGENT)
    assert again.id == newer.id
    assert again.contact_count == 2


def test_a_reopened_complaint_takes_its_matter_back(engine: Engine) -> None:
    first = engine.open(intake(), actor=AGENT)
    to_closed(engine, first.id)
    engine.fire(first.id, "return_visit_reopen", actor=AGENT, data={"outcome": "broken again"})
    again = engine.open(intake(), actor=AGENT)
    assert again.id == first.id


def test_a_complaint_reopened_while_a_newer_one_holds_the_matter_leaves_it_there(
    engine: Engine, clock: FakeClock
) -> None:
    first = engine.open(intake(), actor=AGENT)
    to_closed(engine, first.id)
    clock.advance(dt.timedelta(days=1))
    newer = engine.open(intake(), actor=AGENT)
    reopened = engine.fire(
        first.id, "return_visit_reopen", actor=AGENT, data={"outcome": "broken again"}
    )
    assert reopened.state == "reopened"
    assert engine.open(intake(), actor=AGENT).id == newer.id


def test_a_repeated_contact_with_an_unknown_tier_is_refused_and_writes_nothing(
    engine: Engine,
) -> None:
    engine.open(intake(), actor=AGENT)
    before = dump(engine)
    with pytest.raises(InvalidInputError, match="tier 'critical' is not one of"):
        engine.open(intake(tier="critical"), actor=AGENT)
    assert dump(engine) == before
