"""SQL for the timer sweeper: lease due timers, then lock and fire them.

Exactly one effect per timer, across crashes and many workers:

1. ``lease``: in a short transaction, pick due pending timers whose lease is free
   (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers never wait for each other) and
   write ``lease_owner``/``lease_until``, in one statement. A worker that dies after
   this leaves a lease that expires; another worker then takes the timer over.
2. ``lock_leased``: in the transaction that applies the effects, lock the complaints
   first and the timers second, the same order the application path takes (it
   updates the complaint, then cancels and arms its timers), so sweepers and request
   handlers cannot deadlock; keep only timers still pending and still leased by this
   worker. The effects and the settled statuses commit together.

On PostgreSQL, sweeper transactions set ``lock_timeout`` and
``idle_in_transaction_session_timeout`` so a hung (not dead) worker cannot hold locks
longer than its lease.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from complaintflow.core._records import TimerSpec
from complaintflow.store._codec import complaint_from_row
from complaintflow.store._port import ClaimedTimer
from complaintflow.store._tables import Tables


class Statements:
    """The sweeper's statements, built once per set of tables so SQLAlchemy caches
    their SQL and no statement is built per timer."""

    def __init__(self, tables: Tables) -> None:
        timers = tables.timers
        t = timers.c
        self.release = (
            update(timers)
            .where(t.id == bindparam("b_id"))
            .values(lease_owner=None, lease_until=None)
        )


@functools.lru_cache(maxsize=32)
def statements(tables: Tables) -> Statements:
    """The sweeper's statements for ``tables`` (built on first use)."""
    return Statements(tables)


def guard_postgres(conn: Connection, lease: dt.timedelta) -> None:
    """Bound how long this transaction may wait for or sit on locks (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    millis = max(1000, int(lease.total_seconds() * 1000))
    # both settings in one round trip; set_config(..., true) is SET LOCAL
    conn.exec_driver_sql(
        f"SELECT set_config('lock_timeout', '{min(millis, 10_000)}', true), "
        f"set_config('idle_in_transaction_session_timeout', '{millis}', true)"
    )


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
    # pick and lease in one statement; RETURNING has no order, so sort here
    rows = conn.execute(
        update(tables.timers)
        .where(t.id.in_(pick.scalar_subquery()))
        .values(lease_owner=worker, lease_until=now + lease)
        .returning(t.id, t.due_at)
    ).all()
    return [row[0] for row in sorted(rows, key=lambda row: (row[1], row[0]))]


def _owners(conn: Connection, tables: Tables, ids: Sequence[int]) -> list[str]:
    """The complaints of timers ``ids``, found by primary key (SQLite scans the whole
    timers index for ``complaint_id IN (SELECT DISTINCT ...)``)."""
    t = tables.timers.c
    found = conn.execute(select(t.complaint_id).where(_among(conn, t.id, ids))).scalars()
    return sorted(set(found))


def lock_leased(
    conn: Connection, tables: Tables, ids: Sequence[int], *, worker: str, lock: bool = True
) -> list[ClaimedTimer]:
    """Lock the complaints, then the timers, of leased timers still ours and pending
    (without ``lock``: only read them)."""
    if not ids:
        return []
    t = tables.timers.c
    c = tables.complaints.c
    lock = lock and conn.dialect.name == "postgresql"  # SQLite: the write transaction
    timers_stmt = select(
        t.id, t.complaint_id, t.clock, t.kind, t.due_at, t.threshold, t.sequence, *_ours(t)
    ).where(_among(conn, t.id, ids))
    if lock:
        owners = _owners(conn, tables, ids)
        complaints_stmt = select(tables.complaints).where(_among(conn, c.id, owners)).order_by(c.id)
        complaints = {
            row["id"]: complaint_from_row(row)
            for row in conn.execute(complaints_stmt.with_for_update()).mappings()
        }
        locked = timers_stmt.order_by(t.id).with_for_update()
        timers = _still_ours(conn.execute(locked).all(), worker, due=4)
    else:
        timers = _still_ours(conn.execute(timers_stmt).all(), worker, due=4)
        owners = sorted({row[1] for row in timers})
        complaints_stmt = select(tables.complaints).where(_among(conn, c.id, owners))
        complaints = {
            row["id"]: complaint_from_row(row) for row in conn.execute(complaints_stmt).mappings()
        }
    claimed = []
    for timer_id, complaint_id, *spec in (row[:7] for row in timers):
        complaint = complaints.get(complaint_id)
        if complaint is None:  # pragma: no cover - complaints are never deleted
            continue
        claimed.append(ClaimedTimer(timer_id, TimerSpec(complaint_id, *spec), complaint))
    return claimed


def leased_versions(
    conn: Connection, tables: Tables, ids: Sequence[int], *, worker: str
) -> tuple[set[int], dict[str, int]]:
    """Lock as :func:`lock_leased` does; the ids of the timers still ours and pending,
    and the version of each of their complaints."""
    if not ids:
        return set(), {}
    t = tables.timers.c
    c = tables.complaints.c
    complaints_stmt = (
        select(c.id, c.version).where(_among(conn, c.id, _owners(conn, tables, ids))).order_by(c.id)
    )
    timers_stmt = select(t.id, t.due_at, *_ours(t)).where(_among(conn, t.id, ids))
    if conn.dialect.name == "postgresql":
        complaints_stmt = complaints_stmt.with_for_update()
        timers_stmt = timers_stmt.order_by(t.id).with_for_update()
    versions = {row[0]: row[1] for row in conn.execute(complaints_stmt)}
    return {row[0] for row in _still_ours(conn.execute(timers_stmt).all(), worker, due=1)}, versions


def _among(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter, and one
    statement text whatever the batch's size, which the server plans faster and psycopg
    prepares once."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def _ours(t: Any) -> tuple[Any, Any]:
    return t.status, t.lease_owner


def _still_ours(rows: Sequence[Any], worker: str, *, due: int) -> list[tuple[Any, ...]]:
    """Rows (``id``, ..., ``status``, ``lease_owner``) of timers still pending and
    leased to ``worker``, oldest due (``row[due]``) first.

    Filtered here, not in SQL: given ``status = 'pending'``, SQLite without
    statistics walks the ``(status, due_at)`` index over every pending timer instead
    of looking the ids up by primary key."""
    kept = [tuple(row) for row in rows if row[-2] == "pending" and row[-1] == worker]
    return sorted(kept, key=lambda row: (row[due], row[0]))


def release(conn: Connection, tables: Tables, timer_id: int) -> None:
    """Clear a timer's lease so any worker may take it at once."""
    conn.execute(statements(tables).release, {"b_id": timer_id})


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
