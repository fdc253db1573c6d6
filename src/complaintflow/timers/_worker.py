"""The worker: APScheduler wakes the sweeper; deadlines themselves live in our timers table.

One APScheduler job per process, never one per deadline: APScheduler 3's job stores
are not safe to share between processes and by default drop jobs that run late. The
job runs at the next due time or after a safety interval, whichever comes first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
from types import FrameType
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from complaintflow import _logging
from complaintflow.timers._sweeper import Sweeper, sweep_until_idle

JOB_ID = "complaintflow-sweeper"


class Worker:
    """Runs a :class:`Sweeper` whenever timers fall due.

    Args:
        sweeper: what fires the timers.
        scheduler: a running APScheduler 3 scheduler of the host; by default the
            worker starts (and later shuts down) a ``BackgroundScheduler`` of its own.
        safety_interval: the longest the worker sleeps, whatever the next due time
            says (timers armed by other processes are found within it).
        threads: sweepers run side by side in this process, each in a thread with
            leases of its own (1-16). Two pay off on PostgreSQL, where one sweeper
            waits on the server about half the time; on SQLite the database work runs
            in the worker process itself and one is as fast.
    """

    def __init__(
        self,
        sweeper: Sweeper,
        *,
        scheduler: BaseScheduler | None = None,
        safety_interval: dt.timedelta = dt.timedelta(seconds=5),
        threads: int = 1,
    ) -> None:
        if safety_interval <= dt.timedelta(0):
            raise ValueError("safety_interval must be positive")
        if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 16:
            raise ValueError("threads must be an integer from 1 to 16")
        self.sweeper = sweeper
        self.sweepers = [sweeper, *(sweeper.sibling(n) for n in range(2, threads + 1))]
        self.safety_interval = safety_interval
        self._owns_scheduler = scheduler is None
        self._scheduler: BaseScheduler = scheduler or BackgroundScheduler(timezone=dt.UTC)
        self._stopping = threading.Event()
        self._woken = threading.Event()
        self._lock = threading.Lock()
        self._counting = threading.Lock()
        self._log = _logging.get_logger("complaintflow.worker")
        self.fired = 0

    def start(self) -> None:
        """Add the sweeper job (and start the scheduler if it is the worker's own)."""
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.safety_interval.total_seconds(),
            id=JOB_ID,
            name="complaintflow timer sweeper",
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            replace_existing=True,
        )
        if self._owns_scheduler:
            self._scheduler.start()
        self._log.info("worker.started", worker=self.sweeper.worker_id, threads=len(self.sweepers))

    def wake(self, at: dt.datetime | None = None) -> None:
        """Run the sweeper at ``at`` (default: now) if that is before its next run."""
        if self._stopping.is_set():
            return
        when = at or dt.datetime.now(dt.UTC)
        if when <= dt.datetime.now(dt.UTC):
            # seen by a sweep that is running now: the scheduler skips a job run asked
            # for while the job runs (one instance at a time)
            self._woken.set()
        job = self._scheduler.get_job(JOB_ID)
        if job is None:
            return
        if job.next_run_time is None or when < job.next_run_time:
            job.modify(next_run_time=when)

    def _tick(self) -> None:
        with self._lock:
            # sweep until nothing is due, and again if woken meanwhile: a wake-up asked
            # for from inside this job would be skipped by the scheduler, and firing a
            # timer can arm a successor that is due at once
            while not self._stopping.is_set():
                self._woken.clear()
                sweep_until_idle(
                    self.sweepers, stopping=self._stopping.is_set, on_fired=self._count
                )
                if not self._woken.is_set():
                    break
            if self._stopping.is_set():
                return
            due = self.sweeper.next_due()
            if due is not None:
                # real time, not the engine's clock: the scheduler sleeps in real time
                self.wake(max(due, dt.datetime.now(dt.UTC)))

    def _count(self, fired: int) -> None:
        with self._counting:  # sweep threads commit side by side
            self.fired += fired

    def stop(self, *, wait: bool = True) -> None:
        """Stop sweeping; the current batch finishes (its transaction commits or not)."""
        self._stopping.set()
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(JOB_ID)
        if self._owns_scheduler and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        with self._lock:  # wait for a running sweep to end
            pass
        self._log.info("worker.stopped", worker=self.sweeper.worker_id, fired=self.fired)

    def run_forever(self) -> None:
        """Start and block until SIGTERM or SIGINT, then stop cleanly."""
        done = threading.Event()

        def _signal(signum: int, _frame: FrameType | None) -> None:
            self._log.info("worker.signalled", signal=signal.Signals(signum).name)
            done.set()

        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _signal)
        try:
            self.start()
            done.wait()
        finally:
            self.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)
