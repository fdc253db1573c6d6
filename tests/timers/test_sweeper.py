"""The sweeper fires each due timer exactly once: leases, take-overs, stale timers.

A sweep has two steps: ``lease`` (claim due timers for a while) and ``fire`` (lock
the complaints, then the timers still leased to this sweeper, apply, commit). A
sweeper "dies" here by leasing and never firing; it "comes back" by running its fire
step with the ids it had leased.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from complaintflow import Complaint, ConcurrencyConflictError, Engine, FakeClock
from complaintflow.core import _apply as core
from complaintflow.store._port import ClaimedTimer, TimerOutcome
from complaintflow.timers import Sweeper, SweepResult

from ._support import AGENT, STANDARD, drop_tables, intake, new_prefix, sql_store, timer_rows
from .conftest import START
from .test_clock_timers import assert_timers_match_clocks, start_handling, timer_records

H = dt.timedelta(hours=1)
LEASE = dt.timedelta(seconds=60)
TICK = dt.timedelta(milliseconds=1)


def due_warnings(engine: Engine, clock: FakeClock, count: int = 5) -> list[Complaint]:
    """``count`` complaints whose 50 % warning (5 h after START) is due now."""
    complaints = [start_handling(engine, n=n) for n in range(count)]
    clock.set(START + 5 * H)
    return complaints


def lease_and_die(engine: Engine, sweeper: Sweeper, clock: FakeClock) -> list[int]:
    """The first step of ``sweeper.run_once()``; the sweeper then stops dead."""
    return engine.store.lease_due_timers(
        clock.now(), limit=sweeper.batch_size, worker=sweeper.worker_id, lease=sweeper.lease
    )


@contextmanager
def coming_back(engine: Engine, ids: list[int]) -> Iterator[None]:
    """While inside, a sweep continues with ``ids``, the timers it leased before it stalled."""
    store = engine.store
    lease, next_due = store.lease_due_timers, store.next_due
    # it had seen timers due, and leased these, before it stalled
    store.next_due = lambda now=None: START  # type: ignore[method-assign]
    store.lease_due_timers = lambda *args, **kwargs: list(ids)  # type: ignore[method-assign]
    try:
        yield
    finally:
        store.lease_due_timers, store.next_due = lease, next_due  # type: ignore[method-assign]


def one_record_each(engine: Engine, complaints: list[Complaint]) -> None:
    for complaint in complaints:
        records = timer_records(engine, complaint.id)
        assert [(r.trigger, r.data["threshold"]) for r in records] == [("warning", 50.0)]


def versions(engine: Engine, complaints: list[Complaint]) -> list[int]:
    return [engine.get(c.id).version for c in complaints]


# --- leases -------------------------------------------------------------------------------


def test_a_lease_names_its_owner_and_expiry(engine: Engine, clock: FakeClock) -> None:
    due_warnings(engine, clock, 2)
    a = engine.sweeper(worker_id="A", lease=LEASE)
    ids = lease_and_die(engine, a, clock)
    rows = [r for r in timer_rows(engine) if r["id"] in ids]
    assert len(rows) == 2
    assert {(r["status"], r["lease_owner"], r["lease_until"]) for r in rows} == {
        ("pending", "A", clock.now() + LEASE)
    }


def test_another_sweeper_cannot_take_leased_timers_before_the_lease_expires(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock)
    a = engine.sweeper(worker_id="A", lease=LEASE)
    b = engine.sweeper(worker_id="B", lease=LEASE)
    assert len(lease_and_die(engine, a, clock)) == 5

    assert b.run_once() == SweepResult(0, 0, 0, 0)
    clock.advance(LEASE)  # the lease lasts up to and including lease_until
    assert b.run_once() == SweepResult(0, 0, 0, 0)
    assert [timer_records(engine, c.id) for c in complaints] == [[]] * 5


def test_after_the_lease_expires_another_sweeper_fires_them_exactly_once(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock)
    a = engine.sweeper(worker_id="A", lease=LEASE)
    b = engine.sweeper(worker_id="B", lease=LEASE)
    lease_and_die(engine, a, clock)
    clock.advance(LEASE + TICK)

    assert b.run_once() == SweepResult(5, 5, 0, 0)
    assert b.run_once() == SweepResult(0, 0, 0, 0)
    one_record_each(engine, complaints)
    fired = [r for r in timer_rows(engine) if r["status"] == "fired"]
    assert len(fired) == 5
    assert {(r["lease_owner"], r["lease_until"]) for r in fired} == {(None, None)}


def test_a_sweeper_back_after_its_timers_fired_elsewhere_applies_nothing(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock)
    a = engine.sweeper(worker_id="A", lease=LEASE)
    b = engine.sweeper(worker_id="B", lease=LEASE)
    ids = lease_and_die(engine, a, clock)
    clock.advance(LEASE + TICK)
    b.run_once()
    before = versions(engine, complaints)

    with coming_back(engine, ids):
        assert a.run_once() == SweepResult(5, 0, 0, 0)
    assert versions(engine, complaints) == before
    one_record_each(engine, complaints)


def test_a_sweeper_back_after_its_lease_was_taken_over_applies_nothing(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock)
    a = engine.sweeper(worker_id="A", lease=LEASE)
    b = engine.sweeper(worker_id="B", lease=LEASE)
    ids_a = lease_and_die(engine, a, clock)
    clock.advance(LEASE + TICK)
    ids_b = lease_and_die(engine, b, clock)  # B holds the lease now, not yet fired
    assert sorted(ids_b) == sorted(ids_a)
    before = versions(engine, complaints)

    with coming_back(engine, ids_a):
        assert a.run_once() == SweepResult(5, 0, 0, 0)
    assert versions(engine, complaints) == before
    with coming_back(engine, ids_b):
        assert b.run_once() == SweepResult(5, 5, 0, 0)
    one_record_each(engine, complaints)


def test_a_sweeper_back_late_whose_lease_nobody_took_fires_them_once(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock)
    a = engine.sweeper(worker_id="A", lease=LEASE)
    b = engine.sweeper(worker_id="B", lease=LEASE)
    ids = lease_and_die(engine, a, clock)
    clock.advance(2 * LEASE)

    with coming_back(engine, ids):
        assert a.run_once() == SweepResult(5, 5, 0, 0)
    assert b.run_once() == SweepResult(0, 0, 0, 0)
    one_record_each(engine, complaints)


def test_a_sweeper_takes_at_most_its_batch_oldest_due_first(
    engine: Engine, clock: FakeClock
) -> None:
    # armed in this order, due in the reverse one: 50 % of 10 h, 8 h, 4 h
    for n, tier in enumerate(("minor", "moderate", "urgent")):
        start_handling(engine, tier, n=n)
    clock.set(START + 20 * H)
    handle = {
        r["id"]: r["due_at"]
        for r in timer_rows(engine)
        if r["status"] == "pending" and r["clock"] == "handle"
    }
    assert len(handle) == 3
    sweeper = engine.sweeper(worker_id="A", batch_size=2, lease=LEASE)
    ids = lease_and_die(engine, sweeper, clock)
    assert ids == sorted(handle, key=lambda i: (handle[i], i))[:2]
    assert ids != sorted(handle)[:2]


def test_sweepers_running_at_the_same_time_fire_each_timer_once(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock, 30)
    sweepers = [engine.sweeper(worker_id=f"W{n}", batch_size=4, lease=LEASE) for n in range(3)]
    results: list[int] = []
    errors: list[BaseException] = []
    go = threading.Barrier(len(sweepers))

    def sweep(sweeper: Sweeper) -> None:
        try:
            go.wait(timeout=10)
            results.append(sweeper.run_until_idle(max_batches=50))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(results) == 30
    one_record_each(engine, complaints)


# --- stale and failed timers ----------------------------------------------------------------


def add_timer(engine: Engine, complaint_id: str, *, sequence: int, due_at: dt.datetime) -> int:
    """A pending timer row the complaint's clock does not expect."""
    store = sql_store(engine)
    with store.engine.begin() as conn:
        result = conn.execute(
            sa.insert(store.tables.timers).values(
                complaint_id=complaint_id,
                clock="handle",
                kind="warning",
                threshold=50.0,
                sequence=sequence,
                due_at=due_at,
                status="pending",
                created_at=due_at,
            )
        )
    timer_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert isinstance(timer_id, int)
    return timer_id


def test_a_timer_for_a_threshold_already_passed_is_settled_stale_without_effect(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = start_handling(engine)
    stale = add_timer(engine, complaint.id, sequence=7, due_at=START + H)
    with pytest.raises(AssertionError, match="2 pending timers"):
        assert_timers_match_clocks(engine, complaint.id)
    clock.set(START + 2 * H)

    assert engine.sweeper().run_once() == SweepResult(1, 0, 1, 0)
    [row] = [r for r in timer_rows(engine, complaint.id) if r["id"] == stale]
    assert (row["status"], row["fired_at"], row["lease_owner"]) == ("stale", clock.now(), None)
    after = engine.get(complaint.id)
    assert after.version == complaint.version
    assert timer_records(engine, complaint.id) == []
    assert_timers_match_clocks(engine, complaint.id)  # the real one is still pending


def test_a_timer_of_a_stopped_clock_is_settled_stale_without_effect(
    engine: Engine, clock: FakeClock
) -> None:
    complaint = engine.fire(start_handling(engine).id, "resolve", actor=AGENT)
    stale = add_timer(engine, complaint.id, sequence=0, due_at=START + H)
    clock.set(START + 6 * H)

    assert engine.sweeper().run_once() == SweepResult(1, 0, 1, 0)
    assert [r["status"] for r in timer_rows(engine, complaint.id) if r["id"] == stale] == ["stale"]
    assert engine.get(complaint.id).version == complaint.version
    assert timer_records(engine, complaint.id) == []


def test_a_timer_of_a_workflow_this_worker_has_not_loaded_is_left_for_one_that_has(
    db_url: str, clock: FakeClock
) -> None:
    prefix = new_prefix()
    full = Engine.from_url(db_url, workflows=STANDARD, clock=clock, table_prefix=prefix)
    sla = Path(__file__).with_name("sla.yaml")
    partial = Engine.from_url(db_url, workflows=sla, clock=clock, table_prefix=prefix)
    try:
        complaint = full.open(intake(0), actor=AGENT)
        clock.advance(19 * H)  # the acknowledge and respond warnings are due
        result = partial.sweeper().run_once()
        assert (result.fired, result.failed, result.deferred) == (0, 0, 2)
        assert full.run_due_timers() == 2
        assert full.get(complaint.id).version == complaint.version + 2
    finally:
        partial.close()
        drop_tables(sql_store(full))
        full.close()


def test_due_timers_fired_by_one_sweep_arm_their_successors_in_the_same_transaction(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock, 3)
    assert engine.sweeper().run_once().fired == 3
    statuses = Counter(
        (r["clock"], r["sequence"], r["status"])
        for r in timer_rows(engine)
        if r["clock"] == "handle"
    )
    assert statuses == {("handle", 0, "fired"): 3, ("handle", 1, "pending"): 3}
    for complaint in complaints:
        assert_timers_match_clocks(engine, complaint.id)


# --- one batch, several timers of a complaint -------------------------------------------------


def close_after_feedback_wait(engine: Engine, clock: FakeClock) -> str:
    """A complaint whose feedback timer (7 days) and overall warning (24 days) are both
    due after ``clock`` moves 25 days on."""
    cid = engine.open(intake(0), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    engine.fire(cid, "classify", actor=AGENT, data={"tier": "minor", "category": "service"})
    engine.fire(cid, "start_handling", actor=AGENT)
    engine.fire(cid, "resolve", actor=AGENT, data={"solution": "replaced"})
    engine.fire(cid, "send_result", actor=AGENT, data={"channel": "phone", "said": "done"})
    clock.advance(dt.timedelta(days=25))
    return cid


def test_a_timer_cancelled_by_an_earlier_timer_of_its_batch_is_settled_cancelled_quietly(
    standard_engine: Engine, clock: FakeClock
) -> None:
    cid = close_after_feedback_wait(standard_engine, clock)
    with capture_logs() as logs:
        result = standard_engine.sweeper().run_once()
    assert result == SweepResult(2, 1, 0, 0, cancelled=1)
    assert standard_engine.get(cid).state == "closed"
    statuses = {r["clock"]: r["status"] for r in timer_rows(standard_engine, cid)}
    assert (statuses["_feedback"], statuses["overall"]) == ("fired", "cancelled")
    assert [e["event"] for e in logs if e["event"].startswith("timer.")] == []


def comparable(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Audit records and timer rows, without the ids that differ between two runs."""
    records = []
    for complaint in engine.query(limit=100):
        for r in engine.history(complaint.id):
            data = {k: v for k, v in r.data.items() if k not in ("lag_seconds", "complaint_id")}
            records.append((r.version, r.seq, r.kind, r.trigger, r.to_state, sorted(data)))
    timers = sorted(
        (r["clock"], r["kind"], r["sequence"], r["due_at"], r["status"], r["fired_at"])
        for r in timer_rows(engine)
    )
    return records, timers


def test_a_batch_writes_what_firing_its_timers_one_by_one_would(
    db_url: str, clock: FakeClock
) -> None:
    engines = [
        Engine.from_url(db_url, workflows=STANDARD, clock=clock, table_prefix=new_prefix())
        for _ in range(2)
    ]
    try:
        for engine in engines:
            for n in range(4):
                engine.open(intake(n), actor=AGENT)
        # the acknowledge and respond warnings, then their breaches, are due together
        clock.advance(30 * H)
        one_by_one = engines[0].sweeper(batch_size=1)
        batched = engines[1].sweeper(batch_size=200)
        assert one_by_one.run_until_idle() == batched.run_until_idle() == 16
        assert comparable(engines[0]) == comparable(engines[1])
        assert [c.escalation_level for c in engines[1].query(limit=10)] == [2] * 4
    finally:
        for engine in engines:
            drop_tables(sql_store(engine))
            engine.close()


def test_a_complaint_changed_between_read_and_lock_is_fired_from_its_locked_snapshot(
    engine: Engine, clock: FakeClock
) -> None:
    complaints = due_warnings(engine, clock, 3)
    store = engine.store
    read_leased = store.read_leased

    def read_then_a_request_comes(*args: Any, **kwargs: Any) -> list[ClaimedTimer]:
        claimed = read_leased(*args, **kwargs)
        engine.fire(complaints[0].id, "escalate", actor=AGENT)
        return claimed

    store.read_leased = read_then_a_request_comes  # type: ignore[method-assign]
    try:
        assert engine.sweeper().run_once() == SweepResult(3, 3, 0, 0)
    finally:
        store.read_leased = read_leased  # type: ignore[method-assign]
    one_record_each(engine, complaints)
    first = engine.get(complaints[0].id)
    assert first.version == complaints[0].version + 2
    assert [r.trigger for r in engine.history(first.id) if r.kind == "transition"][-1] == "escalate"
    assert first.escalation_level == complaints[0].escalation_level + 1


@pytest.mark.parametrize("traced", [False, True], ids=["untraced", "traced"])
def test_a_batch_written_over_a_complaint_that_moved_on_is_refused_whole(
    engine: Engine, clock: FakeClock, traced: bool
) -> None:
    """The store's own check, under the sweeper's: a batch whose snapshot of a complaint
    is no longer the stored one writes nothing at all (one statement per kind of write
    on PostgreSQL, an executemany on SQLite: on the driver's cursor, or through Core
    while a tracer listens to the engine's statements)."""
    if traced:
        sa.event.listen(sql_store(engine).engine, "before_cursor_execute", _trace)
    complaints = due_warnings(engine, clock, 3)
    sweeper = engine.sweeper()
    ids = lease_and_die(engine, sweeper, clock)
    claimed = engine.store.read_leased(ids, worker=sweeper.worker_id, lease=LEASE)
    assert len(claimed) == 3
    workflow = engine.workflow()
    outcomes = [
        TimerOutcome(
            c,
            "fired",
            core.timer_fired(workflow, c.complaint, c.timer, now=clock.now(), calendar=None),
        )
        for c in claimed
    ]
    engine.fire(complaints[1].id, "escalate", actor=AGENT)  # moves one of them on
    before = comparable(engine)
    with pytest.raises(ConcurrencyConflictError) as caught, engine.store.transaction() as tx:
        tx.settle_timers(outcomes, clock.now())
    assert caught.value.complaint_id == complaints[1].id
    assert comparable(engine) == before
    assert {row["status"] for row in timer_rows(engine) if row["id"] in ids} == {"pending"}


def _trace(*_args: Any) -> None:
    """A statement listener that does nothing (as a tracer would, for the store)."""
