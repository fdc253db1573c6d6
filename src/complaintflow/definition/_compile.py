"""Compiled workflows: one shared ``transitions`` machine per workflow version."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from transitions import Machine

from complaintflow.definition._models import (
    ANY_STATE,
    SYSTEM_ROLE,
    CalendarSpec,
    ClockSpec,
    StateSpec,
    TierSpec,
    TransitionSpec,
    WorkflowSpec,
)
from complaintflow.definition._semantics import did_you_mean
from complaintflow.exceptions import Problem, WorkflowValidationError

Guard = Callable[..., "bool | tuple[bool, str]"]
"""A named guard registered by the host: gets the complaint and event data, says yes or no.

It returns ``True``/``False``, or ``(False, reason)`` to explain a refusal.
"""


class HasState(Protocol):
    """Anything with a mutable ``state`` attribute: what a trigger is applied to."""

    state: str


def _quiet_transitions_loggers() -> None:
    # transitions logs every trigger at INFO/DEBUG; a host running at INFO would pay ~4x per
    # event. Raise only loggers the host has not configured itself.
    for name in ("transitions", "transitions.core"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def _unregistered(name: str) -> Guard:
    def refuse(*_args: Any) -> tuple[bool, str]:
        return False, f"guard {name!r} is not registered by the host"

    return refuse


class _Choice:
    """Condition callable that picks one of several transitions sharing trigger and source."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, *args: Any, choice: int = -1, **kwargs: Any) -> bool:
        return choice == self.index


@dataclass(frozen=True)
class CompiledTransition:
    """One transition of the workflow, with its place in the file and its guards resolved."""

    index: int
    spec: TransitionSpec
    sources: tuple[str, ...]
    guards: tuple[tuple[str, Guard], ...]

    @property
    def trigger(self) -> str:
        return self.spec.trigger

    @property
    def internal(self) -> bool:
        """True when the state does not change."""
        return self.spec.dest is None

    def dest_from(self, source: str) -> str:
        """The state after firing from ``source``."""
        return self.spec.dest or source


class Workflow:
    """A validated workflow, compiled once and shared by every complaint that follows it.

    It holds no per-complaint data: triggers are applied to any small object with a
    ``state`` attribute, so memory does not grow with the number of complaints.
    """

    def __init__(
        self,
        spec: WorkflowSpec,
        *,
        calendars: Mapping[str, CalendarSpec] | None = None,
        guards: Mapping[str, Guard] | None = None,
        file: str = "<string>",
        require_guards: bool = True,
    ) -> None:
        _quiet_transitions_loggers()
        self.spec = spec
        self.file = file
        self.calendars: dict[str, CalendarSpec] = dict(calendars or {})
        self.calendars.update(spec.calendars)
        registered = dict(guards or {})
        self._states: dict[str, StateSpec] = {s.name: s for s in spec.states}
        self.initial_state = next(s.name for s in spec.states if s.initial)
        self.final_states = frozenset(s.name for s in spec.states if s.final)
        self.waiting_states = frozenset(s.name for s in spec.states if s.waiting_on_customer)
        problems: list[Problem] = []
        compiled: list[CompiledTransition] = []
        for index, t in enumerate(spec.transitions):
            resolved = []
            for j, name in enumerate(t.guards):
                if name not in registered and not require_guards:
                    resolved.append((name, _unregistered(name)))
                    continue
                if name not in registered:
                    problems.append(
                        Problem(
                            f"guard {name!r} is not registered by the host"
                            f"{did_you_mean(name, registered)}",
                            f"transitions[{index}].guards[{j}]",
                            file,
                        )
                    )
                    continue
                resolved.append((name, registered[name]))
            sources = (
                tuple(s.name for s in spec.states if not s.final)
                if ANY_STATE in t.source
                else tuple(dict.fromkeys(t.source))
            )
            compiled.append(CompiledTransition(index, t, sources, tuple(resolved)))
        if problems:
            raise WorkflowValidationError(problems, file)
        self.transitions: tuple[CompiledTransition, ...] = tuple(compiled)
        self._by_key: dict[tuple[str, str], list[CompiledTransition]] = {}
        for ct in compiled:
            for src in ct.sources:
                self._by_key.setdefault((ct.trigger, src), []).append(ct)
        self._triggers_from: dict[str, tuple[str, ...]] = {
            state: tuple(sorted({t for (t, s) in self._by_key if s == state}))
            for state in self._states
        }
        self.machine = Machine(
            model=None,
            states=list(self._states),
            initial=self.initial_state,
            auto_transitions=False,
            send_event=False,
        )
        for (trigger, src), options in self._by_key.items():
            for position, ct in enumerate(options):
                self.machine.add_transition(
                    trigger, src, ct.spec.dest, conditions=[_Choice(position)]
                )

    # --- identity --------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.workflow

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def key(self) -> str:
        """``name@version``: how stored complaints refer to their workflow."""
        return f"{self.spec.workflow}@{self.spec.version}"

    def __repr__(self) -> str:
        return f"<Workflow {self.key} from {self.file}>"

    # --- questions -------------------------------------------------------------------

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(self._states)

    def state(self, name: str) -> StateSpec:
        """The definition of state ``name`` (``KeyError`` if unknown)."""
        return self._states[name]

    def is_final(self, state: str) -> bool:
        return state in self.final_states

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger of the workflow, sorted."""
        return tuple(sorted({ct.trigger for ct in self.transitions}))

    def allowed_triggers(self, state: str, role: str | None = None) -> tuple[str, ...]:
        """Triggers that may fire from ``state`` (by ``role``, when given), sorted.

        Guards and conditions are not evaluated here; they depend on the complaint.
        """
        triggers = self._triggers_from.get(state, ())
        if role is None:
            return triggers
        return tuple(
            t for t in triggers if any(role in ct.spec.roles for ct in self._by_key[(t, state)])
        )

    def candidates(self, trigger: str, state: str) -> Sequence[CompiledTransition]:
        """The transitions ``trigger`` may take from ``state``, in file order."""
        return self._by_key.get((trigger, state), ())

    def roles_for(self, trigger: str, state: str) -> tuple[str, ...]:
        """Roles allowed to fire ``trigger`` from ``state``."""
        roles: dict[str, None] = {}
        for ct in self.candidates(trigger, state):
            roles.update(dict.fromkeys(ct.spec.roles))
        return tuple(roles)

    def destination(self, trigger: str, state: str, choice: int = 0) -> str:
        """Where ``trigger`` leads from ``state`` (the ``choice``-th candidate)."""
        return self.candidates(trigger, state)[choice].dest_from(state)

    def apply(self, obj: HasState, trigger: str, choice: int = 0) -> str:
        """Move ``obj.state`` through the shared machine and return the new state.

        ``choice`` selects among transitions sharing trigger and source (the engine
        picks it after evaluating guards). Raises ``KeyError`` for a trigger or
        source the workflow does not have.
        """
        if (trigger, obj.state) not in self._by_key:
            raise KeyError(f"no transition {trigger!r} from {obj.state!r}")
        self.machine.events[trigger].trigger(obj, choice=choice)
        return obj.state

    @property
    def tiers(self) -> Mapping[str, TierSpec]:
        return self.spec.tiers

    def tier_level(self, tier: str | None) -> int:
        return self.spec.tiers[tier].level if tier else 0

    @property
    def clocks(self) -> Mapping[str, ClockSpec]:
        return self.spec.clocks

    @property
    def escalation_chain(self) -> tuple[str, ...]:
        return tuple(self.spec.escalation_chain)

    @property
    def roles(self) -> tuple[str, ...]:
        return (*self.spec.roles, SYSTEM_ROLE)

    @cached_property
    def clock_pause_states(self) -> Mapping[str, frozenset[str]]:
        """The states each clock pauses in: its ``pauses_in``, and under the pause policy
        ``waiting_on_customer`` every state that waits on the customer."""
        found = {}
        for name, spec in self.clocks.items():
            states = set(spec.pauses_in)
            if spec.pause_policy == "waiting_on_customer":
                states |= self.waiting_states
            found[name] = frozenset(states)
        return found

    @cached_property
    def clock_order(self) -> Mapping[str, int]:
        """Each clock's position in the workflow (snapshots list clocks in this order)."""
        return {name: index for index, name in enumerate(self.clocks)}

    @cached_property
    def calendar_spec(self) -> CalendarSpec | None:
        """The business calendar the workflow names, if any."""
        return self.calendars[self.spec.calendar] if self.spec.calendar else None
