"""``complaintflow simulate``: a synthetic stream of complaints through a real engine.

A stream of complaints (arrival times, tiers, categories, and each customer's and
handler's behaviour) is drawn from a seed, then run through a real
:class:`~complaintflow.Engine` on a SQLite file with a :class:`~complaintflow.FakeClock`:
the clock jumps from one action or due timer to the next, and the sweeper fires SLA
warnings, breaches and escalations (and whatever other timers the workflow arms) at
their due time. The measures are then computed from the audit trail.

Each complaint's story comes from its own random stream (seed and index), so running
the same seed through two versions of a workflow (``--compare``) replays the same
customers and the same people: the differences are the workflow's doing.

The people act along the workflow's graph rather than named triggers, so any workflow
with a feedback step can be simulated: the :class:`Driver` finds the shortest way from
the current state to the feedback step and fires it hop by hop, with the data each
transition requires. :mod:`complaintflow._replay` drives historical complaints the same way.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from complaintflow._demo import CHANNELS, DEMANDS, GIVEN, PLACES, STAFF, SURNAMES, TOPICS, _quota
from complaintflow.core._conditions import conditions_hold
from complaintflow.core._records import Actor, Complaint, Intake
from complaintflow.definition._calendars import calendar_from_spec
from complaintflow.definition._compile import CompiledTransition, Workflow
from complaintflow.definition._registry import load_workflow
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import (
    ComplaintError,
    ComplaintflowError,
    GuardRejectedError,
    InvalidInputError,
)
from complaintflow.reporting._cli import OutputFormat, parse_pairs, parse_zone, write
from complaintflow.reporting._compare import compare as compare_reports
from complaintflow.reporting._measures import compute_measures
from complaintflow.reporting._models import Report
from complaintflow.reporting._render import render, to_text
from complaintflow.time._calendar import BusinessCalendar
from complaintflow.time._clock import FakeClock

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
MIX_BY_LEVEL = {1: 0.55, 2: 0.30, 3: 0.11, 4: 0.04}
HANDLING_HOURS = {1: 5.0, 2: 10.0, 3: 10.0, 4: 3.0}
"""Median working hours of handling, by tier level."""
DATA_VALUES = {
    "channel": "phone",
    "outcome": "customer content",
    "reason": "simulated",
    "note": "simulated note",
    "technician": "technician-01",
    "plan": "fix plan sent to the customer",
}
# (weekdays, first hour, last hour) in local time; office staff follow the workflow calendar
HOURS = {"agent": (frozenset(range(7)), 8, 20), "customer": (frozenset(range(7)), 8, 22)}


@dataclass(frozen=True)
class Scenario:
    """What is simulated: the stream and how people behave. Probabilities are 0..1."""

    days: int = 30
    arrivals_per_day: float = 40.0
    tier_mix: Mapping[str, float] | None = None
    satisfaction: float = 0.8
    silence: float = 0.1
    return_visits: float = 0.8
    surveys: float = 0.3
    info_requests: float = 0.2
    escalations: float = 0.05
    transfers: float = 0.05
    withdrawals: float = 0.03
    settle_days: int = 14
    seed: int = 2026
    start: dt.datetime = START

    def check(self, workflow: Workflow) -> None:
        errors = []
        for name in ("satisfaction", "silence", "return_visits", "surveys", "info_requests"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                errors.append(f"{name} must be between 0 and 1, not {value}")
        for name in ("escalations", "transfers", "withdrawals"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                errors.append(f"{name} must be between 0 and 1")
        if self.days < 1 or self.settle_days < 0 or self.arrivals_per_day <= 0:
            errors.append("days must be at least 1, settle_days at least 0, arrivals positive")
        if self.tier_mix is not None:
            unknown = sorted(set(self.tier_mix) - set(workflow.tiers))
            if unknown:
                errors.append(
                    f"tier mix names {', '.join(unknown)}; {workflow.key} has "
                    f"{', '.join(workflow.tiers)}"
                )
            if any(v < 0 for v in self.tier_mix.values()) or sum(self.tier_mix.values()) <= 0:
                errors.append("tier mix shares must be non-negative and not all zero")
        if errors:
            raise InvalidInputError("scenario", errors)

    def mix(self, workflow: Workflow) -> dict[str, float]:
        """Shares by tier, summing to 1 (by default by tier level, 55/30/11/4 %)."""
        if self.tier_mix is not None:
            shares = {t: share for t, share in self.tier_mix.items() if share > 0}
        else:
            shares = {t: MIX_BY_LEVEL.get(spec.level, 0.1) for t, spec in workflow.tiers.items()}
        total = sum(shares.values())
        return {t: share / total for t, share in shares.items()}


@dataclass
class Story:
    """One complaint's fate, drawn from its own random stream."""

    index: int
    received: dt.datetime
    tier: str
    category: str
    channel: str
    answers: list[str]
    info_requests: int
    escalate: bool
    transfer: bool
    withdraw: bool
    return_visit: str | None
    survey: bool
    customer_class: str
    rng: random.Random
    late_acknowledgement: bool = False


def stories(scenario: Scenario, workflow: Workflow) -> list[Story]:
    """The stream: arrival times from the seed, each complaint's story from its own stream."""
    master = random.Random(scenario.seed)
    count = max(1, round(scenario.days * scenario.arrivals_per_day))
    hours = scenario.days * 24
    weights = []
    for h in range(hours):
        local = scenario.start + dt.timedelta(hours=h)
        weight = 1.4 if local.hour in (10, 11, 14, 15, 16) else 1.0
        if not 8 <= local.hour < 22:
            weight = 0.25 if 6 <= local.hour < 8 or local.hour >= 22 else 0.05
        weights.append(weight * (0.6 if local.weekday() >= 5 else 1.0))
    picks = master.choices(range(hours), weights, k=count)
    arrivals = sorted(
        scenario.start + dt.timedelta(hours=h, seconds=master.uniform(0, 3600)) for h in picks
    )
    tiers = _quota(scenario.mix(workflow), count, master)
    result = []
    for index, received in enumerate(arrivals):
        rng = random.Random(f"{scenario.seed}:{index}")
        answers: list[str] = []
        for round_ in range(3):
            if rng.random() < scenario.silence:
                answers.append("silent")
                break
            if rng.random() < scenario.satisfaction or round_ == 2:
                answers.append("satisfied")
                break
            answers.append("unsatisfied")
        visit = rng.random() < scenario.return_visits
        result.append(
            Story(
                index=index,
                received=received,
                tier=tiers[index],
                category=rng.choice(workflow.spec.categories),
                channel=rng.choices(list(CHANNELS), list(CHANNELS.values()))[0],
                answers=answers,
                info_requests=sum(rng.random() < scenario.info_requests for _ in range(2)),
                escalate=rng.random() < scenario.escalations,
                transfer=rng.random() < scenario.transfers,
                withdraw=rng.random() < scenario.withdrawals,
                return_visit=("reopen" if rng.random() < 0.05 else "ok") if visit else None,
                survey=rng.random() < scenario.surveys,
                customer_class=rng.choices("ABC", (0.2, 0.5, 0.3))[0],
                rng=rng,
                late_acknowledgement=rng.random() < 0.03,
            )
        )
    return result


def intake(story: Story, workflow: Workflow) -> Intake:
    """A synthetic intake record (names and numbers are made up)."""
    rng = story.rng
    objects, reasons, _ = TOPICS.get(story.category, TOPICS["service"])
    return Intake(
        customer_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
        customer_contact=f"+86 1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
        channel=story.channel,
        received_at=story.received,
        place=rng.choice(PLACES.get(story.channel, ["hotline"])),
        object=rng.choice(objects),
        reason=rng.choice(reasons),
        demand=rng.choice(DEMANDS),
        customer_ref=f"SIM-{story.index:06d}",
        customer_class=story.customer_class,
        # the emergency procedure starts at intake
        tier=story.tier if workflow.tier_level(story.tier) >= 4 else None,
    )


# --- the driver -----------------------------------------------------------------------


@dataclass(order=True)
class _Task:
    at: dt.datetime
    seq: int
    index: int = field(compare=False)
    step: str = field(compare=False)


class Driver:
    """Moves complaints along a workflow's graph while a fake clock jumps from one action
    or due timer to the next. Subclasses decide what each step does (see :meth:`perform`).
    """

    def __init__(self, engine: Engine, clock: FakeClock, workflow: Workflow) -> None:
        self.engine = engine
        self.clock = clock
        self.workflow = workflow
        self.calendar: BusinessCalendar | None = (
            calendar_from_spec(workflow.spec.calendar, workflow.calendar_spec)
            if workflow.spec.calendar and workflow.calendar_spec
            else None
        )
        self.zone = self.calendar.tzinfo if self.calendar else ZoneInfo("UTC")
        self.feedback = workflow.spec.feedback.state if workflow.spec.feedback else None
        self.tasks: list[_Task] = []
        self.seq = 0
        self.ids: dict[int, str] = {}
        self.refused: list[str] = []
        self.timers_fired = 0
        self.on_step: Callable[[dt.datetime], None] | None = None

    # --- time ---------------------------------------------------------------------------

    def schedule(self, at: dt.datetime, index: int, step: str) -> None:
        self.seq += 1
        heapq.heappush(self.tasks, _Task(at, self.seq, index, step))

    def run_until(self, end: dt.datetime) -> None:
        """Perform every task and fire every timer due up to ``end``, in time order."""
        stuck: dt.datetime | None = None
        while True:
            now = self.clock.now()
            due = self.engine.store.next_due(self.engine.clock.now())
            if due is not None and stuck is not None and due <= stuck:
                due = None  # a timer the sweeper cannot fire (failed lease): do not spin
            upcoming = [t for t in (due, self.tasks[0].at if self.tasks else None) if t]
            if not upcoming or min(upcoming) > end:
                break
            at = max(min(upcoming), now)
            self.clock.set(at)
            fired = self.engine.run_due_timers() if due is not None and due <= at else 0
            self.timers_fired += fired
            done = 0
            while self.tasks and self.tasks[0].at <= at:
                task = heapq.heappop(self.tasks)
                self.perform(task.index, task.step)
                done += 1
            stuck = at if not fired and not done else None
            if self.on_step is not None:
                self.on_step(at)
        if end > self.clock.now():
            self.clock.set(end)
        while fired := self.engine.run_due_timers():
            self.timers_fired += fired

    def perform(self, index: int, step: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- the graph ------------------------------------------------------------------------

    def route(self, c: Complaint, data: Mapping[str, Any]) -> list[CompiledTransition]:
        """The shortest way from the complaint's state to the feedback step (or, without
        one, to a final state), avoiding waiting states, withdrawals and the system's own
        transitions; conditions are evaluated with ``data`` (the classification)."""
        wf = self.workflow

        def target(state: str) -> bool:
            return state == self.feedback if self.feedback else wf.is_final(state)

        seen = {c.state}
        queue: deque[tuple[str, list[CompiledTransition]]] = deque([(c.state, [])])
        while queue:
            state, path = queue.popleft()
            for ct in wf.transitions:
                dest = ct.spec.dest
                if state not in ct.sources or dest is None or dest in seen:
                    continue
                if ct.spec.bypasses_feedback or set(ct.spec.roles) <= {"system"}:
                    continue
                if not target(dest) and (wf.is_final(dest) or dest in wf.waiting_states):
                    continue
                if not conditions_hold(ct.spec.conditions, c, data):
                    continue
                if target(dest):
                    return [*path, ct]
                seen.add(dest)
                queue.append((dest, [*path, ct]))
        return []

    def leaving(
        self, state: str, *, final: bool | None = None, internal: bool = False
    ) -> CompiledTransition | None:
        """The first transition people may fire from ``state``: into a final state
        (``final=True``), a non-final one (``False``), or staying put (``internal``)."""
        for ct in self.workflow.transitions:
            if state not in ct.sources or set(ct.spec.roles) <= {"system"}:
                continue
            if ct.spec.bypasses_feedback:
                continue
            dest = ct.spec.dest
            if internal:
                if dest is None and ct.spec.requires:
                    return ct
                continue
            if dest is None or dest == state:
                continue
            if final is None or self.workflow.is_final(dest) == final:
                return ct
        return None

    def data_for(self, ct: CompiledTransition, given: Mapping[str, Any]) -> dict[str, Any]:
        """What ``ct`` requires: ``given`` values first, then plain stand-ins."""
        data: dict[str, Any] = {}
        for field_name in ct.spec.requires:
            if field_name in ("tier", "category"):
                data[field_name] = given[field_name]
            elif field_name.startswith("data."):
                key = field_name[5:]
                data[key] = given.get(key, DATA_VALUES.get(key, "simulated"))
        return data

    def actor(self, c: Complaint, ct: CompiledTransition, *, front: bool) -> Actor:
        """Who fires ``ct``: the owner for front-office steps, else the tier's handler (or
        whoever an escalation brought in), else anyone allowed."""
        roles = [r for r in self.workflow.roles_for(ct.trigger, c.state) if r != "system"]
        handler = self.handler(c)
        order = [c.owner_role, handler] if front else [handler, c.assignee_role, c.owner_role]
        for role in [*order, *roles]:
            if role in roles:
                if role == c.owner_role:
                    return Actor(c.owner, role)
                pool = STAFF.get(role, 3)
                number = zlib.crc32((c.customer_ref or c.id).encode())
                return Actor(f"{role.replace('_', '-')}-{number % pool + 1:02d}", role)
        raise InvalidInputError("simulation", [f"nobody may fire {ct.trigger} in {c.state}"])

    def handler(self, c: Complaint) -> str | None:
        chain = self.workflow.escalation_chain
        handler = self.workflow.tiers[c.tier].handled_by if c.tier else None
        if c.assignee_role in chain and (
            handler not in chain or chain.index(c.assignee_role) > chain.index(handler)
        ):
            return c.assignee_role
        return handler

    def fire(
        self, c: Complaint, ct: CompiledTransition, data: Mapping[str, Any], *, front: bool
    ) -> Complaint | None:
        try:
            who = self.actor(c, ct, front=front)
            return self.engine.fire(c.id, ct.trigger, actor=who, data=data)
        except ComplaintError as exc:
            self.refused.append(f"{ct.trigger}: {exc}")
            return None

    # --- working hours ----------------------------------------------------------------------

    def at_work(
        self, who: str, at: dt.datetime, rng: random.Random, *, urgent: bool
    ) -> dt.datetime:
        """When ``who`` (agent, customer, or office staff) is at work at or after ``at``."""
        offset = dt.timedelta(minutes=rng.uniform(0, 30))  # drawn always: same stream either way
        if urgent and who != "customer":
            return at
        if who not in HOURS:
            if self.calendar is None:
                return at
            start = self.calendar.next_working_time(at)
            return at if start == at else start + offset
        days, first, last = HOURS[who]
        local = at.astimezone(self.zone)
        for ahead in range(8):
            day = (local + dt.timedelta(days=ahead)).date()
            if day.weekday() not in days:
                continue
            opens = dt.datetime.combine(day, dt.time(first), self.zone)
            closes = dt.datetime.combine(day, dt.time(last), self.zone)
            if ahead == 0 and local >= closes:
                continue
            if ahead == 0 and local >= opens:
                return at
            return opens + offset
        return at  # pragma: no cover - every day is a working day here

    def working(self, at: dt.datetime, hours: float) -> dt.datetime:
        """``hours`` of working time after ``at`` (elapsed time without a calendar)."""
        span = dt.timedelta(hours=hours)
        return self.calendar.add_working_time(at, span) if self.calendar else at + span


# --- the simulated people ------------------------------------------------------------------


class Simulation(Driver):
    """Customers, agents and handlers acting out their stories."""

    def __init__(
        self, engine: Engine, clock: FakeClock, workflow: Workflow, scenario: Scenario
    ) -> None:
        super().__init__(engine, clock, workflow)
        self.scenario = scenario
        self.stories = {s.index: s for s in stories(scenario, workflow)}
        for story in self.stories.values():
            self.schedule(story.received, story.index, "open")

    @property
    def end(self) -> dt.datetime:
        return self.scenario.start + dt.timedelta(
            days=self.scenario.days + self.scenario.settle_days
        )

    def run(self) -> None:
        self.run_until(self.end)

    def perform(self, index: int, step: str) -> None:
        story = self.stories[index]
        if step == "open":
            self._open(story)
            return
        c = self.engine.get(self.ids[index])
        if step == "withdraw":
            self._withdraw(c, story)
        elif step == "feedback":
            self._feedback(c, story)
        elif step == "return_visit":
            self._return_visit(c, story)
        elif step == "survey":
            self._survey(c, story)
        elif not self.workflow.is_final(c.state) and c.state != self.feedback:
            self._advance(c, story, reply=step == "reply")

    def _later(self, story: Story, step: str, minutes: float, who: str) -> None:
        at = self.clock.now() + dt.timedelta(minutes=minutes)
        urgent = self.workflow.tier_level(story.tier) >= 4
        self.schedule(self.at_work(who, at, story.rng, urgent=urgent), story.index, step)

    def _delay(self, story: Story, median: float) -> float:
        return median * story.rng.lognormvariate(0.0, 0.7)

    def _classification(self, story: Story) -> dict[str, Any]:
        return {"tier": story.tier, "category": story.category}

    def _open(self, story: Story) -> None:
        owner = "agent" if "agent" in self.workflow.roles else self.workflow.spec.roles[0]
        actor = Actor(f"{owner}-{story.index % STAFF.get(owner, 3) + 1:02d}", owner)
        c = self.engine.open(intake(story, self.workflow), actor=actor)
        self.ids[story.index] = c.id
        if story.withdraw:
            self._later(story, "withdraw", self._delay(story, 360), "customer")
        self._next(c, story)

    def _next(self, c: Complaint, story: Story) -> None:
        """Schedule whatever comes after the complaint's current state."""
        if c.state == self.feedback:
            self._later(story, "feedback", self._delay(story, 480), "customer")
            return
        if self.workflow.is_final(c.state):
            return
        route = self.route(c, self._classification(story))
        if not route:
            self.refused.append(f"no way from {c.state} to the feedback step")
            return
        kind = self._kind(c, route)
        urgent = self.workflow.tier_level(story.tier) >= 4
        if kind == "front":
            minutes = self._delay(story, 15 if urgent else 50)
            minutes += 1500 if story.late_acknowledgement else 0
            self._later(story, "advance", minutes, "agent")
        elif kind in ("classify", "send"):
            self._later(story, "advance", self._delay(story, 30), "agent")
        elif kind == "handle":
            level = self.workflow.tier_level(story.tier)
            hours = self._delay(story, HANDLING_HOURS.get(level, 8.0))
            start = self.clock.now() if urgent else self.working(self.clock.now(), 0.0)
            at = start + dt.timedelta(hours=hours) if urgent else self.working(start, hours)
            self.schedule(at, story.index, "advance")
        else:
            self._later(story, "advance", self._delay(story, 10 if urgent else 60), "office")

    def _kind(self, c: Complaint, route: list[CompiledTransition]) -> str:
        hop = route[0]
        if c.state == self.workflow.initial_state:
            return "front"
        if set(hop.spec.requires) & {"tier", "category"}:
            return "classify"
        if hop.spec.dest == self.feedback:
            return "send"
        last = route[-2] if self.feedback and len(route) > 1 else route[-1]
        return "handle" if hop is last else "pickup"

    def _advance(self, c: Complaint, story: Story, *, reply: bool) -> None:
        wf = self.workflow
        if reply:
            back = self.leaving(c.state, final=False) if c.state in wf.waiting_states else None
            if back is not None and (after := self.fire(c, back, {}, front=False)):
                self._next(after, story)
            return
        route = self.route(c, self._classification(story))
        if not route:
            return
        kind = self._kind(c, route)
        if kind == "handle" and story.info_requests:
            detour = next(
                (
                    ct
                    for ct in wf.transitions
                    if c.state in ct.sources
                    and ct.spec.dest in wf.waiting_states
                    and ct.spec.dest != self.feedback
                ),
                None,
            )
            if detour is not None:
                story.info_requests -= 1
                if self.fire(c, detour, self.data_for(detour, {}), front=False):
                    self._later(story, "reply", self._delay(story, 420), "customer")
                    return
        hop = route[0]
        given = {**self._classification(story), "solution": self._solution(story)}
        after = self.fire(
            c, hop, self.data_for(hop, given), front=kind in ("front", "classify", "send")
        )
        if after is None:
            return
        if kind == "classify" and story.transfer:
            story.transfer = False
            peer = Actor(f"{after.owner_role}-{(story.index + 5) % 12 + 1:02d}", after.owner_role)
            if peer.id != after.owner:
                try:
                    after = self.engine.transfer(
                        after.id, peer, actor=Actor(after.owner, after.owner_role), note="handed on"
                    )
                except ComplaintError as exc:
                    self.refused.append(f"transfer: {exc}")
        if kind in ("pickup", "handle") and story.escalate:
            story.escalate = False
            escalate = next(
                (ct for ct in wf.candidates("escalate", after.state) if ct.spec.dest is None), None
            )
            if escalate is not None:
                data = {"reason": "beyond the handler's authority"}
                after = self.fire(after, escalate, data, front=False) or after
        self._next(after, story)

    def _solution(self, story: Story) -> str:
        return TOPICS.get(story.category, TOPICS["service"])[2]

    def _feedback(self, c: Complaint, story: Story) -> None:
        if c.state != self.feedback:
            return
        answer = story.answers.pop(0) if story.answers else "silent"
        score = story.rng.choice([4, 5, 5]) if answer == "satisfied" else story.rng.choice([1, 2])
        if answer == "silent":
            return  # the workflow's feedback timer (auto-close), if any, is the system's
        ct = self.leaving(c.state, final=answer == "satisfied")
        if ct is None:
            self.refused.append(f"{c.state}: no transition for a {answer} customer")
            return
        data = {**self.data_for(ct, {}), "score": score}
        if answer == "unsatisfied":
            data["comment"] = "the problem is still there"
        after = self.fire(c, ct, data, front=True)
        if after is None:
            return
        if not self.workflow.is_final(after.state):
            self._next(after, story)
            return
        if story.survey:
            story.survey = False
            self._later(story, "survey", story.rng.uniform(600, 2880), "customer")
        if story.return_visit:
            self._schedule_visit(after, story)

    def _schedule_visit(self, c: Complaint, story: Story) -> None:
        """The return visit (回访) when the workflow makes it due (by customer class or
        tier), else a day or three after closing."""
        spec = self.workflow.spec.return_visits
        closed = c.closed_at or self.clock.now()
        if spec is None:
            due = closed + dt.timedelta(minutes=story.rng.uniform(1440, 4320))
        else:
            interval = spec.by_customer_class.get(story.customer_class)  # type: ignore[call-overload]
            if interval is None:
                interval = spec.by_tier.get(c.tier or "", spec.after)
            due = (
                self.calendar.add(closed, interval)
                if self.calendar
                else closed + interval.as_timedelta()
            )
        minutes = self._delay(story, 120)
        self.schedule(
            self.at_work("agent", due + dt.timedelta(minutes=minutes), story.rng, urgent=False),
            story.index,
            "return_visit",
        )

    def _survey(self, c: Complaint, story: Story) -> None:
        satisfied = c.facts.get("score", 5) >= 4
        score = story.rng.choice([4, 5]) if satisfied else story.rng.choice([2, 3])
        try:
            self.engine.record_survey(
                c.id, score=score, actor=Actor(c.owner, c.owner_role), comment="survey"
            )
        except ComplaintError as exc:
            self.refused.append(f"survey: {exc}")

    def _return_visit(self, c: Complaint, story: Story) -> None:
        if not self.workflow.is_final(c.state) or story.return_visit is None:
            return
        outcome = "the fault came back" if story.return_visit == "reopen" else "customer content"
        after = None
        if story.return_visit == "reopen":
            ct = self.leaving(c.state, final=False)
            if ct is not None:
                try:
                    who = self.actor(c, ct, front=True)
                    data = {**self.data_for(ct, {}), "outcome": outcome}
                    after = self.engine.fire(c.id, ct.trigger, actor=who, data=data)
                    story.answers = ["satisfied"]
                except GuardRejectedError:
                    pass  # past the reopen window: the visit is recorded instead
                except ComplaintError as exc:
                    self.refused.append(f"{ct.trigger}: {exc}")
        if after is None:
            spec = self.workflow.spec.return_visits
            named = self.workflow.candidates(spec.record_trigger, c.state) if spec else ()
            ct = named[0] if named else self.leaving(c.state, internal=True)
            if ct is not None:
                after = self.fire(c, ct, {**self.data_for(ct, {}), "outcome": outcome}, front=True)
        story.return_visit = None
        if after is not None and not self.workflow.is_final(after.state):
            self._next(after, story)

    def _withdraw(self, c: Complaint, story: Story) -> None:
        for ct in self.workflow.transitions:
            if c.state in ct.sources and ct.spec.bypasses_feedback and ct.spec.dest:
                data = {**self.data_for(ct, {}), "reason": "settled with the shop directly"}
                self.fire(c, ct, data, front=True)
                return


# --- running and comparing ---------------------------------------------------------------


@contextmanager
def progress_bar(
    label: str, start: dt.datetime, end: dt.datetime, *, enabled: bool
) -> Iterator[Callable[[dt.datetime], None]]:
    """A transient progress bar of simulated time on stderr (when it is a terminal)."""
    console = Console(stderr=True)
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.fields[now]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled or not console.is_terminal,
    )
    with bar:
        task = bar.add_task(label, total=(end - start).total_seconds(), now="")

        def tick(at: dt.datetime) -> None:
            bar.update(task, completed=(at - start).total_seconds(), now=f"{at:%Y-%m-%d}")

        yield tick


@dataclass(frozen=True)
class SimulationResult:
    """What one run produced."""

    workflow: str
    report: Report
    complaints: int
    timers_fired: int
    refused: tuple[str, ...]
    seconds: float


def simulate(
    workflow: Workflow | str | Path,
    scenario: Scenario = Scenario(),
    *,
    db: Path | None = None,
    by: tuple[str, ...] = ("tier",),
    progress: bool = False,
) -> SimulationResult:
    """Run ``scenario`` through ``workflow`` on a fresh SQLite file (``db``, replaced; a
    temporary one by default) and compute the measures of the complaints that arrived.
    With ``progress``, a progress bar is drawn on stderr when it is a terminal.

    Raises:
        WorkflowValidationError: the workflow is invalid.
        InvalidInputError: the scenario does not fit the workflow.
    """
    wf = workflow if isinstance(workflow, Workflow) else load_workflow(workflow)
    scenario.check(wf)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="complaintflow-sim-") as tmp:
        path = db if db is not None else Path(tmp) / "simulation.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        clock = FakeClock(scenario.start)
        with Engine.from_url(f"sqlite:///{path}", workflows=wf, clock=clock) as engine:
            sim = Simulation(engine, clock, wf, scenario)
            with progress_bar(wf.key, scenario.start, sim.end, enabled=progress) as tick:
                sim.on_step = tick
                sim.run()
            report = compute_measures(
                engine,
                since=scenario.start,
                until=scenario.start + dt.timedelta(days=scenario.days),
                by=by,
                timezone=str(sim.zone),
            )
    # complaint ids are random; without them a seed gives the same output every time
    report = report.model_copy(update={"overdue": ()})
    return SimulationResult(
        workflow=wf.key,
        report=report,
        complaints=len(sim.ids),
        timers_fired=sim.timers_fired,
        refused=tuple(sim.refused),
        seconds=time.perf_counter() - started,
    )


def print_result(result: SimulationResult, out: Callable[[str], object]) -> None:
    out(
        f"simulated {result.complaints} complaints through {result.workflow}; "
        f"{result.timers_fired} timers fired; {len(result.refused)} action(s) refused"
    )
    out(to_text(result.report, title=result.workflow).rstrip("\n"))


def print_comparison(
    a: SimulationResult, b: SimulationResult, out: Callable[[str], object]
) -> None:
    for name, result in (("A", a), ("B", b)):
        out(
            f"{name} = {result.workflow}: {result.complaints} complaints, "
            f"{result.timers_fired} timers fired, {len(result.refused)} action(s) refused"
        )
    out("the same stream (same seed) through both: B − A is the workflow's doing")
    out(compare_reports(a.report, b.report).rstrip("\n"))


# --- the command ----------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate")(simulate_command)


def simulate_command(
    workflow: Annotated[Path, typer.Argument(help="The workflow file to simulate.")],
    compare: Annotated[
        Path | None,
        typer.Option(help="Another workflow (version): run the same stream, show differences."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same stream, same output.")] = 2026,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of arrivals.")] = 30,
    arrivals_per_day: Annotated[
        float, typer.Option(min=0.1, help="Average arrivals a day.")
    ] = 40.0,
    tier_mix: Annotated[
        str | None,
        typer.Option(help="Shares by tier, e.g. minor=0.55,moderate=0.3,severe=0.11,urgent=0.04."),
    ] = None,
    satisfaction: Annotated[
        float, typer.Option(min=0, max=1, help="Chance an answering customer is satisfied.")
    ] = 0.8,
    silence: Annotated[
        float, typer.Option(min=0, max=1, help="Chance a customer never answers.")
    ] = 0.1,
    return_visits: Annotated[
        float, typer.Option(min=0, max=1, help="Share of return visits made when due.")
    ] = 0.8,
    surveys: Annotated[
        float, typer.Option(min=0, max=1, help="Share of closed complaints with a survey.")
    ] = 0.3,
    info_requests: Annotated[
        float, typer.Option(min=0, max=1, help="Chance of each of two requests for information.")
    ] = 0.2,
    escalations: Annotated[
        float, typer.Option(min=0, max=1, help="Chance a handler escalates by hand.")
    ] = 0.05,
    transfers: Annotated[float, typer.Option(min=0, max=1, help="Chance of a transfer.")] = 0.05,
    withdrawals: Annotated[
        float, typer.Option(min=0, max=1, help="Chance of a withdrawal.")
    ] = 0.03,
    settle_days: Annotated[
        int, typer.Option(min=0, max=366, help="Days people keep working after arrivals stop.")
    ] = 14,
    start: Annotated[
        str, typer.Option(help="First day (ISO date or time; in the workflow calendar's zone).")
    ] = "2026-03-02T09:00",
    by: Annotated[str, typer.Option(help="Group the measures by (see report --by).")] = "tier",
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    db: Annotated[
        Path | None, typer.Option(help="Keep the SQLite file here (replaced); --compare adds -b.")
    ] = None,
) -> None:
    """Run a synthetic stream of complaints through a real engine (SQLite, fake clock, timer
    sweeps) and print the measures; with --compare, the same stream through a second
    workflow and the differences."""
    from complaintflow.reporting._cli import parse_by, parse_when

    def log(text: str) -> None:
        typer.echo(text, err=True)

    try:
        first = load_workflow(workflow)
        zone = (
            parse_zone(first.calendar_spec.timezone) if first.calendar_spec else parse_zone("UTC")
        )
        mix = (
            {k: float(v) for k, v in parse_pairs(tier_mix, "tier-mix").items()}
            if tier_mix
            else None
        )
        scenario = Scenario(
            days=days,
            arrivals_per_day=arrivals_per_day,
            tier_mix=mix,
            satisfaction=satisfaction,
            silence=silence,
            return_visits=return_visits,
            surveys=surveys,
            info_requests=info_requests,
            escalations=escalations,
            transfers=transfers,
            withdrawals=withdrawals,
            settle_days=settle_days,
            seed=seed,
            start=parse_when(start, zone, "start"),
        )
        grouping = parse_by(by)
        a = simulate(first, scenario, db=db, by=grouping, progress=True)
        log(f"{a.workflow}: {a.seconds:.1f} s")
        b = None
        if compare is not None:
            other = db.with_name(db.stem + "-b" + db.suffix) if db is not None else None
            b = simulate(load_workflow(compare), scenario, db=other, by=grouping, progress=True)
            log(f"{b.workflow}: {b.seconds:.1f} s")
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ComplaintflowError as exc:
        problems = getattr(exc, "problems", None)
        for line in problems or [exc]:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from exc
    lines: list[str] = []
    if format is OutputFormat.json:
        import json

        runs = [r for r in (a, b) if r is not None]
        payload = [
            {
                "workflow": r.workflow,
                "complaints": r.complaints,
                "timers_fired": r.timers_fired,
                "refused": len(r.refused),
                "report": r.report.model_dump(mode="json"),
            }
            for r in runs
        ]
        lines.append(json.dumps(payload if b is not None else payload[0], indent=2))
    elif b is not None:
        print_comparison(a, b, lines.append)
    elif format is OutputFormat.table:
        print_result(a, lines.append)
    else:
        lines.append(
            render(a.report, format.value, title=f"Simulation of {a.workflow}").rstrip("\n")
        )
    write("\n".join(lines) + "\n", output)
