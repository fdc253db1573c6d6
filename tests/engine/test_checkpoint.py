"""SQLite's write-ahead log is checkpointed by a thread of the store, not in commits."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaintflow import Engine
from complaintflow.store import SqlStore
from complaintflow.store._checkpoint import CAP_PAGES, EVERY_COMMITS, Checkpointer

from ._support import AGENT, intake

STANDARD = Path(__file__).resolve().parents[2] / "workflows" / "standard.yaml"


def _store(engine: Engine) -> SqlStore:
    store = engine.store
    assert isinstance(store, SqlStore)
    return store


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "complaintflow-checkpoint"]


def _wal_frames(path: Path) -> tuple[int, int]:
    """Frames in the log, and how many of them are in the database file."""
    with sqlite3.connect(path) as conn:
        _busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return log, done


def test_the_log_is_checkpointed_beside_the_writers(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Engine.from_url(f"sqlite:///{path}", workflows=STANDARD) as engine:
        store = _store(engine)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        with store.engine.connect() as conn:
            # the writers' own checkpoints only cap the log
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == CAP_PAGES
        for n in range(EVERY_COMMITS // 2 + 1):  # an open and a fire: two commits each
            complaint = engine.open(intake(object=f"router {n}"), actor=AGENT)
            engine.fire(complaint.id, "acknowledge", actor=AGENT)
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.checkpoints >= 1
        assert len(_checkpoint_threads()) >= 1
    # closed: a last checkpoint, the thread ended, every frame in the database file
    assert not any(t.is_alive() for t in _checkpoint_threads() if t is checkpointer._thread)
    log, done = _wal_frames(path)
    assert log == done


def test_a_failed_change_is_not_counted(tmp_path: Path) -> None:
    with Engine.from_url(f"sqlite:///{tmp_path / 'f.db'}", workflows=STANDARD) as engine:
        checkpointer = _store(engine)._checkpointer
        assert checkpointer is not None
        complaint = engine.open(intake(), actor=AGENT)
        counted = checkpointer._commits
        with pytest.raises(Exception, match="not allowed"):
            engine.fire(complaint.id, "customer_satisfied", actor=AGENT)
        assert checkpointer._commits == counted


def test_a_store_left_unclosed_does_not_keep_its_thread(tmp_path: Path) -> None:
    engine = Engine.from_url(f"sqlite:///{tmp_path / 'g.db'}", workflows=STANDARD)
    engine.open(intake(), actor=AGENT)
    checkpointer = _store(engine)._checkpointer
    assert checkpointer is not None
    thread = checkpointer._thread
    assert thread is not None
    assert thread.is_alive()
    del engine, checkpointer
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_forked_process_starts_a_thread_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    checkpointer = Checkpointer(str(path))
    try:
        checkpointer.committed()
        first = checkpointer._thread
        assert first is not None
        checkpointer._pid = -1  # as in a child process after fork(): the thread is not there
        checkpointer.committed()
        assert checkpointer._thread is not first
        assert checkpointer._thread is not None
        assert checkpointer._thread.is_alive()
    finally:
        checkpointer.close()
        assert first.join(timeout=5) is None


@pytest.mark.parametrize("form", ["sqlite://", "sqlite:///:memory:", "uri"])
def test_no_thread_where_the_store_does_not_own_a_plain_database_file(
    form: str, tmp_path: Path
) -> None:
    url = f"sqlite:///file:{tmp_path / 'u.db'}?uri=true" if form == "uri" else form
    store = SqlStore(url)
    try:
        assert store._checkpointer is None
    finally:
        store.close()


def test_no_thread_on_a_hosts_engine(tmp_path: Path) -> None:
    host = sa.create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        assert SqlStore(host)._checkpointer is None
    finally:
        host.dispose()
