"""The three ways of running a complaint's lifecycle that are compared.

Each workload runs ``open -> acknowledge -> classify -> start_handling -> resolve ->
send_result -> customer_satisfied`` for its complaints, every event a full change in its
own transaction:

- ``ours``: the Engine (``Engine.from_url``; validation, the shared state machine, SLA
  clocks in business time, audit, timers, outbox, optimistic version check).
- ``floor``: plain SQLAlchemy Core executing exactly the statements our store executes for
  a lifecycle (SELECT the complaint, conditional UPDATE of its row, INSERT audit rows,
  UPDATE/INSERT timer rows, INSERT outbox rows; on open the dedup SELECT and the INSERT),
  captured from a run of the Engine on the same tables and replayed with the same
  parameters (new ids), prebuilt, in the same transactions. Nothing is computed.
- ``naive``: what a user might write: an ORM-mapped complaint row, one
  ``transitions.Machine`` built per complaint from the ORM object (model=the row),
  trigger, an audit ORM object, commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, registry

from benchmarks._db import Target, plain_engine

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILE = ROOT / "workflows" / "standard.yaml"
AGENT = ("agent-1", "agent")
INTAKE: dict[str, Any] = {
    "customer_name": "Benchmark Customer",
    "customer_contact": "+86 139 0000 0000",
    "channel": "phone",
    "object": "router",
    "reason": "drops the connection every evening",
    "demand": "replace it",
}
TIER = "severe"  # entering it notifies leadership: the classify change writes an outbox row
TRIGGERS = (
    "acknowledge",
    "classify",
    "start_handling",
    "resolve",
    "send_result",
    "customer_satisfied",
)
# values for the fields transitions require (``requires:`` in the workflow)
VALUES: dict[str, Any] = {
    "tier": TIER,
    "category": "technical",
    "solution": "replaced the router",
    "channel": "phone",
    "said": "the router was replaced; the connection is stable",
    "score": 5,
}
EVENTS_PER_COMPLAINT = 1 + len(TRIGGERS)
STEP_NAMES = ("open", *TRIGGERS)
WARMUP_COMPLAINTS = 5


def lifecycle_steps(workflow: Any) -> list[tuple[str, dict[str, Any]]]:
    """The triggers of the lifecycle with the data the workflow requires of each."""
    state = workflow.initial_state
    steps = []
    for trigger in TRIGGERS:
        transition = workflow.candidates(trigger, state)[0]
        data = {}
        for name in transition.spec.requires:
            key = name.removeprefix("data.")
            data[key] = VALUES.get(key, f"benchmark {key}")
        steps.append((trigger, data))
        state = transition.dest_from(state)
    return steps


@dataclass
class Timing:
    """Seconds spent per step (open, acknowledge, ...) and the events timed."""

    per_step: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STEP_NAMES, 0.0))
    events: int = 0


def _timed(timing: Timing | None, step: str, started: float) -> None:
    if timing is not None:
        timing.per_step[step] += time.perf_counter() - started
        timing.events += 1


# --- ours ---------------------------------------------------------------------------------


class Ours:
    """The Engine, as a host application calls it."""

    def __init__(self, target: Target | None, *, engine: Any = None) -> None:
        from complaintflow import Engine

        if engine is None:
            assert target is not None
            engine = Engine.from_url(
                target.url, workflows=WORKFLOW_FILE, migrate=False, table_prefix=target.prefix
            )
        self.engine = engine
        self.steps = lifecycle_steps(engine.workflow())

    @property
    def sql_engine(self) -> sa.Engine:
        return self.engine.store.engine

    def prepare(self, tag: str) -> str:
        return tag

    def lifecycle(self, tag: str, timing: Timing | None = None) -> str:
        engine = self.engine
        started = time.perf_counter()
        cid = engine.open({**INTAKE, "object": f"router {tag}"}, actor=AGENT).id
        _timed(timing, "open", started)
        for trigger, data in self.steps:
            started = time.perf_counter()
            engine.fire(cid, trigger, actor=AGENT, data=data)
            _timed(timing, trigger, started)
        return cid

    def close(self) -> None:
        self.engine.close()


# --- floor --------------------------------------------------------------------------------

Statement = tuple[Any, Any]  # (a Core statement, its parameters: a dict or a list of them)


def _capture(engine: Any) -> tuple[list[list[Statement]], str, str]:
    """The Core statements (and parameters) our store executes in each transaction of one
    lifecycle, with the complaint id and dedup key they were made for.

    On SQLite the store runs its hot-path statements as prebuilt driver text; they are
    taken where the store hands them over (``_SqlTransaction._execute``), as the Core
    statement and the parameters Core would be given, so the floor replays them in Core.
    """
    from complaintflow.store._sql import _SqlTransaction

    groups: list[list[Statement]] = []
    inside = [False]

    def on_begin(_conn: Any) -> None:
        groups.append([])

    def on_execute(_conn: Any, clause: Any, multiparams: Any, params: Any, _opts: Any) -> None:
        if not inside[0] and isinstance(clause, sa.sql.ClauseElement):  # not driver SQL
            groups[-1].append((clause, list(multiparams) if multiparams else dict(params)))

    original = _SqlTransaction._execute

    def execute(self: Any, statement: Any, params: Any) -> Any:
        groups[-1].append((statement, list(params) if isinstance(params, list) else dict(params)))
        inside[0] = True
        try:
            return original(self, statement, params)
        finally:
            inside[0] = False

    sql_engine = engine.store.engine
    sa.event.listen(sql_engine, "begin", on_begin)
    sa.event.listen(sql_engine, "before_execute", on_execute)
    _SqlTransaction._execute = execute  # type: ignore[method-assign]
    try:
        # a matter of its own: workers capturing at once must not meet in the dedup check
        cid = Ours(None, engine=engine).lifecycle(f"template {uuid.uuid4().hex}")
    finally:
        _SqlTransaction._execute = original  # type: ignore[method-assign]
        sa.event.remove(sql_engine, "before_execute", on_execute)
        sa.event.remove(sql_engine, "begin", on_begin)
    if len(groups) != EVENTS_PER_COMPLAINT:
        raise RuntimeError(f"expected one transaction per event, saw {len(groups)}")
    return groups, cid, engine.get(cid).dedup_key


def _swap(params: Any, swaps: dict[str, str]) -> Any:
    if isinstance(params, list):
        return [_swap(p, swaps) for p in params]
    return {k: swaps.get(v, v) if isinstance(v, str) else v for k, v in params.items()}


class Floor:
    """Plain SQLAlchemy Core replaying exactly the statements our store executes for a
    lifecycle (captured from the Engine on the same tables), with the same parameters
    except for the complaint's id and dedup key, in the same transactions."""

    def __init__(self, target: Target) -> None:
        from complaintflow import Engine

        with Engine.from_url(
            target.url, workflows=WORKFLOW_FILE, migrate=False, table_prefix=target.prefix
        ) as engine:
            self.template, self.model_id, self.model_key = _capture(engine)
        self.complaints = target.tables().complaints
        self.engine = plain_engine(target.url)
        self._serial = 0

    @property
    def sql_engine(self) -> sa.Engine:
        return self.engine

    def prepare(self, tag: str) -> list[list[tuple[Any, Any, bool]]]:
        """The statements of one complaint's lifecycle, built before the clock starts;
        the flag marks the conditional UPDATE whose row count is checked."""
        self._serial += 1
        cid = f"C-F{tag}-{self._serial}"[:40]
        swaps = {self.model_id: cid, self.model_key: hashlib.sha1(cid.encode()).hexdigest()}
        return [
            [
                (
                    statement,
                    _swap(params, swaps),
                    isinstance(statement, sa.Update) and statement.table is self.complaints,
                )
                for statement, params in group
            ]
            for group in self.template
        ]

    def lifecycle(
        self, groups: list[list[tuple[Any, Any, bool]]], timing: Timing | None = None
    ) -> None:
        for step, group in zip(STEP_NAMES, groups, strict=True):
            started = time.perf_counter()
            with self.engine.connect() as conn, conn.begin():
                for statement, params, conditional in group:
                    result = conn.execute(statement, params)
                    if result.returns_rows:
                        result.fetchall()
                    elif conditional and result.rowcount != 1:
                        raise RuntimeError("floor: the conditional UPDATE matched no row")
            _timed(timing, step, started)

    def close(self) -> None:
        self.engine.dispose()


# --- naive --------------------------------------------------------------------------------


class Naive:
    """An ORM row and a ``transitions.Machine`` per complaint, as often written by hand."""

    def __init__(self, target: Target) -> None:
        import logging

        from transitions import Machine

        from complaintflow import load_workflow

        # the default a host gets: transitions' loggers at the root's level (WARNING)
        logging.getLogger("transitions").setLevel(logging.NOTSET)
        workflow = load_workflow(WORKFLOW_FILE)
        self.states = list(workflow.states)
        self.transitions = [
            {"trigger": ct.trigger, "source": list(ct.sources), "dest": ct.spec.dest}
            for ct in workflow.transitions
        ]
        self.machine_class = Machine
        self.engine = plain_engine(target.url)
        tables = target.tables()

        class ComplaintRow:
            pass

        class AuditRow:
            pass

        mapper = registry()
        mapper.map_imperatively(ComplaintRow, tables.complaints)
        mapper.map_imperatively(AuditRow, tables.audit)
        self.row_class: Callable[..., Any] = ComplaintRow
        self.audit_class: Callable[..., Any] = AuditRow
        self.workflow_key = workflow.key
        self.steps = lifecycle_steps(workflow)
        self._serial = 0

    @property
    def sql_engine(self) -> sa.Engine:
        return self.engine

    def prepare(self, tag: str) -> str:
        return tag

    def _machine(self, row: Any) -> Any:
        return self.machine_class(
            model=row,
            states=self.states,
            transitions=self.transitions,
            initial=row.state,
            auto_transitions=False,
        )

    def _audit(
        self, row: Any, kind: str, trigger: Any, before: Any, data: Mapping[str, Any]
    ) -> Any:
        audit = self.audit_class()
        audit.complaint_id = row.id
        audit.version = row.version
        audit.seq = 0
        audit.at = row.updated_at
        audit.kind = kind
        audit.actor, audit.role = AGENT
        audit.trigger = trigger
        audit.from_state = before
        audit.to_state = row.state
        audit.data = dict(data)
        return audit

    def lifecycle(self, tag: str, timing: Timing | None = None) -> None:
        self._serial += 1
        cid = f"C-N{tag}-{self._serial}"[:40]
        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        with Session(self.engine) as session:
            row = self.row_class()
            row.id = cid
            row.workflow = self.workflow_key
            row.state = "received"
            row.version = 1
            row.owner, row.owner_role = AGENT
            row.assignee_role = "agent"
            row.channel = INTAKE["channel"]
            row.escalation_level = row.reopen_count = 0
            row.contact_count = 1
            row.is_open = True
            row.opened_at = row.updated_at = now
            row.intake = {**INTAKE, "object": f"router {tag}"}
            row.facts = {}
            row.clocks = []
            self._machine(row)
            session.add(row)
            session.add(self._audit(row, "opened", None, None, {"channel": row.channel}))
            session.commit()
        _timed(timing, "open", started)
        for trigger, data in self.steps:
            started = time.perf_counter()
            with Session(self.engine) as session:
                row = session.get(self.row_class, cid)
                assert row is not None
                self._machine(row)
                before = row.state
                row.trigger(trigger)
                row.version += 1
                row.updated_at = dt.datetime.now(dt.UTC)
                if "tier" in data:
                    row.tier, row.category = data["tier"], data["category"]
                elif data:
                    row.facts = {**row.facts, **data}
                if row.state == "closed":
                    row.is_open, row.closed_at = False, row.updated_at
                session.add(self._audit(row, "transition", trigger, before, data))
                session.commit()
            _timed(timing, trigger, started)

    def close(self) -> None:
        self.engine.dispose()


WORKLOADS: dict[str, Any] = {"ours": Ours, "floor": Floor, "naive": Naive}


@dataclass
class Prepared:
    """A workload set up and warmed up, ready for its timed run."""

    workload: Any
    run: Callable[[], Timing]
    statements: float  # SQL statements (cursor executions) per event, seen in the warm-up


def run_lifecycles(
    kind: str,
    target: Target,
    complaints: int,
    tag: str,
    warmup: int = WARMUP_COMPLAINTS,
) -> Prepared:
    """Set up ``kind`` on ``target``, warm it up (``warmup`` lifecycles, at least 2),
    prepare the timed run."""
    workload = WORKLOADS[kind](target)
    warm = [workload.prepare(f"{tag}w{i}") for i in range(max(2, warmup))]
    workload.lifecycle(warm[0])
    count = [0]

    def counted(*_args: Any) -> None:
        count[0] += 1

    # the store's hot path on SQLite runs on the driver's cursor, which Core's events
    # do not see: it is counted where it runs
    from complaintflow.store import _sql

    on_driver = _sql._run_on_driver

    def counted_on_driver(cursor: Any, sql: str, params: Any) -> Any:
        count[0] += 1
        return on_driver(cursor, sql, params)

    _sql._run_on_driver = counted_on_driver
    sa.event.listen(workload.sql_engine, "before_cursor_execute", counted)
    try:
        for item in warm[1:]:
            workload.lifecycle(item)
    finally:
        sa.event.remove(workload.sql_engine, "before_cursor_execute", counted)
        _sql._run_on_driver = on_driver
    statements = count[0] / max(1, (len(warm) - 1) * EVENTS_PER_COMPLAINT)
    items = [workload.prepare(f"{tag}-{i}") for i in range(complaints)]

    def run() -> Timing:
        timing = Timing()
        for item in items:
            workload.lifecycle(item, timing)
        return timing

    return Prepared(workload, run, statements)
