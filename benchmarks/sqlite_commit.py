"""What one lifecycle event costs SQLite itself: ``python -m benchmarks.sqlite_commit``.

Runs the engine's lifecycle (the ``ours`` workload of ``python -m benchmarks``) on a
SQLite file and reports, per event: the bytes and pages appended to the write-ahead log,
the time spent in ``COMMIT`` and the whole event: as the store runs (a thread of its own
checkpoints the log), with SQLite's default automatic checkpoint in the writer's
``COMMIT`` (every 1,000 pages), and with no checkpoints at all. For scale, the
same machine's rate of bare transactions of three small ``INSERT``s is measured in the
same run. Prints its figures; writes nothing.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._workloads import EVENTS_PER_COMPLAINT, Ours
from complaintflow import Engine
from complaintflow.store import SqlStore

WORKFLOW = Path(__file__).resolve().parents[1] / "workflows" / "standard.yaml"


def _engine(path: Path, checkpoint: int | None) -> Engine:
    """The engine on ``path``; with ``checkpoint``, without the store's checkpoint
    thread and with SQLite's ``wal_autocheckpoint`` at ``checkpoint`` pages."""
    engine = Engine.from_url(f"sqlite:///{path}", workflows=WORKFLOW)
    store = engine.store
    assert isinstance(store, SqlStore)
    if checkpoint is not None:
        if store._checkpointer is not None:
            store._checkpointer.close()
            store._checkpointer = None

        @sa.event.listens_for(store.engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={checkpoint}")

        store.engine.dispose()
    return engine


def measure(folder: Path, lifecycles: int, checkpoint: int | None) -> dict[str, float]:
    """Per event: WAL bytes appended, µs in COMMIT, µs in all."""
    path = folder / f"commit-{checkpoint}.db"
    engine = _engine(path, checkpoint)
    store = engine.store
    assert isinstance(store, SqlStore)
    ours = Ours(None, engine=engine)
    for n in range(10):
        ours.lifecycle(f"warm {n}")
    committing = [0.0]
    dialect = store.engine.dialect
    commit = dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        started = time.perf_counter()
        commit(dbapi_connection)
        committing[0] += time.perf_counter() - started

    dialect.do_commit = timed_commit  # type: ignore[method-assign]
    wal = Path(f"{path}-wal")
    before = wal.stat().st_size
    started = time.perf_counter()
    for n in range(lifecycles):
        ours.lifecycle(f"timed {n}")
    elapsed = time.perf_counter() - started
    grown = wal.stat().st_size - before
    engine.close()
    events = lifecycles * EVENTS_PER_COMPLAINT
    return {
        "wal_bytes": grown / events if checkpoint == 0 else float("nan"),
        "commit_us": committing[0] / events * 1e6,
        "event_us": elapsed / events * 1e6,
    }


def bare_transactions(folder: Path, count: int = 5000) -> float:
    """µs per transaction of three small INSERTs (WAL, synchronous=NORMAL), in sqlite3."""
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for table in ("a", "b", "c"):
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, k TEXT, v TEXT)")
    started = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN IMMEDIATE")
        for table in ("a", "b", "c"):
            conn.execute(f"INSERT INTO {table} (k, v) VALUES (?, ?)", (str(n), "x" * 200))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=300, help="timed lifecycles (300)")
    args = parser.parse_args(argv)
    if args.lifecycles < 1:
        parser.error("--lifecycles must be at least 1")
    with tempfile.TemporaryDirectory(prefix="cf-bench-commit-") as name:
        folder = Path(name)
        thread = measure(folder, args.lifecycles, None)
        default = measure(folder, args.lifecycles, 1000)
        off = measure(folder, args.lifecycles, 0)
        bare = bare_transactions(folder)
    print(f"lifecycle events: {args.lifecycles * EVENTS_PER_COMPLAINT:,} per setting")
    pages = off["wal_bytes"] / 4120  # a 4,096-byte page and its 24-byte frame header
    print(f"WAL appended per event: {off['wal_bytes']:,.0f} bytes ({pages:.1f} pages)")
    print("setting                        COMMIT µs/event  event µs  events/s")
    settings = (
        ("the store's checkpoint thread", thread),
        ("SQLite's default, in COMMIT", default),
        ("no checkpoints", off),
    )
    for label, row in settings:
        rate = 1e6 / row["event_us"]
        print(f"{label:<30} {row['commit_us']:>15,.0f} {row['event_us']:>9,.0f} {rate:>9,.0f}")
    print(f"bare sqlite3 transaction of 3 small INSERTs: {bare:,.0f} µs ({1e6 / bare:,.0f}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
