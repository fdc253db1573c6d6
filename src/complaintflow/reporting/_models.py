"""The report: frozen pydantic models, so a report is data (JSON, CSV, HTML) and never changes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

Measure = Literal["business", "elapsed", "mixed", "none"]
"""How a duration was counted: working time of the calendar (business targets), plain
elapsed time, a mix of both within one group, or nothing to count."""

ClockRole = Literal["acknowledge", "respond", "resolve"]
"""The three clocks the measures name; ``clocks=`` maps them to a workflow's clock names."""

PeriodUnit = Literal["day", "week", "month"]

DIMENSIONS = ("day", "week", "month", "tier", "category", "channel", "owner", "team", "workflow")
"""What ``by=`` may group on: a period (in the report's time zone), the complaint's tier,
category, channel, owner, team (the owner's role) and workflow (``name@version``)."""

NONE_LABEL = "(none)"
"""The group label of a complaint without a value (no tier yet, say)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ratio(_Frozen):
    """``numerator`` of ``denominator``; ``percent`` is ``None`` when nothing was counted."""

    # percent is computed; JSON written by a report carries it and must read back
    model_config = ConfigDict(frozen=True, extra="ignore")

    numerator: int
    denominator: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def percent(self) -> float | None:
        if not self.denominator:
            return None
        return round(100.0 * self.numerator / self.denominator, 2)


class DurationStats(_Frozen):
    """Median and 90th percentile of a clock's counted time at its stop, in hours.

    Each clock counts in its own measure: business hours for a business target (``3bd``,
    ``4bh``), elapsed hours otherwise; ``measure`` says which. The 90th percentile
    interpolates linearly between the closest ranks.
    """

    count: int
    median_hours: float | None
    p90_hours: float | None
    measure: Measure


class Satisfaction(_Frozen):
    """The customers' opinions: every ``customer_satisfied`` / ``customer_unsatisfied``
    transition and every ``survey`` record is one response.

    ``mean_score`` averages the numeric scores given; ``satisfied`` counts satisfied
    transitions and surveys scoring at least the report's ``satisfied_score``.
    """

    responses: int
    mean_score: float | None
    satisfied: Ratio


class ComplaintRate(_Frozen):
    """Complaints per ``per`` units of the host's denominator (orders, say)."""

    complaints: int
    denominator: float
    per: int
    rate: float


class GroupMeasures(_Frozen):
    """Every measure for one group of complaints (or for all of them).

    Attributes:
        key: the group, e.g. ``{"tier": "minor"}``; empty for the total.
        volume: complaints opened (received) in the report's range.
        acknowledged_on_time, responded_on_time, resolved_on_time: runs of the clock
            that stopped without a breach and by their deadline, of the runs that stopped
            plus those still running that are already late. A reopened complaint's
            restarted clock is a run of its own; runs stopped by a withdrawal do not count.
        time_to_acknowledge, time_to_respond, time_to_resolve: the clocks' counted time at
            their stop.
        escalation_rate: complaints escalated at least once, of the volume.
        reopen_rate: complaints reopened at least once, of those that reached the
            feedback step or were closed.
        first_contact_resolution: closed complaints never transferred, escalated or
            reopened, of the closed complaints (a shift handover is not a transfer).
        satisfaction: the customers' responses.
        return_visit_completion: closed complaints with a return visit on record, of the
            closed complaints whose visit is due: where the workflow schedules return
            visits (``return_visits:``), those whose ``return_visit_due`` timer fired or
            whose visit is on record; otherwise every closed complaint.
        closed_without_answer: closed complaints closed by the system for want of an
            answer (auto-close), of the closed complaints.
        breaches: breach timers fired (every clock).
        complaint_rate: when the host gave a denominator.
    """

    key: dict[str, str]
    volume: int
    acknowledged_on_time: Ratio
    responded_on_time: Ratio
    resolved_on_time: Ratio
    time_to_acknowledge: DurationStats
    time_to_respond: DurationStats
    time_to_resolve: DurationStats
    escalation_rate: Ratio
    reopen_rate: Ratio
    first_contact_resolution: Ratio
    satisfaction: Satisfaction
    return_visit_completion: Ratio
    closed_without_answer: Ratio
    breaches: int
    complaint_rate: ComplaintRate | None = None

    @property
    def label(self) -> str:
        """The key as text: ``tier=minor, category=billing`` (``all`` for the total)."""
        return ", ".join(f"{k}={v}" for k, v in self.key.items()) or "all"


class TimelinePoint(_Frozen):
    """Complaints received in one period."""

    period: str
    start: dt.datetime
    volume: int


class HistogramBin(_Frozen):
    """Runs of the resolve clock whose counted time fell in ``[lower_hours, upper_hours)``."""

    lower_hours: float
    upper_hours: float | None
    count: int


class OverdueClock(_Frozen):
    """A clock running past its deadline at the report's ``now``."""

    complaint_id: str
    clock: str
    tier: str | None
    owner: str
    deadline: dt.datetime
    overdue_hours: float


class Report(_Frozen):
    """Measures of the complaints received in ``[since, until)``, as of ``now``.

    Attributes:
        since, until: the range of receipt times (``until`` excluded).
        now: what the report knows: audit records after it are ignored, running clocks
            are compared with it.
        timezone: the zone periods (days, weeks, months) are cut in.
        by: the grouping of ``groups``.
        clocks: which workflow clock each measured clock is.
        total: every complaint of the range.
        groups: one entry per group of ``by``, sorted by key.
        by_tier: one entry per tier (for the charts), lowest level first.
        timeline: complaints received per ``timeline_unit``.
        resolve_histogram: the distribution of time to resolve.
        overdue: running clocks past their deadline, most overdue first (at most the
            ``overdue_limit`` given; ``overdue_count`` counts them all).
        notes: how to read the numbers.
    """

    since: dt.datetime
    until: dt.datetime
    now: dt.datetime
    timezone: str
    by: tuple[str, ...]
    clocks: dict[str, str]
    satisfied_score: float
    total: GroupMeasures
    groups: tuple[GroupMeasures, ...]
    by_tier: tuple[GroupMeasures, ...]
    timeline_unit: PeriodUnit
    timeline: tuple[TimelinePoint, ...]
    resolve_histogram: tuple[HistogramBin, ...]
    overdue: tuple[OverdueClock, ...]
    overdue_count: int
    notes: tuple[str, ...]

    def group(self, **key: str) -> GroupMeasures | None:
        """The group with exactly this key, e.g. ``report.group(tier="minor")``."""
        return next((g for g in self.groups if g.key == key), None)

    def tier(self, name: str | None) -> GroupMeasures | None:
        """The measures of one tier (``None``: complaints without a tier)."""
        label = name if name is not None else NONE_LABEL
        return next((g for g in self.by_tier if g.key.get("tier") == label), None)
