"""Conflicting events fired at one complaint from 8 threads and from 4 processes.

Whatever the interleaving, exactly one change wins per version, no successful call is
lost, losers get only the documented typed errors, and the audit trail is a valid path
through the workflow. Runs on a SQLite file and on PostgreSQL (isolated by a unique
table prefix, dropped afterwards).
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from complaintflow import (
    ConcurrencyConflictError,
    Engine,
    TriggerNotAllowedError,
    Workflow,
    load_workflows,
)
from complaintflow.store import SqlStore

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILE = ROOT / "workflows" / "standard.yaml"
ACTOR = ("s-1", "supervisor")  # a role that may fire almost every trigger
INTAKE = {
    "customer_name": "Test Customer",
    "customer_contact": "customer@example.com",
    "channel": "phone",
    "object": "router",
    "reason": "drops the connection",
}
THREADS = 8
PROCESSES = 4
ATTEMPTS = 25  # per thread or process
NOTES = 25  # add_note calls per thread or process
# Starting 4 processes and racing them takes 4-12 s depending on the machine's load: the
# process tests are marked slow; the thread tests take 1-7 s.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TYPED = (ConcurrencyConflictError, TriggerNotAllowedError)


def _retrying_failures(engine: Engine) -> set[str]:
    """What a call without an expected version may fail with: only that the state moved
    on. The write transaction locks the complaint row (PostgreSQL FOR UPDATE; SQLite's
    BEGIN IMMEDIATE), so a retry never meets a conflict."""
    return {"TriggerNotAllowedError"}


@dataclass
class Tally:
    """What one thread or process saw: its wins and its failures."""

    wins: list[tuple[int, str]] = field(default_factory=list)  # (new version, trigger)
    failures: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.wins += other.wins
        self.failures.update(other.failures)
        self.unexpected += other.unexpected


@dataclass(frozen=True)
class Database:
    url: str
    prefix: str


def _data(workflow: Workflow, trigger: str, state: str, rng: random.Random) -> dict[str, Any]:
    """What the transition requires (``requires:`` in the workflow), filled in."""
    values = {
        "tier": rng.choice(["minor", "moderate", "severe", "urgent"]),
        "category": "technical",
        "score": rng.randint(1, 5),
        "note": f"note {rng.random()}",
    }
    data = {}
    for name in workflow.candidates(trigger, state)[0].spec.requires:
        key = name.removeprefix("data.")
        data[key] = values.get(key, f"some {key}")
    return data


def _race(
    engine: Engine,
    complaint_id: str,
    *,
    optimistic: bool,
    rng: random.Random,
    start: Any,
) -> Tally:
    """Read the complaint, fire a trigger its state allows, again and again."""
    workflow = engine.workflow()
    tally = Tally()
    start.wait(timeout=120)
    for _ in range(ATTEMPTS):
        seen = engine.get(complaint_id)
        allowed = [t for t in workflow.allowed_triggers(seen.state, ACTOR[1]) if t != "withdraw"]
        trigger = rng.choice(allowed)
        try:
            after = engine.fire(
                complaint_id,
                trigger,
                actor=ACTOR,
                data=_data(workflow, trigger, seen.state, rng),
                expected_version=seen.version if optimistic else None,
            )
        except TYPED as error:
            tally.failures[type(error).__name__] += 1
        except Exception as error:
            tally.unexpected.append(repr(error))
        else:
            tally.wins.append((after.version, trigger))
    return tally


def _notes(engine: Engine, complaint_id: str, *, start: Any) -> Tally:
    """Fire add_note without an expected version: the engine retries conflicts."""
    tally = Tally()
    start.wait(timeout=120)
    for i in range(NOTES):
        try:
            after = engine.fire(complaint_id, "add_note", actor=ACTOR, data={"note": f"n{i}"})
        except TYPED as error:
            tally.failures[type(error).__name__] += 1
        except Exception as error:
            tally.unexpected.append(repr(error))
        else:
            tally.wins.append((after.version, "add_note"))
    return tally


# --- checks -----------------------------------------------------------------------------


def _check_trail(engine: Engine, complaint_id: str, tally: Tally, workflow: Workflow) -> None:
    """One transition per version, contiguous versions, each a move of the workflow,
    and exactly the successful calls recorded (nothing lost, nothing doubled)."""
    assert tally.unexpected == []
    final = engine.get(complaint_id)
    records = engine.history(complaint_id)
    assert sorted({r.version for r in records}) == list(range(1, final.version + 1))
    transitions = [r for r in records if r.kind == "transition"]
    per_version = Counter(r.version for r in transitions)
    assert per_version == dict.fromkeys(range(2, final.version + 1), 1)
    assert sorted(tally.wins) == sorted((r.version, r.trigger or "") for r in transitions)
    assert final.version == 1 + len(tally.wins)

    state = None
    for r in records:
        if r.kind == "opened":
            assert (r.version, r.from_state, r.to_state) == (1, None, workflow.initial_state)
        elif r.kind == "transition":
            assert r.from_state == state, r
            assert r.trigger is not None
            moves = workflow.candidates(r.trigger, r.from_state)
            assert r.to_state in {ct.dest_from(r.from_state) for ct in moves}, r
        else:
            assert r.from_state == r.to_state == state, r
        state = r.to_state
    assert state == final.state


# --- databases ----------------------------------------------------------------------------


@contextmanager
def _database(backend: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[Database]:
    if backend == "sqlite":
        yield Database(f"sqlite:///{folder / 'complaints.db'}", "cf_")
        return
    url = request.getfixturevalue("postgres_url")
    database = Database(url, f"cfcc{uuid.uuid4().hex[:10]}_")
    try:
        yield database
    finally:
        store = SqlStore(url, table_prefix=database.prefix)
        try:
            store.tables.metadata.drop_all(store.engine)
            with store.engine.begin() as conn:
                conn.execute(text(f'DROP TABLE IF EXISTS "{store.tables.version_table}"'))
        finally:
            store.close()


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_workflows(WORKFLOW_FILE)


@pytest.fixture(params=BACKENDS)
def race_engine(
    request: pytest.FixtureRequest, tmp_path: Path, workflows: dict[str, Workflow]
) -> Iterator[Engine]:
    with (
        _database(request.param, request, tmp_path) as db,
        Engine.from_url(db.url, workflows=workflows, table_prefix=db.prefix) as engine,
    ):
        yield engine


# --- threads ----------------------------------------------------------------------------


def _in_threads(work: Any) -> Tally:
    start = threading.Barrier(THREADS)
    tallies = [Tally() for _ in range(THREADS)]

    def run(i: int) -> None:
        tallies[i] = work(i, start)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def test_threads_with_expected_version_one_winner_per_version(race_engine: Engine) -> None:
    """Losers of an optimistic race get ConcurrencyConflictError, and only that."""
    complaint = race_engine.open(INTAKE, actor=ACTOR)
    tally = _in_threads(
        lambda i, start: _race(
            race_engine, complaint.id, optimistic=True, rng=random.Random(i), start=start
        )
    )
    _check_trail(race_engine, complaint.id, tally, race_engine.workflow())
    assert set(tally.failures) == {"ConcurrencyConflictError"}
    assert len(tally.wins) + tally.failures.total() == THREADS * ATTEMPTS


def test_threads_without_expected_version_lose_no_update(race_engine: Engine) -> None:
    """Retried conflicts land on the newest version; a trigger the moved-on state no
    longer allows fails with TriggerNotAllowedError."""
    complaint = race_engine.open(INTAKE, actor=ACTOR)
    tally = _in_threads(
        lambda i, start: _race(
            race_engine, complaint.id, optimistic=False, rng=random.Random(i), start=start
        )
    )
    _check_trail(race_engine, complaint.id, tally, race_engine.workflow())
    assert set(tally.failures) <= _retrying_failures(race_engine)
    assert len(tally.wins) + tally.failures.total() == THREADS * ATTEMPTS


def test_threads_add_notes_all_succeed(race_engine: Engine) -> None:
    """Internal events without an expected version all succeed and none is lost."""
    complaint = race_engine.open(INTAKE, actor=ACTOR)
    tally = _in_threads(lambda i, start: _notes(race_engine, complaint.id, start=start))
    assert tally.failures == Counter()
    _check_trail(race_engine, complaint.id, tally, race_engine.workflow())
    assert race_engine.get(complaint.id).version == 1 + THREADS * NOTES


# --- processes ----------------------------------------------------------------------------


def _process_main(
    db: Database,
    race_id: str,
    notes_id: str,
    optimistic: bool,
    seed: int,
    start: Any,
    results: Any,
) -> None:
    """One process: its own Engine from the URL, a race, then a run of notes."""
    try:
        with Engine.from_url(
            db.url, workflows=WORKFLOW_FILE, migrate=False, table_prefix=db.prefix
        ) as engine:
            race = _race(
                engine, race_id, optimistic=optimistic, rng=random.Random(seed), start=start
            )
            notes = _notes(engine, notes_id, start=start)
        results.put({"optimistic": optimistic, "race": race, "notes": notes, "error": None})
    except BaseException as error:
        start.abort()  # the others stop waiting for this one
        results.put({"error": repr(error)})
        raise


def _context() -> Any:
    """A forkserver that imported the library once, so 4 workers start in about a
    second instead of importing it 4 times over (spawn where there is no forkserver)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["complaintflow", "sqlalchemy", "psycopg"])
    return context


@dataclass(frozen=True)
class ProcessRun:
    engine: Engine
    race_id: str
    notes_id: str
    optimistic: Tally
    retrying: Tally
    notes: Tally


@pytest.fixture(scope="module", params=BACKENDS)
def process_run(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    workflows: dict[str, Workflow],
) -> Iterator[ProcessRun]:
    """4 processes race on one complaint (two optimistic, two retrying), then all add
    notes to another; each process has its own Engine built from the URL."""
    folder = tmp_path_factory.mktemp("processes")
    with (
        _database(request.param, request, folder) as db,
        Engine.from_url(db.url, workflows=workflows, table_prefix=db.prefix) as engine,
    ):
        race_id = engine.open(INTAKE, actor=ACTOR).id
        notes_id = engine.open({**INTAKE, "object": "modem"}, actor=ACTOR).id
        context = _context()
        start = context.Barrier(PROCESSES)
        results = context.Queue()
        processes = [
            context.Process(
                target=_process_main,
                args=(db, race_id, notes_id, i % 2 == 0, i, start, results),
            )
            for i in range(PROCESSES)
        ]
        for p in processes:
            p.start()
        try:
            outcomes = [results.get(timeout=180) for _ in processes]
        except queue.Empty:
            pytest.fail("a worker process neither reported nor failed in time")
        finally:
            for p in processes:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()
        optimistic, retrying, notes = Tally(), Tally(), Tally()
        for outcome in outcomes:
            assert outcome["error"] is None, f"a worker process failed: {outcome['error']}"
            (optimistic if outcome["optimistic"] else retrying).add(outcome["race"])
            notes.add(outcome["notes"])
        yield ProcessRun(engine, race_id, notes_id, optimistic, retrying, notes)


@pytest.mark.slow
def test_processes_one_winner_per_version(process_run: ProcessRun) -> None:
    """Across processes every version has one winning transition and the trail is a
    valid path; optimistic losers see only ConcurrencyConflictError."""
    run = process_run
    both = Tally()
    both.add(run.optimistic)
    both.add(run.retrying)
    _check_trail(run.engine, run.race_id, both, run.engine.workflow())
    assert set(run.optimistic.failures) <= {"ConcurrencyConflictError"}
    assert set(run.retrying.failures) <= _retrying_failures(run.engine)
    attempts = len(both.wins) + both.failures.total()
    assert attempts == PROCESSES * ATTEMPTS


@pytest.mark.slow
def test_processes_add_notes_all_succeed(process_run: ProcessRun) -> None:
    """Notes added from several processes without an expected version all land."""
    run = process_run
    assert run.notes.failures == Counter()
    _check_trail(run.engine, run.notes_id, run.notes, run.engine.workflow())
    assert run.engine.get(run.notes_id).version == 1 + PROCESSES * NOTES
