"""The store port: the domain operations the engine needs from a database.

Every adapter passes the shared contract suite in ``tests/store/``.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from complaintflow.core._apply import Change
from complaintflow.core._records import AuditRecord, Complaint, Notification, TimerSpec


@dataclass(frozen=True)
class QueryFilter:
    """What ``Store.query`` selects; ``None`` means "any"."""

    workflow: str | None = None
    state: str | Sequence[str] | None = None
    tier: str | Sequence[str] | None = None
    category: str | Sequence[str] | None = None
    owner: str | None = None
    customer_ref: str | None = None
    open: bool | None = None
    opened_from: dt.datetime | None = None
    opened_until: dt.datetime | None = None
    updated_from: dt.datetime | None = None
    updated_until: dt.datetime | None = None


@dataclass(frozen=True)
class Page:
    """One page of a query: the items, and the cursor of the next page (``None`` at the end)."""

    items: tuple[Complaint, ...]
    next_cursor: str | None

    def __iter__(self) -> Iterator[Complaint]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class StoredIdempotency:
    """What was recorded for an idempotency key."""

    operation: str
    complaint_id: str
    request_hash: str
    result: str


@dataclass(frozen=True)
class ClaimedTimer:
    """A due timer claimed by a sweeper, with the complaint it belongs to."""

    id: int
    timer: TimerSpec
    complaint: Complaint


@dataclass(frozen=True)
class TimerOutcome:
    """How a claimed timer ends in its sweep: ``fired`` with the ``change`` it made,
    or ``cancelled`` (an earlier change of the same sweep cancelled it), ``stale`` (its
    clock moved on) or ``failed`` (no effect could be computed), without one."""

    claimed: ClaimedTimer
    status: str
    change: Change | None = None


@dataclass(frozen=True)
class OutboxMessage:
    """A notification waiting in the outbox."""

    id: int
    notification: Notification
    attempts: int


class DuplicateKeyError(Exception):
    """Internal: a unique key (idempotency key, open dedup key) was taken concurrently.

    The engine retries the operation; it never reaches a host.
    """


class StoreTransaction(ABC):
    """Operations inside one database transaction; all or nothing."""

    @abstractmethod
    def get(self, complaint_id: str, *, lock: bool = False) -> Complaint | None:
        """The complaint as stored now, or ``None``.

        With ``lock`` the row stays locked until the transaction ends, so the change
        about to be written cannot lose a race (PostgreSQL ``FOR UPDATE``; a SQLite
        write transaction already excludes other writers).
        """

    @abstractmethod
    def find_open_duplicate(self, workflow: str, dedup_key: str) -> Complaint | None:
        """The open complaint of ``workflow`` with ``dedup_key``, if one exists."""

    @abstractmethod
    def release_dedup_key(self, complaint_id: str) -> None:
        """Stop ``complaint_id`` from being found as the open complaint of its matter
        (a newer complaint about the same matter takes over the key)."""

    @abstractmethod
    def open_by_owner(self, owner: str) -> list[Complaint]:
        """Every open complaint owned by ``owner``, oldest first."""

    @abstractmethod
    def write(self, change: Change) -> None:
        """Write ``change``: insert (``before is None``) or update the complaint, append its
        audit records, cancel the pending timers of ``cancel_clocks``, arm its timers, and
        queue its notifications.

        Raises:
            ConcurrencyConflictError: the stored version is not ``change.before.version``.
            DuplicateKeyError: an open complaint with the same dedup key exists.
        """

    @abstractmethod
    def add_contact(
        self, complaint_id: str, at: dt.datetime, channel: str, actor: str, details: dict[str, Any]
    ) -> None:
        """Record a contact (a repeated complaint joined to an open one)."""

    @abstractmethod
    def get_idempotency(self, key: str) -> StoredIdempotency | None:
        """What was stored for ``key``, if anything."""

    @abstractmethod
    def put_idempotency(self, key: str, stored: StoredIdempotency, at: dt.datetime) -> None:
        """Remember ``key``.

        Raises:
            DuplicateKeyError: the key was stored concurrently.
        """

    @abstractmethod
    def lock_leased(
        self, timer_ids: Sequence[int], *, worker: str, lease: dt.timedelta
    ) -> list[ClaimedTimer]:
        """Lock the complaints, then the timers, of timers leased to ``worker``.

        Returns only timers still pending and still leased to ``worker``, oldest due
        first, each with its complaint as locked now. Waiting for locks and idling in
        this transaction are bounded by ``lease``.
        """

    def lock_leased_versions(
        self, timer_ids: Sequence[int], *, worker: str, lease: dt.timedelta
    ) -> tuple[set[int], dict[str, int]]:
        """Lock as ``lock_leased`` does, but return only the ids of the timers still
        pending and leased to ``worker``, and the stored version of their complaints
        (cheaper when the complaints were read before, with ``Store.read_leased``)."""
        claimed = self.lock_leased(timer_ids, worker=worker, lease=lease)
        return {c.id for c in claimed}, {c.complaint.id: c.complaint.version for c in claimed}

    @abstractmethod
    def release_timer(self, timer_id: int) -> None:
        """Give up the lease of a locked timer, leaving it pending for another worker."""

    @abstractmethod
    def settle_timer(self, timer_id: int, status: str, at: dt.datetime) -> None:
        """Mark a locked timer ``fired`` (its effect is written in this transaction) or
        ``stale`` (its clock moved on; nothing to do)."""

    def settle_timers(self, outcomes: Sequence[TimerOutcome], at: dt.datetime) -> None:
        """Write the changes of a sweep's fired timers and settle each timer at ``at``.

        The changes are applied in order; several may concern one complaint, each
        starting from the snapshot the one before left. The result is what ``write``
        of each change, then ``settle_timer`` of each timer, would leave, except that a
        change does not cancel the timer it fires (that one is settled ``fired``), and
        adapters may write it all at once (one statement per kind, not per timer).

        Raises:
            ConcurrencyConflictError: a complaint's stored version is not the
                ``before.version`` of its first change.
            DuplicateKeyError: an open complaint with the same dedup key exists.
        """
        for outcome in outcomes:
            if outcome.change is not None:
                self.write(outcome.change)
        for outcome in outcomes:
            self.settle_timer(outcome.claimed.id, outcome.status, at)


class Store(ABC):
    """A database of complaints: transactions, reads and timer claims."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """A write transaction: committed when the block ends, rolled back on an exception."""

    @abstractmethod
    def get(self, complaint_id: str) -> Complaint | None:
        """The complaint, or ``None``."""

    @abstractmethod
    def history(self, complaint_id: str) -> list[AuditRecord]:
        """Every audit record of the complaint, ordered by version then seq."""

    @abstractmethod
    def query(self, where: QueryFilter, *, limit: int, cursor: str | None) -> Page:
        """Complaints matching ``where``, oldest opened first, ``limit`` per page.

        Raises:
            InvalidInputError: the cursor is not one this store gave out.
        """

    @abstractmethod
    def lease_due_timers(
        self, now: dt.datetime, *, limit: int, worker: str, lease: dt.timedelta
    ) -> list[int]:
        """Lease up to ``limit`` pending timers due at ``now`` to ``worker`` (committed).

        Timers leased to a live worker are skipped, never waited for; a lease that
        expired (its worker died or hung) can be taken. Returns timer ids, oldest due
        first.
        """

    def read_leased(
        self, timer_ids: Sequence[int], *, worker: str, lease: dt.timedelta
    ) -> list[ClaimedTimer]:
        """What ``StoreTransaction.lock_leased`` returns, read without taking locks (or
        a write lock), so a sweeper can compute effects before its write transaction;
        they may be stale by the time it locks."""
        with self.transaction() as tx:
            return tx.lock_leased(timer_ids, worker=worker, lease=lease)

    @abstractmethod
    def next_due(self, now: dt.datetime | None = None) -> dt.datetime | None:
        """When a pending timer is next free to lease (its due time, or the end of the
        lease another worker holds on it) as seen at ``now``; ``None`` without any."""

    @abstractmethod
    def pending_outbox(self, limit: int) -> list[OutboxMessage]:
        """Undelivered notifications, oldest first."""

    @abstractmethod
    def mark_delivered(self, message_ids: Sequence[int], at: dt.datetime) -> None:
        """Mark outbox messages delivered."""

    @abstractmethod
    def schema_revision(self) -> str | None:
        """The schema revision of the database (``None`` when it has none)."""

    @abstractmethod
    def forget_idempotency_batch(self, before: dt.datetime, *, limit: int) -> int:
        """Delete up to ``limit`` idempotency keys stored before ``before`` (one
        committed transaction); how many were deleted."""

    def forget_idempotency_keys(self, before: dt.datetime, *, batch: int) -> int:
        """Delete every idempotency key stored before ``before``, ``batch`` per
        transaction (a writer waits for one batch at most); how many were deleted."""
        forgotten = 0
        while True:
            deleted = self.forget_idempotency_batch(before, limit=batch)
            forgotten += deleted
            if deleted < batch:
                return forgotten

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the changes made so far are committed: at once for the
        store's own transactions; for a store working in a host's transaction, when the
        host commits (never if it rolls them back)."""
        callback()

    @abstractmethod
    def close(self) -> None:
        """Release what the store created (never what the host handed in)."""
