"""Checkpoints of a SQLite write-ahead log, run by a thread beside the writers.

By default SQLite checkpoints inside a writer's ``COMMIT`` once the log holds 1,000
pages: that commit copies the pages back into the database file and syncs it, about a
quarter of what an event costs (docs/performance.md). On a database file the store
opened itself, the writers' automatic checkpoints only cap the log (``CAP_PAGES``),
and this thread checkpoints every ``EVERY_COMMITS`` commits and once a second after
the last one (``PASSIVE``: it never waits for, nor blocks, a reader or a writer). The
sqlite3 module releases the GIL while SQLite works, so the copying runs on another
CPU while the process goes on.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref

CAP_PAGES = 10_000
"""The writers' own automatic checkpoint: the log stays below about 40 MB even when
this thread does not run (a forked child process, say, until its first commits)."""
EVERY_COMMITS = 128
IDLE_SECONDS = 1.0


class Checkpointer:
    """Checkpoints the log of the database file ``path`` from a daemon thread, started
    on the first commit (again after a fork) and stopped by :meth:`close` or when the
    checkpointer is garbage collected."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._commits = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.checkpoints = 0
        """Checkpoints run so far (for tests)."""

    def committed(self) -> None:
        """Count a commit; every ``EVERY_COMMITS`` wake the thread."""
        self._commits += 1
        if self._pid != os.getpid():
            self._start()
        if self._commits % EVERY_COMMITS == 0:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid() or self._stop.is_set():
                return
            self._pid = os.getpid()
            self._wake = threading.Event()  # a fork may have copied one mid-use
            thread = threading.Thread(
                target=_run,
                args=(weakref.ref(self), self.path, self._wake, self._stop),
                name="complaintflow-checkpoint",
                daemon=True,
            )
            self._thread = thread
            thread.start()

    def close(self) -> None:
        """Stop the thread (after a last checkpoint) and wait for it."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=10)

    def __del__(self) -> None:
        self._stop.set()
        self._wake.set()


def _run(
    owner: weakref.ref[Checkpointer],
    path: str,
    wake: threading.Event,
    stop: threading.Event,
) -> None:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=1)
    except sqlite3.Error:  # pragma: no cover - the writers opened the same file
        return
    seen = 0  # commits counted at the last checkpoint
    try:
        while True:
            wake.wait(IDLE_SECONDS)
            wake.clear()
            stopping = stop.is_set()
            checkpointer = owner()
            if checkpointer is None:  # garbage collected: the store is gone
                return
            commits = checkpointer._commits
            if commits != seen:
                seen = commits
                with contextlib.suppress(sqlite3.Error):  # busy: the next one catches up
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                checkpointer.checkpoints += 1
            del checkpointer  # the thread must not keep the store alive while it waits
            if stopping:
                return
    finally:
        conn.close()
