"""One complaint's audit trail, folded into the facts the measures count.

Only the audit trail is read, so the measures agree with ``Engine.history``: the clock
records give each clock run (``started``/``restarted`` ... ``stopped`` with its
``elapsed_seconds``), the ``timer`` records its breaches, the ``transition`` records the
path through the states, ``effect`` records the escalations, ``transfer`` records the
changes of owner, ``survey`` records (when the workflow has them) the customers' scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from complaintflow.core._records import AuditRecord
from complaintflow.definition._compile import Workflow


@dataclass(frozen=True)
class Conventions:
    """What a workflow's states and triggers mean for the measures.

    Built from the workflow when it is loaded; otherwise the shipped workflows'
    names are assumed (see :data:`DEFAULT_CONVENTIONS`).
    """

    final_states: frozenset[str]
    feedback_state: str | None
    withdraw_triggers: frozenset[str]
    satisfied_triggers: frozenset[str] = frozenset({"customer_satisfied"})
    unsatisfied_triggers: frozenset[str] = frozenset({"customer_unsatisfied"})
    return_visit_triggers: frozenset[str] = frozenset(
        {"record_return_visit", "return_visit_reopen"}
    )
    auto_close_triggers: frozenset[str] = frozenset({"auto_close"})
    schedules_return_visits: bool = False

    @classmethod
    def of(cls, workflow: Workflow) -> Conventions:
        """The conventions of ``workflow``: its final and feedback states, the
        transitions that bypass feedback (withdrawals), its auto-close and return-visit
        triggers, and whether it schedules return visits (``return_visits:``)."""
        spec = workflow.spec
        feedback = spec.feedback.state if spec.feedback else None
        withdraw = frozenset(
            ct.trigger
            for ct in workflow.transitions
            if ct.spec.bypasses_feedback and ct.spec.dest in workflow.final_states
        )
        visits = set(DEFAULT_CONVENTIONS.return_visit_triggers)
        if spec.return_visits is not None:
            visits.add(spec.return_visits.record_trigger)
        auto = {spec.feedback.auto_close_trigger} if spec.feedback else set()
        return cls(
            workflow.final_states,
            feedback,
            withdraw,
            return_visit_triggers=frozenset(visits),
            auto_close_triggers=frozenset(auto | DEFAULT_CONVENTIONS.auto_close_triggers),
            schedules_return_visits=spec.return_visits is not None,
        )


DEFAULT_CONVENTIONS = Conventions(
    final_states=frozenset({"closed", "withdrawn"}),
    feedback_state="awaiting_feedback",
    withdraw_triggers=frozenset({"withdraw"}),
)


@dataclass
class ClockRun:
    """One run of one clock, from its (re)start to its stop or to now."""

    clock: str
    started_at: dt.datetime
    target: str | None
    deadline: dt.datetime | None
    status: str = "running"
    breached: bool = False
    overran: bool = False
    stopped_at: dt.datetime | None = None
    elapsed_seconds: float | None = None
    cancelled: bool = False

    @property
    def business(self) -> bool:
        return self.target is not None and self.target.endswith(("bd", "bh"))

    def late(self, now: dt.datetime) -> bool:
        """Breached, or counted past its deadline (a breach the sweeper had not fired)."""
        if self.breached or self.overran:
            return True
        return self.status == "running" and self.deadline is not None and now > self.deadline

    def overdue(self, now: dt.datetime) -> bool:
        """Running past its deadline at ``now``."""
        return self.status == "running" and self.deadline is not None and now > self.deadline

    def halt(self, at: dt.datetime) -> None:
        """The run stops counting at ``at`` (a pause or the stop)."""
        if self.deadline is not None and at > self.deadline:
            self.overran = True
        self.deadline = None


@dataclass
class Facts:
    """What the measures need to know about one complaint."""

    runs: dict[str, list[ClockRun]] = field(default_factory=dict)
    state: str | None = None
    escalated: bool = False
    transferred: bool = False
    reopened: int = 0
    reached_feedback: bool = False
    closed: bool = False
    auto_closed: bool = False
    return_visited: bool = False
    return_visit_due: bool = False
    scores: list[float] = field(default_factory=list)
    satisfied: int = 0
    responses: int = 0
    breaches: int = 0


def _score(data: Mapping[str, Any]) -> float | None:
    value = data.get("score")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def fold(
    records: Iterable[AuditRecord],
    conventions: Conventions,
    *,
    now: dt.datetime,
    satisfied_score: float,
) -> Facts:
    """The facts of one complaint's audit trail (in version and sequence order) up to ``now``."""
    facts = Facts()
    final = conventions.final_states
    feedback = conventions.feedback_state
    closing: str | None = None  # the trigger that last entered a final state
    withdrawn_versions: set[int] = set()
    for r in records:
        if r.at > now:
            continue
        if r.kind == "opened":
            facts.state = r.to_state
        elif r.kind == "transition":
            _transition(facts, r, conventions, satisfied_score)
            if r.to_state in final and r.from_state not in final:
                closing = r.trigger
                if r.trigger in conventions.withdraw_triggers:
                    withdrawn_versions.add(r.version)
            if r.from_state in final and r.to_state not in final:
                closing = None
        elif r.kind == "clock":
            _clock(facts, r, withdrawn_versions)
        elif r.kind == "timer":
            if r.trigger == "return_visit_due":
                facts.return_visit_due = True
            elif r.trigger in ("breach", "repeat"):
                run = _current(facts, r.data.get("clock"))
                if run is not None:
                    run.breached = True
                if r.trigger == "breach":
                    facts.breaches += 1
        elif r.kind == "effect":
            if r.trigger == "escalate":
                facts.escalated = True
        elif r.kind == "transfer":
            if r.trigger != "handover":
                facts.transferred = True
        elif r.kind == "survey":
            score = _score(r.data)
            if score is not None:
                facts.responses += 1
                facts.scores.append(score)
                facts.satisfied += score >= satisfied_score
    in_final = facts.state in final
    facts.closed = in_final and closing not in conventions.withdraw_triggers
    facts.auto_closed = facts.closed and closing in conventions.auto_close_triggers
    if feedback is None and facts.closed:
        facts.reached_feedback = True
    # without return-visit timers every closed complaint is due a visit
    if facts.return_visited or not conventions.schedules_return_visits:
        facts.return_visit_due = True
    return facts


def _transition(
    facts: Facts, r: AuditRecord, conventions: Conventions, satisfied_score: float
) -> None:
    final = conventions.final_states
    feedback = conventions.feedback_state
    source, dest = r.from_state, r.to_state
    if dest == feedback or (dest in final and r.trigger not in conventions.withdraw_triggers):
        facts.reached_feedback = True
    if (
        source != dest
        and dest not in final
        and dest != feedback
        and (source in final or source == feedback)
    ):
        facts.reopened += 1
    if r.trigger in conventions.satisfied_triggers or r.trigger in conventions.unsatisfied_triggers:
        facts.responses += 1
        facts.satisfied += r.trigger in conventions.satisfied_triggers
        score = _score(r.data)
        if score is not None:
            facts.scores.append(score)
    if r.trigger in conventions.return_visit_triggers:
        facts.return_visited = True
    facts.state = dest


def _current(facts: Facts, clock: object) -> ClockRun | None:
    runs = facts.runs.get(clock) if isinstance(clock, str) else None
    return runs[-1] if runs else None


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _clock(facts: Facts, r: AuditRecord, withdrawn_versions: set[int]) -> None:
    name = r.data.get("clock")
    event = r.data.get("event")
    if not isinstance(name, str):
        return
    if event in ("started", "restarted") or (event == "continued" and not facts.runs.get(name)):
        target = r.data.get("target")
        facts.runs.setdefault(name, []).append(
            ClockRun(
                name,
                r.at,
                target if isinstance(target, str) else None,
                _time(r.data.get("deadline")),
            )
        )
        return
    run = _current(facts, name)
    if event == "continued" and run is not None:
        # a reopened complaint's clock goes on with the time it had counted: the same run
        target = r.data.get("target")
        run.status, run.stopped_at, run.elapsed_seconds = "running", None, None
        run.target = target if isinstance(target, str) else None
        run.deadline = _time(r.data.get("deadline"))
        return
    if run is None or run.status == "stopped":
        return
    if event == "paused":
        run.halt(r.at)
        run.status = "paused"
    elif event == "resumed":
        run.status = "running"
        run.deadline = _time(r.data.get("deadline"))
    elif event == "retargeted":
        target = r.data.get("target")
        run.target = target if isinstance(target, str) else None
        run.deadline = _time(r.data.get("deadline"))
    elif event == "stopped":
        run.halt(r.at)
        run.status = "stopped"
        run.stopped_at = r.at
        elapsed = r.data.get("elapsed_seconds")
        if isinstance(elapsed, int | float) and not isinstance(elapsed, bool):
            run.elapsed_seconds = float(elapsed)
        # a withdrawal stops every clock; such a run met no target and missed none
        run.cancelled = r.version in withdrawn_versions


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) of ``values``, linear between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
