"""Helpers of the timer tests: engines on fresh tables, bulk-made due timers, counting.

Imported by the tests (``from ._support import ...``) and by the worker scripts that
the fault tests start as subprocesses (``import _support``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from complaintflow import Engine, FakeClock
from complaintflow.store import SqlStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STANDARD = ROOT / "workflows" / "standard.yaml"
SLA = HERE / "sla.yaml"

INTAKE: dict[str, Any] = {
    "customer_name": "Test Customer",
    "customer_contact": "customer@example.com",
    "channel": "phone",
    "object": "router",
    "reason": "it keeps dropping the line",
}
AGENT = ("a-1", "agent")


def new_prefix() -> str:
    """A table prefix of its own for one test: tests share the PostgreSQL database."""
    return f"t{uuid.uuid4().hex[:10]}_"


def drop_tables(store: SqlStore) -> None:
    """Remove every table of ``store`` (and its Alembic version table)."""
    tables = store.tables
    with store.engine.begin() as conn:
        tables.metadata.drop_all(conn, checkfirst=True)
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {tables.version_table}"))


def intake(n: int) -> dict[str, Any]:
    """An intake record about object ``n`` (distinct matters are never joined)."""
    return {**INTAKE, "object": f"object-{n}"}


def sql_store(engine: Engine) -> SqlStore:
    store = engine.store
    assert isinstance(store, SqlStore)
    return store


def timer_rows(engine: Engine, complaint_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of the timers table (of one complaint), oldest first."""
    store = sql_store(engine)
    t = store.tables.timers
    stmt = sa.select(t).order_by(t.c.id)
    if complaint_id is not None:
        stmt = stmt.where(t.c.complaint_id == complaint_id)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def seed_due_breaches(
    url: str, prefix: str, *, templates: int, copies: int, now: dt.datetime | None = None
) -> int:
    """Make ``templates * copies`` complaints of the standard workflow, each with two
    breach timers (``acknowledge`` and ``respond``) due six hours ago; returns how many
    due timers there are.

    ``templates`` complaints are opened through the engine 30 h ago (so their clocks,
    timers and audit trail are real) and their 75 % warnings fired; the rest are copies
    of their rows (complaint and pending timers) written in bulk, with new ids. The
    copies have no audit history of their own, which the counting does not need.
    """
    now = now or dt.datetime.now(dt.UTC)
    clock = FakeClock(now - dt.timedelta(hours=30))
    engine = Engine.from_url(url, workflows=STANDARD, clock=clock, table_prefix=prefix)
    try:
        for n in range(templates):
            engine.open(intake(n), actor=AGENT)
        clock.advance(dt.timedelta(hours=18))
        warned = engine.run_due_timers()
        assert warned == 2 * templates, warned
        store = sql_store(engine)
        c, t = store.tables.complaints, store.tables.timers
        with store.engine.begin() as conn:
            complaints = [dict(r) for r in conn.execute(sa.select(c)).mappings()]
            # a complaint's timers next to each other, as when they were armed together
            pending = [
                dict(r)
                for r in conn.execute(
                    sa.select(t).where(t.c.status == "pending").order_by(t.c.complaint_id, t.c.id)
                ).mappings()
            ]
            due = sum(1 for r in pending if r["due_at"] <= now)
            assert due == 2 * templates, due
            rows, timers = [], []
            for k in range(1, copies):
                for row in complaints:
                    rows.append(
                        {**row, "id": f"{row['id']}-{k}", "dedup_key": None, "open_dedup_key": None}
                    )
                for row in pending:
                    timer = {key: value for key, value in row.items() if key != "id"}
                    timer["complaint_id"] = f"{row['complaint_id']}-{k}"
                    timers.append(timer)
                if len(rows) >= 2000:
                    conn.execute(sa.insert(c), rows)
                    conn.execute(sa.insert(t), timers)
                    rows, timers = [], []
            if rows:
                conn.execute(sa.insert(c), rows)
                conn.execute(sa.insert(t), timers)
        return due * copies
    finally:
        engine.close()


def due_pending(engine: Engine, now: dt.datetime | None = None) -> int:
    """How many pending timers are due at ``now`` (default: the real time)."""
    store = sql_store(engine)
    t = store.tables.timers.c
    at = now or dt.datetime.now(dt.UTC)
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(t.status == "pending", t.due_at <= at)
            ).scalar_one()
        )


def breach_records(engine: Engine) -> Counter[tuple[str, str]]:
    """How many ``timer`` audit records of a breach each (complaint, clock) has."""
    store = sql_store(engine)
    a = store.tables.audit.c
    clock = a.data["clock"].as_string()
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.complaint_id, clock, sa.func.count())
            .where(a.kind == "timer", a.trigger == "breach")
            .group_by(a.complaint_id, clock)
        ).all()
    return Counter({(r[0], r[1]): int(r[2]) for r in rows})


def status_counts(engine: Engine) -> Counter[str]:
    """Timers by status."""
    store = sql_store(engine)
    t = store.tables.timers.c
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.status, sa.func.count()).group_by(t.status)).all()
    return Counter({r[0]: int(r[1]) for r in rows})


def escalation_levels(engine: Engine) -> Counter[int]:
    """Complaints by escalation level."""
    store = sql_store(engine)
    c = store.tables.complaints.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.escalation_level, sa.func.count()).group_by(c.escalation_level)
        ).all()
    return Counter({int(r[0]): int(r[1]) for r in rows})
