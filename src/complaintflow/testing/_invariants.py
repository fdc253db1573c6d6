"""The lifecycle rules the QA kit checks after every step: built-in ones, and those a
workflow file declares under ``invariants:``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from complaintflow.core._records import AuditRecord, Complaint, Notification
from complaintflow.definition._models import InvariantSpec
from complaintflow.testing._facts import WorkflowFacts
from complaintflow.time._calendar import BusinessCalendar
from complaintflow.time._durations import Duration

BUILTIN_INVARIANTS: dict[str, str] = {
    "state-matches-audit": "the stored state is the destination of the last transition record",
    "audit-path": "the transition records are a path through the workflow graph, one per "
    "fired trigger, each fired by a role allowed to fire it",
    "audit-complete": "every version of a complaint has its audit records (nothing unrecorded)",
    "time-forward": "times in the audit trail never go backwards, nor past the clock",
    "refusal-documented": "a forbidden event raises the documented error for what is wrong",
    "refusal-changes-nothing": "a refused event changes nothing: version, history, timers, outbox",
    "forbidden-event-refused": "an event the workflow forbids is refused",
    "permitted-event-accepted": "an event the workflow permits is not refused for its state, "
    "role or the data it carries",
    "escalation-one-level": "escalation climbs one level of the chain at a time, on the record",
    "owner-accountable": "every complaint has an owner, changed only by a recorded transfer",
    "clock-timers": "a running clock with a target has exactly one pending timer, its next "
    "threshold; a paused or stopped clock has none",
    "clock-stops": "a clock stops when its stop state is entered or stop trigger fired, and "
    "in every final state",
    "loop-timers": "the feedback timer is pending exactly while waiting for feedback; at most "
    "one return-visit timer, only after closing",
    "feedback-before-close": "closing through the feedback step's exits comes from the "
    "feedback step (the customer's answer or the auto-close)",
    "one-complaint-per-matter": "a repeated contact about an open matter joins its complaint",
    "timers-swept": "after the sweeper ran, no timer that is due is still pending",
    "engine-error": "the engine raises only its documented errors",
}
"""The built-in rules, by name, with what each one says."""


@dataclass(frozen=True)
class Violation:
    """One rule broken by one complaint."""

    invariant: str
    complaint: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.complaint}: {self.message}"


class InvariantViolation(AssertionError):
    """A lifecycle rule was broken; the minimal counterexample is in ``story``.

    Attributes:
        invariant: the name of the (first) rule broken, built-in or declared.
        violations: every rule broken at the failing step.
        story: the steps that led there, as readable text.
        workflow: the workflow's ``name@version``.
    """

    def __init__(self, violations: Sequence[Violation], story: str, workflow: str) -> None:
        self.violations = tuple(violations)
        self.invariant = self.violations[0].invariant
        self.story = story
        self.workflow = workflow
        super().__init__(f"{workflow}: rule {self.invariant} broken\n{story}")

    @property
    def names(self) -> frozenset[str]:
        """The names of every rule broken at the failing step."""
        return frozenset(v.invariant for v in self.violations)


@cache
def violation_class(invariant: str) -> type[InvariantViolation]:
    """A subclass of :class:`InvariantViolation` for one rule: Hypothesis tells failures
    apart by their type, so it shrinks each broken rule on its own."""
    words = re.split(r"[^A-Za-z0-9]+", invariant)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) + "Violation"
    if not name[0].isalpha():
        name = "Rule" + name
    return type(name, (InvariantViolation,), {"__module__": __name__})


@dataclass(frozen=True)
class TimerRow:
    """A row of the timers table."""

    clock: str
    kind: str
    threshold: float | None
    sequence: int
    due_at: dt.datetime
    status: str


@dataclass(frozen=True)
class Observed:
    """One complaint as the store holds it: snapshot, history, timers, notifications."""

    complaint: Complaint
    history: Sequence[AuditRecord]
    timers: Sequence[TimerRow]
    notifications: Sequence[Notification]


def check(
    facts: WorkflowFacts,
    seen: Observed,
    alias: str,
    *,
    now: dt.datetime,
    calendar: BusinessCalendar | None,
    declared: bool = True,
) -> list[Violation]:
    """Every rule ``seen`` breaks (built-in, and the workflow's own with ``declared``)."""
    found: list[Violation] = []
    for name, rule in _RULES:
        found.extend(Violation(name, alias, m) for m in rule(facts, seen, now))
    if declared:
        for spec in facts.workflow.spec.invariants:
            found.extend(
                Violation(spec.name, alias, m) for m in _declared(facts, spec, seen, now, calendar)
            )
    return found


# --- built-in rules ---------------------------------------------------------------------


def _state_matches_audit(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    moves = [r for r in seen.history if r.kind in ("opened", "transition")]
    if not moves:
        return ["the audit trail has no opened record"]
    if moves[-1].to_state != seen.complaint.state:
        last = moves[-1]
        return [
            f"stored state is {seen.complaint.state!r} but the last {last.kind} record "
            f"({last.trigger or 'opened'}, version {last.version}) leads to {last.to_state!r}"
        ]
    return []


def _audit_path(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    wf = facts.workflow
    problems: list[str] = []
    state: str | None = None
    per_version: dict[int, int] = {}
    for i, r in enumerate(seen.history):
        if r.kind == "opened":
            if i != 0:
                problems.append(f"an opened record at version {r.version}, not first")
            if r.to_state != wf.initial_state:
                problems.append(f"opened in {r.to_state!r}, not the initial {wf.initial_state!r}")
            state = r.to_state
        elif r.kind == "transition":
            per_version[r.version] = per_version.get(r.version, 0) + 1
            source, dest, trigger = r.from_state or "", r.to_state or "", r.trigger or ""
            if source != state:
                problems.append(
                    f"{trigger} (version {r.version}) starts from {source!r}, "
                    f"but the complaint was in {state!r}"
                )
            if not facts.is_edge(trigger, source, dest):
                problems.append(
                    f"{trigger} (version {r.version}) goes {source} -> {dest}: the workflow "
                    "has no such transition"
                )
            elif r.role not in wf.roles_for(trigger, source):
                problems.append(
                    f"{trigger} (version {r.version}) was fired by role {r.role!r}, which "
                    f"may not fire it from {source!r}"
                )
            state = dest
        elif state is not None and (r.from_state != state or r.to_state != state):
            problems.append(
                f"a {r.kind} record (version {r.version}) moves {r.from_state} -> "
                f"{r.to_state} while the complaint was in {state!r}"
            )
    problems.extend(
        f"version {v} has {n} transition records (one per fired trigger)"
        for v, n in per_version.items()
        if n > 1
    )
    return problems


def _audit_complete(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    versions = sorted({r.version for r in seen.history})
    expected = list(range(1, seen.complaint.version + 1))
    if versions != expected:
        missing = sorted(set(expected) - set(versions))
        extra = sorted(set(versions) - set(expected))
        parts = []
        if missing:
            parts.append(f"versions {missing} have no audit record")
        if extra:
            parts.append(f"audit records of versions {extra} beyond the stored version")
        return [f"stored version {seen.complaint.version}: {'; '.join(parts)}"]
    return []


def _time_forward(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    problems = []
    previous: AuditRecord | None = None
    for r in seen.history:
        if previous is not None and r.at < previous.at:
            problems.append(
                f"version {r.version} ({r.kind} {r.trigger or ''}) is dated {r.at.isoformat()}, "
                f"before version {previous.version} ({previous.at.isoformat()})"
            )
        if r.at > now:
            problems.append(f"version {r.version} is dated {r.at.isoformat()}, after now")
        previous = r
    return problems


def _escalation_one_level(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    chain = facts.workflow.escalation_chain
    problems = []
    level = 0
    for r in seen.history:
        if r.kind != "effect" or r.trigger != "escalate" or "escalation_level" not in r.data:
            continue
        new, source, target = (
            r.data["escalation_level"],
            r.data.get("from_role"),
            r.data.get("to_role"),
        )
        base = chain.index(source) if source in chain else level
        if not isinstance(new, int) or target not in chain or chain.index(target) != new:
            problems.append(
                f"version {r.version} escalates to {target!r} at level {new!r}, which is not "
                f"that role's place in the chain {list(chain)}"
            )
        elif new != base + 1:
            skipped = list(chain[base + 1 : new]) if new > base else []
            problems.append(
                f"version {r.version} escalates {source} -> {target}: "
                + (f"skips {', '.join(skipped)}" if skipped else "not one level up")
            )
        level = new if isinstance(new, int) else level
    if seen.complaint.escalation_level != level:
        problems.append(
            f"stored escalation level is {seen.complaint.escalation_level}, but the audit trail "
            f"escalated to level {level}"
        )
    return problems


def _owner_accountable(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    c = seen.complaint
    owner: Any = None
    for r in seen.history:
        if r.kind == "opened":
            owner = r.data.get("owner")
        elif r.kind == "transfer":
            owner = r.data.get("to_owner")
    problems = []
    if not c.owner or not c.owner_role:
        problems.append(f"{'open' if c.closed_at is None else 'closed'} complaint has no owner")
    elif c.owner != owner:
        problems.append(
            f"owner is {c.owner!r} but the audit trail hands it to {owner!r} (ownership "
            "changed without a recorded transfer or handover)"
        )
    if c.owner_role and c.owner_role not in facts.workflow.roles:
        problems.append(f"owner's role {c.owner_role!r} is not a role of the workflow")
    return problems


def _expected_timer(facts: WorkflowFacts, seen: Observed, name: str) -> tuple[str, Any] | None:
    clock = seen.complaint.clock(name)
    spec = facts.workflow.clocks.get(name)
    if clock is None or spec is None or not clock.running or clock.target_seconds is None:
        return None
    levels = [*spec.warn_at, 100.0]
    if clock.fired < len(levels) - 1:
        return "warning", levels[clock.fired]
    if clock.fired == len(levels) - 1:
        return "breach", 100.0
    if spec.on_breach.repeat_every is not None and clock.breached_at is not None:
        return "repeat", None
    return None


def _clock_timers(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    problems = []
    names = {c.name for c in seen.complaint.clocks}
    for clock in seen.complaint.clocks:
        pending = [t for t in seen.timers if t.clock == clock.name and t.status == "pending"]
        expected = _expected_timer(facts, seen, clock.name)
        if expected is None:
            if pending:
                problems.append(
                    f"clock {clock.name} is {clock.status}"
                    f"{' with nothing left to fire' if clock.running else ''} but has "
                    f"{len(pending)} pending timer(s): {_timers(pending)}"
                )
            continue
        kind, threshold = expected
        if len(pending) != 1:
            problems.append(
                f"clock {clock.name} is running (target {clock.target}) but has "
                f"{len(pending)} pending timers{': ' + _timers(pending) if pending else ''}; "
                f"expected exactly one, its next threshold ({kind}"
                f"{f' at {threshold:g}%' if threshold else ''})"
            )
            continue
        timer = pending[0]
        if timer.sequence != clock.fired or timer.kind != kind or timer.threshold != threshold:
            problems.append(
                f"clock {clock.name}'s pending timer is {_timers([timer])} (sequence "
                f"{timer.sequence}); its next threshold is {kind}"
                f"{f' at {threshold:g}%' if threshold else ''} (sequence {clock.fired})"
            )
        elif (
            kind == "breach"
            and clock.deadline is not None
            and abs((timer.due_at - clock.deadline).total_seconds()) > 1
        ):
            problems.append(
                f"clock {clock.name}'s breach timer is due {timer.due_at.isoformat()}, "
                f"but its deadline is {clock.deadline.isoformat()}"
            )
    for timer in seen.timers:
        if (
            timer.status == "pending"
            and not timer.clock.startswith("_")
            and timer.clock not in names
        ):
            problems.append(f"a pending timer for clock {timer.clock}, which never started")
    return problems


def _timers(timers: Iterable[TimerRow]) -> str:
    return ", ".join(
        f"{t.kind}{f' {t.threshold:g}%' if t.threshold else ''} due {t.due_at:%m-%d %H:%M}"
        for t in timers
    )


def _clock_stops(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    wf = facts.workflow
    must_stop: dict[str, str] = {}
    for r in seen.history:
        if r.kind == "transition":
            entering = r.from_state != r.to_state
            final = wf.is_final(r.to_state or "")
            for name, spec in wf.clocks.items():
                if entering and final:
                    must_stop[name] = f"entering the final state {r.to_state}"
                elif entering and r.to_state in spec.stops_in:
                    must_stop[name] = f"entering {r.to_state} (stops_in)"
                elif r.trigger in spec.stops_on:
                    must_stop[name] = f"{r.trigger} firing (stops_on)"
        elif r.kind == "clock" and r.data.get("event") in ("started", "restarted", "continued"):
            must_stop.pop(str(r.data.get("clock")), None)
    problems = []
    for name, why in must_stop.items():
        clock = seen.complaint.clock(name)
        if clock is not None and clock.status != "stopped":
            problems.append(f"clock {name} should have stopped on {why} but is {clock.status}")
    return problems


def _loop_timers(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    c = seen.complaint
    wf = facts.workflow
    problems = []
    feedback = wf.spec.feedback
    waiting = [t for t in seen.timers if t.clock == "_feedback" and t.status == "pending"]
    if feedback is not None and feedback.no_answer_after is not None and c.state == feedback.state:
        if len(waiting) != 1:
            problems.append(
                f"waiting for feedback in {c.state} with {len(waiting)} pending feedback "
                "timers (expected one: the auto-close)"
            )
        elif waiting[0].sequence != c.reopen_count:
            problems.append(
                f"the pending feedback timer belongs to round {waiting[0].sequence}, "
                f"not the current round {c.reopen_count}"
            )
    elif waiting:
        problems.append(f"{len(waiting)} pending feedback timer(s) while in {c.state}")
    visits = [t for t in seen.timers if t.clock == "_return_visit" and t.status == "pending"]
    if len(visits) > 1:
        problems.append(f"{len(visits)} pending return-visit timers")
    if visits and not wf.is_final(c.state):
        problems.append(f"a pending return-visit timer while the complaint is open ({c.state})")
    return problems


def _feedback_before_close(facts: WorkflowFacts, seen: Observed, now: dt.datetime) -> list[str]:
    if facts.feedback_state is None:
        return []
    problems = []
    for r in seen.history:
        if (
            r.kind == "transition"
            and r.from_state != r.to_state
            and r.to_state in facts.feedback_exits
            and r.from_state != facts.feedback_state
            and not facts.bypasses_feedback(r.trigger or "", r.from_state or "", r.to_state)
        ):
            problems.append(
                f"{r.trigger} closed it ({r.from_state} -> {r.to_state}, version {r.version}) "
                f"without the feedback step {facts.feedback_state}"
            )
    return problems


_RULES = (
    ("state-matches-audit", _state_matches_audit),
    ("audit-path", _audit_path),
    ("audit-complete", _audit_complete),
    ("time-forward", _time_forward),
    ("escalation-one-level", _escalation_one_level),
    ("owner-accountable", _owner_accountable),
    ("clock-timers", _clock_timers),
    ("clock-stops", _clock_stops),
    ("loop-timers", _loop_timers),
    ("feedback-before-close", _feedback_before_close),
)


# --- declared rules ---------------------------------------------------------------------


def _stretches(
    spec: InvariantSpec, history: Sequence[AuditRecord], now: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The spans of time (from, until) in which the rule applied to the complaint."""
    states, tiers = set(spec.when.states), set(spec.when.tiers)
    state: str | None = None
    tier: str | None = None
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    start: dt.datetime | None = None
    by_version: dict[int, list[AuditRecord]] = {}
    for r in history:
        by_version.setdefault(r.version, []).append(r)
    for records in by_version.values():
        for r in records:
            if r.kind in ("opened", "transition"):
                state = r.to_state
            elif r.kind == "effect" and r.trigger == "tier_changed":
                tier = r.data.get("to_tier")
        applies = (not states or state in states) and (not tiers or tier in tiers)
        at = records[0].at
        if applies and start is None:
            start = at
        elif not applies and start is not None:
            spans.append((start, at))
            start = None
    if start is not None:
        spans.append((start, now))
    return spans


def _deadline(
    start: dt.datetime, within: Duration, calendar: BusinessCalendar | None
) -> dt.datetime:
    if within.is_business and calendar is not None:
        return calendar.add(start, within)
    return start + within.as_timedelta()


def _declared(
    facts: WorkflowFacts,
    spec: InvariantSpec,
    seen: Observed,
    now: dt.datetime,
    calendar: BusinessCalendar | None,
) -> list[str]:
    spans = _stretches(spec, seen.history, now)
    if not spans:
        return []
    c = seen.complaint
    problems = []
    currently = spans[-1][1] == now and (
        (not spec.when.states or c.state in spec.when.states)
        and (not spec.when.tiers or c.tier in spec.when.tiers)
    )
    condition = _when_text(spec)
    if currently:
        visited = {r.to_state for r in seen.history if r.kind in ("opened", "transition")}
        for state in spec.require.visited:
            if state not in visited:
                problems.append(f"{condition}, but it never was in {state}")
        for name in spec.require.fields:
            if c.value(name) is None:
                problems.append(f"{condition}, but {name} has no value")
        if spec.require.feedback_recorded and not _feedback_recorded(facts, seen.history):
            problems.append(f"{condition}, but no feedback of the customer was recorded")
    for need in spec.require.notified:
        for start, until in spans:
            told = [n.at for n in seen.notifications if n.role == need.role and n.at >= start]
            if need.within is None:
                if until == now and currently and not told:
                    problems.append(
                        f"{condition} since {start:%m-%d %H:%M}, but {need.role} was not notified"
                    )
                continue
            deadline = _deadline(start, need.within, calendar)
            if min(until, now) <= deadline:
                continue  # still time to notify (or the rule stopped applying first)
            if not any(at <= deadline for at in told):
                problems.append(
                    f"{condition} from {start:%m-%d %H:%M} UTC, but {need.role} was not notified "
                    f"within {need.within} (by {deadline:%m-%d %H:%M} UTC)"
                    + (f"; first told at {min(told):%m-%d %H:%M} UTC" if told else "")
                )
    return problems


def _when_text(spec: InvariantSpec) -> str:
    parts = []
    if spec.when.states:
        parts.append(f"in {' or '.join(spec.when.states)}")
    if spec.when.tiers:
        parts.append(f"tier {' or '.join(spec.when.tiers)}")
    return "complaint " + (" and ".join(parts) if parts else "exists")


def _feedback_recorded(facts: WorkflowFacts, history: Sequence[AuditRecord]) -> bool:
    return any(
        (
            r.kind == "transition"
            and r.from_state == facts.feedback_state
            and r.trigger != facts.auto_close
            and r.role != "system"
        )
        or r.kind == "survey"
        for r in history
    )
