"""A worker with several sweep threads (``Engine.worker(threads=...)``): each thread has
leases of its own, every timer still fires exactly once, and errors are not lost. And the
sweepers' batch size per database."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest

from complaintflow import Engine
from complaintflow.exceptions import InvalidInputError
from complaintflow.timers import SweepResult
from complaintflow.timers._sweeper import sweep_until_idle

from ._support import (
    STANDARD,
    breach_records,
    drop_tables,
    due_pending,
    escalation_levels,
    new_prefix,
    seed_due_breaches,
    sql_store,
)

MINUTE = dt.timedelta(seconds=60)


def test_three_sweep_threads_fire_every_due_timer_exactly_once(db_url: str) -> None:
    prefix = new_prefix()
    due = seed_due_breaches(db_url, prefix, templates=10, copies=20)
    engine = Engine.from_url(db_url, workflows=STANDARD, table_prefix=prefix, migrate=False)
    try:
        worker = engine.worker(safety_interval=MINUTE, batch_size=20, threads=3)
        assert [s.worker_id.rsplit("/", 1)[-1] for s in worker.sweepers[1:]] == ["2", "3"]
        assert len({s.worker_id for s in worker.sweepers}) == 3
        fired: Counter[int] = Counter()
        for index, sweeper in enumerate(worker.sweepers):
            run_once = sweeper.run_once

            def counted(index: int = index, run_once: Any = run_once) -> SweepResult:
                result = run_once()
                fired[index] += result.fired
                return result

            sweeper.run_once = counted  # type: ignore[method-assign]
        worker.start()
        try:
            done = threading.Event()
            while not done.wait(0.05):
                if due_pending(engine) == 0:
                    done.set()
        finally:
            worker.stop()
        records = breach_records(engine)
        assert len(records) == due
        assert set(records.values()) == {1}
        assert escalation_levels(engine) == Counter({2: due // 2})
        assert worker.fired == sum(fired.values()) == due
        assert len(fired) >= 2, f"one thread did all the work: {fired}"
    finally:
        drop_tables(sql_store(engine))
        engine.close()


def test_postgresql_workers_sweep_in_two_threads_and_sqlite_workers_in_one(
    engine: Engine, db_url: str
) -> None:
    worker = engine.worker()
    assert len(worker.sweepers) == (2 if db_url.startswith("postgresql") else 1)
    assert worker.sweepers[0] is worker.sweeper
    assert len(engine.worker(threads=4).sweepers) == 4


@pytest.mark.parametrize("threads", [0, 17, -1, True, 2.0, "2"])
def test_a_thread_count_out_of_range_is_refused(engine: Engine, threads: object) -> None:
    with pytest.raises(InvalidInputError, match="threads: expected an integer from 1 to 16"):
        engine.worker(threads=threads)  # type: ignore[arg-type]


class _Failing:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.sweeps = 0

    def run_once(self) -> SweepResult:
        self.sweeps += 1
        if self.fail:
            raise RuntimeError("the database went away")
        return SweepResult(1, 1, 0, 0) if self.sweeps < 3 else SweepResult(0, 0, 0, 0)


def test_an_error_in_one_sweep_thread_is_raised_once_the_others_are_done() -> None:
    healthy, failing = _Failing(False), _Failing(True)
    told: list[int] = []
    with pytest.raises(RuntimeError, match="the database went away"):
        sweep_until_idle([healthy, failing], on_fired=told.append)  # type: ignore[list-item]
    assert healthy.sweeps == 3  # it swept until idle meanwhile
    assert failing.sweeps == 1
    # the batches that committed are counted, though the call as a whole failed
    assert told == [1, 1]


def test_sweeping_stops_when_asked() -> None:
    busy = _Failing(False)
    assert sweep_until_idle([busy], stopping=lambda: True) == 0
    assert busy.sweeps == 0


def test_postgresql_sweeps_500_timers_a_transaction_and_sqlite_200(
    engine: Engine, db_url: str
) -> None:
    expected = 500 if db_url.startswith("postgresql") else 200
    assert engine.sweeper().batch_size == expected
    worker = engine.worker(threads=2)
    assert [s.batch_size for s in worker.sweepers] == [expected, expected]
    assert engine.sweeper(batch_size=7).batch_size == 7


@pytest.mark.parametrize("size", [0, 10_001, True, 2.5, "200"])
def test_a_batch_size_out_of_range_is_refused(engine: Engine, size: object) -> None:
    with pytest.raises(InvalidInputError, match="batch_size: expected an integer from 1 to 10000"):
        engine.sweeper(batch_size=size)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="batch_size"):
        engine.worker(batch_size=size)  # type: ignore[arg-type]
