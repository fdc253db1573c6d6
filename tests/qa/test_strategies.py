"""The QA kit's strategies generate what they promise, as the real engine sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from complaintflow import Intake, InvalidInputError, load_workflow
from complaintflow.testing import (
    actors,
    categories,
    engine_on_temp_sqlite,
    event_sequences,
    forbidden_events,
    hostile_texts,
    intakes,
    invalid_intakes,
    invalid_texts,
    tiers,
)
from complaintflow.testing._strategies import Sketch, forbidden_event

ROOT = Path(__file__).resolve().parents[2]
STANDARD = load_workflow(ROOT / "workflows" / "standard.yaml")
AFTER_SALES = load_workflow(ROOT / "workflows" / "after_sales.yaml")
PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@PROPERTY
@given(
    st.integers(0, 3).flatmap(lambda lo: st.tuples(st.just(lo), st.integers(max(lo, 1), 300))),
    st.data(),
)
def test_hostile_texts_keep_their_limits_after_stripping(
    limits: tuple[int, int], data: st.DataObject
) -> None:
    low, high = limits
    text = data.draw(hostile_texts(min_size=low, max_size=high))
    assert low <= len(text.strip()) <= high
    unpadded = data.draw(hostile_texts(min_size=low, max_size=high, padded=False))
    assert low <= len(unpadded) <= high


@PROPERTY
@given(hostile_texts(min_size=1, max_size=200), invalid_texts(min_size=1, max_size=200))
def test_pydantic_takes_the_hostile_texts_and_refuses_the_invalid_ones(
    good: str, bad: object
) -> None:
    base = {"customer_contact": "x", "channel": "phone", "object": "x", "reason": "x"}
    assert Intake.model_validate({**base, "customer_name": good}).customer_name == good.strip()
    with pytest.raises(ValidationError):
        Intake.model_validate({**base, "customer_name": bad})


@PROPERTY
@given(st.lists(intakes(STANDARD), min_size=1, max_size=3), actors(STANDARD))
def test_the_engine_opens_every_generated_intake(records: list[dict[str, Any]], actor: Any) -> None:
    with engine_on_temp_sqlite(STANDARD) as engine:
        for record in records:
            complaint = engine.open(record, actor=actor)
            stored = engine.get(complaint.id)
            assert stored.owner == actor.id
            assert stored.intake.reason in {r["reason"].strip() for r in records}


@PROPERTY
@given(invalid_intakes(STANDARD), actors(STANDARD))
def test_the_engine_refuses_every_invalid_intake_and_writes_nothing(
    record: dict[str, Any], actor: Any
) -> None:
    with engine_on_temp_sqlite(STANDARD) as engine:
        with pytest.raises(InvalidInputError):
            engine.open(record, actor=actor)
        assert engine.query().items == ()


@PROPERTY
@given(actors(STANDARD), tiers(STANDARD), categories(STANDARD))
def test_people_tiers_and_categories_are_the_workflows(actor: Any, tier: str, cat: str) -> None:
    assert actor.role in STANDARD.roles
    assert actor.role != "system"
    assert tier in STANDARD.tiers
    assert cat in STANDARD.spec.categories


@pytest.mark.parametrize("workflow", [STANDARD, AFTER_SALES], ids=lambda w: w.name)
def test_valid_event_sequences_are_accepted_and_forbidden_endings_refused(workflow: Any) -> None:
    @PROPERTY
    @given(
        st.booleans().flatmap(
            lambda valid: st.tuples(st.just(valid), event_sequences(workflow, valid=valid))
        ),
        intakes(workflow, hostile=False),
    )
    def run(case: tuple[bool, list[Any]], record: dict[str, Any]) -> None:
        valid, events = case
        record = {k: v for k, v in record.items() if k not in ("tier", "category")}
        with engine_on_temp_sqlite(workflow) as engine:
            cid = engine.open(record, actor=("li.na", workflow.escalation_chain[0])).id
            body = events if valid else events[:-1]
            for event in body:
                engine.fire(cid, event.trigger, actor=event.actor, data=event.data)
            if not valid:
                last = events[-1]
                assert last.expect is not None
                before = engine.history(cid)
                with pytest.raises(last.expect):
                    engine.fire(cid, last.trigger, actor=last.actor, data=last.data)
                assert engine.history(cid) == before

    run()


@PROPERTY
@given(forbidden_events(STANDARD, STANDARD.initial_state), intakes(STANDARD, hostile=False))
def test_a_forbidden_event_is_refused_with_its_error_and_changes_nothing(
    event: Any, record: dict[str, Any]
) -> None:
    with engine_on_temp_sqlite(STANDARD) as engine:
        cid = engine.open(record, actor=("li.na", "agent")).id
        before = (engine.get(cid), engine.history(cid))
        assert event.expect is not None
        with pytest.raises(event.expect):
            engine.fire(cid, event.trigger, actor=event.actor, data=event.data)
        assert (engine.get(cid), engine.history(cid)) == before


def _offered_as_missing(draw: Any, complaint: Any) -> list[str]:
    """The fields ``forbidden_event`` would leave out of an event to make it refused."""
    offered: list[str] = []

    def choose(options: list[Any]) -> Any:
        if "missing" in options:
            return "missing"
        if all(isinstance(o, tuple) and len(o) == 4 for o in options):
            offered.extend(o[3] for o in options)
        return options[0]

    forbidden_event(draw, choose, STANDARD, complaint)
    return offered


@PROPERTY
@given(st.data())
def test_a_field_the_complaint_already_has_is_never_called_missing(data: st.DataObject) -> None:
    # reclassify requires a tier, which classify set already: an event may leave it out
    # (the workflow format says so), so it is no forbidden ending
    assert "tier" in _offered_as_missing(data.draw, Sketch("classified"))
    assert "tier" not in _offered_as_missing(data.draw, Sketch("classified", "minor", "service"))


@PROPERTY
@given(st.data())
def test_an_invalid_sequence_ends_from_what_its_events_made_of_the_complaint(
    data: st.DataObject,
) -> None:
    from complaintflow.testing import _strategies

    seen: list[Any] = []

    def spy(draw: Any, choose: Any, workflow: Any, complaint: Any) -> Any:
        seen.append(complaint)
        return forbidden_event(draw, choose, workflow, complaint)

    _strategies.forbidden_event = spy  # type: ignore[assignment]
    try:
        events = data.draw(event_sequences(STANDARD, valid=False))
    finally:
        _strategies.forbidden_event = forbidden_event
    [made] = seen
    tiers_given = [e.data["tier"] for e in events[:-1] if "tier" in e.data]
    categories_given = [e.data["category"] for e in events[:-1] if "category" in e.data]
    assert made.tier == (tiers_given[-1] if tiers_given else None)
    assert made.category == (categories_given[-1] if categories_given else None)
