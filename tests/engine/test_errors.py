"""Typed errors: their exact messages, their attributes, and that they write nothing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from complaintflow import (
    ComplaintError,
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    Engine,
    FakeClock,
    GuardRejectedError,
    IdempotencyConflictError,
    InvalidInputError,
    MissingFieldsError,
    PermissionDeniedError,
    TriggerNotAllowedError,
    Workflow,
)

from ._databases import BACKENDS, START, provide_database
from ._support import AGENT, LEADER, TECH, dump, intake, to_in_progress

ROLES = "agent, group_leader, supervisor, tech_support, manager, leadership, system"


@pytest.fixture
def cid(engine: Engine) -> str:
    return engine.open(intake(), actor=AGENT).id


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, standard: Workflow
) -> Iterator[tuple[Engine, str]]:
    """One database per backend, with one complaint in it, for the refusals that must
    write nothing.

    Each such test compares a full dump of its own before and after, so a test that
    did write would fail by itself; sharing spares ~140 database setups.
    """
    directory = tmp_path_factory.mktemp("bad-input")
    with provide_database(request.param, directory, request) as db:
        db.install()
        engine = Engine.from_url(
            db.url, workflows=standard, clock=FakeClock(START), schema=db.schema, migrate=False
        )
        cid = engine.open(intake(), actor=AGENT, idempotency_key="first").id
        engine.fire(
            cid, "add_note", actor=AGENT, data={"note": "something to keep"}, idempotency_key="k"
        )
        yield engine, cid
        engine.close()


# --- not found ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda e: e.get("C-NOPE"), id="get"),
        pytest.param(lambda e: e.history("C-NOPE"), id="history"),
        pytest.param(lambda e: e.allowed_triggers("C-NOPE", AGENT), id="allowed_triggers"),
        pytest.param(lambda e: e.fire("C-NOPE", "acknowledge", actor=AGENT), id="fire"),
        pytest.param(lambda e: e.transfer("C-NOPE", LEADER, actor=AGENT), id="transfer"),
    ],
)
def test_an_unknown_complaint_is_not_found(
    shared: tuple[Engine, str], call: Callable[[Engine], Any]
) -> None:
    engine, _ = shared
    before = dump(engine)
    with pytest.raises(ComplaintNotFoundError, match=r"^complaint C-NOPE does not exist$") as info:
        call(engine)
    assert info.value.complaint_id == "C-NOPE"
    assert dump(engine) == before


# --- refused events ---------------------------------------------------------------------------


def test_a_trigger_not_allowed_in_the_state_lists_what_is_allowed(engine: Engine, cid: str) -> None:
    with pytest.raises(TriggerNotAllowedError) as info:
        engine.fire(cid, "resolve", actor=AGENT, data={"solution": "x"})
    assert str(info.value) == (
        f"event 'resolve' is not allowed for complaint {cid} in state 'received'; "
        "allowed: acknowledge, add_note, escalate, withdraw"
    )
    assert (info.value.complaint_id, info.value.trigger, info.value.state) == (
        cid,
        "resolve",
        "received",
    )
    assert info.value.allowed == ("acknowledge", "add_note", "escalate", "withdraw")


def test_a_trigger_the_workflow_does_not_have_is_not_allowed(engine: Engine, cid: str) -> None:
    with pytest.raises(TriggerNotAllowedError, match=r"^event 'frobnicate' is not allowed"):
        engine.fire(cid, "frobnicate", actor=AGENT)


def test_a_role_that_may_not_fire_the_trigger_is_denied(engine: Engine, cid: str) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        engine.fire(cid, "acknowledge", actor=TECH)
    assert str(info.value) == (
        f"role 'tech_support' may not fire 'acknowledge' on complaint {cid}; "
        "allowed roles: agent, group_leader, supervisor"
    )
    assert (info.value.role, info.value.trigger, info.value.complaint_id) == (
        "tech_support",
        "acknowledge",
        cid,
    )
    assert info.value.allowed_roles == ("agent", "group_leader", "supervisor")


def test_a_role_the_workflow_does_not_know_is_denied(engine: Engine, cid: str) -> None:
    with pytest.raises(PermissionDeniedError, match=r"^role 'customer' may not fire 'acknowledge'"):
        engine.fire(cid, "acknowledge", actor=("zhang", "customer"))


def test_missing_required_fields_are_named(engine: Engine, cid: str) -> None:
    engine.fire(cid, "acknowledge", actor=AGENT)
    with pytest.raises(MissingFieldsError) as info:
        engine.fire(cid, "classify", actor=AGENT)
    assert str(info.value) == f"event 'classify' on complaint {cid} requires: tier, category"
    assert info.value.missing == ("tier", "category")
    assert (info.value.complaint_id, info.value.trigger) == (cid, "classify")


def test_a_required_event_field_must_come_with_the_event(engine: Engine, cid: str) -> None:
    to_in_progress(engine, cid)
    with pytest.raises(MissingFieldsError, match=r"requires: data\.solution$") as info:
        engine.fire(cid, "resolve", actor=AGENT, data={"note": "done"})
    assert info.value.missing == ("data.solution",)


def test_a_host_guard_that_says_no_gives_its_name_and_reason(guarded: Engine) -> None:
    cid = guarded.open(intake(), actor=AGENT).id
    with pytest.raises(GuardRejectedError) as info:
        guarded.fire(cid, "start", actor=AGENT, data={"contract": "expired"})
    assert str(info.value) == (
        f"event 'start' on complaint {cid} rejected by guard 'within_contract': "
        "the service contract has expired"
    )
    assert (info.value.guard, info.value.reason) == (
        "guard 'within_contract'",
        "the service contract has expired",
    )


def test_a_condition_that_does_not_hold_gives_the_condition_and_the_value(guarded: Engine) -> None:
    cid = guarded.open(intake(), actor=AGENT).id
    guarded.fire(cid, "start", actor=AGENT)
    with pytest.raises(GuardRejectedError) as info:
        guarded.fire(cid, "resolve", actor=AGENT, data={"effort": 0})
    assert str(info.value) == (
        f"event 'resolve' on complaint {cid} rejected by condition data.effort gte 1.0: "
        "data.effort is 0"
    )


def test_a_rejected_condition_never_quotes_free_text(guarded: Engine) -> None:
    cid = guarded.open(intake(), actor=AGENT).id
    guarded.fire(cid, "start", actor=AGENT)
    guarded.fire(cid, "resolve", actor=AGENT, data={"effort": 2})
    with pytest.raises(GuardRejectedError) as info:
        guarded.fire(cid, "close", actor=AGENT, data={"comment": "call me on 13912345678"})
    assert info.value.reason == "data.comment is a str (value not shown)"


def test_a_stale_expected_version_is_a_conflict_with_both_versions(
    engine: Engine, cid: str
) -> None:
    engine.fire(cid, "add_note", actor=AGENT, data={"note": "first"})
    with pytest.raises(ConcurrencyConflictError) as info:
        engine.fire(cid, "acknowledge", actor=AGENT, expected_version=1)
    assert str(info.value) == (
        f"complaint {cid} is at version 2, not the expected 1; reload it and try again"
    )
    assert (info.value.complaint_id, info.value.expected, info.value.actual) == (cid, 1, 2)


def test_the_current_expected_version_is_accepted(engine: Engine, cid: str) -> None:
    assert engine.fire(cid, "acknowledge", actor=AGENT, expected_version=1).version == 2


def test_an_idempotency_key_reused_for_another_request_is_refused(engine: Engine, cid: str) -> None:
    engine.fire(cid, "add_note", actor=AGENT, data={"note": "one"}, idempotency_key="note-1")
    with pytest.raises(IdempotencyConflictError) as info:
        engine.fire(cid, "add_note", actor=AGENT, data={"note": "two"}, idempotency_key="note-1")
    assert str(info.value) == (
        "idempotency key 'note-1' was already used for a different request "
        f"(first used for fire on complaint {cid})"
    )
    assert info.value.key == "note-1"


def test_a_trigger_that_does_not_classify_cannot_change_the_tier(engine: Engine, cid: str) -> None:
    engine.fire(cid, "acknowledge", actor=AGENT)
    engine.fire(cid, "classify", actor=AGENT, data={"tier": "urgent", "category": "service"})
    with pytest.raises(InvalidInputError) as info:
        engine.fire(cid, "add_note", actor=AGENT, data={"note": "calm now", "tier": "minor"})
    assert info.value.errors == (
        "tier may only be set by a trigger that requires tier or category "
        "(classify, reclassify), not by 'add_note'",
    )
    assert engine.get(cid).tier == "urgent"


def test_every_refusal_is_a_complaint_error(engine: Engine, cid: str) -> None:
    with pytest.raises(ComplaintError):
        engine.fire(cid, "resolve", actor=AGENT)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda e, c: e.fire(c, "resolve", actor=AGENT), id="not-allowed"),
        pytest.param(lambda e, c: e.fire(c, "acknowledge", actor=TECH), id="permission"),
        pytest.param(lambda e, c: e.fire(c, "withdraw", actor=AGENT), id="missing-fields"),
        pytest.param(
            lambda e, c: e.fire(c, "acknowledge", actor=AGENT, expected_version=7), id="conflict"
        ),
        pytest.param(
            lambda e, c: e.fire(
                c, "add_note", actor=AGENT, data={"note": "other"}, idempotency_key="k"
            ),
            id="idempotency",
        ),
    ],
)
def test_a_refused_event_writes_nothing(
    shared: tuple[Engine, str], call: Callable[[Engine, str], Any]
) -> None:
    engine, cid = shared
    before = dump(engine)
    with pytest.raises(ComplaintError):
        call(engine, cid)
    assert dump(engine) == before


# --- bad input to every public entry point ---------------------------------------------------

NAIVE = dt.datetime(2026, 1, 5, 10, 0)
HUGE = "x" * 100_001
NOT_JSON = "(use str, number, bool, null, list or mapping)"


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


def _note(data: dict[str, Any]) -> Callable[[Engine, str], Any]:
    return lambda e, c: e.fire(c, "add_note", actor=AGENT, data={"note": "x", **data})


BAD_INPUT = [
    # open
    ("open-intake-not-a-mapping", lambda e, c: e.open([1], actor=AGENT),
     "invalid intake: expected an Intake or a mapping"),
    ("open-missing-name", lambda e, c: e.open(
        {k: v for k, v in intake().items() if k != "customer_name"}, actor=AGENT),
     "invalid intake: customer_name: Field required"),
    ("open-unknown-channel", lambda e, c: e.open(intake(channel="fax"), actor=AGENT),
     "invalid intake: channel: Input should be 'phone', 'email', 'online', 'chat', 'on_site', "
     "'letter', 'social' or 'other'"),
    ("open-unknown-field", lambda e, c: e.open(intake(shoe_size=42), actor=AGENT),
     "invalid intake: shoe_size: Extra inputs are not permitted"),
    ("open-naive-received-at", lambda e, c: e.open(intake(received_at=NAIVE), actor=AGENT),
     "invalid intake: received_at: Value error, received_at must be timezone-aware"),
    ("open-unknown-tier", lambda e, c: e.open(intake(tier="critical"), actor=AGENT),
     "invalid classification: tier 'critical' is not one of minor, moderate, severe, urgent"),
    ("open-unknown-category", lambda e, c: e.open(intake(category="weather"), actor=AGENT),
     "invalid classification: category 'weather' is not one of technical, service, process, "
     "product, billing, delivery"),
    ("open-huge-reason", lambda e, c: e.open(intake(reason="x" * 10_001), actor=AGENT),
     "invalid intake: reason: String should have at most 10000 characters"),
    ("open-extra-not-json", lambda e, c: e.open(intake(extra={"tags": {1}}), actor=AGENT),
     f"invalid intake: extra: Value error, tags: set is not JSON {NOT_JSON}"),
    ("open-huge-extra", lambda e, c: e.open(intake(extra={"blob": HUGE}), actor=AGENT),
     "invalid intake: extra: Value error, 100012 characters as JSON; at most 100000 are accepted"),
    ("open-unconfirmed", lambda e, c: e.open(intake(confirmed_with_customer=False), actor=AGENT),
     "invalid intake: the record must be confirmed with the customer before it is accepted"),
    ("open-actor-not-an-actor", lambda e, c: e.open(intake(), actor="agent"),
     "invalid actor: expected Actor(id, role) or an (id, role) tuple"),
    ("open-actor-id-not-text", lambda e, c: e.open(intake(), actor=(None, "agent")),
     "invalid actor: id and role must be non-empty Unicode strings "
     "(id at most 200, role 64 characters)"),
    ("open-actor-unknown-role", lambda e, c: e.open(intake(), actor=("zhang", "customer")),
     f"invalid actor: role 'customer' is not one of {ROLES}"),
    ("open-unknown-workflow", lambda e, c: e.open(intake(), actor=AGENT, workflow="nope"),
     "invalid workflow: unknown workflow 'nope'; loaded: standard-complaint@1"),
    ("open-workflow-not-text", lambda e, c: e.open(intake(), actor=AGENT, workflow=["x"]),
     "invalid workflow: expected a workflow name or name@version"),
    ("open-empty-idempotency-key", lambda e, c: e.open(intake(), actor=AGENT, idempotency_key=""),
     "invalid idempotency_key: expected a non-empty Unicode string of at most 200 characters"),
    ("open-correlation-id-not-text", lambda e, c: e.open(intake(), actor=AGENT, correlation_id=5),
     "invalid correlation_id: expected a non-empty Unicode string of at most 200 characters"),
    # fire
    ("fire-id-not-text", lambda e, c: e.fire(5, "acknowledge", actor=AGENT),
     "invalid complaint_id: expected a non-empty Unicode string of at most 40 characters"),
    ("fire-trigger-not-text", lambda e, c: e.fire(c, None, actor=AGENT),
     "invalid trigger: expected a non-empty Unicode string of at most 64 characters"),
    ("fire-huge-trigger", lambda e, c: e.fire(c, "t" * 65, actor=AGENT),
     "invalid trigger: expected a non-empty Unicode string of at most 64 characters"),
    ("fire-actor-role-too-long", lambda e, c: e.fire(c, "acknowledge", actor=("a", "r" * 65)),
     "invalid actor: id and role must be non-empty Unicode strings "
     "(id at most 200, role 64 characters)"),
    ("fire-data-not-a-mapping", lambda e, c: e.fire(c, "add_note", actor=AGENT, data=["x"]),
     "invalid data: expected a mapping, got list"),
    ("fire-data-set", _note({"tags": {1}}), f"invalid data: tags: set is not JSON {NOT_JSON}"),
    ("fire-data-bytes", _note({"raw": b"x"}), f"invalid data: raw: bytes is not JSON {NOT_JSON}"),
    ("fire-data-datetime", _note({"when": NAIVE}),
     f"invalid data: when: datetime is not JSON {NOT_JSON}"),
    ("fire-data-nan", _note({"score": float("nan")}),
     "invalid data: score: numbers must be finite, not NaN or infinity"),
    ("fire-data-int-key", _note({"nested": {1: "a"}}),
     "invalid data: nested: keys must be strings, not int"),
    ("fire-data-too-deep", _note({"deep": _deep(40)}),
     "invalid data: nested more than 32 levels deep"),
    ("fire-data-huge", _note({"blob": HUGE}),
     "invalid data: 100023 characters as JSON; at most 100000 are accepted"),
    ("fire-unknown-tier", lambda e, c: e.fire(c, "reclassify", actor=LEADER, data={"tier": "x"}),
     "invalid classification: tier 'x' is not one of minor, moderate, severe, urgent"),
    ("fire-tier-null", lambda e, c: e.fire(c, "reclassify", actor=LEADER, data={"tier": None}),
     "invalid classification: tier None is not one of minor, moderate, severe, urgent"),
    ("fire-tier-unhashable", lambda e, c: e.fire(
        c, "reclassify", actor=LEADER, data={"tier": ["urgent"]}),
     "invalid classification: tier ['urgent'] is not one of minor, moderate, severe, urgent"),
    ("fire-unknown-category", lambda e, c: e.fire(
        c, "classify", actor=AGENT, data={"tier": "minor", "category": 7}),
     "invalid classification: category 7 is not one of technical, service, process, product, "
     "billing, delivery"),
    ("fire-expected-version-not-int", lambda e, c: e.fire(
        c, "acknowledge", actor=AGENT, expected_version="1"),
     "invalid expected_version: expected an integer"),
    ("fire-expected-version-bool", lambda e, c: e.fire(
        c, "acknowledge", actor=AGENT, expected_version=True),
     "invalid expected_version: expected an integer"),
    # transfer and handover
    ("transfer-to-not-an-actor", lambda e, c: e.transfer(c, "bob", actor=AGENT),
     "invalid to_owner: expected Actor(id, role) or an (id, role) tuple"),
    ("transfer-to-unknown-role", lambda e, c: e.transfer(c, ("bob", "janitor"), actor=AGENT),
     f"invalid to_owner: role 'janitor' is not one of {ROLES}"),
    ("transfer-note-not-text", lambda e, c: e.transfer(c, LEADER, actor=AGENT, note=None),
     "invalid note: expected a string of at most 2000 characters"),
    ("transfer-huge-note", lambda e, c: e.transfer(c, LEADER, actor=AGENT, note="n" * 2001),
     "invalid note: expected a string of at most 2000 characters"),
    ("transfer-expected-version-not-int", lambda e, c: e.transfer(
        c, LEADER, actor=AGENT, expected_version=1.0),
     "invalid expected_version: expected an integer"),
    ("handover-from-not-text", lambda e, c: e.handover(7, LEADER, actor=AGENT),
     "invalid from_owner: expected a non-empty Unicode string of at most 200 characters"),
    ("handover-to-unknown-role", lambda e, c: e.handover("agent-li", ("b", "x"), actor=AGENT),
     f"invalid to_owner: role 'x' is not one of {ROLES}"),
    # reading
    ("get-id-not-text", lambda e, c: e.get(None),
     "invalid complaint_id: expected a non-empty Unicode string of at most 40 characters"),
    ("history-huge-id", lambda e, c: e.history("C" * 41),
     "invalid complaint_id: expected a non-empty Unicode string of at most 40 characters"),
    ("allowed-triggers-actor", lambda e, c: e.allowed_triggers(c, "agent"),
     "invalid actor: expected Actor(id, role) or an (id, role) tuple"),
    ("query-unknown-filter", lambda e, c: e.query(colour="red"),
     "invalid query: unknown filter(s) colour; allowed: category, customer_ref, open, "
     "opened_from, opened_until, owner, state, tier, updated_from, updated_until, workflow"),
    ("query-unknown-state", lambda e, c: e.query(state="resovled"),
     "invalid query: unknown state 'resovled' (did you mean 'resolved'?)"),
    ("query-tier-not-text", lambda e, c: e.query(tier=3),
     "invalid query: tier must be a string or a list of strings"),
    ("query-unknown-category", lambda e, c: e.query(category=["service", "weather"]),
     "invalid query: unknown category 'weather'"),
    ("query-open-not-bool", lambda e, c: e.query(open="yes"),
     "invalid query: open must be True or False"),
    ("query-naive-datetime", lambda e, c: e.query(opened_from=NAIVE),
     "invalid query: opened_from must be a timezone-aware datetime"),
    ("query-owner-not-text", lambda e, c: e.query(owner=5),
     "invalid query: owner must be a Unicode string of at most 200 characters"),
    ("query-unknown-workflow", lambda e, c: e.query(workflow="nope"),
     "invalid query: unknown workflow 'nope'; loaded: standard-complaint@1"),
    ("query-limit-zero", lambda e, c: e.query(limit=0), "invalid limit: expected 1..1000"),
    ("query-limit-too-big", lambda e, c: e.query(limit=1001), "invalid limit: expected 1..1000"),
    ("query-foreign-cursor", lambda e, c: e.query(cursor="garbage"),
     "invalid cursor: 'garbage' is not a cursor from query()"),
    ("query-cursor-not-text", lambda e, c: e.query(cursor=5),
     "invalid cursor: expected the next_cursor of a page"),
    ("outbox-limit", lambda e, c: e.outbox(limit=0), "invalid limit: expected 1..1000"),
    ("mark-delivered-text", lambda e, c: e.mark_delivered("12"),
     "invalid message_ids: expected outbox message ids"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "message"), [pytest.param(call, msg, id=name) for name, call, msg in BAD_INPUT]
)
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    shared: tuple[Engine, str], call: Callable[[Engine, str], Any], message: str
) -> None:
    engine, cid = shared
    before = dump(engine)
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        call(engine, cid)
    assert dump(engine) == before


def test_bad_input_keeps_each_problem_as_an_attribute(engine: Engine) -> None:
    record = {k: v for k, v in intake(channel="fax").items() if k != "reason"}
    with pytest.raises(InvalidInputError) as info:
        engine.open(record, actor=AGENT)
    assert info.value.what == "intake"
    assert [e.split(":")[0] for e in info.value.errors] == ["channel", "reason"]


def test_invalid_intake_messages_never_echo_what_the_customer_said(engine: Engine) -> None:
    with pytest.raises(InvalidInputError) as info:
        engine.open(intake(customer_contact=["13912345678"], reason=12345678901), actor=AGENT)
    assert "13912345678" not in str(info.value)
    assert "12345678901" not in str(info.value)
