"""What the QA kit derives once from a workflow: people's roles, the way forward, data rules."""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from complaintflow.definition._compile import CompiledTransition, Workflow
from complaintflow.definition._models import SYSTEM_ROLE, Condition

COMPLAINT_SETTABLE = ("tier", "category")
"""Complaint fields an event's data may set (through a trigger that requires them)."""


@dataclass(frozen=True)
class Option:
    """A transition a person in ``role`` may fire from ``state``."""

    trigger: str
    state: str
    role: str
    transition: CompiledTransition


class WorkflowFacts:
    """Facts about one workflow that the strategies and the state machine need."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.feedback_state = workflow.spec.feedback.state if workflow.spec.feedback else None
        self.auto_close = (
            workflow.spec.feedback.auto_close_trigger if workflow.spec.feedback else None
        )

    @cached_property
    def human_roles(self) -> tuple[str, ...]:
        """The workflow's roles of people (every role but ``system``)."""
        return tuple(r for r in self.workflow.roles if r != SYSTEM_ROLE)

    def options(self, state: str) -> list[Option]:
        """Every (trigger, role) that may be fired from ``state``, in file order: by
        people, and by the ``system`` role where a transition lists it beside people's
        roles (a host's integrations act as ``system`` too; a transition for the system
        alone, such as the feedback auto-close, is left to the system's own timers)."""
        found = []
        for trigger in self.workflow.allowed_triggers(state):
            seen: set[str] = set()
            for ct in self.workflow.candidates(trigger, state):
                shared = any(r != SYSTEM_ROLE for r in ct.spec.roles)
                for role in ct.spec.roles:
                    if role not in seen and (shared or role != SYSTEM_ROLE):
                        seen.add(role)
                        found.append(Option(trigger, state, role, ct))
        return found

    def first_permitted(self, trigger: str, state: str, role: str) -> CompiledTransition | None:
        """The candidate whose ``requires`` the engine checks for ``role`` (the first in
        file order that lists the role)."""
        for ct in self.workflow.candidates(trigger, state):
            if role in ct.spec.roles:
                return ct
        return None

    def requires(self, trigger: str, state: str, role: str) -> list[str]:
        """Every field some candidate of ``trigger`` from ``state`` for ``role`` requires."""
        names: dict[str, None] = {}
        for ct in self.workflow.candidates(trigger, state):
            if role in ct.spec.roles:
                names.update(dict.fromkeys(ct.spec.requires))
        return list(names)

    @cached_property
    def _distances(self) -> dict[str, int]:
        """Steps from each state to a final state, through the feedback step
        (transitions that bypass feedback do not count as the way forward)."""
        reverse: dict[str, set[str]] = {}
        for ct in self.workflow.transitions:
            if ct.spec.bypasses_feedback:
                continue
            for src in ct.sources:
                dest = ct.dest_from(src)
                if dest != src:
                    reverse.setdefault(dest, set()).add(src)
        distance = dict.fromkeys(self.workflow.final_states, 0)
        queue = deque(distance)
        while queue:
            state = queue.popleft()
            for src in reverse.get(state, ()):
                if src not in distance:
                    distance[src] = distance[state] + 1
                    queue.append(src)
        return distance

    def distance(self, state: str) -> int:
        """How many transitions from ``state`` to closing (large when there is no way)."""
        return self._distances.get(state, 10_000)

    def forward(self, state: str) -> list[Option]:
        """The options from ``state`` that bring a complaint nearer to closing, by people
        (what the system does on its own, such as the feedback auto-close, its timers do)."""
        here = self.distance(state)
        return [
            o
            for o in self.options(state)
            if self.distance(o.transition.dest_from(state)) < here
            and not o.transition.spec.bypasses_feedback
            and o.role != SYSTEM_ROLE
        ]

    @cached_property
    def feedback_exits(self) -> frozenset[str]:
        """Final states the feedback step's outgoing transitions lead to."""
        if self.feedback_state is None:
            return frozenset()
        return frozenset(
            ct.dest_from(self.feedback_state)
            for ct in self.workflow.transitions
            if self.feedback_state in ct.sources
            and self.workflow.is_final(ct.dest_from(self.feedback_state))
        )

    def bypasses_feedback(self, trigger: str, source: str, dest: str) -> bool:
        """True when a transition ``trigger`` from ``source`` to ``dest`` is marked
        ``bypasses_feedback``."""
        return any(
            ct.spec.bypasses_feedback and ct.dest_from(source) == dest
            for ct in self.workflow.candidates(trigger, source)
        )

    def is_edge(self, trigger: str, source: str, dest: str) -> bool:
        """True when the workflow has a transition ``trigger`` from ``source`` to ``dest``."""
        return any(ct.dest_from(source) == dest for ct in self.workflow.candidates(trigger, source))

    @cached_property
    def trigger_roles(self) -> Mapping[str, tuple[str, ...]]:
        """People's roles that may fire each trigger from some state."""
        roles: dict[str, dict[str, None]] = {}
        for ct in self.workflow.transitions:
            roles.setdefault(ct.trigger, {}).update(
                dict.fromkeys(r for r in ct.spec.roles if r != SYSTEM_ROLE)
            )
        return {t: tuple(r) for t, r in roles.items()}


def data_conditions(ct: CompiledTransition, key: str) -> list[Condition]:
    """The transition's conditions on the event data value ``key``."""
    return [c for c in ct.spec.conditions if c.field == f"data.{key}"]


def violating_value(condition: Condition) -> Any | None:
    """A non-null value for which ``condition`` fails, or ``None`` when there is none."""
    op = condition.operator
    operand = condition.operand(op)
    if op == "equals":
        return 0 if isinstance(operand, str) else f"not {operand}"
    if op == "in":
        return "none of these"
    if op == "not_equals":
        return operand
    if op == "not_in":
        values: Sequence[Any] = operand
        return values[0] if values else None
    if op in ("gte", "gt"):
        return int(operand) - 1
    if op in ("lte", "lt"):
        return int(operand) + 1
    if op == "exists":
        return "a value" if operand is False else None
    return None


_FACTS: weakref.WeakKeyDictionary[Workflow, WorkflowFacts] = weakref.WeakKeyDictionary()


def facts_of(workflow: Workflow) -> WorkflowFacts:
    """The facts of ``workflow``, derived once and shared while it lives."""
    facts = _FACTS.get(workflow)
    if facts is None:
        facts = _FACTS[workflow] = WorkflowFacts(workflow)
    return facts
