"""Each measure on a tiny scenario driven by hand, with the answer worked out beforehand.

The standard workflow: acknowledge within 24h (unclassified), resolve within 7bd (minor),
business calendar cn-office (09:00-12:00, 13:30-18:00 Asia/Shanghai, Monday-Friday).
The clock starts on Monday 2026-03-02 at 09:00 in Shanghai.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest

from complaintflow import Actor, Complaint, Engine, FakeClock, InvalidInputError
from complaintflow.reporting import Report, compute_measures
from complaintflow.store import SqlStore

from .conftest import START

AGENT = Actor("agent-01", "agent")
OTHER = Actor("agent-02", "agent")
HOUR = dt.timedelta(hours=1)
_contacts = itertools.count(1)


def _open(engine: Engine, **intake: Any) -> Complaint:
    return engine.open(
        {
            "customer_name": "王芳",
            "customer_contact": f"138 0000 {next(_contacts):04d}",
            "channel": "phone",
            "object": "router",
            "reason": "drops the line",
            **intake,
        },
        actor=AGENT,
    )


def _handle(engine: Engine, cid: str, tier: str = "minor") -> None:
    engine.fire(cid, "acknowledge", actor=AGENT)
    engine.fire(cid, "classify", actor=AGENT, data={"tier": tier, "category": "technical"})
    engine.fire(cid, "start_handling", actor=AGENT)


def _send(engine: Engine, cid: str) -> None:
    engine.fire(cid, "resolve", actor=AGENT, data={"solution": "replaced the router"})
    engine.fire(cid, "send_result", actor=AGENT, data={"channel": "phone", "said": "replaced"})


def _sweep(engine: Engine) -> None:
    # one call fires one round: a breach armed by a warning fired late waits for the next
    while engine.run_due_timers():
        pass


def _report(engine: Engine, **options: Any) -> Report:
    options.setdefault("since", START - dt.timedelta(days=1))
    options.setdefault("until", START + dt.timedelta(days=60))
    return compute_measures(engine, **options)


def test_acknowledged_on_time_counts_stops_without_a_breach(
    engine: Engine, clock: FakeClock
) -> None:
    """One acknowledged after 1h, one after 25h with its breach fired: 1 of 2 on time;
    the times are 1h and 25h (elapsed: unclassified complaints have a 24h target)."""
    quick, slow = _open(engine), _open(engine)
    clock.advance(HOUR)
    engine.fire(quick.id, "acknowledge", actor=AGENT)
    clock.advance(24 * HOUR)
    _sweep(engine)
    engine.fire(slow.id, "acknowledge", actor=AGENT)

    total = _report(engine).total
    assert (total.acknowledged_on_time.numerator, total.acknowledged_on_time.denominator) == (1, 2)
    assert total.acknowledged_on_time.percent == 50.0
    assert total.time_to_acknowledge.count == 2
    assert total.time_to_acknowledge.median_hours == pytest.approx(13.0)
    assert total.time_to_acknowledge.p90_hours == pytest.approx(1 + 0.9 * 24)
    assert total.time_to_acknowledge.measure == "elapsed"
    assert total.breaches >= 1


def test_a_stop_after_the_deadline_is_late_without_a_breach_record(
    engine: Engine, clock: FakeClock
) -> None:
    """The sweeper never ran, so no breach was recorded; stopping past the deadline is late."""
    c = _open(engine)
    clock.advance(25 * HOUR)
    engine.fire(c.id, "acknowledge", actor=AGENT)

    ratio = _report(engine).total.acknowledged_on_time
    assert (ratio.numerator, ratio.denominator) == (0, 1)


def test_a_running_clock_past_its_deadline_is_late_and_overdue(
    engine: Engine, clock: FakeClock
) -> None:
    """Not acknowledged after 30h: late in the on-time rate, and overdue by 6h now."""
    c = _open(engine)
    clock.advance(30 * HOUR)

    report = _report(engine)
    assert (
        report.total.acknowledged_on_time.numerator,
        report.total.acknowledged_on_time.denominator,
    ) == (0, 1)
    overdue = {(o.complaint_id, o.clock): o for o in report.overdue}
    assert overdue[(c.id, "acknowledge")].overdue_hours == pytest.approx(6.0)
    assert report.overdue_count == len(report.overdue) == 2  # acknowledge and respond


def test_a_running_clock_within_its_deadline_is_not_counted_yet(
    engine: Engine, clock: FakeClock
) -> None:
    _open(engine)
    clock.advance(HOUR)
    report = _report(engine)
    assert report.total.acknowledged_on_time.denominator == 0
    assert report.total.acknowledged_on_time.percent is None
    assert report.overdue == ()


def test_time_to_resolve_is_in_business_hours_for_a_business_target(
    engine: Engine, clock: FakeClock
) -> None:
    """Classified Monday 09:00, resolved 15:00: 09-12 and 13:30-15 are 4.5 working hours."""
    c = _open(engine)
    _handle(engine, c.id)
    clock.advance(6 * HOUR)
    _send(engine, c.id)

    stats = _report(engine).total.time_to_resolve
    assert stats.count == 1
    assert stats.median_hours == pytest.approx(4.5)
    assert stats.measure == "business"
    on_time = _report(engine).total.resolved_on_time
    assert (on_time.numerator, on_time.denominator) == (1, 1)


def test_escalation_rate_counts_complaints_escalated_at_least_once(engine: Engine) -> None:
    escalated, calm = _open(engine), _open(engine)
    for c in (escalated, calm):
        _handle(engine, c.id)
    engine.fire(escalated.id, "escalate", actor=AGENT, data={"reason": "needs a manager"})
    engine.fire(escalated.id, "escalate", actor=AGENT, data={"reason": "still stuck"})

    ratio = _report(engine).total.escalation_rate
    assert (ratio.numerator, ratio.denominator) == (1, 2)


def _close(engine: Engine, cid: str, score: int) -> None:
    engine.fire(cid, "customer_satisfied", actor=AGENT, data={"score": score})


def test_reopen_first_contact_resolution_and_satisfaction(engine: Engine) -> None:
    """Three closed complaints: one reopened (unsatisfied 2, then satisfied 5), one
    transferred (satisfied 4), one plain (satisfied 5, then a survey scoring 3)."""
    reopened, transferred, plain = _open(engine), _open(engine), _open(engine)
    for c in (reopened, transferred, plain):
        _handle(engine, c.id)
        _send(engine, c.id)
    engine.fire(reopened.id, "customer_unsatisfied", actor=AGENT, data={"score": 2})
    engine.fire(reopened.id, "start_handling", actor=AGENT)
    _send(engine, reopened.id)
    _close(engine, reopened.id, 5)
    engine.transfer(transferred.id, OTHER, actor=AGENT, note="on leave")
    _close(engine, transferred.id, 4)
    _close(engine, plain.id, 5)
    engine.record_survey(plain.id, score=3, actor=AGENT, comment="slow, but fixed")

    total = _report(engine).total
    assert (total.reopen_rate.numerator, total.reopen_rate.denominator) == (1, 3)
    fcr = total.first_contact_resolution
    assert (fcr.numerator, fcr.denominator) == (1, 3)
    assert total.satisfaction.responses == 5
    assert total.satisfaction.mean_score == pytest.approx((2 + 5 + 4 + 5 + 3) / 5)
    sat = total.satisfaction.satisfied
    assert (sat.numerator, sat.denominator) == (3, 5)


def test_a_shift_handover_is_not_a_transfer(engine: Engine) -> None:
    c = _open(engine)
    _handle(engine, c.id)
    engine.handover(AGENT.id, OTHER, actor=Actor("gl-01", "group_leader"), note="shift change")
    _send(engine, c.id)
    _close(engine, c.id, 5)

    fcr = _report(engine).total.first_contact_resolution
    assert (fcr.numerator, fcr.denominator) == (1, 1)


def test_auto_close_and_return_visits_due(engine: Engine, clock: FakeClock) -> None:
    """One customer never answers: the system closes it after 7 days; its return visit
    comes due 14 days later and is not made. Another is visited: 1 of the 2 due visits."""
    silent, visited = _open(engine), _open(engine)
    for c in (silent, visited):
        _handle(engine, c.id)
        _send(engine, c.id)
    _close(engine, visited.id, 5)
    engine.fire(visited.id, "record_return_visit", actor=AGENT, data={"outcome": "content"})
    clock.advance(dt.timedelta(days=8))
    _sweep(engine)
    assert engine.get(silent.id).state == "closed"

    early = _report(engine).total
    assert (early.closed_without_answer.numerator, early.closed_without_answer.denominator) == (
        1,
        2,
    )
    # the silent one's visit is not due yet: only the visit made counts
    assert (early.return_visit_completion.numerator, early.return_visit_completion.denominator) == (
        1,
        1,
    )

    clock.advance(dt.timedelta(days=15))
    _sweep(engine)
    late = _report(engine).total.return_visit_completion
    assert (late.numerator, late.denominator) == (1, 2)


def test_a_withdrawal_is_not_a_closure_and_cancels_the_clock_runs_it_stops(
    engine: Engine, clock: FakeClock
) -> None:
    c = _open(engine)
    clock.advance(HOUR)
    engine.fire(c.id, "acknowledge", actor=AGENT)
    engine.fire(c.id, "withdraw", actor=AGENT, data={"reason": "settled with the shop"})

    total = _report(engine).total
    assert total.acknowledged_on_time.denominator == 1  # stopped by acknowledging
    assert total.responded_on_time.denominator == 0  # stopped by the withdrawal
    assert total.time_to_respond.count == 0
    assert total.first_contact_resolution.denominator == 0
    assert total.reopen_rate.denominator == 0


def test_complaint_rate_from_a_number_or_per_period(engine: Engine) -> None:
    for _ in range(4):
        _open(engine)
    rate = _report(engine, denominator=2000).total.complaint_rate
    assert rate is not None
    assert (rate.complaints, rate.rate, rate.per) == (4, 2.0, 1000)

    report = _report(engine, by=("month",), denominator={"2026-03": 1000}, per=100)
    group = report.group(month="2026-03")
    assert group is not None
    assert group.complaint_rate is not None
    assert group.complaint_rate.rate == pytest.approx(0.4)
    assert report.total.complaint_rate is not None
    assert report.total.complaint_rate.rate == pytest.approx(0.4)
    assert _report(engine).total.complaint_rate is None


def test_groups_periods_and_timeline_follow_the_time_zone(engine: Engine, clock: FakeClock) -> None:
    """Received Monday 23:30 UTC is Tuesday 07:30 in Shanghai."""
    _open(engine)
    late_evening = dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC)
    _open(engine, received_at=late_evening - dt.timedelta(hours=22), tier="urgent")
    clock.set(late_evening)
    _open(engine, tier="urgent")
    since, until = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 5, tzinfo=dt.UTC)

    utc = compute_measures(engine, since=since, until=until, by=("day", "tier"))
    assert {(g.key["day"], g.key["tier"]): g.volume for g in utc.groups} == {
        ("2026-03-02", "(none)"): 1,
        ("2026-03-02", "urgent"): 2,
    }
    shanghai = compute_measures(
        engine, since=since, until=until, by=("day",), timezone="Asia/Shanghai"
    )
    assert {g.key["day"]: g.volume for g in shanghai.groups} == {"2026-03-02": 2, "2026-03-03": 1}
    assert [p.period for p in shanghai.timeline] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ]
    assert [p.volume for p in shanghai.timeline] == [0, 2, 1, 0, 0]
    assert [g.key["tier"] for g in shanghai.by_tier] == ["urgent", "(none)"]


def test_team_and_owner_groups(engine: Engine) -> None:
    c = _open(engine)
    _open(engine)
    engine.transfer(c.id, Actor("gl-07", "group_leader"), actor=AGENT, note="needs a lead")
    report = _report(engine, by=("team", "owner"))
    assert {(g.key["team"], g.key["owner"]): g.volume for g in report.groups} == {
        ("agent", "agent-01"): 1,
        ("group_leader", "gl-07"): 1,
    }


def test_now_ignores_what_happened_later(engine: Engine, clock: FakeClock) -> None:
    c = _open(engine)
    clock.advance(HOUR)
    engine.fire(c.id, "acknowledge", actor=AGENT)
    before = _report(engine, now=START + dt.timedelta(minutes=30)).total
    assert before.time_to_acknowledge.count == 0
    assert _report(engine).total.time_to_acknowledge.count == 1


def test_another_clock_can_be_measured_as_resolve(engine: Engine, clock: FakeClock) -> None:
    """The overall clock (30 days, stopped on closing) measured as the resolve clock."""
    c = _open(engine)
    _handle(engine, c.id)
    clock.advance(2 * HOUR)
    _send(engine, c.id)
    _close(engine, c.id, 5)
    report = _report(engine, clocks={"resolve": "overall"})
    assert report.clocks["resolve"] == "overall"
    assert report.total.time_to_resolve.median_hours == pytest.approx(2.0)
    assert report.total.time_to_resolve.measure == "elapsed"


def test_reading_in_chunks_of_one_gives_the_same_report(engine: Engine, clock: FakeClock) -> None:
    for i in range(5):
        c = _open(engine)
        clock.advance(HOUR * i)
        _handle(engine, c.id, tier="moderate" if i % 2 else "minor")
    assert _report(engine, chunk_size=1) == _report(engine)


def test_a_store_without_workflows_assumes_the_shipped_names(
    engine: Engine, tmp_path: Path
) -> None:
    c = _open(engine)
    _handle(engine, c.id)
    _send(engine, c.id)
    _close(engine, c.id, 4)
    engine.fire(c.id, "record_return_visit", actor=AGENT, data={"outcome": "content"})
    now = engine.clock.now()
    store = SqlStore(f"sqlite:///{tmp_path / 'scenario.db'}")
    try:
        plain = _report(store, now=now)  # type: ignore[arg-type]
    finally:
        store.close()
    full = _report(engine)
    assert plain.total == full.total
    assert any("No workflows given" in note for note in plain.notes)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": dt.datetime(2026, 3, 1)}, "since must be a timezone-aware datetime"),
        ({"until": START - dt.timedelta(days=2)}, "since must be earlier than until"),
        ({"by": ("tier", "colour")}, "unknown by 'colour'"),
        ({"by": "tier"}, "by must be a sequence of names"),
        ({"by": ("day", "week")}, "one period"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"per": 0}, "per must be a positive integer"),
        ({"clocks": {"close": "overall"}}, "keys must be acknowledge, respond, resolve"),
    ],
)
def test_invalid_arguments_say_what_is_allowed(
    engine: Engine, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _report(engine, **options)
