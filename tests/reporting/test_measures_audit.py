"""The measures of a simulated month, recomputed independently from ``engine.history()``.

The naive computation below reads every complaint's history one by one and counts
straight from the definitions in docs/reporting.md; it shares no code with
``complaintflow.reporting``. Where the complaint snapshot says the same thing (state,
reopen count, clocks), it is checked against the snapshot too.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from complaintflow import AuditRecord, Complaint, Engine
from complaintflow.reporting import GroupMeasures, Report, compute_measures

from .conftest import MONTH, Month

CLOCKS = ("acknowledge", "respond", "resolve")
FINAL = {"closed", "withdrawn"}
FEEDBACK = "awaiting_feedback"


def _complaints(engine: Engine, since: dt.datetime, until: dt.datetime) -> list[Complaint]:
    found: list[Complaint] = []
    cursor = None
    while True:
        page = engine.query(limit=100, cursor=cursor, opened_from=since, opened_until=until)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = q * (len(ordered) - 1)
    below = ordered[int(k)]
    above = ordered[min(int(k) + 1, len(ordered) - 1)]
    return below + (above - below) * (k - int(k))


@dataclass
class Naive:
    volume: int = 0
    on_time: dict[str, list[int]] = field(default_factory=lambda: {c: [0, 0] for c in CLOCKS})
    hours: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CLOCKS})
    escalated: int = 0
    reopened: int = 0
    reached_feedback: int = 0
    closed: int = 0
    first_contact: int = 0
    visited: int = 0
    visits_due: int = 0
    auto_closed: int = 0
    scores: list[float] = field(default_factory=list)
    responses: int = 0
    satisfied: int = 0
    breaches: int = 0
    overdue: int = 0


def _clock_runs(history: list[AuditRecord], now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Each clock's runs: when they are late, what they counted, whether a withdrawal
    stopped them."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    withdrawal_versions = {
        r.version for r in history if r.kind == "transition" and r.trigger == "withdraw"
    }
    for r in history:
        name = r.data.get("clock")
        if r.kind == "timer" and r.trigger in ("breach", "repeat") and runs[name]:
            runs[name][-1]["late"] = True
        if r.kind != "clock":
            continue
        event = r.data["event"]
        deadline = r.data.get("deadline")
        deadline = dt.datetime.fromisoformat(deadline) if deadline else None
        if event in ("started", "restarted"):
            runs[name].append(
                {
                    "target": r.data.get("target"),
                    "deadline": deadline,
                    "state": "running",
                    "late": False,
                    "hours": None,
                    "withdrawn": False,
                }
            )
            continue
        run = runs[name][-1]
        if event == "continued":
            run.update(state="running", hours=None, deadline=deadline, target=r.data.get("target"))
        elif event in ("paused", "stopped"):
            if run["deadline"] is not None and r.at > run["deadline"]:
                run["late"] = True
            run["deadline"] = None
            run["state"] = "paused" if event == "paused" else "stopped"
            if event == "stopped":
                run["hours"] = r.data["elapsed_seconds"] / 3600
                run["withdrawn"] = r.version in withdrawal_versions
        elif event in ("resumed", "retargeted"):
            run["deadline"] = deadline
            if event == "retargeted":
                run["target"] = r.data.get("target")
    for clock_runs in runs.values():
        for run in clock_runs:
            if run["state"] == "running" and run["deadline"] is not None and now > run["deadline"]:
                run["late"] = run["overdue"] = True
    return runs


def _count(naive: Naive, c: Complaint, history: list[AuditRecord], now: dt.datetime) -> None:
    naive.volume += 1
    runs = _clock_runs(history, now)
    for clock in CLOCKS:
        for run in runs.get(clock, []):
            if run["withdrawn"]:
                continue
            if run["target"] is not None and (run["state"] == "stopped" or run["late"]):
                naive.on_time[clock][1] += 1
                naive.on_time[clock][0] += run["state"] == "stopped" and not run["late"]
            if run["hours"] is not None:
                naive.hours[clock].append(run["hours"])
    naive.overdue += sum(bool(r[-1].get("overdue")) for r in runs.values() if r)
    transitions = [r for r in history if r.kind == "transition"]
    escalated = any(r.kind == "effect" and r.trigger == "escalate" for r in history)
    reopens = sum(
        1
        for r in transitions
        if r.from_state in FINAL | {FEEDBACK} and r.to_state not in FINAL | {FEEDBACK}
    )
    transferred = any(r.kind == "transfer" and r.trigger == "transfer" for r in history)
    naive.escalated += escalated
    naive.reopened += reopens > 0
    naive.reached_feedback += any(
        r.to_state == FEEDBACK or (r.to_state == "closed" and r.from_state != "closed")
        for r in transitions
    )
    closing = [r for r in transitions if r.to_state in FINAL and r.from_state not in FINAL]
    closed = c.state == "closed"
    assert (c.state in FINAL) == bool(closing) or c.reopen_count > 0
    naive.closed += closed
    naive.first_contact += closed and not (transferred or escalated or reopens)
    visited = any(r.trigger in ("record_return_visit", "return_visit_reopen") for r in transitions)
    due = visited or any(r.kind == "timer" and r.trigger == "return_visit_due" for r in history)
    naive.visited += closed and visited
    naive.visits_due += closed and due
    naive.auto_closed += closed and closing[-1].trigger == "auto_close"
    for r in history:
        if r.kind == "transition" and r.trigger in ("customer_satisfied", "customer_unsatisfied"):
            naive.responses += 1
            naive.satisfied += r.trigger == "customer_satisfied"
            naive.scores.append(float(r.data["score"]))
        elif r.kind == "survey":
            naive.responses += 1
            naive.satisfied += r.data["score"] >= 4
            naive.scores.append(float(r.data["score"]))
        elif r.kind == "timer" and r.trigger == "breach":
            naive.breaches += 1


def _pair(ratio: Any) -> tuple[int, int]:
    return ratio.numerator, ratio.denominator


def _assert_same(g: GroupMeasures, naive: Naive) -> None:
    assert g.volume == naive.volume
    for clock, attr in zip(
        CLOCKS, ("acknowledged_on_time", "responded_on_time", "resolved_on_time"), strict=True
    ):
        assert _pair(getattr(g, attr)) == tuple(naive.on_time[clock]), clock
    for clock, attr in zip(
        CLOCKS, ("time_to_acknowledge", "time_to_respond", "time_to_resolve"), strict=True
    ):
        stats = getattr(g, attr)
        values = naive.hours[clock]
        assert stats.count == len(values)
        if values:
            assert stats.median_hours == pytest.approx(statistics.median(values), abs=1e-3)
            assert stats.p90_hours == pytest.approx(_quantile(values, 0.9), abs=1e-3)
    assert _pair(g.escalation_rate) == (naive.escalated, naive.volume)
    assert _pair(g.reopen_rate) == (naive.reopened, naive.reached_feedback)
    assert _pair(g.first_contact_resolution) == (naive.first_contact, naive.closed)
    assert _pair(g.return_visit_completion) == (naive.visited, naive.visits_due)
    assert _pair(g.closed_without_answer) == (naive.auto_closed, naive.closed)
    assert g.satisfaction.responses == naive.responses
    assert _pair(g.satisfaction.satisfied) == (naive.satisfied, naive.responses)
    if naive.scores:
        assert g.satisfaction.mean_score == pytest.approx(statistics.mean(naive.scores), abs=1e-3)
    assert g.breaches == naive.breaches


@pytest.fixture
def recomputed(
    month: Month, month_engine: Engine
) -> tuple[Report, dict[str, Naive], list[Complaint]]:
    since = MONTH.start
    until = since + dt.timedelta(days=MONTH.days)
    report = compute_measures(month_engine, since=since, until=until, by=("tier",))
    now = month_engine.clock.now()
    naive: dict[str, Naive] = defaultdict(Naive)
    complaints = _complaints(month_engine, since, until)
    for c in complaints:
        history = [r for r in month_engine.history(c.id) if r.at <= now]
        _count(naive["all"], c, history, now)
        _count(naive[c.tier or "(none)"], c, history, now)
    return report, naive, complaints


def test_a_simulated_month_has_every_kind_of_event(
    recomputed: tuple[Report, dict[str, Naive], list[Complaint]],
) -> None:
    """The month is a fair test: reopens, escalations, auto-closes, surveys, visits, breaches."""
    report, naive, _ = recomputed
    total = naive["all"]
    assert total.volume > 100
    assert total.reopened
    assert total.escalated
    assert total.auto_closed
    assert total.breaches
    assert total.visited
    assert total.responses > total.closed
    assert report.total.satisfaction.responses > 0


def test_the_total_agrees_with_a_naive_count_from_history(
    recomputed: tuple[Report, dict[str, Naive], list[Complaint]],
) -> None:
    report, naive, _ = recomputed
    _assert_same(report.total, naive["all"])
    assert report.overdue_count == naive["all"].overdue


def test_every_tier_agrees_with_a_naive_count_from_history(
    recomputed: tuple[Report, dict[str, Naive], list[Complaint]],
) -> None:
    report, naive, _ = recomputed
    assert {g.key["tier"] for g in report.groups} == set(naive) - {"all"}
    for group in report.groups:
        _assert_same(group, naive[group.key["tier"]])
    assert {g.key["tier"] for g in report.by_tier} == {g.key["tier"] for g in report.groups}


def test_the_measures_agree_with_the_complaint_snapshots(
    recomputed: tuple[Report, dict[str, Naive], list[Complaint]],
) -> None:
    """Volume, closures, reopens and the last resolve run, from the stored complaints."""
    report, _, complaints = recomputed
    total = report.total
    assert total.volume == len(complaints)
    assert total.first_contact_resolution.denominator == sum(
        c.state == "closed" for c in complaints
    )
    assert total.reopen_rate.numerator == sum(c.reopen_count > 0 for c in complaints)
    last_runs = [
        k for c in complaints if (k := c.clock("resolve")) is not None and k.status == "stopped"
    ]
    # every stopped last run is one of the runs the report timed
    assert total.time_to_resolve.count >= len(last_runs) > 0
