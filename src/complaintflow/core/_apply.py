"""Applying events to complaint snapshots: pure functions from (snapshot, event) to a Change.

A ``Change`` is everything one transaction must write: the new snapshot, its audit
records, the timers to cancel and arm, the notifications. Nothing here does I/O or
reads the time: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from complaintflow.core._clocks import (
    ClockEvent,
    WorkingTime,
    apply_clock_rules,
    fire_threshold,
    has_pending_timer,
    next_timer,
)
from complaintflow.core._conditions import failing_condition, field_value
from complaintflow.core._loop import (
    check_reopen_window,
    is_reopen,
    loop_timer_is_current,
    loop_timers,
    reopen_escalates,
)
from complaintflow.core._records import (
    Actor,
    AuditKind,
    AuditRecord,
    Complaint,
    Intake,
    Notification,
    TimerSpec,
    evolve,
    plain_json,
)
from complaintflow.definition._compile import CompiledTransition, Workflow
from complaintflow.definition._models import Action
from complaintflow.exceptions import (
    ComplaintflowError,
    GuardRejectedError,
    InvalidInputError,
    MissingFieldsError,
    PermissionDeniedError,
    TriggerNotAllowedError,
)

_COMPLAINT_FIELDS = ("tier", "category")


@dataclass(frozen=True)
class Change:
    """What one event does: to be written in one transaction, or not at all."""

    before: Complaint | None
    after: Complaint
    audit: tuple[AuditRecord, ...]
    cancel_clocks: frozenset[str] = frozenset()
    arm: tuple[TimerSpec, ...] = ()
    notifications: tuple[Notification, ...] = ()
    trigger: str | None = None


@dataclass
class _Builder:
    """Collects the pieces of a Change while an event is applied."""

    complaint: Complaint
    actor: Actor
    now: dt.datetime
    correlation_id: str | None
    idempotency_key: str | None
    version: int
    audit: list[AuditRecord] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def record(
        self,
        kind: AuditKind,
        trigger: str | None,
        from_state: str | None,
        to_state: str | None,
        data: Mapping[str, Any] | None = None,
        *,
        actor: Actor | None = None,
    ) -> None:
        who = actor or self.actor
        self.audit.append(
            AuditRecord(
                complaint_id=self.complaint.id,
                version=self.version,
                seq=len(self.audit),
                at=self.now,
                kind=kind,
                actor=who.id,
                role=who.role,
                trigger=trigger,
                from_state=from_state,
                to_state=to_state,
                data=dict(data or {}),
                correlation_id=self.correlation_id,
                idempotency_key=self.idempotency_key,
            )
        )

    def notify(self, role: str, kind: str, payload: Mapping[str, Any]) -> None:
        self.notifications.append(
            Notification(self.complaint.id, role, kind, self.now, dict(payload))
        )


def check_json(what: str, data: object) -> dict[str, Any]:
    """``data`` as a plain JSON dict with string keys (see ``plain_json``), or
    InvalidInputError."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(what, [f"expected a mapping, got {type(data).__name__}"])
    try:
        return plain_json(data)
    except ValueError as exc:
        raise InvalidInputError(what, [str(exc)]) from None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_classification(workflow: Workflow, data: Mapping[str, Any]) -> None:
    errors = []
    if "tier" in data:
        tier = data["tier"]
        if not isinstance(tier, str) or tier not in workflow.tiers:
            errors.append(f"tier {_show(tier)} is not one of {', '.join(workflow.tiers)}")
    if "category" in data:
        category = data["category"]
        if not isinstance(category, str) or category not in workflow.spec.categories:
            errors.append(
                f"category {_show(category)} is not one of {', '.join(workflow.spec.categories)}"
            )
    if errors:
        raise InvalidInputError("classification", errors)


def check_intake(workflow: Workflow, intake: Intake, actor: Actor) -> None:
    """Refuse an intake ``workflow`` cannot take from ``actor``.

    Raises:
        InvalidInputError: the actor's role, or the intake's tier or category, is not
            one of the workflow's.
    """
    if actor.role not in workflow.roles:
        raise InvalidInputError(
            "actor", [f"role {actor.role!r} is not one of {', '.join(workflow.roles)}"]
        )
    given = {"tier": intake.tier, "category": intake.category}
    _check_classification(workflow, {k: v for k, v in given.items() if v is not None})


def _classifying_triggers(workflow: Workflow) -> list[str]:
    found = {
        ct.trigger for ct in workflow.transitions if set(ct.spec.requires) & {"tier", "category"}
    }
    return sorted(found)


# --- actions ---------------------------------------------------------------------


def _escalate(workflow: Workflow, c: Complaint, b: _Builder, reason: str) -> Complaint:
    chain = workflow.escalation_chain
    # one level up from whoever is asked to act now: a tier handled by a manager escalates
    # to the level above the manager, never down to a group leader
    position = chain.index(c.assignee_role) if c.assignee_role in chain else c.escalation_level
    if position + 1 >= len(chain):
        b.record(
            "effect",
            "escalate",
            c.state,
            c.state,
            {"escalation": "at_top", "role": chain[-1], "reason": reason},
        )
        b.notify(chain[-1], "escalation_at_top", {"reason": reason, "state": c.state})
        return c
    level = position + 1
    role = chain[level]
    from_role = c.assignee_role or chain[position]
    b.notify(
        role,
        "escalated",
        {"from_role": from_role, "reason": reason, "state": c.state, "tier": c.tier},
    )
    b.record(
        "effect",
        "escalate",
        c.state,
        c.state,
        {
            "escalation_level": level,
            "from_role": from_role,
            "to_role": role,
            "reason": reason,
        },
    )
    return evolve(c, escalation_level=level, assignee_role=role)


def _set_tier(workflow: Workflow, c: Complaint, b: _Builder, tier: str) -> Complaint:
    if tier == c.tier:
        return c
    before = c.tier
    b.record("effect", "tier_changed", c.state, c.state, {"from_tier": before, "to_tier": tier})
    c = evolve(
        c,
        tier=tier,
        assignee_role=workflow.tiers[tier].handled_by
        if c.escalation_level == 0
        else c.assignee_role,
    )
    for action in workflow.tiers[tier].on_enter:
        c = _run_action(workflow, c, b, action, f"tier {tier}")
    return c


def _run_action(
    workflow: Workflow, c: Complaint, b: _Builder, action: Action, reason: str
) -> Complaint:
    kind = action.kind
    if kind == "notify":
        for role in action.notify or []:
            b.notify(role, "notified", {"reason": reason, "state": c.state, "tier": c.tier})
        return c
    if kind == "assign":
        return evolve(c, assignee_role=action.assign)
    if kind == "set_tier":
        assert action.set_tier is not None
        return _set_tier(workflow, c, b, action.set_tier)
    if kind == "raise_tier":
        levels = sorted(workflow.tiers, key=lambda t: workflow.tiers[t].level)
        current = levels.index(c.tier) if c.tier in levels else -1
        if current + 1 < len(levels):
            return _set_tier(workflow, c, b, levels[current + 1])
        return c
    return _escalate(workflow, c, b, reason)


# --- clocks and timers -------------------------------------------------------------


def _clock_effects(
    workflow: Workflow,
    before: Complaint | None,
    after: Complaint,
    trigger: str | None,
    b: _Builder,
    calendar: WorkingTime | None,
    extra_changed: frozenset[str] = frozenset(),
    clocks_from: dt.datetime | None = None,
    reopened: bool = False,
) -> tuple[Complaint, frozenset[str], tuple[TimerSpec, ...]]:
    """Clock rules for a change; ``clocks_from`` backdates clocks that start now (a
    complaint logged after it was received has used part of its time already), while
    the audit records keep the time of the change."""
    clocks, events, changed = apply_clock_rules(
        workflow, before, after, trigger, clocks_from or b.now, calendar, reopened=reopened
    )
    if clocks != after.clocks:
        after = evolve(after, clocks=clocks)
    _audit_clocks(b, after, events)
    changed |= extra_changed
    cancel = frozenset(
        name
        for name in changed
        if before is not None and has_pending_timer(before.clock(name), workflow.clocks[name])
    )
    arm = []
    for clock in clocks:
        if clock.name in changed:
            timer = next_timer(after.id, clock, workflow.clocks[clock.name], calendar)
            if timer is not None:
                arm.append(timer)
    return after, cancel, tuple(arm)


def _audit_clocks(b: _Builder, c: Complaint, events: list[ClockEvent]) -> None:
    for event in events:
        b.record(
            "clock",
            None,
            c.state,
            c.state,
            {"clock": event.clock, "event": event.event, **event.data},
        )


# --- operations ----------------------------------------------------------------------


def open_complaint(
    workflow: Workflow,
    intake: Intake,
    actor: Actor,
    *,
    complaint_id: str,
    now: dt.datetime,
    calendar: WorkingTime | None,
    dedup_key: str | None = None,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
) -> Change:
    """A new complaint in the workflow's initial state, owned by its first contact."""
    check_intake(workflow, intake, actor)
    # a receipt time ahead of our clock (a host clock running fast) counts as now
    received = min(intake.received_at or now, now)
    c = Complaint(
        id=complaint_id,
        workflow=workflow.key,
        state=workflow.initial_state,
        version=1,
        owner=actor.id,
        owner_role=actor.role,
        opened_at=received,
        updated_at=now,
        intake=intake,
        channel=intake.channel,
        category=intake.category,
        customer_ref=intake.customer_ref,
        dedup_key=dedup_key,
        assignee_role=workflow.escalation_chain[0] if workflow.escalation_chain else actor.role,
    )
    b = _Builder(c, actor, now, correlation_id, idempotency_key, version=1)
    b.record(
        "opened",
        None,
        None,
        c.state,
        {
            "channel": intake.channel,
            "owner": actor.id,
            "tier": intake.tier,
            "category": intake.category,
        },
    )
    if intake.tier is not None:
        c = _set_tier(workflow, c, b, intake.tier)
    # clocks count from receipt: a complaint logged late has used part of its time
    c, cancel, arm = _clock_effects(
        workflow, None, c, None, b, calendar, clocks_from=min(received, now)
    )
    return Change(None, c, tuple(b.audit), cancel, arm, tuple(b.notifications))


def _choose(
    workflow: Workflow,
    complaint: Complaint,
    trigger: str,
    actor: Actor,
    data: Mapping[str, Any],
    guard_args: Callable[[], tuple[Any, ...]],
) -> tuple[int, CompiledTransition]:
    candidates = workflow.candidates(trigger, complaint.state)
    if not candidates:
        raise TriggerNotAllowedError(
            complaint.id,
            trigger,
            complaint.state,
            workflow.allowed_triggers(complaint.state, actor.role),
        )
    permitted = [(i, ct) for i, ct in enumerate(candidates) if actor.role in ct.spec.roles]
    if not permitted:
        raise PermissionDeniedError(
            complaint.id, trigger, actor.role, workflow.roles_for(trigger, complaint.state)
        )
    missing = [
        name
        for name in permitted[0][1].spec.requires
        if field_value(complaint, data, name) is None
        or (name.startswith("data.") and name[5:] not in data)
    ]
    if missing:
        raise MissingFieldsError(complaint.id, trigger, missing)
    rejection: tuple[str, str] | None = None
    for index, ct in permitted:
        failed = failing_condition(ct.spec.conditions, complaint, data)
        if failed is not None:
            value = field_value(complaint, data, failed.field)
            rejection = rejection or (
                f"condition {failed.describe()}",
                f"{failed.field} is {_shown(failed.field, value)}",
            )
            continue
        refused = None
        for name, guard in ct.guards:
            verdict = guard(*guard_args())
            ok, reason = verdict if isinstance(verdict, tuple) else (bool(verdict), "")
            if not ok:
                refused = (f"guard {name!r}", reason or "the guard said no")
                break
        if refused is None:
            return index, ct
        rejection = rejection or refused
    assert rejection is not None
    raise GuardRejectedError(complaint.id, trigger, rejection[0], rejection[1])


def _shown(name: str, value: Any) -> str:
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if name.startswith(("data.", "intake.")):
        # free text a customer gave may be personal data, and messages end up in logs
        return f"a {type(value).__name__} (value not shown)"
    return _show(value)


class _Row:
    """The lightweight object the shared machine moves."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def fire(
    workflow: Workflow,
    complaint: Complaint,
    trigger: str,
    actor: Actor,
    data: Mapping[str, Any],
    *,
    now: dt.datetime,
    calendar: WorkingTime | None,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
) -> Change:
    """Apply ``trigger`` to ``complaint``: checks, state change, actions, clocks.

    Raises:
        TriggerNotAllowedError, PermissionDeniedError, MissingFieldsError,
        GuardRejectedError, InvalidInputError: nothing is to be written.
    """
    _check_classification(workflow, data)
    index, ct = _choose(workflow, complaint, trigger, actor, data, lambda: (complaint, dict(data)))
    stray = [k for k in _COMPLAINT_FIELDS if k in data]
    if stray and not set(ct.spec.requires) & set(_COMPLAINT_FIELDS):
        # otherwise any role could re-grade a complaint through, say, add_note
        raise InvalidInputError(
            "data",
            [
                f"{' and '.join(stray)} may only be set by a trigger that requires "
                f"tier or category ({', '.join(_classifying_triggers(workflow))}), "
                f"not by {trigger!r}"
            ],
        )
    check_reopen_window(workflow, complaint, trigger, ct.dest_from(complaint.state), now)
    version = complaint.version + 1
    b = _Builder(complaint, actor, now, correlation_id, idempotency_key, version)
    c, reopened = _move(
        workflow, complaint, b, index, ct, trigger, data, version=version, updated_at=now
    )
    c, cancel, arm = _clock_effects(workflow, complaint, c, trigger, b, calendar, reopened=reopened)
    loop_cancel, loop_arm = loop_timers(workflow, complaint, c, trigger, now, calendar)
    return Change(
        complaint,
        c,
        tuple(b.audit),
        cancel | loop_cancel,
        arm + loop_arm,
        tuple(b.notifications),
        trigger,
    )


def _move(
    workflow: Workflow,
    c: Complaint,
    b: _Builder,
    index: int,
    ct: CompiledTransition,
    trigger: str,
    data: Mapping[str, Any],
    *,
    keep_facts: bool = False,
    **fields: Any,
) -> tuple[Complaint, bool]:
    """The chosen transition applied to ``c``: state, facts, the transition record, the
    tier it sets and its actions. Returns the complaint and whether this reopened it.

    ``fields`` are set on the complaint too (in the same ``replace``: it is the costly
    part of a small change)."""
    row = _Row(c.state)
    workflow.apply(row, trigger, index)
    fields["state"] = row.state
    if not keep_facts:
        given = {k: v for k, v in data.items() if k not in _COMPLAINT_FIELDS}
        fields["facts"] = {**c.facts, **given}
    if "category" in data:
        fields["category"] = data["category"]
    reopened = is_reopen(workflow, c, row.state)
    if reopened:
        fields["reopen_count"] = c.reopen_count + 1
        fields["closed_at"] = None
    if workflow.is_final(row.state) and not workflow.is_final(c.state):
        fields["closed_at"] = b.now
    moved = evolve(c, **fields)
    b.record("transition", trigger, c.state, row.state, data)
    if "tier" in data:
        moved = _set_tier(workflow, moved, b, data["tier"])
    for action in ct.spec.actions:
        moved = _run_action(workflow, moved, b, action, str(data.get("reason", trigger)))
    if reopened and reopen_escalates(workflow, moved.reopen_count):
        moved = _escalate(workflow, moved, b, f"reopened {moved.reopen_count} times")
    return moved, reopened


def _system_escalation(
    workflow: Workflow, c: Complaint, b: _Builder, reason: str
) -> tuple[Complaint, str | None, bool]:
    """A breach escalation: the workflow's own ``escalate`` transition, fired by the
    system actor (state, actions and clock rules of that trigger apply), where the
    system may fire it now; otherwise an escalation effect in place.

    Returns the complaint, the trigger fired (or ``None``) and whether it reopened."""
    data = {"reason": reason}
    try:
        index, ct = _choose(workflow, c, "escalate", Actor.system(), data, lambda: (c, data))
        check_reopen_window(workflow, c, "escalate", ct.dest_from(c.state), b.now)
    except ComplaintflowError:
        return _escalate(workflow, c, b, reason), None, False
    moved, reopened = _move(workflow, c, b, index, ct, "escalate", data, keep_facts=True)
    if not any(action.kind == "escalate" for action in ct.spec.actions):
        moved = _escalate(workflow, moved, b, reason)
    return moved, "escalate", reopened


def timer_is_current(workflow: Workflow, complaint: Complaint, timer: TimerSpec) -> bool:
    """True when a due timer still applies to the complaint as it is now (its clock or
    loop step has not moved on); a timer that is not current is settled without effect."""
    if timer.clock.startswith("_"):
        return loop_timer_is_current(workflow, complaint, timer)
    clock = complaint.clock(timer.clock)
    return clock is not None and clock.running and clock.fired == timer.sequence


def record_survey(
    complaint: Complaint,
    score: int,
    comment: str,
    actor: Actor,
    *,
    now: dt.datetime,
    channel: str | None = None,
    correlation_id: str | None = None,
) -> Change:
    """A satisfaction survey answer (1-5) recorded against the complaint, in any state."""
    version = complaint.version + 1
    b = _Builder(complaint, actor, now, correlation_id, None, version)
    b.record(
        "survey",
        None,
        complaint.state,
        complaint.state,
        {"score": score, "comment": comment, "channel": channel},
    )
    after = evolve(complaint, version=version, updated_at=now)
    return Change(complaint, after, tuple(b.audit))


def transfer(
    complaint: Complaint,
    to_owner: Actor,
    actor: Actor,
    note: str,
    *,
    now: dt.datetime,
    kind: str = "transfer",
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
) -> Change:
    """Hand ``complaint`` to ``to_owner``, explicitly and on the record."""
    version = complaint.version + 1
    b = _Builder(complaint, actor, now, correlation_id, idempotency_key, version)
    b.record(
        "transfer",
        kind,
        complaint.state,
        complaint.state,
        {
            "from_owner": complaint.owner,
            "from_role": complaint.owner_role,
            "to_owner": to_owner.id,
            "to_role": to_owner.role,
            "note": note,
        },
    )
    after = evolve(
        complaint, owner=to_owner.id, owner_role=to_owner.role, version=version, updated_at=now
    )
    b.notify(to_owner.role, kind, {"to_owner": to_owner.id, "from_owner": complaint.owner})
    return Change(complaint, after, tuple(b.audit), notifications=tuple(b.notifications))


def record_contact(
    complaint: Complaint,
    intake: Intake,
    actor: Actor,
    *,
    now: dt.datetime,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
) -> Change:
    """A repeated contact about an open complaint joins it instead of opening another."""
    version = complaint.version + 1
    b = _Builder(complaint, actor, now, correlation_id, idempotency_key, version)
    b.record(
        "contact",
        None,
        complaint.state,
        complaint.state,
        {
            "channel": intake.channel,
            "reason": intake.reason,
            "demand": intake.demand,
            "received_at": (intake.received_at or now).isoformat(),
        },
    )
    after = evolve(
        complaint, contact_count=complaint.contact_count + 1, version=version, updated_at=now
    )
    return Change(complaint, after, tuple(b.audit))


def timer_fired(
    workflow: Workflow,
    complaint: Complaint,
    timer: TimerSpec,
    *,
    now: dt.datetime,
    calendar: WorkingTime | None,
) -> Change:
    """The effect of a due timer: for a clock, a warning, a breach (escalation) or a
    repeat; for the feedback step, the system's auto-close with its reason; for a
    return visit, a reminder to the complaint's owner."""
    if timer.kind == "feedback":
        feedback = workflow.spec.feedback
        assert feedback is not None
        assert feedback.no_answer_after is not None
        reason = f"no answer from the customer within {feedback.no_answer_after.describe()}"
        return fire(
            workflow,
            complaint,
            feedback.auto_close_trigger,
            Actor.system(),
            {"reason": reason, "timer": "feedback"},
            now=now,
            calendar=calendar,
        )
    if timer.kind == "return_visit":
        version = complaint.version + 1
        b = _Builder(complaint, Actor.system(), now, None, None, version)
        b.record(
            "timer",
            "return_visit_due",
            complaint.state,
            complaint.state,
            {
                "clock": timer.clock,
                "due_at": timer.due_at.isoformat(),
                "lag_seconds": round((now - timer.due_at).total_seconds(), 3),
            },
        )
        b.notify(
            complaint.owner_role,
            "return_visit_due",
            {"owner": complaint.owner, "closed_at": _iso(complaint.closed_at)},
        )
        after = evolve(complaint, version=version, updated_at=now)
        return Change(
            complaint,
            after,
            tuple(b.audit),
            notifications=tuple(b.notifications),
            trigger="return_visit_due",
        )
    clock = complaint.clock(timer.clock)
    spec = workflow.clocks[timer.clock]
    system = Actor.system()
    version = complaint.version + 1
    b = _Builder(complaint, system, now, None, None, version)
    assert clock is not None
    assert clock.running
    clock, kind = fire_threshold(clock, spec, now, calendar)
    c = evolve(
        complaint,
        version=version,
        updated_at=now,
        clocks=tuple(clock if x.name == clock.name else x for x in complaint.clocks),
    )
    b.record(
        "timer",
        kind,
        c.state,
        c.state,
        {
            "clock": timer.clock,
            "threshold": timer.threshold,
            "due_at": timer.due_at.isoformat(),
            "lag_seconds": round((now - timer.due_at).total_seconds(), 3),
        },
    )
    reason = f"clock {timer.clock} {'breached' if kind != 'warning' else 'warning'}"
    fired: str | None = None
    reopened = False
    if kind == "warning":
        roles = {c.assignee_role or c.owner_role}
        for role in sorted(r for r in roles if r):
            b.notify(
                role,
                "clock_warning",
                {
                    "clock": timer.clock,
                    "threshold": timer.threshold,
                    "deadline": _iso(clock.deadline),
                },
            )
    else:
        for role in spec.on_breach.notify:
            b.notify(
                role, "clock_breached", {"clock": timer.clock, "deadline": _iso(clock.deadline)}
            )
        if spec.on_breach.raise_tier:
            c = _run_action(workflow, c, b, Action(raise_tier=True), reason)
        if spec.on_breach.escalate:
            c, fired, reopened = _system_escalation(workflow, c, b, reason)
    c, cancel, arm = _clock_effects(
        workflow, complaint, c, fired, b, calendar, frozenset({timer.clock}), reopened=reopened
    )
    if fired is not None:
        loop_cancel, loop_arm = loop_timers(workflow, complaint, c, fired, now, calendar)
        cancel, arm = cancel | loop_cancel, arm + loop_arm
    return Change(complaint, c, tuple(b.audit), cancel, arm, tuple(b.notifications), kind)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
