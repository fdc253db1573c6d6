"""Engine faults seeded by monkeypatching, each a bug the QA kit must find.

Each fault is a function that patches the library through pytest's ``monkeypatch`` (so the
patch is undone after the test) and says which built-in rule must catch it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from complaintflow import Workflow
from complaintflow.core import _apply
from complaintflow.core._apply import Change
from complaintflow.core._records import Actor, AuditRecord, Complaint
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import TriggerNotAllowedError
from complaintflow.store._sql import SqlStore, _SqlTransaction

Fault = Callable[[pytest.MonkeyPatch], None]


def clock_never_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock rules that never stop a clock: entering a stop state leaves it running."""
    original = _apply.apply_clock_rules

    def never_stop(
        workflow: Workflow, before: Complaint | None, after: Complaint, *args: Any, **kw: Any
    ) -> Any:
        clocks, events, changed = original(workflow, before, after, *args, **kw)
        previous = {c.name: c for c in after.clocks}
        kept = []
        for clock in clocks:
            old = previous.get(clock.name)
            if clock.status == "stopped" and old is not None and old.status != "stopped":
                kept.append(old)
                changed.discard(clock.name)
            else:
                kept.append(clock)
        events = [e for e in events if e.event != "stopped"]
        return tuple(kept), events, changed

    monkeypatch.setattr(_apply, "apply_clock_rules", never_stop)


def escalation_skips_a_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Escalation that jumps two levels of the chain (agent straight to supervisor)."""
    original = _apply._escalate

    def skip(workflow: Workflow, c: Complaint, b: Any, reason: str) -> Complaint:
        chain = workflow.escalation_chain
        position = chain.index(c.assignee_role) if c.assignee_role in chain else c.escalation_level
        level = min(position + 2, len(chain) - 1)
        if level <= position + 1:
            return original(workflow, c, b, reason)
        b.record(
            "effect",
            "escalate",
            c.state,
            c.state,
            {
                "escalation_level": level,
                "from_role": c.assignee_role or chain[position],
                "to_role": chain[level],
                "reason": reason,
            },
        )
        b.notify(chain[level], "escalated", {"reason": reason, "state": c.state})
        return dataclasses.replace(c, escalation_level=level, assignee_role=chain[level])

    monkeypatch.setattr(_apply, "_escalate", skip)


def breach_escalation_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """A breach escalation recorded as ``escalate`` from the state to itself, whatever the
    workflow's ``escalate`` transition says, and without that trigger's clock rules (a
    bug the kit found in the engine, since fixed)."""

    def in_place(
        workflow: Workflow, c: Complaint, b: Any, reason: str
    ) -> tuple[Complaint, str | None, bool]:
        if "system" in workflow.roles_for("escalate", c.state):
            b.record("transition", "escalate", c.state, c.state, {"reason": reason})
        return _apply._escalate(workflow, c, b, reason), None, False

    monkeypatch.setattr(_apply, "_system_escalation", in_place)


def timer_not_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change that arms a clock's next timer without cancelling the one pending."""
    original = _SqlTransaction.write

    def write(self: _SqlTransaction, change: Change) -> None:
        original(self, dataclasses.replace(change, cancel_clocks=frozenset()))

    monkeypatch.setattr(_SqlTransaction, "write", write)


def timer_cancelled_in_separate_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cancel of a clock's pending timer runs in a transaction of its own, after the
    change committed, and so also cancels the timer the change has just armed."""
    original_write = _SqlTransaction.write
    original_transaction = SqlStore.transaction

    def write(self: _SqlTransaction, change: Change) -> None:
        if change.cancel_clocks:
            self.__dict__.setdefault("deferred", []).append(
                (change.after.id, sorted(change.cancel_clocks), change.after.updated_at)
            )
        original_write(self, dataclasses.replace(change, cancel_clocks=frozenset()))

    @contextmanager
    def transaction(self: SqlStore) -> Iterator[Any]:
        with original_transaction(self) as tx:
            yield tx
        timers = self.tables.timers
        for complaint_id, clocks, at in tx.__dict__.get("deferred", []):
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(timers)
                    .where(
                        timers.c.complaint_id == complaint_id,
                        timers.c.status == "pending",
                        timers.c.clock.in_(clocks),
                    )
                    .values(status="cancelled", fired_at=at)
                )

    monkeypatch.setattr(_SqlTransaction, "write", write)
    monkeypatch.setattr(SqlStore, "transaction", transaction)


def transition_skips_feedback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that moves a complaint past the feedback step straight to closing."""
    original = Workflow.apply

    def apply(self: Workflow, obj: Any, trigger: str, choice: int = 0) -> str:
        state = original(self, obj, trigger, choice)
        feedback = self.spec.feedback
        if feedback is not None and state == feedback.state:
            closing = self.candidates(feedback.auto_close_trigger, feedback.state)
            obj.state = closing[0].dest_from(state)
        return str(obj.state)

    monkeypatch.setattr(Workflow, "apply", apply)


def forbidden_event_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that records an event not allowed from the state as an internal
    transition instead of refusing it."""
    original = _apply.fire

    def fire(
        workflow: Workflow,
        complaint: Complaint,
        trigger: str,
        actor: Actor,
        data: Any,
        **kw: Any,
    ) -> Change:
        try:
            return original(workflow, complaint, trigger, actor, data, **kw)
        except TriggerNotAllowedError:
            version = complaint.version + 1
            record = AuditRecord(
                complaint.id,
                version,
                0,
                kw["now"],
                "transition",
                actor.id,
                actor.role,
                trigger,
                complaint.state,
                complaint.state,
                dict(data),
            )
            after = dataclasses.replace(complaint, version=version, updated_at=kw["now"])
            return Change(complaint, after, (record,), trigger=trigger)

    monkeypatch.setattr(_apply, "fire", fire)


def refusal_leaves_a_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that logs a refused event into the audit trail (in a transaction of
    its own) before it raises: the refusal changes the complaint's history."""
    original = Engine.fire

    def fire(self: Engine, complaint_id: str, trigger: str, **kw: Any) -> Complaint:
        try:
            return original(self, complaint_id, trigger, **kw)
        except TriggerNotAllowedError as error:
            store = self.store
            assert isinstance(store, SqlStore)
            current = self.get(complaint_id)
            with store.engine.begin() as conn:
                conn.execute(
                    sa.insert(store.tables.audit).values(
                        complaint_id=complaint_id,
                        version=current.version,
                        seq=99,
                        at=self.clock.now(),
                        kind="effect",
                        actor="system",
                        role="system",
                        trigger="refused",
                        from_state=current.state,
                        to_state=current.state,
                        data={"trigger": trigger, "error": type(error).__name__},
                    )
                )
            raise

    monkeypatch.setattr(Engine, "fire", fire)


FAULTS: dict[str, tuple[Fault, str]] = {
    "clock never stops": (clock_never_stops, "clock-stops"),
    "escalation skips a level": (escalation_skips_a_level, "escalation-one-level"),
    "timer not cancelled": (timer_not_cancelled, "clock-timers"),
    "timer cancelled in a separate transaction": (
        timer_cancelled_in_separate_transaction,
        "clock-timers",
    ),
    "transition skips feedback": (transition_skips_feedback, "feedback-before-close"),
    "forbidden event accepted": (forbidden_event_accepted, "forbidden-event-refused"),
    "refusal leaves a trace": (refusal_leaves_a_trace, "refusal-changes-nothing"),
}
"""Each fault, and the rule that must catch it."""
