"""The lifecycle state machine: Hypothesis drives a real engine on a SQLite file with
permitted and forbidden events, people in every role and jumps of time, and every
rule is checked after every step."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import sqlalchemy as sa
from hypothesis import HealthCheck, event, target
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from complaintflow.core._records import Actor, AuditRecord, Complaint, Intake, Notification
from complaintflow.definition._calendars import calendar_from_spec
from complaintflow.definition._compile import Guard, Workflow
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import (
    ComplaintError,
    InvalidInputError,
    MissingFieldsError,
    PermissionDeniedError,
    TriggerNotAllowedError,
)
from complaintflow.store._codec import audit_from_row, complaint_from_row
from complaintflow.store._sql import SqlStore
from complaintflow.testing._engine import (
    GUARD_ANSWERS,
    WorkflowSource,
    engine_on_temp_sqlite,
    load,
)
from complaintflow.testing._facts import WorkflowFacts, facts_of
from complaintflow.testing._invariants import (
    Observed,
    TimerRow,
    Violation,
    check,
    violation_class,
)
from complaintflow.testing._story import Story, describe_records, show_data, show_value
from complaintflow.testing._strategies import (
    Event,
    SeededChoice,
    actors,
    forbidden_event,
    hostile_texts,
    intakes,
    invalid_intakes,
    permitted_event,
)
from complaintflow.time._calendar import BusinessCalendar
from complaintflow.time._clock import FakeClock

DEFAULT_EXAMPLES = 60
"""Runs of the state machine per workflow, by default."""

DEFAULT_STEPS = 30
"""Steps per run, by default."""

DEFAULT_SHRINK_SECONDS = 60
"""How long a counterexample is shrunk, by default."""

_KINDS: tuple[tuple[str, int], ...] = (
    ("forward", 8),
    ("explore", 6),
    ("forbidden", 3),
    ("next_timer", 2),
    ("time_passes", 2),
    ("transfer", 1),
    ("handover", 1),
    ("survey", 1),
    ("repeat_contact", 1),
    ("invalid_intake", 1),
)
# weights by repetition; the first kind is what failures shrink towards
STEP_KINDS = tuple(kind for kind, weight in _KINDS for _ in range(weight))

TIME_STEPS = tuple(
    dt.timedelta(**{unit: amount})
    for unit, amount in (
        ("minutes", 1),
        ("minutes", 15),
        ("hours", 1),
        ("hours", 2),
        ("hours", 4),
        ("hours", 8),
        ("days", 1),
        ("days", 2),
        ("days", 3),
        ("days", 7),
        ("days", 15),
        ("days", 31),
    )
)
_STEP_SEEDS = st.integers(0, 1023)
_TIMER_OFFSETS = (dt.timedelta(0), dt.timedelta(seconds=1), dt.timedelta(minutes=1))
_MAX_SWEEPS = 100


def kit_settings(
    *, examples: int = DEFAULT_EXAMPLES, steps: int = DEFAULT_STEPS, **options: Any
) -> Settings:
    """Hypothesis settings for the lifecycle machine: ``examples`` runs of up to
    ``steps`` steps, no deadline (a step is a real database transaction), every
    health check off, and one bug reported (the first found, shrunk)."""
    options.setdefault("deadline", None)
    options.setdefault("suppress_health_check", list(HealthCheck))
    options.setdefault("report_multiple_bugs", False)
    return Settings(max_examples=examples, stateful_step_count=steps, **options)


@contextmanager
def shrink_limit(seconds: int | None) -> Iterator[None]:
    """Bound Hypothesis's shrinking to ``seconds`` (``None``: its own five minutes): every
    attempt replays a run of the machine on a real database."""
    from hypothesis.internal.conjecture import engine as conjecture

    if seconds is None or not hasattr(conjecture, "MAX_SHRINKING_SECONDS"):
        yield
        return
    saved = conjecture.MAX_SHRINKING_SECONDS
    conjecture.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        conjecture.MAX_SHRINKING_SECONDS = saved


def workflow_calendar(workflow: Workflow) -> BusinessCalendar | None:
    """The business calendar a workflow names, or ``None``."""
    spec = workflow.calendar_spec
    if spec is None or workflow.spec.calendar is None:
        return None
    return calendar_from_spec(workflow.spec.calendar, spec)


@dataclass(frozen=True)
class _Config:
    workflow: Workflow
    facts: WorkflowFacts
    max_complaints: int
    start: dt.datetime
    declared: bool
    calendar: BusinessCalendar | None
    tz: dt.tzinfo
    title: str


class WorkflowMachine(RuleBasedStateMachine):
    """Drives one engine on a fresh SQLite file per run; see :func:`workflow_state_machine`.

    Attributes:
        engine: the engine under test.
        clock: its fake clock (only the machine moves it).
        story: what happened so far, as a readable story.
    """

    config: ClassVar[_Config]
    last_story: ClassVar[Story | None] = None
    first_failure: ClassVar[float | None] = None
    """When (``time.monotonic()``) a run first broke a rule: shrinking starts there."""

    def __init__(self) -> None:
        super().__init__()
        cfg = self.config
        self.clock = FakeClock(cfg.start)
        self._exit = ExitStack()
        self.engine: Engine = self._exit.enter_context(
            engine_on_temp_sqlite(cfg.workflow, clock=self.clock)
        )
        store = self.engine.store
        assert isinstance(store, SqlStore)
        self._store = store
        self.ids: list[str] = []
        self._edges: dict[str, set[tuple[str, str, str]]] = {}
        self._choose = SeededChoice(random.Random(0))
        self._which = SeededChoice(random.Random(0))
        self._matters: dict[tuple[Any, ...], str] = {}
        self._seen_versions: dict[str, int] = {}
        self._seen_outbox = 0
        self._histories: dict[str, list[AuditRecord]] = {}
        self._fresh_notes: dict[str, list[Notification]] = {}
        self._observed: dict[str, Observed] | None = None
        self.story = Story(cfg.title, cfg.tz)
        type(self).last_story = self.story

    def teardown(self) -> None:
        # steer the search towards runs that take more of the workflow's transitions
        taken = set().union(*self._edges.values()) if self._edges else set()
        target(float(len(taken)), label="transitions taken")
        self._exit.close()

    # --- rules --------------------------------------------------------------------------

    @initialize(data=st.data())
    def first_complaint(self, data: st.DataObject) -> None:
        self._open(data)

    @precondition(lambda self: len(self.ids) < self.config.max_complaints)
    @rule(data=st.data())
    def open_complaint(self, data: st.DataObject) -> None:
        self._open(data)

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        # the step's decisions come from one seed (see SeededChoice); its content (texts,
        # data values, people) is drawn, so a counterexample shrinks to plain values
        seed = data.draw(_STEP_SEEDS, label="step")
        # separate streams for the kind of step, the complaint and the rest, so that a
        # step's choices do not shift when Hypothesis deletes another step
        kind = SeededChoice(random.Random(seed))(STEP_KINDS)
        self._which = SeededChoice(random.Random(seed + 1_000_003))
        self._choose = SeededChoice(random.Random(seed + 2_000_006))
        action: Callable[[st.DataObject], None] = getattr(self, f"_{kind}")
        answers = GUARD_ANSWERS.set(random.Random(seed + 3_000_009))
        try:
            action(data)
        finally:
            GUARD_ANSWERS.reset(answers)

    @invariant()
    def rules_hold(self) -> None:
        observed, self._observed = self._observed, None
        self._check(observed if observed is not None else self._observe())

    # --- intake -------------------------------------------------------------------------

    def _open(self, data: st.DataObject) -> None:
        wf = self.config.workflow
        record = data.draw(intakes(wf), label="intake")
        actor = data.draw(actors(wf), label="first contact")
        self._open_record(record, actor)

    def _open_record(self, record: dict[str, Any], actor: Actor, *, of: str | None = None) -> None:
        now = self.clock.now()
        matter = self._matter(record)
        holder = self._matters.get(matter) if matter is not None else None
        joins = holder is not None and self._joins(self.engine.get(holder), now)
        try:
            complaint = self.engine.open(record, actor=actor)
        except ComplaintError as error:
            self.story.say(
                now, f"{_who(actor)} tries to open a complaint -> refused: {_err(error)}"
            )
            self._fail(
                [Violation("permitted-event-accepted", "-", f"a valid intake was refused: {error}")]
            )
        except Exception as error:
            self._crash("open", error)
        what = f"again about the matter of {self.story.alias(of)}" if of else "a complaint"
        if complaint.id in self.ids:
            self.story.say(
                now,
                f"{_who(actor)} takes in {what} ({record['channel']}) -> joins "
                f"{self.story.alias(complaint.id)} as a repeated contact",
            )
        else:
            self.ids.append(complaint.id)
            alias = self.story.alias(complaint.id)
            given: dict[str, Any] = {k: record[k] for k in ("tier", "category") if k in record}
            self.story.say(
                now,
                f"{_who(actor)} opens {alias}: {what} ({record['channel']})"
                f"{' ' + show_data(given) if given else ''} -> {complaint.state}",
            )
            if matter is not None:
                self._matters[matter] = complaint.id
        if holder is not None and joins != (complaint.id == holder):
            expected = f"join {self.story.alias(holder)}" if joins else "open a new complaint"
            self._fail(
                [
                    Violation(
                        "one-complaint-per-matter",
                        self.story.alias(complaint.id),
                        f"a repeated contact about the matter of {self.story.alias(holder)} "
                        f"should {expected}",
                    )
                ]
            )
        self._tell_changes(own_kinds=("opened", "contact"))

    def _matter(self, record: Mapping[str, Any]) -> tuple[Any, ...] | None:
        spec = self.config.workflow.spec.dedup
        if spec is None:
            return None
        intake = Intake.model_validate(dict(record))
        values = []
        for name in spec.fields:
            key = name.removeprefix("intake.")
            values.append(
                getattr(intake, key) if key in Intake.model_fields else intake.extra.get(key)
            )
        return tuple(str(v) for v in values)

    def _joins(self, holder: Complaint, now: dt.datetime) -> bool:
        spec = self.config.workflow.spec.dedup
        if spec is None or holder.closed_at is not None:
            return False
        return spec.within is None or holder.updated_at >= now - spec.within.as_timedelta()

    def _repeat_contact(self, data: st.DataObject) -> None:
        cid = self._pick(data)
        if (
            self.engine.get(cid).closed_at is not None
            and len(self.ids) >= self.config.max_complaints
        ):
            return
        record = data.draw(intakes(self.config.workflow), label="repeated intake")
        for name in ("customer_contact", "object", "customer_name"):
            record[name] = self.engine.get(cid).intake.model_dump()[name]
        for key, value in self.engine.get(cid).intake.extra.items():
            record.setdefault("extra", {})[key] = value
        actor = data.draw(actors(self.config.workflow), label="taken by")
        self._open_record(record, actor, of=cid)

    def _invalid_intake(self, data: st.DataObject) -> None:
        record = data.draw(invalid_intakes(self.config.workflow), label="invalid intake")
        actor = data.draw(actors(self.config.workflow), label="taken by")
        now = self.clock.now()
        before = self._counts()
        try:
            complaint = self.engine.open(record, actor=actor)
        except InvalidInputError as error:
            self.story.say(
                now, f"{_who(actor)} tries to open an invalid intake -> refused: {_err(error)}"
            )
        except ComplaintError as error:
            self.story.say(now, f"{_who(actor)} tries to open an invalid intake -> {_err(error)}")
            self._fail(
                [
                    Violation(
                        "refusal-documented",
                        "-",
                        f"expected InvalidInputError, got {type(error).__name__}: {error}",
                    )
                ]
            )
        except Exception as error:
            self._crash("open", error)
        else:
            self.story.say(
                now,
                f"{_who(actor)} opens an invalid intake -> accepted as "
                f"{self.story.alias(complaint.id)}",
            )
            self._fail(
                [
                    Violation(
                        "forbidden-event-refused",
                        self.story.alias(complaint.id),
                        f"an invalid intake was accepted: {show_data(record)}",
                    )
                ]
            )
        if self._counts() != before:
            self._fail(
                [
                    Violation(
                        "refusal-changes-nothing", "-", "a refused intake wrote to the database"
                    )
                ]
            )

    # --- events -------------------------------------------------------------------------

    def _forward(self, data: st.DataObject) -> None:
        self._event(data, forward=True)

    def _explore(self, data: st.DataObject) -> None:
        self._event(data, forward=False)

    def _event(self, data: st.DataObject, *, forward: bool) -> None:
        cid = self._pick(data)
        complaint = self.engine.get(cid)
        if not self.config.facts.options(complaint.state):
            return
        # exploring prefers transitions this run has not taken yet: Hypothesis likes to
        # repeat choices that worked before, and a rare branch (the customer not satisfied)
        # would otherwise seldom be tried
        chosen = permitted_event(
            data.draw,
            self._choose,
            self.config.workflow,
            complaint,
            forward=forward,
            covered=() if forward else self._edges.get(cid, set()),
        )
        self._fire(cid, chosen, state=complaint.state)

    def _forbidden(self, data: st.DataObject) -> None:
        cid = self._pick(data)
        complaint = self.engine.get(cid)
        chosen = forbidden_event(data.draw, self._choose, self.config.workflow, complaint)
        self._fire(cid, chosen)

    def _fire(self, cid: str, chosen: Event, *, state: str | None = None) -> None:
        alias = self.story.alias(cid)
        now = self.clock.now()
        shown = f" {show_data(chosen.data)}" if chosen.data else ""
        doing = f"{_who(chosen.actor)} fires {show_value(chosen.trigger)}{shown} on {alias}"
        before = self._snapshot(cid)
        try:
            after = self.engine.fire(cid, chosen.trigger, actor=chosen.actor, data=chosen.data)
        except ComplaintError as error:
            self._refused(cid, chosen, error, before, doing)
            return
        except Exception as error:
            self.story.say(now, doing)
            self._crash(f"fire {chosen.trigger}", error)
        self.story.say(now, f"{doing} -> {after.state}")
        event(f"reached {after.state}")
        if state is not None:
            self._edges.setdefault(cid, set()).add((state, chosen.trigger, chosen.actor.role))
        if chosen.expect is not None:
            self._fail(
                [
                    Violation(
                        "forbidden-event-refused",
                        alias,
                        f"{chosen.trigger} should have been refused with "
                        f"{chosen.expect.__name__} ({chosen.why}), but was accepted",
                    )
                ]
            )
        self._tell_changes(own_kinds=("transition",), own_trigger=chosen.trigger, of=cid)

    def _refused(
        self, cid: str, chosen: Event, error: ComplaintError, before: object, doing: str
    ) -> None:
        alias = self.story.alias(cid)
        now = self.clock.now()
        found: list[Violation] = []
        if chosen.expect is not None:
            verdict = "refused as it must be" if isinstance(error, chosen.expect) else "refused"
            self.story.say(now, f"{doing} ({chosen.why}) -> {verdict}: {_err(error)}")
            if not isinstance(error, chosen.expect):
                found.append(
                    Violation(
                        "refusal-documented",
                        alias,
                        f"{chosen.trigger} ({chosen.why}) should raise "
                        f"{chosen.expect.__name__}, but raised {type(error).__name__}: {error}",
                    )
                )
        else:
            self.story.say(now, f"{doing} -> refused: {_err(error)}")
            supplied = isinstance(error, MissingFieldsError) and all(
                (m.startswith("data.") and m[5:] in chosen.data) or m in chosen.data
                for m in error.missing
            )
            if isinstance(error, TriggerNotAllowedError | PermissionDeniedError) or supplied:
                found.append(
                    Violation(
                        "permitted-event-accepted",
                        alias,
                        f"the workflow permits {chosen.trigger} for {chosen.actor.role} here "
                        f"with this data, but the engine said: {error}",
                    )
                )
        if self._snapshot(cid) != before:
            found.append(
                Violation(
                    "refusal-changes-nothing",
                    alias,
                    f"refused {chosen.trigger} still changed the complaint, its audit "
                    "trail, timers or outbox",
                )
            )
        if found:
            self._fail(found)

    # --- ownership, surveys --------------------------------------------------------------

    def _transfer(self, data: st.DataObject) -> None:
        cid = self._pick(data)
        wf = self.config.workflow
        target = data.draw(actors(wf), label="new owner")
        by = data.draw(actors(wf), label="transferred by")
        wrong = self._choose(["", "", "", "target", "actor"])
        expect: type[ComplaintError] | None = None
        if wrong == "target":
            target, expect = Actor(target.id, "visitor"), InvalidInputError
        elif wrong == "actor":
            by, expect = Actor(by.id, "visitor"), PermissionDeniedError
        note = data.draw(hostile_texts(max_size=2000, padded=False), label="note")
        alias = self.story.alias(cid)
        doing = f"{_who(by)} transfers {alias} to {_who(target)}"
        before = self._snapshot(cid)
        now = self.clock.now()
        try:
            self.engine.transfer(cid, target, actor=by, note=note)
        except ComplaintError as error:
            self._refused(
                cid, Event("transfer", by, {}, expect, f"role {wrong}"), error, before, doing
            )
            return
        except Exception as error:
            self._crash("transfer", error)
        self.story.say(now, doing)
        if expect is not None:
            self._fail(
                [
                    Violation(
                        "forbidden-event-refused",
                        alias,
                        f"a transfer with an unknown {wrong} role was accepted",
                    )
                ]
            )
        self._tell_changes(own_kinds=("transfer",), of=cid)

    def _handover(self, data: st.DataObject) -> None:
        cid = self._pick(data)
        wf = self.config.workflow
        source = self.engine.get(cid).owner
        target = data.draw(actors(wf), label="hand over to")
        by = data.draw(actors(wf), label="handed over by")
        now = self.clock.now()
        try:
            handed = self.engine.handover(source, target, actor=by, note="end of shift")
        except ComplaintError as error:
            self.story.say(
                now,
                f"{_who(by)} hands {source}'s open complaints to "
                f"{_who(target)} -> refused: {_err(error)}",
            )
            return
        except Exception as error:
            self._crash("handover", error)
        which = ", ".join(self.story.alias(c.id) for c in handed) or "none open"
        self.story.say(
            now, f"{_who(by)} hands {source}'s open complaints ({which}) to {_who(target)}"
        )
        self._tell_changes(own_kinds=("transfer",))

    def _survey(self, data: st.DataObject) -> None:
        cid = self._pick(data)
        score = self._choose([1, 2, 3, 4, 5, 0, 6, True])
        by = data.draw(actors(self.config.workflow), label="recorded by")
        valid = not isinstance(score, bool) and 1 <= score <= 5
        alias = self.story.alias(cid)
        doing = f"{_who(by)} records a survey score {score!r} on {alias}"
        before = self._snapshot(cid)
        now = self.clock.now()
        try:
            self.engine.record_survey(cid, score=score, actor=by)
        except ComplaintError as error:
            expect = None if valid else InvalidInputError
            self._refused(
                cid, Event("survey", by, {}, expect, "score out of range"), error, before, doing
            )
            return
        except Exception as error:
            self._crash("record_survey", error)
        self.story.say(now, doing)
        if not valid:
            self._fail(
                [
                    Violation(
                        "forbidden-event-refused", alias, f"survey score {score!r} was accepted"
                    )
                ]
            )
        self._tell_changes(own_kinds=("survey",), of=cid)

    # --- time ---------------------------------------------------------------------------

    def _time_passes(self, data: st.DataObject) -> None:
        delta = self._choose(TIME_STEPS)
        target = self.clock.now() + delta
        self.story.say(target, f"{_duration(delta)} pass; the sweeper runs as timers fall due")
        self._run_until(target)

    def _next_timer(self, data: st.DataObject) -> None:
        due = self._store.next_due(self.clock.now())
        if due is None:
            self._time_passes(data)
            return
        offset = self._choose(_TIMER_OFFSETS)
        target = max(self.clock.now(), due + offset)
        passed = target - self.clock.now()
        self.story.say(target, f"{_duration(passed)} pass, to the next timer; the sweeper runs")
        self._run_until(target)

    def _run_until(self, target: dt.datetime) -> None:
        """Move time on to ``target`` as a running worker sees it: every timer falling due
        on the way fires at its due time (a timer it arms may fall due on the way too)."""
        for _ in range(_MAX_SWEEPS):
            due = self._store.next_due(target)
            if due is None or due >= target:
                break
            if due > self.clock.now():
                self.clock.set(due)
            self._fire_due()
        if target > self.clock.now():
            self.clock.set(target)
        self._sweep()

    def _fire_due(self) -> None:
        try:
            for _ in range(_MAX_SWEEPS):
                if self.engine.run_due_timers() == 0:
                    break
        except Exception as error:
            self._crash("run_due_timers", error)

    def _sweep(self) -> None:
        self._fire_due()
        self._tell_changes(own_kinds=())
        t = self._store.tables.timers.c
        with self._store.engine.connect() as conn:
            late = conn.execute(
                sa.select(t.complaint_id, t.clock, t.kind).where(
                    t.status == "pending", t.due_at <= self.clock.now()
                )
            ).all()
        if late:
            self._fail(
                [
                    Violation(
                        "timers-swept",
                        self.story.alias(row[0]),
                        f"timer {row[1]} {row[2]} is due but still pending after the sweeper ran",
                    )
                    for row in late
                ]
            )

    # --- observing and checking ---------------------------------------------------------

    def _pick(self, data: st.DataObject) -> str:
        return self._which(self.ids)

    def _observe(self) -> dict[str, Observed]:
        """Every complaint of the run as stored now, read in one connection (the audit
        trail only from the versions not read before)."""
        if not self.ids:
            return {}
        t = self._store.tables
        timers: dict[str, list[TimerRow]] = {cid: [] for cid in self.ids}
        notes: dict[str, list[Notification]] = {cid: [] for cid in self.ids}
        fresh_notes: dict[str, list[Notification]] = {}
        with self._store.engine.connect() as conn:
            complaints = {
                row["id"]: complaint_from_row(row)
                for row in conn.execute(
                    sa.select(t.complaints).where(t.complaints.c.id.in_(self.ids))
                ).mappings()
            }
            ac = t.audit.c
            for cid, complaint in complaints.items():
                known = self._histories.setdefault(cid, [])
                if not known or known[-1].version < complaint.version:
                    after = known[-1].version if known else 0
                    known.extend(
                        audit_from_row(row)
                        for row in conn.execute(
                            sa.select(t.audit)
                            .where(ac.complaint_id == cid, ac.version > after)
                            .order_by(ac.version, ac.seq)
                        ).mappings()
                    )
            tc = t.timers.c
            for row in conn.execute(
                sa.select(
                    tc.complaint_id,
                    tc.clock,
                    tc.kind,
                    tc.threshold,
                    tc.sequence,
                    tc.due_at,
                    tc.status,
                )
                .where(tc.complaint_id.in_(self.ids))
                .order_by(tc.id)
            ):
                timers[row[0]].append(TimerRow(*row[1:]))
            oc = t.outbox.c
            for message in conn.execute(
                sa.select(oc.id, oc.complaint_id, oc.role, oc.kind, oc.at, oc.payload)
                .where(oc.complaint_id.in_(self.ids))
                .order_by(oc.id)
            ):
                key, owner, role, kind, at, payload = tuple(message)
                note = Notification(owner, role, kind, at, dict(payload))
                notes[owner].append(note)
                if key > self._seen_outbox:
                    fresh_notes.setdefault(owner, []).append(note)
                    self._seen_outbox = key
        self._fresh_notes = fresh_notes
        return {
            cid: Observed(complaints[cid], list(self._histories[cid]), timers[cid], notes[cid])
            for cid in self.ids
        }

    def _check(self, observed: Mapping[str, Observed]) -> None:
        cfg = self.config
        found: list[Violation] = []
        for cid, seen in observed.items():
            found.extend(
                check(
                    cfg.facts,
                    seen,
                    self.story.alias(cid),
                    now=self.clock.now(),
                    calendar=cfg.calendar,
                    declared=cfg.declared,
                )
            )
        if found:
            self._fail(found)

    def _snapshot(self, cid: str) -> object:
        t = self._store.tables
        with self._store.engine.connect() as conn:
            row = conn.execute(sa.select(t.complaints).where(t.complaints.c.id == cid)).first()
            audit = conn.execute(
                sa.select(sa.func.count()).where(t.audit.c.complaint_id == cid)
            ).scalar()
            timers = conn.execute(
                sa.select(t.timers.c.id, t.timers.c.status)
                .where(t.timers.c.complaint_id == cid)
                .order_by(t.timers.c.id)
            ).all()
            outbox = conn.execute(
                sa.select(sa.func.count()).where(t.outbox.c.complaint_id == cid)
            ).scalar()
        return (tuple(row) if row is not None else None, audit, tuple(map(tuple, timers)), outbox)

    def _counts(self) -> tuple[int, ...]:
        t = self._store.tables
        with self._store.engine.connect() as conn:
            return tuple(
                int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in (t.complaints, t.audit, t.timers, t.outbox, t.contacts)
            )

    def _tell_changes(
        self,
        *,
        own_kinds: Sequence[str],
        own_trigger: str | None = None,
        of: str | None = None,
    ) -> None:
        """Add to the story what the step did besides what its own line says."""
        self._observed = self._observe()
        notes = self._fresh_notes
        for cid in self.ids:
            seen = self._seen_versions.get(cid, 0)
            fresh = [r for r in self._observed[cid].history if r.version > seen]
            if not fresh and cid not in notes:
                continue
            if fresh:
                self._seen_versions[cid] = fresh[-1].version
            own = None
            if cid == of or of is None:
                own = next(
                    (
                        r
                        for r in reversed(fresh)
                        if r.kind in own_kinds and (own_trigger is None or r.trigger == own_trigger)
                    ),
                    None,
                )
            phrases = describe_records(fresh, notes.get(cid, []), own=own)
            if of is None and len(self.ids) > 1 and phrases:
                phrases = [f"{self.story.alias(cid)}: {p}" for p in phrases]
            for phrase in phrases:
                self.story.detail(phrase)

    def _failing(self) -> None:
        if type(self).first_failure is None:
            type(self).first_failure = time.monotonic()

    def _fail(self, violations: Sequence[Violation]) -> NoReturn:
        self._failing()
        ending = [f"!! rule broken: {v}" for v in violations]
        text = self.story.render(ending)
        raise violation_class(violations[0].invariant)(violations, text, self.config.workflow.key)

    def _crash(self, operation: str, error: Exception) -> NoReturn:
        self._failing()
        message = f"{operation} raised {type(error).__name__}: {error}"
        ending = [f"!! rule broken: engine-error: {message}"]
        text = self.story.render(ending)
        raise violation_class("engine-error")(
            [Violation("engine-error", "-", message)], text, self.config.workflow.key
        ) from error


def _who(actor: Actor) -> str:
    return f"{actor.role} {show_value(actor.id)}"


def _err(error: Exception) -> str:
    reason = getattr(error, "reason", None) or ""
    return type(error).__name__ + (f" ({reason})" if reason else "")


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return " ".join(parts) or "no time"


def workflow_state_machine(
    workflow: WorkflowSource,
    *,
    guards: Mapping[str, Guard] | None = None,
    max_complaints: int = 2,
    start: dt.datetime | None = None,
    declared_invariants: bool = True,
    settings: Settings | None = None,
    shrink_seconds: int | None = DEFAULT_SHRINK_SECONDS,
) -> type[WorkflowMachine]:
    """A Hypothesis state machine that hunts for lifecycle rule violations of ``workflow``.

    Each run opens up to ``max_complaints`` complaints on a real engine (a fresh
    SQLite file) and takes random steps: events the workflow permits (biased towards
    those that bring a complaint nearer to closing), events it forbids, transfers,
    shift handovers, surveys, repeated contacts, invalid intake records, and jumps of
    time after which the timer sweeper runs. After every step every rule is checked:
    the built-in ones (:data:`BUILTIN_INVARIANTS`) and those the workflow declares
    under ``invariants:``. A broken rule raises :class:`InvariantViolation`, shrunk to
    the fewest steps, whose ``story`` tells them in words.

    Use it in a test module::

        from complaintflow.testing import workflow_state_machine

        TestStandard = workflow_state_machine("workflows/standard.yaml").TestCase

    Args:
        workflow: a compiled workflow, or a workflow file.
        guards: the host's named guards the workflow refers to (when loading a file);
            those it names but ``guards`` lacks are played by stand-ins that say yes or
            no (see ``stand_in_guard``).
        max_complaints: complaints per run.
        start: when each run starts (default: Monday 2026-01-05 09:00 in the zone of
            the workflow's calendar, else UTC).
        declared_invariants: check the workflow's own ``invariants:`` too.
        settings: Hypothesis settings of ``TestCase`` (default: :func:`kit_settings`).
        shrink_seconds: how long ``TestCase`` shrinks a counterexample (``None``:
            Hypothesis's own limit of five minutes).

    Returns:
        A ``RuleBasedStateMachine`` subclass; its ``TestCase`` runs it under unittest
        or pytest.
    """
    compiled = load(workflow, guards=guards, stand_ins=True)
    calendar = workflow_calendar(compiled)
    tz: dt.tzinfo = calendar.tzinfo if calendar is not None else dt.UTC
    if start is None:
        start = dt.datetime(2026, 1, 5, 9, 0, tzinfo=tz)
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    zone = getattr(tz, "key", "UTC")
    source = compiled.file if compiled.file != "<string>" else "(built in Python)"
    config = _Config(
        workflow=compiled,
        facts=facts_of(compiled),
        max_complaints=max_complaints,
        start=start.astimezone(dt.UTC),
        declared=declared_invariants,
        calendar=calendar,
        tz=tz,
        title=f"Counterexample for {compiled.key} ({source}); times in {zone}:",
    )
    words = re.split(r"[^A-Za-z0-9]+", compiled.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) + "Lifecycle"
    machine: type[WorkflowMachine] = type(
        name if name[0].isalpha() else "Workflow" + name,
        (WorkflowMachine,),
        {"config": config, "__module__": __name__},
    )
    case = machine.TestCase
    case.settings = settings or kit_settings()
    run = case.runTest

    def run_test(self: Any) -> None:
        with shrink_limit(shrink_seconds):
            run(self)

    setattr(case, "runTest", run_test)  # noqa: B010 - mypy refuses assigning to a method
    return machine
