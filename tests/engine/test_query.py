"""Querying complaints: filters and cursor pagination, oldest first."""

from __future__ import annotations

import datetime as dt

import pytest

from complaintflow import Complaint, Engine, FakeClock, InvalidInputError

from ._support import AGENT, OTHER_AGENT, intake, to_closed, to_in_progress


@pytest.fixture
def opened(engine: Engine, clock: FakeClock) -> list[Complaint]:
    """Five complaints a minute apart: a closed one, one in progress (moderate, service),
    one urgent, and two received (one of another customer and owner)."""
    made = []
    for i in range(5):
        made.append(engine.open(intake(object=f"item {i}"), actor=AGENT))
        clock.advance(dt.timedelta(minutes=1))
    to_closed(engine, made[0].id)
    to_in_progress(engine, made[1].id, tier="moderate", category="service")
    engine.fire(made[2].id, "acknowledge", actor=AGENT)
    engine.fire(made[2].id, "classify", actor=AGENT, data={"tier": "urgent", "category": "billing"})
    engine.transfer(made[4].id, OTHER_AGENT, actor=AGENT)
    return [engine.get(c.id) for c in made]


def _ids(page: object) -> list[str]:
    return [c.id for c in page]  # type: ignore[attr-defined]


def test_without_filters_every_complaint_comes_oldest_first(
    engine: Engine, opened: list[Complaint]
) -> None:
    assert _ids(engine.query()) == [c.id for c in opened]


def test_filters_by_one_state(engine: Engine, opened: list[Complaint]) -> None:
    assert _ids(engine.query(state="received")) == [opened[3].id, opened[4].id]


def test_filters_by_several_states(engine: Engine, opened: list[Complaint]) -> None:
    page = engine.query(state=["closed", "in_progress"])
    assert _ids(page) == [opened[0].id, opened[1].id]


def test_filters_by_tier_and_category(engine: Engine, opened: list[Complaint]) -> None:
    assert _ids(engine.query(tier="urgent")) == [opened[2].id]
    assert _ids(engine.query(category=["service", "billing"])) == [opened[1].id, opened[2].id]
    assert _ids(engine.query(tier="minor", category="billing")) == []


def test_filters_by_owner(engine: Engine, opened: list[Complaint]) -> None:
    assert _ids(engine.query(owner="agent-chen")) == [opened[4].id]


def test_filters_by_customer(engine: Engine, opened: list[Complaint]) -> None:
    other = engine.open(intake(customer_ref="CUST-7", object="modem"), actor=AGENT)
    assert _ids(engine.query(customer_ref="CUST-7")) == [other.id]


def test_filters_open_and_closed(engine: Engine, opened: list[Complaint]) -> None:
    assert _ids(engine.query(open=False)) == [opened[0].id]
    assert _ids(engine.query(open=True)) == [c.id for c in opened[1:]]


def test_filters_by_workflow_name_or_name_and_version(
    engine: Engine, opened: list[Complaint]
) -> None:
    everything = [c.id for c in opened]
    assert _ids(engine.query(workflow="standard-complaint")) == everything
    assert _ids(engine.query(workflow="standard-complaint@1")) == everything


def test_filters_by_opening_time_from_inclusive_until_exclusive(
    engine: Engine, opened: list[Complaint]
) -> None:
    page = engine.query(opened_from=opened[1].opened_at, opened_until=opened[3].opened_at)
    assert _ids(page) == [opened[1].id, opened[2].id]


def test_filters_by_last_change(engine: Engine, opened: list[Complaint], clock: FakeClock) -> None:
    clock.advance(dt.timedelta(hours=1))
    engine.fire(opened[3].id, "add_note", actor=AGENT, data={"note": "called"})
    assert _ids(engine.query(updated_from=clock.now())) == [opened[3].id]
    assert opened[3].id not in _ids(engine.query(updated_until=clock.now()))


def test_pages_follow_each_other_without_gaps_or_repeats(
    engine: Engine, opened: list[Complaint]
) -> None:
    seen: list[str] = []
    page = engine.query(limit=2)
    sizes = [len(page)]
    seen += _ids(page)
    while page.next_cursor is not None:
        page = engine.query(limit=2, cursor=page.next_cursor)
        sizes.append(len(page))
        seen += _ids(page)
    assert sizes == [2, 2, 1]
    assert seen == [c.id for c in opened]


def test_the_last_full_page_has_no_next_cursor(engine: Engine, opened: list[Complaint]) -> None:
    assert engine.query(limit=5).next_cursor is None


def test_pages_keep_complaints_opened_at_the_same_instant_in_id_order(engine: Engine) -> None:
    ids = sorted(engine.open(intake(object=f"same {i}"), actor=AGENT).id for i in range(4))
    first = engine.query(limit=3)
    second = engine.query(limit=3, cursor=first.next_cursor)
    assert _ids(first) + _ids(second) == ids


def test_paging_through_a_filtered_query_keeps_to_the_filter(
    engine: Engine, opened: list[Complaint]
) -> None:
    first = engine.query(open=True, limit=2)
    second = engine.query(open=True, limit=2, cursor=first.next_cursor)
    assert _ids(first) + _ids(second) == [c.id for c in opened[1:]]


def test_an_unknown_state_is_refused_with_a_suggestion(engine: Engine) -> None:
    with pytest.raises(InvalidInputError) as info:
        engine.query(state=["received", "clossed"])
    assert info.value.errors == ("unknown state 'clossed' (did you mean 'closed'?)",)
