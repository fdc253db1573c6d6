"""SLA clock rules: start, pause, resume, stop, retarget, and the one next timer of each clock.

Invariant kept here: a running clock with a target has exactly one pending timer (its
next threshold); a paused or stopped clock has none. Every change to a clock cancels
its pending timer and arms the next one in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from complaintflow.core._conditions import conditions_hold
from complaintflow.core._records import ClockState, Complaint, TimerKind, TimerSpec, evolve
from complaintflow.definition._compile import Workflow
from complaintflow.definition._models import ClockSpec
from complaintflow.time._durations import Duration


class WorkingTime(Protocol):
    """What clocks need of a business calendar."""

    def add(self, start: dt.datetime, duration: Duration | dt.timedelta) -> dt.datetime: ...

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta: ...

    def add_working_time(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime: ...


@dataclass(frozen=True)
class ClockEvent:
    """Something that happened to a clock, for the audit trail."""

    clock: str
    event: str
    data: dict[str, Any]


def target_for(workflow: Workflow, name: str, tier: str | None) -> Duration | None:
    """The clock's target for ``tier``: the tier's own, else the clock's default."""
    if tier is not None and name in workflow.tiers[tier].clocks:
        return workflow.tiers[tier].clocks[name]
    return workflow.clocks[name].target


def _measure_target(
    target: Duration | None, start: dt.datetime, calendar: WorkingTime | None
) -> tuple[bool, float | None]:
    if target is None:
        return False, None
    if target.unit == "bd":
        assert calendar is not None, "validated: business durations need a calendar"
        end = calendar.add(start, target)
        return True, calendar.elapsed(start, end).total_seconds()
    if target.unit == "bh":
        return True, float(target.amount * 3600)
    return False, target.as_timedelta().total_seconds()


def measure(clock: ClockState, now: dt.datetime, calendar: WorkingTime | None) -> float:
    """Seconds counted so far, in the clock's own measure (business or elapsed)."""
    if clock.business:
        total = clock.accrued_business
        if clock.running and clock.resumed_at is not None and calendar is not None:
            total += calendar.elapsed(clock.resumed_at, now).total_seconds()
        return total
    total = clock.accrued_wall
    if clock.running and clock.resumed_at is not None:
        total += max(0.0, (now - clock.resumed_at).total_seconds())
    return total


def _accrue(clock: ClockState, now: dt.datetime, calendar: WorkingTime | None) -> ClockState:
    if not clock.running or clock.resumed_at is None:
        return clock
    wall = clock.accrued_wall + max(0.0, (now - clock.resumed_at).total_seconds())
    business = clock.accrued_business
    if calendar is not None:
        business += calendar.elapsed(clock.resumed_at, now).total_seconds()
    return evolve(clock, accrued_wall=wall, accrued_business=business, resumed_at=None)


def _reach(clock: ClockState, seconds: float, calendar: WorkingTime | None) -> dt.datetime:
    """When a running clock's measure reaches ``seconds``."""
    assert clock.resumed_at is not None
    accrued = clock.accrued_business if clock.business else clock.accrued_wall
    remaining = dt.timedelta(seconds=max(0.0, seconds - accrued))
    if clock.business:
        assert calendar is not None
        return calendar.add_working_time(clock.resumed_at, remaining)
    return clock.resumed_at + remaining


def thresholds(spec: ClockSpec) -> list[float]:
    """Percentages at which a timer fires: the warnings, then 100 (the breach)."""
    return [*spec.warn_at, 100.0]


def has_pending_timer(clock: ClockState | None, spec: ClockSpec) -> bool:
    """True when the clock, as stored, has a pending timer (see :func:`next_timer`)."""
    if clock is None or not clock.running or clock.target_seconds is None:
        return False
    if clock.fired < len(thresholds(spec)):
        return True
    return spec.on_breach.repeat_every is not None and clock.breached_at is not None


def next_timer(
    complaint_id: str, clock: ClockState, spec: ClockSpec, calendar: WorkingTime | None
) -> TimerSpec | None:
    """The one timer a clock needs now, or ``None`` (paused, stopped, no target, done)."""
    if not clock.running or clock.target_seconds is None:
        return None
    levels = thresholds(spec)
    if clock.fired < len(levels):
        percent = levels[clock.fired]
        due = _reach(clock, clock.target_seconds * percent / 100.0, calendar)
        kind: TimerKind = "breach" if clock.fired == len(levels) - 1 else "warning"
        return TimerSpec(complaint_id, clock.name, kind, due, percent, clock.fired)
    repeat = spec.on_breach.repeat_every
    if repeat is None or clock.breached_at is None:
        return None
    due = clock.breached_at
    for _ in range(clock.fired - len(levels) + 1):
        due = calendar.add(due, repeat) if calendar is not None else due + repeat.as_timedelta()
    return TimerSpec(complaint_id, clock.name, "repeat", due, None, clock.fired)


def _with_deadline(clock: ClockState, calendar: WorkingTime | None) -> ClockState:
    if clock.running and clock.target_seconds is not None:
        return evolve(clock, deadline=_reach(clock, clock.target_seconds, calendar))
    return evolve(clock, deadline=None)


def apply_clock_rules(
    workflow: Workflow,
    before: Complaint | None,
    after: Complaint,
    trigger: str | None,
    now: dt.datetime,
    calendar: WorkingTime | None,
    *,
    reopened: bool = False,
) -> tuple[tuple[ClockState, ...], list[ClockEvent], set[str]]:
    """The clocks after a change, what happened to them, and which changed.

    A stopped clock started again by a reopening change restarts from zero, or, with
    ``on_reopen: continue``, goes on with the time it had counted.

    Args:
        before: the complaint before the change (``None`` when it is being opened).
        after: the complaint after the change, clocks not yet updated.
        trigger: the trigger fired (``None`` when opening).
    """
    entering = before is None or before.state != after.state
    tier_changed = before is not None and before.tier != after.tier
    final = workflow.is_final(after.state)
    clocks = {c.name: c for c in after.clocks}
    events: list[ClockEvent] = []
    changed: set[str] = set()
    for name, spec in workflow.clocks.items():
        clock = clocks.get(name)
        active = clock is not None and clock.status != "stopped"
        stops = (trigger is not None and trigger in spec.stops_on) or (
            entering and (after.state in spec.stops_in or final)
        )
        if clock is not None and active and stops:
            # a stopped clock has no deadline (what _with_deadline would say)
            clock = evolve(
                _accrue(clock, now, calendar), status="stopped", stopped_at=now, deadline=None
            )
            events.append(ClockEvent(name, "stopped", {"elapsed_seconds": _report(clock)}))
            changed.add(name)
            clocks[name] = clock
            continue
        starts = (trigger is not None and trigger in spec.starts_on) or (
            entering and after.state in spec.starts_in
        )
        if starts and not active and not final and conditions_hold(spec.when, after, {}):
            target = target_for(workflow, name, after.tier)
            resume = clock is not None and reopened and spec.on_reopen == "continue"
            started = clock.started_at if clock is not None and resume else now
            business, seconds = _measure_target(target, started, calendar)
            paused = after.state in workflow.clock_pause_states[name]
            clock = ClockState(
                name=name,
                status="paused" if paused else "running",
                started_at=started,
                resumed_at=None if paused else now,
                accrued_wall=clock.accrued_wall if clock is not None and resume else 0.0,
                accrued_business=clock.accrued_business if clock is not None and resume else 0.0,
                fired=clock.fired if clock is not None and resume else 0,
                breached_at=clock.breached_at if clock is not None and resume else None,
                target=str(target) if target else None,
                business=business,
                target_seconds=seconds,
            )
            if clock.running and seconds is not None:  # else no deadline, as built
                clock = evolve(clock, deadline=_reach(clock, seconds, calendar))
            events.append(
                ClockEvent(
                    name,
                    "continued" if resume else "restarted" if name in clocks else "started",
                    {"target": clock.target, "deadline": _iso(clock.deadline)},
                )
            )
            changed.add(name)
            clocks[name] = clock
            continue
        if clock is None or not active:
            continue
        paused = after.state in workflow.clock_pause_states[name]
        if clock.running and paused:
            clock = evolve(_accrue(clock, now, calendar), status="paused", deadline=None)
            events.append(ClockEvent(name, "paused", {}))
            changed.add(name)
        elif clock.status == "paused" and not paused:
            clock = _with_deadline(evolve(clock, status="running", resumed_at=now), calendar)
            events.append(ClockEvent(name, "resumed", {"deadline": _iso(clock.deadline)}))
            changed.add(name)
        if tier_changed:
            target = target_for(workflow, name, after.tier)
            if (str(target) if target else None) != clock.target:
                business, seconds = _measure_target(target, clock.started_at, calendar)
                if business != clock.business and clock.running:
                    # the measure changes kind: keep what was counted, in the new measure
                    clock = _accrue(clock, now, calendar)
                    clock = evolve(clock, resumed_at=now)
                clock = evolve(
                    clock,
                    target=str(target) if target else None,
                    business=business,
                    target_seconds=seconds,
                )
                clock = _with_deadline(clock, calendar)
                events.append(
                    ClockEvent(
                        name,
                        "retargeted",
                        {"target": clock.target, "deadline": _iso(clock.deadline)},
                    )
                )
                changed.add(name)
        clocks[name] = clock
    order = workflow.clock_order
    return tuple(sorted(clocks.values(), key=lambda c: order[c.name])), events, changed


def fire_threshold(
    clock: ClockState, spec: ClockSpec, now: dt.datetime, calendar: WorkingTime | None
) -> tuple[ClockState, str]:
    """Record that the clock's next threshold was reached; returns the clock and the kind
    (``warning``, ``breach`` or ``repeat``)."""
    levels = thresholds(spec)
    if clock.fired < len(levels) - 1:
        kind = "warning"
    elif clock.fired == len(levels) - 1:
        kind = "breach"
    else:
        kind = "repeat"
    if kind == "breach":
        return evolve(clock, fired=clock.fired + 1, breached_at=clock.deadline or now), kind
    return evolve(clock, fired=clock.fired + 1), kind


def _report(clock: ClockState) -> float:
    return round(clock.accrued_business if clock.business else clock.accrued_wall, 3)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
