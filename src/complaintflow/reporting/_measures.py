"""``compute_measures``: the closed loop's numbers, straight from the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from complaintflow.definition._compile import Workflow
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import InvalidInputError
from complaintflow.reporting._fold import (
    DEFAULT_CONVENTIONS,
    ClockRun,
    Conventions,
    Facts,
    fold,
    percentile,
)
from complaintflow.reporting._models import (
    DIMENSIONS,
    NONE_LABEL,
    ClockRole,
    ComplaintRate,
    DurationStats,
    GroupMeasures,
    HistogramBin,
    Measure,
    OverdueClock,
    PeriodUnit,
    Ratio,
    Report,
    Satisfaction,
    TimelinePoint,
)
from complaintflow.reporting._read import ComplaintRow, iter_histories
from complaintflow.store._sql import SqlStore
from complaintflow.time._clock import SystemClock

CLOCK_ROLES: tuple[ClockRole, ...] = ("acknowledge", "respond", "resolve")
HISTOGRAM_EDGES = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 48.0, 72.0, 120.0)
_PERIODS: tuple[PeriodUnit, ...] = ("day", "week", "month")


@dataclass
class _Acc:
    """Running totals of one group."""

    volume: int = 0
    on_time: dict[str, list[int]] = field(default_factory=dict)
    hours: dict[str, list[float]] = field(default_factory=dict)
    measures: dict[str, set[str]] = field(default_factory=dict)
    escalated: int = 0
    reopened: int = 0
    resolved: int = 0
    closed: int = 0
    first_contact: int = 0
    return_visited: int = 0
    return_visits_due: int = 0
    auto_closed: int = 0
    responses: int = 0
    satisfied: int = 0
    scores: list[float] = field(default_factory=list)
    breaches: int = 0

    def add(self, facts: Facts, clocks: Mapping[str, str], now: dt.datetime) -> None:
        self.volume += 1
        for role, name in clocks.items():
            counts = self.on_time.setdefault(role, [0, 0])
            hours = self.hours.setdefault(role, [])
            measures = self.measures.setdefault(role, set())
            for run in facts.runs.get(name, ()):
                if run.cancelled:
                    continue
                if run.target is not None:
                    if run.status == "stopped":
                        counts[1] += 1
                        counts[0] += not run.late(now)
                    elif run.late(now):
                        counts[1] += 1
                if run.status == "stopped" and run.elapsed_seconds is not None:
                    hours.append(run.elapsed_seconds / 3600.0)
                    measures.add("business" if run.business else "elapsed")
        self.escalated += facts.escalated
        self.reopened += facts.reopened > 0
        self.resolved += facts.reached_feedback
        self.closed += facts.closed
        self.first_contact += facts.closed and not (
            facts.transferred or facts.escalated or facts.reopened
        )
        self.return_visited += facts.closed and facts.return_visited
        self.return_visits_due += facts.closed and facts.return_visit_due
        self.auto_closed += facts.auto_closed
        self.responses += facts.responses
        self.satisfied += facts.satisfied
        self.scores.extend(facts.scores)
        self.breaches += facts.breaches

    def measures_of(self, key: dict[str, str], rate: ComplaintRate | None = None) -> GroupMeasures:
        def on_time(role: str) -> Ratio:
            numerator, denominator = self.on_time.get(role, (0, 0))
            return Ratio(numerator=numerator, denominator=denominator)

        def stats(role: str) -> DurationStats:
            values = self.hours.get(role, [])
            kinds = self.measures.get(role, set())
            measure: Measure = "none" if not kinds else "mixed" if len(kinds) > 1 else "elapsed"
            if kinds == {"business"}:
                measure = "business"
            return DurationStats(
                count=len(values),
                median_hours=_round(percentile(values, 0.5)),
                p90_hours=_round(percentile(values, 0.9)),
                measure=measure,
            )

        mean = sum(self.scores) / len(self.scores) if self.scores else None
        return GroupMeasures(
            key=key,
            volume=self.volume,
            acknowledged_on_time=on_time("acknowledge"),
            responded_on_time=on_time("respond"),
            resolved_on_time=on_time("resolve"),
            time_to_acknowledge=stats("acknowledge"),
            time_to_respond=stats("respond"),
            time_to_resolve=stats("resolve"),
            escalation_rate=Ratio(numerator=self.escalated, denominator=self.volume),
            reopen_rate=Ratio(numerator=self.reopened, denominator=self.resolved),
            first_contact_resolution=Ratio(numerator=self.first_contact, denominator=self.closed),
            satisfaction=Satisfaction(
                responses=self.responses,
                mean_score=_round(mean),
                satisfied=Ratio(numerator=self.satisfied, denominator=self.responses),
            ),
            return_visit_completion=Ratio(
                numerator=self.return_visited, denominator=self.return_visits_due
            ),
            closed_without_answer=Ratio(numerator=self.auto_closed, denominator=self.closed),
            breaches=self.breaches,
            complaint_rate=rate,
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def compute_measures(
    source: Engine | SqlStore,
    *,
    since: dt.datetime,
    until: dt.datetime,
    by: Sequence[str] = ("tier",),
    denominator: float | Mapping[str, float] | None = None,
    per: int = 1000,
    clocks: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
    timezone: str = "UTC",
    workflows: Mapping[str, Workflow] | Iterable[Workflow] | None = None,
    satisfied_score: float = 4,
    overdue_limit: int = 100,
    chunk_size: int = 500,
) -> Report:
    """The measures of the complaints received in ``[since, until)``, from their audit trail.

    Args:
        source: an :class:`~complaintflow.Engine` (its store, workflows and clock are
            used) or an :class:`~complaintflow.stores.SqlStore`.
        since, until: the range of receipt times, timezone-aware (``until`` excluded).
        by: the grouping: any of ``day``, ``week``, ``month`` (periods in ``timezone``),
            ``tier``, ``category``, ``channel``, ``owner``, ``team`` (the owner's role),
            ``workflow``. Empty: the total only.
        denominator: the host's volume to relate complaints to (orders, say): one number
            for the whole range, or a mapping from period label (``2026-03``,
            ``2026-W10``, ``2026-03-02``, as ``by`` cuts them) to a number; groups not
            split by period get the sum.
        per: the complaint rate is complaints per this many units of the denominator.
        clocks: which clock is measured as ``acknowledge``, ``respond`` and ``resolve``
            (default: the clocks of those names).
        now: what the report knows: audit records after it are ignored and running
            clocks are compared with it (default: the engine's clock, else the system's).
        timezone: the IANA zone periods are cut in.
        workflows: the workflows complaints follow, to know their final and feedback
            states (default: the engine's; without them the shipped workflows' state
            names are assumed).
        satisfied_score: a survey score at least this is a satisfied customer.
        overdue_limit: at most this many overdue clocks are listed.
        chunk_size: complaints read per query.

    Raises:
        InvalidInputError: an argument is invalid (the message says which and why).
        StoreError: the database failed.
    """
    store, known, default_now = _source(source, workflows)
    now = now if now is not None else default_now
    zone = _check(since, until, now, timezone, by, per, chunk_size, overdue_limit)
    roles = _clock_names(clocks)
    conventions = {key: Conventions.of(wf) for key, wf in known.items()}
    tz_unit = next((d for d in by if d in _PERIODS), None)
    unit: PeriodUnit = tz_unit or _auto_unit(since, until)

    total = _Acc()
    groups: dict[tuple[str, ...], _Acc] = {}
    tiers: dict[str, _Acc] = {}
    timeline: dict[str, int] = {}
    histogram = [0] * len(HISTOGRAM_EDGES)
    overdue: list[OverdueClock] = []
    followed: set[str] = set()
    for row, records in iter_histories(store, since=since, until=until, chunk_size=chunk_size):
        facts = fold(
            records,
            conventions.get(row.workflow, DEFAULT_CONVENTIONS),
            now=now,
            satisfied_score=satisfied_score,
        )
        total.add(facts, roles, now)
        followed.add(row.workflow)
        key = tuple(_value(row, d, zone) for d in by)
        groups.setdefault(key, _Acc()).add(facts, roles, now)
        tiers.setdefault(row.tier or NONE_LABEL, _Acc()).add(facts, roles, now)
        label = _period(row.opened_at, unit, zone)
        timeline[label] = timeline.get(label, 0) + 1
        for run in facts.runs.get(roles["resolve"], ()):
            if run.status == "stopped" and run.elapsed_seconds is not None and not run.cancelled:
                histogram[_bin(run.elapsed_seconds / 3600.0)] += 1
        overdue.extend(_overdue(row, facts.runs.values(), now))

    def rate(acc: _Acc, key: dict[str, str]) -> ComplaintRate | None:
        if denominator is None:
            return None
        if isinstance(denominator, Mapping):
            label = next((key[d] for d in _PERIODS if d in key), None)
            base = denominator.get(label, 0.0) if label else sum(denominator.values())
        else:
            base = denominator
        if not base:
            return None
        return ComplaintRate(
            complaints=acc.volume,
            denominator=float(base),
            per=per,
            rate=round(acc.volume / base * per, 4),
        )

    def measures(acc: _Acc, key: dict[str, str]) -> GroupMeasures:
        return acc.measures_of(key, rate(acc, key))

    overdue.sort(key=lambda o: (-o.overdue_hours, o.complaint_id, o.clock))
    return Report(
        since=since,
        until=until,
        now=now,
        timezone=timezone,
        by=tuple(by),
        clocks=dict(roles),
        satisfied_score=satisfied_score,
        total=measures(total, {}),
        groups=tuple(
            measures(acc, dict(zip(by, key, strict=True))) for key, acc in sorted(groups.items())
        ),
        by_tier=tuple(
            measures(tiers[t], {"tier": t}) for t in sorted(tiers, key=_tier_order(known))
        ),
        timeline_unit=unit,
        timeline=tuple(_timeline(since, until, unit, zone, timeline)),
        resolve_histogram=tuple(
            HistogramBin(
                lower_hours=lower,
                upper_hours=HISTOGRAM_EDGES[i + 1] if i + 1 < len(HISTOGRAM_EDGES) else None,
                count=histogram[i],
            )
            for i, lower in enumerate(HISTOGRAM_EDGES)
        ),
        overdue=tuple(overdue[:overdue_limit]),
        overdue_count=len(overdue),
        notes=tuple(_notes({k: wf for k, wf in known.items() if k in followed}, roles, known)),
    )


# --- arguments ------------------------------------------------------------------------


def _source(
    source: object, workflows: Mapping[str, Workflow] | Iterable[Workflow] | None
) -> tuple[SqlStore, dict[str, Workflow], dt.datetime]:
    if isinstance(source, Engine):
        store = source.store
        known = dict(source.workflows)
        now = source.clock.now()
    elif isinstance(source, SqlStore):
        store, known, now = source, {}, SystemClock().now()
    else:
        raise InvalidInputError("source", ["expected an Engine or an SqlStore"])
    if not isinstance(store, SqlStore):
        raise InvalidInputError("source", ["reports read an SqlStore (SQLite or PostgreSQL)"])
    if workflows is not None:
        items = workflows.values() if isinstance(workflows, Mapping) else workflows
        for wf in items:
            if not isinstance(wf, Workflow):
                raise InvalidInputError("workflows", ["expected compiled Workflow objects"])
            known[wf.key] = wf
    return store, known, now


def _check(
    since: object,
    until: object,
    now: object,
    timezone: str,
    by: Sequence[str],
    per: int,
    chunk_size: int,
    overdue_limit: int,
) -> ZoneInfo:
    errors = []
    for name, value in (("since", since), ("until", until), ("now", now)):
        if not isinstance(value, dt.datetime) or value.utcoffset() is None:
            errors.append(f"{name} must be a timezone-aware datetime")
    if not errors and since >= until:  # type: ignore[operator]
        errors.append("since must be earlier than until")
    if isinstance(by, str):
        errors.append(f"by must be a sequence of names, e.g. ({by!r},)")
    else:
        unknown = [d for d in by if d not in DIMENSIONS]
        if unknown:
            errors.append(
                f"unknown by {', '.join(map(repr, unknown))}; allowed: {', '.join(DIMENSIONS)}"
            )
        if len(set(by)) != len(by):
            errors.append("by names a dimension twice")
        if sum(d in _PERIODS for d in by) > 1:
            errors.append("by may name one period (day, week or month)")
    for name, number in (
        ("per", per),
        ("chunk_size", chunk_size),
        ("overdue_limit", overdue_limit),
    ):
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            errors.append(f"{name} must be a positive integer")
    zone = None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        errors.append(f"unknown time zone {timezone!r}; use an IANA name like Asia/Shanghai")
    if errors or zone is None:
        raise InvalidInputError("report arguments", errors)
    return zone


def _clock_names(clocks: Mapping[str, str] | None) -> dict[str, str]:
    names: dict[str, str] = {role: role for role in CLOCK_ROLES}
    if clocks is None:
        return names
    if not isinstance(clocks, Mapping):
        raise InvalidInputError("clocks", ["expected a mapping like {'resolve': 'handling'}"])
    unknown = [k for k in clocks if k not in CLOCK_ROLES]
    if unknown or not all(isinstance(v, str) and v for v in clocks.values()):
        raise InvalidInputError(
            "clocks",
            [f"keys must be {', '.join(CLOCK_ROLES)} and values clock names; got {dict(clocks)!r}"],
        )
    names.update(clocks)
    return names


# --- grouping ---------------------------------------------------------------------------


def _auto_unit(since: dt.datetime, until: dt.datetime) -> PeriodUnit:
    days = (until - since).days
    return "day" if days <= 62 else "week" if days <= 366 else "month"


def _period_start(at: dt.datetime, unit: PeriodUnit, zone: ZoneInfo) -> dt.date:
    day = at.astimezone(zone).date()
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _label(day: dt.date, unit: PeriodUnit) -> str:
    if unit == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return f"{day:%Y-%m}"
    return day.isoformat()


def _period(at: dt.datetime, unit: PeriodUnit, zone: ZoneInfo) -> str:
    return _label(_period_start(at, unit, zone), unit)


def _value(row: ComplaintRow, dimension: str, zone: ZoneInfo) -> str:
    if dimension in _PERIODS:
        return _period(row.opened_at, dimension, zone)
    value = {
        "tier": row.tier,
        "category": row.category,
        "channel": row.channel,
        "owner": row.owner,
        "team": row.owner_role,
        "workflow": row.workflow,
    }[dimension]
    return value or NONE_LABEL


def _timeline(
    since: dt.datetime, until: dt.datetime, unit: PeriodUnit, zone: ZoneInfo, counts: dict[str, int]
) -> Iterable[TimelinePoint]:
    day = _period_start(since, unit, zone)
    last = (until - dt.timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        label = _label(day, unit)
        start = dt.datetime.combine(day, dt.time(), zone)
        yield TimelinePoint(period=label, start=start, volume=counts.get(label, 0))
        if unit == "day":
            day += dt.timedelta(days=1)
        elif unit == "week":
            day += dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _tier_order(known: Mapping[str, Workflow]) -> Callable[[str], tuple[bool, int, str]]:
    levels: dict[str, int] = {}
    for wf in known.values():
        for name, spec in wf.tiers.items():
            levels[name] = min(levels.get(name, spec.level), spec.level)

    def key(tier: str) -> tuple[bool, int, str]:
        return (tier == NONE_LABEL, levels.get(tier, 99), tier)

    return key


def _bin(hours: float) -> int:
    index = 0
    for i, edge in enumerate(HISTOGRAM_EDGES):
        if hours >= edge:
            index = i
    return index


def _overdue(
    row: ComplaintRow, runs: Iterable[list[ClockRun]], now: dt.datetime
) -> Iterable[OverdueClock]:
    for clock_runs in runs:
        run = clock_runs[-1]
        if run.overdue(now) and run.deadline is not None:
            yield OverdueClock(
                complaint_id=row.id,
                clock=run.clock,
                tier=row.tier,
                owner=row.owner,
                deadline=run.deadline,
                overdue_hours=round((now - run.deadline).total_seconds() / 3600.0, 2),
            )


def _notes(
    followed: Mapping[str, Workflow], roles: Mapping[str, str], known: Mapping[str, Workflow]
) -> Iterable[str]:
    yield (
        "Times are hours in each clock's own measure: working hours of the workflow's "
        "business calendar for business targets (bd, bh), elapsed hours otherwise."
    )
    yield (
        "Complaints are counted in the period they were received and grouped by their "
        "current tier, category, owner and team."
    )
    if not known:
        yield (
            "No workflows given: final states closed/withdrawn, feedback step "
            "awaiting_feedback and withdrawal trigger withdraw are assumed."
        )
        return
    for role, name in roles.items():
        missing = sorted(wf.key for wf in followed.values() if name not in wf.clocks)
        if missing:
            yield f"{', '.join(missing)} has no clock {name!r}: nothing is counted as {role}."
