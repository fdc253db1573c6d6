"""SQL for the timer sweeper: lease due timers, then lock and fire them.

Exactly one effect per timer, across crashes and many workers:

1. ``lease``: in a short transaction, pick due pending timers whose lease is free
   (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers never wait for each other) and
   write ``lease_owner``/``lease_until``. A worker that dies after this leaves a lease
   that expires; another worker then takes the timer over.
2. ``lock_leased``: in the transaction that applies the effects, lock the complaints
   first and the timers second, the same order the application path takes (it
   updates the complaint, then cancels and arms its timers), so sweepers and request
   handlers cannot deadlock; keep only timers still pending and still leased by this
   worker. The effect and ``status = 'fired'`` commit together.

On PostgreSQL, sweeper transactions set ``lock_timeout`` and
``idle_in_transaction_session_timeout`` so a hung (not dead) worker cannot hold locks
longer than its lease.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from complaintflow.core._records import TimerSpec
from complaintflow.store._codec import complaint_from_row
from complaintflow.store._port import ClaimedTimer
from complaintflow.store._tables import Tables


def guard_postgres(conn: Connection, lease: dt.timedelta) -> None:
    """Bound how long this transaction may wait for or sit on locks (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    millis = max(1000, int(lease.total_seconds() * 1000))
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {min(millis, 10_000)}")
    conn.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {millis}")


def lease(
    conn: Connection,
    tables: Tables,
    now: dt.datetime,
    *,
    limit: int,
    worker: str,
    lease: dt.timedelta,
) -> list[int]:
    """Lease up to ``limit`` due timers to ``worker``; their ids, oldest due first."""
    t = tables.timers.c
    available = and_(
        t.status == "pending",
        t.due_at <= now,
        or_(t.lease_until.is_(None), t.lease_until < now),
    )
    pick = select(t.id).where(available).order_by(t.due_at, t.id).limit(limit)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(conn.execute(pick).scalars())
    if ids:
        conn.execute(
            update(tables.timers)
            .where(t.id.in_(ids))
            .values(lease_owner=worker, lease_until=now + lease)
        )
    return ids


def lock_leased(
    conn: Connection, tables: Tables, ids: Sequence[int], *, worker: str
) -> list[ClaimedTimer]:
    """Lock the complaints, then the timers, of leased timers still ours and pending."""
    if not ids:
        return []
    t = tables.timers.c
    c = tables.complaints.c
    owners = select(t.complaint_id).where(t.id.in_(list(ids))).distinct()
    complaints_stmt = select(tables.complaints).where(c.id.in_(owners)).order_by(c.id)
    timers_stmt = (
        select(tables.timers)
        .where(t.id.in_(list(ids)), t.status == "pending", t.lease_owner == worker)
        .order_by(t.due_at, t.id)
    )
    if conn.dialect.name == "postgresql":
        complaints_stmt = complaints_stmt.with_for_update()
        timers_stmt = timers_stmt.with_for_update()
    complaints = {
        row["id"]: complaint_from_row(row) for row in conn.execute(complaints_stmt).mappings()
    }
    claimed = []
    for row in conn.execute(timers_stmt).mappings():
        complaint = complaints.get(row["complaint_id"])
        if complaint is None:  # pragma: no cover - complaints are never deleted
            continue
        claimed.append(ClaimedTimer(row["id"], timer_from_row(row), complaint))
    return claimed


def timer_from_row(row: Any) -> TimerSpec:
    return TimerSpec(
        row["complaint_id"],
        row["clock"],
        row["kind"],
        row["due_at"],
        row["threshold"],
        row["sequence"],
    )


def mark(conn: Connection, tables: Tables, timer_id: int, status: str, at: dt.datetime) -> None:
    """Settle a timer: ``fired`` (its effect applied) or ``stale`` (nothing to do)."""
    conn.execute(
        update(tables.timers)
        .where(tables.timers.c.id == timer_id)
        .values(status=status, fired_at=at, lease_owner=None, lease_until=None)
    )


def release(conn: Connection, tables: Tables, timer_id: int) -> None:
    """Clear a timer's lease so any worker may take it at once."""
    conn.execute(
        update(tables.timers)
        .where(tables.timers.c.id == timer_id)
        .values(lease_owner=None, lease_until=None)
    )


def next_due(conn: Connection, tables: Tables, now: dt.datetime) -> dt.datetime | None:
    """When a pending timer is next free to lease: its due time, or for a timer leased
    to a worker, the end of that lease (so an idle worker does not spin on timers
    another worker holds). Only leased timers are due already, so both lookups stay
    on the ``(status, due_at)`` index."""
    t = tables.timers.c
    free: dt.datetime | None = conn.execute(
        select(t.due_at)
        .where(t.status == "pending", t.lease_until.is_(None))
        .order_by(t.due_at)
        .limit(1)
    ).scalar_one_or_none()
    held: dt.datetime | None = conn.execute(
        select(t.lease_until)
        .where(t.status == "pending", t.due_at <= now, t.lease_until.is_not(None))
        .order_by(t.lease_until)
        .limit(1)
    ).scalar_one_or_none()
    candidates = [value for value in (free, held) if value is not None]
    return min(candidates) if candidates else None
