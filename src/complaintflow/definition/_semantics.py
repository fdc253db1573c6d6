"""Semantic checks of a workflow definition: references and the shape of its graph.

Works on ``Parts``, the pieces of a file that passed the shape check, so that a
typo in one transition does not hide an unknown state in another. Graph checks
(reachability, dead ends, feedback, ambiguity) need the whole file and run only
when every piece passed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from complaintflow.definition._calendars import calendar_from_spec
from complaintflow.definition._models import (
    ANY_STATE,
    SYSTEM_ROLE,
    Action,
    CalendarSpec,
    ClockSpec,
    Condition,
    FeedbackSpec,
    InvariantSpec,
    ReturnVisitSpec,
    StateSpec,
    TierSpec,
    TransitionSpec,
    closest,
)
from complaintflow.definition._models import did_you_mean as did_you_mean  # re-exported
from complaintflow.definition._yaml import PathKey
from complaintflow.exceptions import CalendarConfigError, CalendarError
from complaintflow.time._durations import Duration

COMPLAINT_FIELDS = frozenset(
    {
        "tier",
        "category",
        "channel",
        "state",
        "owner",
        "owner_role",
        "escalation_level",
        "reopen_count",
        "customer_ref",
    }
)
"""Fields a condition, a ``requires`` list or an invariant may name without a prefix."""
FIELD_PREFIXES = ("data.", "intake.")

Finding = tuple[PathKey, str]


@dataclass
class Parts:
    """The pieces of a workflow that passed the shape check, keyed by their place in the file."""

    roles: list[str] | None = None
    escalation_chain: list[str] | None = None
    categories: list[str] | None = None
    tiers: dict[str, TierSpec] = field(default_factory=dict)
    states: dict[int, StateSpec] = field(default_factory=dict)
    transitions: dict[int, TransitionSpec] = field(default_factory=dict)
    clocks: dict[str, ClockSpec] = field(default_factory=dict)
    calendars: dict[str, CalendarSpec] = field(default_factory=dict)
    calendar: str | None = None
    feedback: FeedbackSpec | None = None
    return_visits: ReturnVisitSpec | None = None
    invariants: dict[int, InvariantSpec] = field(default_factory=dict)
    misread_states: set[str] = field(default_factory=set)
    tiers_given: bool = False
    transitions_given: bool = False
    complete: bool = False


class _Checker:
    def __init__(self, parts: Parts, imported_calendars: Mapping[str, CalendarSpec]) -> None:
        self.p = parts
        self.imported = imported_calendars
        self.found: list[Finding] = []
        self.state_names = [s.name for s in parts.states.values()]
        self.written_states = {*self.state_names, *parts.misread_states}
        self.roles = set(parts.roles or []) | {SYSTEM_ROLE}
        self.triggers = {t.trigger for t in parts.transitions.values()}

    def add(self, path: PathKey, message: str) -> None:
        self.found.append((path, message))

    # --- references ----------------------------------------------------------------

    def ref(self, path: PathKey, kind: str, name: str, known: Iterable[str]) -> bool:
        known = list(known)
        if name in known:
            return True
        self.add(path, f"unknown {kind} {name!r}{did_you_mean(name, known)}")
        return False

    def state_ref(self, path: PathKey, name: str) -> bool:
        if name in self.p.misread_states:
            return True  # the state's own entry is reported; naming it is not a second fault
        if self.p.complete or self.state_names:
            return self.ref(path, "state", name, self.written_states)
        return True

    def role_ref(self, path: PathKey, name: str) -> None:
        if self.p.roles is not None:
            self.ref(path, "role", name, self.roles)

    def tier_ref(self, path: PathKey, name: str) -> None:
        self.ref(path, "tier", name, self.p.tiers)

    def trigger_ref(self, path: PathKey, name: str) -> None:
        if self.p.complete or self.p.transitions_given:
            self.ref(path, "trigger", name, self.triggers)

    def mixed_up(self, path: PathKey, key: str, name: str) -> None:
        """A clock naming a trigger where a state belongs, or the other way round."""
        if key.endswith("_in"):
            instead = key.replace("_in", "_on") if key != "pauses_in" else None
            kind, other = "state", "a trigger"
        else:
            instead, kind, other = key.replace("_on", "_in"), "trigger", "a state"
        hint = f"; list it under {instead}" if instead else ""
        self.add(path, f"{key} names {kind}s, but {name!r} is {other}{hint}")

    def unique(self, path: PathKey, kind: str, names: Iterable[tuple[PathKey, str]]) -> None:
        seen: set[str] = set()
        for where, name in names:
            if name in seen:
                self.add(where, f"duplicate {kind} {name!r}")
            seen.add(name)

    def field_ref(self, path: PathKey, name: str) -> None:
        if name in COMPLAINT_FIELDS or (
            name.startswith(FIELD_PREFIXES) and len(name.split(".", 1)[1]) > 0
        ):
            return
        hint = did_you_mean(name, COMPLAINT_FIELDS)
        if not hint:
            # `soluton` next to `data.solution` elsewhere most likely means that field
            prefixed = {f.split(".", 1)[1]: f for f in self.prefixed_fields()}
            near = closest(name, prefixed)
            hint = f" (did you mean {prefixed[near]!r}?)" if near else ""
        self.add(
            path,
            f"unknown field {name!r}{hint}; use one of "
            f"{', '.join(sorted(COMPLAINT_FIELDS))}, or data.<key> / intake.<key>",
        )

    def prefixed_fields(self) -> set[str]:
        """The ``data.`` and ``intake.`` fields named anywhere in the workflow."""
        names = {n for t in self.p.transitions.values() for n in t.requires}
        names |= {c.field for t in self.p.transitions.values() for c in t.conditions}
        names |= {c.field for clock in self.p.clocks.values() for c in clock.when}
        names |= {n for inv in self.p.invariants.values() for n in inv.require.fields}
        return {n for n in names if n.startswith(FIELD_PREFIXES) and n.split(".", 1)[1]}

    def actions(self, path: PathKey, actions: list[Action]) -> None:
        for i, action in enumerate(actions):
            here = (*path, i)
            for j, role in enumerate(action.notify or []):
                self.role_ref(
                    (*here, "notify", j) if len(action.notify or []) > 1 else (*here, "notify"),
                    role,
                )
            if action.assign is not None:
                self.role_ref((*here, "assign"), action.assign)
            if action.set_tier is not None:
                self.tier_ref((*here, "set_tier"), action.set_tier)
            if action.escalate and self.p.escalation_chain == []:
                self.add(
                    (*here, "escalate"),
                    "escalate moves a complaint one level up the escalation_chain, but the "
                    "workflow has none; list the roles under escalation_chain:, lowest first",
                )

    def conditions(self, path: PathKey, conditions: list[Condition]) -> None:
        for i, cond in enumerate(conditions):
            self.field_ref((*path, i, "field"), cond.field)
            if cond.field == "tier" and cond.operator in ("equals", "not_equals", "in", "not_in"):
                values = cond.operand(cond.operator)
                for value in values if isinstance(values, list) else [values]:
                    self.tier_ref((*path, i, cond.operator), str(value))

    def check_references(self) -> None:
        p = self.p
        if p.roles is not None:
            self.unique(("roles",), "role", [(("roles", i), r) for i, r in enumerate(p.roles)])
        for i, role in enumerate(p.escalation_chain or []):
            self.role_ref(("escalation_chain", i), role)
        if p.escalation_chain:
            self.unique(
                ("escalation_chain",),
                "role in the escalation chain",
                [(("escalation_chain", i), r) for i, r in enumerate(p.escalation_chain)],
            )
        if p.categories is not None:
            self.unique(
                ("categories",),
                "category",
                [(("categories", i), c) for i, c in enumerate(p.categories)],
            )
        self.unique(("states",), "state", [(("states", i), s.name) for i, s in p.states.items()])
        for name, tier in p.tiers.items():
            self.role_ref(("tiers", name, "handled_by"), tier.handled_by)
            for clock_name in tier.clocks:
                self.ref(("tiers", name, "clocks", clock_name), "clock", clock_name, p.clocks)
            self.actions(("tiers", name, "on_enter"), tier.on_enter)
        for i, t in p.transitions.items():
            here: PathKey = ("transitions", i)
            sources = t.source
            for j, src in enumerate(sources):
                if src != ANY_STATE:
                    self.state_ref(
                        (*here, "source", j) if len(sources) > 1 else (*here, "source"), src
                    )
            if t.dest is not None:
                self.state_ref((*here, "dest"), t.dest)
            for j, role in enumerate(t.roles):
                self.role_ref((*here, "roles", j), role)
            for j, name in enumerate(t.requires):
                self.field_ref((*here, "requires", j), name)
            self.conditions((*here, "conditions"), t.conditions)
            self.actions((*here, "actions"), t.actions)
        for name, clock in p.clocks.items():
            here = ("clocks", name)
            for key in ("starts_in", "stops_in", "pauses_in"):
                for j, state_name in enumerate(getattr(clock, key)):
                    if state_name in self.triggers and state_name not in self.written_states:
                        self.mixed_up((*here, key, j), key, state_name)
                    else:
                        self.state_ref((*here, key, j), state_name)
            for key in ("starts_on", "stops_on"):
                for j, trig in enumerate(getattr(clock, key)):
                    if trig in self.written_states and trig not in self.triggers:
                        self.mixed_up((*here, key, j), key, trig)
                    else:
                        self.trigger_ref((*here, key, j), trig)
            self.conditions((*here, "when"), clock.when)
            for j, role in enumerate(clock.on_breach.notify):
                self.role_ref((*here, "on_breach", "notify", j), role)
        if p.calendar is not None:
            self.ref(("calendar",), "calendar", p.calendar, [*p.calendars, *self.imported])
        if p.feedback is not None:
            self.state_ref(("feedback", "state"), p.feedback.state)
        for i, inv in p.invariants.items():
            here = ("invariants", i)
            for j, state_name in enumerate(inv.when.states):
                self.state_ref((*here, "when", "states", j), state_name)
            for j, tier_name in enumerate(inv.when.tiers):
                self.tier_ref((*here, "when", "tiers", j), tier_name)
            for j, state_name in enumerate(inv.require.visited):
                self.state_ref((*here, "require", "visited", j), state_name)
            for j, name in enumerate(inv.require.fields):
                self.field_ref((*here, "require", "fields", j), name)
            for j, notified in enumerate(inv.require.notified):
                self.role_ref((*here, "require", "notified", j, "role"), notified.role)
        self.unique(
            ("invariants",),
            "invariant",
            [(("invariants", i), inv.name) for i, inv in p.invariants.items()],
        )

    # --- tiers and clocks ----------------------------------------------------------

    def check_tiers(self) -> None:
        tiers = self.p.tiers
        if len(tiers) != 4:
            found = f"{len(tiers)}: {', '.join(tiers)}" if tiers else "none"
            self.add(
                ("tiers",),
                f"exactly four severity tiers are needed (minor, moderate, severe, urgent by "
                f"default), found {found}",
            )
        levels = [t.level for t in tiers.values()]
        if levels != sorted(set(levels)):
            order = ", ".join(f"{n}={t.level}" for n, t in tiers.items())
            self.add(("tiers",), f"tier levels must increase in the order written ({order})")

    def durations(self) -> Iterable[tuple[PathKey, Duration | None]]:
        """Every place a duration may be given, with its value (None when left out)."""
        for name, tier in self.p.tiers.items():
            for clock_name, duration in tier.clocks.items():
                yield ("tiers", name, "clocks", clock_name), duration
        for name, clock in self.p.clocks.items():
            yield ("clocks", name, "target"), clock.target
            yield ("clocks", name, "on_breach", "repeat_every"), clock.on_breach.repeat_every
        for i, inv in self.p.invariants.items():
            for j, notified in enumerate(inv.require.notified):
                yield ("invariants", i, "require", "notified", j, "within"), notified.within
        if self.p.feedback is not None:
            yield ("feedback", "no_answer_after"), self.p.feedback.no_answer_after
        if self.p.return_visits is not None:
            visits = self.p.return_visits
            yield ("return_visits", "after"), visits.after
            for klass, duration in visits.by_customer_class.items():
                yield ("return_visits", "by_customer_class", klass), duration
            for tier_name, duration in visits.by_tier.items():
                yield ("return_visits", "by_tier", tier_name), duration

    def check_calendars(self) -> None:
        """Every calendar the file defines or names can be built (zone, windows, days)."""
        names = dict.fromkeys(self.p.calendars)
        if self.p.calendar is not None and self.p.calendar in self.imported:
            names[self.p.calendar] = None
        for name in names:
            spec = self.p.calendars.get(name) or self.imported[name]
            try:
                calendar_from_spec(name, spec)
            except CalendarConfigError as error:
                if name in self.p.calendars:
                    root = error.field.split("[", 1)[0]
                    self.add(("calendars", name, root), f"{error.field}: {error.reason}")
                else:
                    self.add(
                        ("calendar",), f"imported calendar {name!r}: {error.field}: {error.reason}"
                    )
            except CalendarError as error:
                self.add(
                    ("calendars", name) if name in self.p.calendars else ("calendar",), str(error)
                )

    def check_clocks(self) -> None:
        for name, clock in self.p.clocks.items():
            here: PathKey = ("clocks", name)
            targets = {t: tier.clocks.get(name) for t, tier in self.p.tiers.items()}
            if clock.target is None:
                missing = [t for t, d in targets.items() if d is None]
                if missing:
                    self.add(
                        here,
                        f"clock {name!r} has no target for tier(s) {', '.join(missing)}: "
                        f"give them one under tiers.<tier>.clocks.{name}, or a default under "
                        f"clocks.{name}.target",
                    )
            if not (clock.starts_in or clock.starts_on):
                self.add(here, f"clock {name!r} never starts: give starts_in or starts_on")
        if self.p.calendar is None:
            first = next(((path, d) for path, d in self.durations() if d and d.is_business), None)
            if first is not None:
                self.add(
                    first[0],
                    f"business durations like {str(first[1])!r} count working time, but the "
                    "workflow names no calendar; add calendar: with a calendar's name",
                )

    # --- the graph -----------------------------------------------------------------

    def edges(self) -> list[tuple[str, str, TransitionSpec, int]]:
        finals = {s.name for s in self.p.states.values() if s.final}
        out = []
        for i, t in self.p.transitions.items():
            sources = (
                [s for s in self.state_names if s not in finals]
                if ANY_STATE in t.source
                else list(dict.fromkeys(s for s in t.source if s != ANY_STATE))
            )
            for src in sources:
                out.append((src, t.dest or src, t, i))
        return out

    def reachable(
        self, start: Iterable[str], *, avoid: str | None = None, skip_bypass: bool = False
    ) -> set[str]:
        adjacency: dict[str, list[tuple[str, TransitionSpec]]] = {}
        for src, dest, t, _ in self.edges():
            adjacency.setdefault(src, []).append((dest, t))
        seen = set(start)
        queue = deque(seen)
        while queue:
            state = queue.popleft()
            for dest, t in adjacency.get(state, []):
                if skip_bypass and t.bypasses_feedback:
                    continue
                if dest == avoid or dest in seen:
                    continue
                seen.add(dest)
                queue.append(dest)
        return seen

    def check_graph(self) -> None:
        states = self.p.states
        index = {s.name: i for i, s in states.items()}
        initial = [s.name for s in states.values() if s.initial]
        finals = {s.name for s in states.values() if s.final}
        if len(initial) != 1:
            self.add(
                ("states",),
                "exactly one state must be marked initial: true"
                + (f" (found {', '.join(initial)})" if initial else " (found none)"),
            )
            return
        if not finals:
            self.add(("states",), "at least one state must be marked final: true")
            return
        for i, s in states.items():
            if s.initial and s.final:
                self.add(("states", i), f"state {s.name!r} cannot be both initial and final")
        reach = self.reachable(initial)
        for name in self.state_names:
            if name not in reach:
                self.add(
                    ("states", index[name]),
                    f"state {name!r} is unreachable from the initial state {initial[0]!r}",
                )
        leaving = {src for src, dest, _, _ in self.edges() if dest != src}
        for name in self.state_names:
            if name not in finals and name not in leaving:
                self.add(
                    ("states", index[name]),
                    f"state {name!r} is not final and has no transition out of it; "
                    "add one, or mark it final: true",
                )
        for name in self.state_names:
            if name in finals or name not in leaving:
                continue
            trapped = self.reachable([name])
            if not (trapped & finals):
                self.add(
                    ("states", index[name]),
                    f"no final state can be reached from state {name!r}: from there a "
                    f"complaint only ever moves among {', '.join(sorted(trapped))}",
                )
        self.check_feedback(initial[0], finals)
        self.check_loop(finals)
        self.check_ambiguity()
        self.check_clock_stops(finals)

    def check_loop(self, finals: set[str]) -> None:
        """The triggers and states the closed loop names exist and fit."""
        fb = self.p.feedback
        if fb is not None and fb.no_answer_after is not None:
            fired = [
                t
                for t in self.p.transitions.values()
                if t.trigger == fb.auto_close_trigger
                and (fb.state in t.source or ANY_STATE in t.source)
            ]
            if not fired:
                self.add(
                    ("feedback", "auto_close_trigger"),
                    f"no_answer_after needs a transition {fb.auto_close_trigger!r} from "
                    f"{fb.state!r}{did_you_mean(fb.auto_close_trigger, self.triggers)}",
                )
            elif not any(SYSTEM_ROLE in t.roles for t in fired):
                self.add(
                    ("feedback", "auto_close_trigger"),
                    f"the system must be allowed to fire {fb.auto_close_trigger!r}: add "
                    f"'system' to its roles",
                )
        rv = self.p.return_visits
        if rv is None:
            return
        for j, state in enumerate(rv.states):
            if self.state_ref(("return_visits", "states", j), state) and state not in finals:
                self.add(("return_visits", "states", j), f"state {state!r} is not final")
        for tier in rv.by_tier:
            self.tier_ref(("return_visits", "by_tier", tier), tier)
        if rv.record_trigger not in self.triggers:
            self.add(
                ("return_visits", "record_trigger"),
                f"unknown trigger {rv.record_trigger!r}"
                f"{did_you_mean(rv.record_trigger, self.triggers)}",
            )

    def check_feedback(self, initial: str, finals: set[str]) -> None:
        fb = self.p.feedback
        if fb is None or fb.state not in self.state_names:
            return
        # the states a complaint can be in before it has ever been in the feedback state
        before = self.reachable([initial], avoid=fb.state, skip_bypass=True)
        reported: set[int] = set()
        for src, dest, t, i in self.edges():
            if (
                src in before
                and src != fb.state
                and dest in finals
                and dest != src
                and not t.bypasses_feedback
                and i not in reported
            ):
                reported.add(i)
                self.add(
                    ("transitions", i),
                    f"{t.trigger!r} reaches the final state {dest!r} from {src!r} without "
                    f"passing the customer-feedback step {fb.state!r}; route it through "
                    f"{fb.state!r} or mark the transition bypasses_feedback: true",
                )

    def check_ambiguity(self) -> None:
        seen: dict[tuple[str, str, frozenset[str]], int] = {}
        for src, _, t, i in self.edges():
            distinguish = frozenset(t.guards) | frozenset(c.describe() for c in t.conditions)
            key = (t.trigger, src, distinguish)
            if key in seen and seen[key] != i:
                self.add(
                    ("transitions", i),
                    f"ambiguous: trigger {t.trigger!r} from state {src!r} is also defined by "
                    f"transitions[{seen[key]}] with the same guards and conditions",
                )
            seen.setdefault(key, i)

    def check_clock_stops(self, finals: set[str]) -> None:
        edges = self.edges()
        for name, clock in self.p.clocks.items():
            starts = set(clock.starts_in) | {
                dest for _, dest, t, _ in edges if t.trigger in clock.starts_on
            }
            # a clock's own stops must be reachable; closing the complaint is only the
            # backstop that ends every clock, so it counts only for clocks without stops
            explicit = bool(clock.stops_in or clock.stops_on)
            stop_states = set(clock.stops_in) | {
                dest for _, dest, t, _ in edges if t.trigger in clock.stops_on
            }
            if not explicit:
                stop_states = finals
            for start in sorted(starts):
                if start in stop_states or self.reachable([start]) & stop_states:
                    continue
                if explicit:
                    stops = [f"stops_in: {', '.join(clock.stops_in)}"] if clock.stops_in else []
                    stops += [f"stops_on: {', '.join(clock.stops_on)}"] if clock.stops_on else []
                    message = (
                        f"clock {name!r} starts in state {start!r}, but none of its stops "
                        f"({'; '.join(stops)}) can be reached from there, so it would run "
                        "until the complaint is closed"
                    )
                else:
                    message = (
                        f"clock {name!r} starts in state {start!r} but can never stop: "
                        "no final state can be reached from there"
                    )
                self.add(("clocks", name), message)


def check(parts: Parts, imported_calendars: Mapping[str, CalendarSpec]) -> list[Finding]:
    """Every semantic problem of ``parts``, as (path, message), in a stable order."""
    checker = _Checker(parts, imported_calendars)
    checker.check_references()
    checker.check_calendars()
    if parts.complete or parts.tiers_given:
        checker.check_tiers()
    checker.check_clocks()
    if parts.complete and not checker.found:
        checker.check_graph()
    return checker.found
