"""The Worker: APScheduler wakes the sweeper in real time (system clock, real sleeps).

These run on a SQLite file only: what they test is the wake-up logic above the store,
which the sweeper tests run on both databases.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from complaintflow import Engine, FakeClock
from complaintflow.timers import JOB_ID, SweepResult

from ._support import AGENT, STANDARD, intake, new_prefix

H = dt.timedelta(hours=1)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'worker.db'}"


@pytest.fixture
def prefix() -> str:
    return new_prefix()


def open_in_the_past(url: str, prefix: str, hours_ago: float, count: int = 1) -> list[str]:
    """Complaints opened ``hours_ago`` (standard workflow: 75 % warnings at 18 h, breaches
    of acknowledge and respond at 24 h)."""
    clock = FakeClock(dt.datetime.now(dt.UTC) - hours_ago * H)
    with Engine.from_url(url, workflows=STANDARD, clock=clock, table_prefix=prefix) as engine:
        return [engine.open(intake(n), actor=AGENT).id for n in range(count)]


@pytest.fixture
def engine(url: str, prefix: str) -> Iterator[Engine]:
    with Engine.from_url(url, workflows=STANDARD, table_prefix=prefix) as engine:
        yield engine


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def timer_kinds(engine: Engine, complaint_id: str) -> list[str | None]:
    return [r.trigger for r in engine.history(complaint_id) if r.kind == "timer"]


def test_the_worker_fires_timers_already_due_when_it_starts(url: str, prefix: str) -> None:
    [complaint] = open_in_the_past(url, prefix, 19)
    with Engine.from_url(url, workflows=STANDARD, table_prefix=prefix) as engine:
        worker = engine.worker(safety_interval=dt.timedelta(seconds=60))
        worker.start()
        try:
            assert wait_until(lambda: len(timer_kinds(engine, complaint)) == 2, 10)
        finally:
            worker.stop()
        assert timer_kinds(engine, complaint) == ["warning", "warning"]
        assert worker.fired == 2


def test_timers_due_by_the_time_a_sweep_ends_do_not_wait_for_the_safety_interval(
    url: str, prefix: str
) -> None:
    # 25 h ago: the warnings are due, and the breaches they arm are due at once
    [complaint] = open_in_the_past(url, prefix, 25)
    with Engine.from_url(url, workflows=STANDARD, table_prefix=prefix) as engine:
        worker = engine.worker(safety_interval=dt.timedelta(seconds=60))
        wake = worker.wake

        def slow_wake(at: dt.datetime | None = None) -> None:
            # as on a busy machine: the scheduler acts on the wake-up before the job ends
            wake(at)
            time.sleep(0.3)

        worker.wake = slow_wake  # type: ignore[method-assign]
        worker.start()
        try:
            done = wait_until(lambda: len(timer_kinds(engine, complaint)) == 4, 8)
        finally:
            worker.stop()
        assert done, timer_kinds(engine, complaint)


def test_a_wake_up_during_a_sweep_runs_another_sweep_after_it(engine: Engine) -> None:
    worker = engine.worker(safety_interval=dt.timedelta(seconds=60))
    sweeps: list[float] = []
    gate = threading.Event()
    run_once = worker.sweeper.run_once

    def slow_run_once() -> SweepResult:
        sweeps.append(time.monotonic())
        if len(sweeps) == 1:
            gate.wait(10)  # a long sweep
        return run_once()

    worker.sweeper.run_once = slow_run_once  # type: ignore[method-assign]
    worker.start()
    try:
        assert wait_until(lambda: len(sweeps) == 1, 10)
        # meanwhile a request thread of this process arms a timer due now
        worker.wake()
        time.sleep(0.3)
        gate.set()
        assert wait_until(lambda: len(sweeps) >= 2, 5), "the wake-up was lost"
    finally:
        gate.set()
        worker.stop()


def test_a_worker_does_not_spin_while_another_holds_the_due_timers(url: str, prefix: str) -> None:
    open_in_the_past(url, prefix, 19, count=3)
    with Engine.from_url(url, workflows=STANDARD, table_prefix=prefix) as engine:
        held = engine.store.lease_due_timers(
            dt.datetime.now(dt.UTC), limit=100, worker="other", lease=dt.timedelta(seconds=60)
        )
        assert len(held) == 6
        worker = engine.worker(safety_interval=dt.timedelta(seconds=60))
        sweeps: list[float] = []
        run_once = worker.sweeper.run_once

        def counted() -> SweepResult:
            sweeps.append(time.monotonic())
            return run_once()

        worker.sweeper.run_once = counted  # type: ignore[method-assign]
        worker.start()
        try:
            time.sleep(1.5)
        finally:
            worker.stop()
        # the next timer due is leased for a minute: nothing to do until then
        assert 1 <= len(sweeps) <= 3, len(sweeps)
        assert worker.fired == 0


def test_stopping_leaves_the_hosts_scheduler_running(engine: Engine) -> None:
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.start()
    try:
        worker = engine.worker(scheduler=scheduler, safety_interval=dt.timedelta(seconds=60))
        worker.start()
        assert scheduler.get_job(JOB_ID) is not None
        worker.stop()
        assert scheduler.running
        assert scheduler.get_job(JOB_ID) is None
    finally:
        scheduler.shutdown(wait=True)


def test_a_stopped_worker_ignores_wake_ups(engine: Engine) -> None:
    worker = engine.worker(safety_interval=dt.timedelta(seconds=60))
    worker.start()
    worker.stop()
    worker.wake()  # e.g. from a change committed after the stop: no error, no sweep
    assert worker.fired == 0
