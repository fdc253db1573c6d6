"""The sweeper: fires due timers, each exactly once, as audited events of the system actor."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from complaintflow import _logging
from complaintflow.core import _apply as core
from complaintflow.core._apply import Change
from complaintflow.core._clocks import WorkingTime
from complaintflow.core._records import Complaint
from complaintflow.definition._compile import Workflow
from complaintflow.exceptions import ComplaintflowError
from complaintflow.store._port import ClaimedTimer, DuplicateKeyError, Store, TimerOutcome
from complaintflow.time._clock import Clock


def default_worker_id() -> str:
    """``host:pid:random``: unique per sweeper, readable in the timers table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did."""

    leased: int
    fired: int
    stale: int
    failed: int
    deferred: int = 0
    """Timers of workflows this sweeper has not loaded, released for one that has."""
    cancelled: int = 0
    """Timers cancelled by the change of an earlier timer of the same sweep."""

    @property
    def progress(self) -> int:
        """Timers settled by this sweep (fired, stale, failed or cancelled)."""
        return self.fired + self.stale + self.failed + self.cancelled


class Sweeper:
    """Leases due timers in batches and applies their effects.

    Args:
        store: the store holding the timers.
        workflow_of: the compiled workflow of a complaint.
        calendar_of: the business calendar of a workflow.
        clock: the source of "now".
        after_commit: called with the changes of each committed batch.
        worker_id: names this sweeper in leases (default: host, pid, random).
        batch_size: timers per transaction.
        lease: how long a lease lasts; a dead worker's timers are taken over after it.
    """

    def __init__(
        self,
        store: Store,
        *,
        workflow_of: Callable[[Complaint], Workflow],
        calendar_of: Callable[[Workflow], WorkingTime | None],
        clock: Clock,
        after_commit: Callable[[list[Change]], None] | None = None,
        worker_id: str | None = None,
        batch_size: int = 200,
        lease: dt.timedelta = dt.timedelta(seconds=60),
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._store = store
        self._workflow_of = workflow_of
        self._calendar_of = calendar_of
        self._clock = clock
        self._after_commit = after_commit
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.lease = lease
        self._log = _logging.get_logger("complaintflow.timers")
        self._behind = False

    def run_once(self) -> SweepResult:
        """Lease one batch of due timers and fire them in one transaction."""
        now = self._clock.now()
        if not self._behind:
            due = self._store.next_due(now)
            if due is None or due > now:
                # a read instead of a write transaction: idle sweeps take no write lock
                return SweepResult(0, 0, 0, 0)
        ids = self._store.lease_due_timers(
            now, limit=self.batch_size, worker=self.worker_id, lease=self.lease
        )
        # a full batch says more are likely due: the next sweep leases at once
        self._behind = len(ids) >= self.batch_size
        if not ids:
            return SweepResult(0, 0, 0, 0)
        for attempt in range(3):
            try:
                changes, counts = self._fire(ids)
                break
            except DuplicateKeyError:  # pragma: no cover - unique keys are not touched here
                if attempt == 2:
                    raise
        if self._after_commit is not None and changes:
            self._after_commit(changes)
        return SweepResult(
            len(ids),
            len(changes),
            counts["stale"],
            counts["failed"],
            counts["deferred"],
            counts["cancelled"],
        )

    def sibling(self, number: int) -> Sweeper:
        """A sweeper like this one, for another thread: same store, workflows and
        settings; its own leases (``worker_id`` ``<this one's>/<number>``)."""
        return Sweeper(
            self._store,
            workflow_of=self._workflow_of,
            calendar_of=self._calendar_of,
            clock=self._clock,
            after_commit=self._after_commit,
            worker_id=f"{self.worker_id}/{number}",
            batch_size=self.batch_size,
            lease=self.lease,
        )

    def next_due(self) -> dt.datetime | None:
        """When a pending timer is next free to lease."""
        return self._store.next_due(self._clock.now())

    def run_until_idle(self, *, max_batches: int | None = None) -> int:
        """Sweep until no timer is due now (or ``max_batches``); how many fired.

        Firing a timer arms the clock's next one, which may already be due after a
        jump in time, so sweeping goes on until a sweep leases nothing.
        """
        fired = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            result = self.run_once()
            batches += 1
            fired += result.fired
            if result.leased == 0 or result.progress == 0:
                break
        return fired

    def _fire(self, ids: list[int]) -> tuple[list[Change], Counter[str]]:
        # effects are computed before the write transaction, so a second worker's
        # Python work overlaps this one's writes (SQLite has one writer at a time);
        # under the locks they are written only if nothing changed meanwhile
        read = self._store.read_leased(ids, worker=self.worker_id, lease=self.lease)
        plan = self._plan(read, self._clock.now())
        with self._store.transaction() as tx:
            ours, versions = tx.lock_leased_versions(ids, worker=self.worker_id, lease=self.lease)
            if ours != {claimed.id for claimed in read} or any(
                versions.get(claimed.complaint.id) != claimed.complaint.version for claimed in read
            ):
                # a request changed a complaint, or another worker took a lease over
                claimed = tx.lock_leased(ids, worker=self.worker_id, lease=self.lease)
                plan = self._plan(claimed, self._clock.now())
            for deferred in plan.deferred:
                tx.release_timer(deferred.id)
            if plan.outcomes:
                tx.settle_timers(plan.outcomes, plan.now)
        plan.log(self._log)
        changes = [o.change for o in plan.outcomes if o.change is not None]
        counts = Counter(o.status for o in plan.outcomes)
        counts["deferred"] = len(plan.deferred)
        return changes, counts

    def _plan(self, claimed: list[ClaimedTimer], now: dt.datetime) -> _Plan:
        """The outcome of each timer, in order; a complaint with several timers in the
        batch goes on from the snapshot its previous change left."""
        plan = _Plan(now)
        latest: dict[str, Complaint] = {}
        cancelled: dict[str, set[str]] = {}
        for timer in claimed:
            complaint = latest.get(timer.complaint.id, timer.complaint)
            try:
                workflow = self._workflow_of(complaint)
            except ComplaintflowError:
                # another worker (say, after a rolling deploy) has the workflow loaded
                plan.deferred.append(timer)
                continue
            if timer.timer.clock in cancelled.get(complaint.id, ()):
                # an earlier change of this batch cancelled it: as if it had not been due
                plan.outcomes.append(TimerOutcome(timer, "cancelled"))
                continue
            if not core.timer_is_current(workflow, complaint, timer.timer):
                # the clock moved on in a change that should have cancelled this timer
                plan.outcomes.append(TimerOutcome(timer, "stale"))
                continue
            try:
                change = core.timer_fired(
                    workflow, complaint, timer.timer, now=now, calendar=self._calendar_of(workflow)
                )
            except ComplaintflowError as error:
                # a timer whose effect cannot be computed must not block the others forever
                plan.outcomes.append(TimerOutcome(timer, "failed"))
                plan.errors[timer.id] = type(error).__name__
                continue
            plan.outcomes.append(TimerOutcome(timer, "fired", change))
            latest[complaint.id] = change.after
            cancelled.setdefault(complaint.id, set()).update(change.cancel_clocks)
        return plan


def sweep_until_idle(
    sweepers: Sequence[Sweeper],
    *,
    stopping: Callable[[], bool] = lambda: False,
    on_fired: Callable[[int], None] = lambda fired: None,
) -> int:
    """Sweep with each of ``sweepers`` in a thread of its own (the first on this one)
    until none leases anything that makes progress, or ``stopping()``; how many fired.
    ``on_fired`` is told each batch's count as it commits (from the sweeping thread).

    While one sweeper waits on the database (PostgreSQL spends about half a batch's
    time in the server), another computes its batch: two sweepers in one process fire
    about 1.5x as many timers as one. The first error of any thread is raised once all
    have ended.
    """
    fired = [0] * len(sweepers)
    errors: list[BaseException] = []

    def sweep(index: int) -> None:
        sweeper = sweepers[index]
        try:
            while not stopping():
                result = sweeper.run_once()
                fired[index] += result.fired
                if result.fired:
                    on_fired(result.fired)
                if result.leased == 0 or result.progress == 0:
                    return
        except BaseException as error:  # raised again on the calling thread
            errors.append(error)

    others = [
        threading.Thread(target=sweep, args=(index,), name=f"complaintflow-sweep-{index}")
        for index in range(1, len(sweepers))
    ]
    for thread in others:
        thread.start()
    sweep(0)
    for thread in others:
        thread.join()
    if errors:
        raise errors[0]
    return sum(fired)


@dataclass
class _Plan:
    """What one batch does, computed before it is written."""

    now: dt.datetime
    outcomes: list[TimerOutcome] = field(default_factory=list)
    deferred: list[ClaimedTimer] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    """The error of each failed timer, by timer id."""

    def log(self, log: _logging.Logger) -> None:
        """Warn about what did not fire (once the batch is committed)."""
        for timer in self.deferred:
            log.warning(
                "timer.deferred",
                complaint_id=timer.complaint.id,
                workflow=timer.complaint.workflow,
                timer_id=timer.id,
            )
        for outcome in self.outcomes:
            timer = outcome.claimed
            if outcome.status == "stale":
                log.warning(
                    "timer.stale",
                    complaint_id=timer.complaint.id,
                    clock=timer.timer.clock,
                    timer_id=timer.id,
                )
            elif outcome.status == "failed":
                log.error(
                    "timer.failed",
                    complaint_id=timer.complaint.id,
                    clock=timer.timer.clock,
                    timer_id=timer.id,
                    error=self.errors[timer.id],
                )
