"""Databases for the benchmarks: a fresh SQLite file or a fresh set of PostgreSQL tables
(a unique table prefix, dropped afterwards) per measurement."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from complaintflow.store import Tables, build_tables, upgrade
from complaintflow.store._checkpoint import CAP_PAGES, Checkpointer
from complaintflow.store._engines import tune_sqlite_connection

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_ENV = ("COMPLAINTFLOW_BENCH_POSTGRES_URL", "COMPLAINTFLOW_TEST_POSTGRES_URL")


def postgres_url(given: str | None) -> str:
    """The PostgreSQL URL: ``--postgres-url``, the environment, or the local default."""
    if given:
        return given
    for name in POSTGRES_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_POSTGRES_URL


def reachable(url: str) -> str | None:
    """``None`` when the database answers, else why not (one line)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as error:  # any driver failure means "not usable here"
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@dataclass(frozen=True)
class Target:
    """Where one measurement writes: a URL and the table prefix of its own tables."""

    backend: str  # "sqlite" or "postgres"
    url: str
    prefix: str

    def tables(self) -> Tables:
        return build_tables(self.prefix)


def plain_engine(url: str) -> sa.Engine:
    """An engine for the baselines, with the settings the library's store uses on SQLite
    (WAL, synchronous=NORMAL, a busy timeout, writers take the lock with BEGIN IMMEDIATE
    sent straight to the driver, the write-ahead log checkpointed by a thread beside the
    writers), so the comparison is between code paths, not database settings."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    path = sa.make_url(url).database
    checkpointer = Checkpointer(path) if path and path != ":memory:" else None

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        cap = CAP_PAGES if checkpointer is not None else None
        tune_sqlite_connection(dbapi_connection, wal=True, autocheckpoint=cap)

    # as the store does: BEGIN IMMEDIATE straight to the driver, from the dialect's hook
    def _do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.execute("BEGIN IMMEDIATE")

    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]
    if checkpointer is not None:
        commit = engine.dialect.do_commit

        # as the store does: each commit counted, the thread checkpoints every so many
        def _do_commit(dbapi_connection: Any) -> None:
            commit(dbapi_connection)
            checkpointer.committed()

        engine.dialect.do_commit = _do_commit  # type: ignore[method-assign]
    return engine


@contextmanager
def fresh(backend: str, url: str, folder: Path) -> Iterator[Target]:
    """A target with the library's tables created by its migrations, removed afterwards."""
    name = uuid.uuid4().hex[:10]
    if backend == "sqlite":
        path = folder / f"bench-{name}.db"
        target = Target(backend, f"sqlite:///{path}", "cf_")
    else:
        target = Target(backend, url, f"bench_{name}_")
    engine = plain_engine(target.url)
    tables = target.tables()
    try:
        upgrade(engine, tables)
        yield target
    finally:
        if backend == "sqlite":
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            try:
                tables.metadata.drop_all(engine)
                with engine.begin() as conn:
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{tables.version_table}"'))
            finally:
                engine.dispose()


def server_version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + str(conn.exec_driver_sql("select sqlite_version()").scalar())
            text = str(conn.exec_driver_sql("select version()").scalar())
            return " ".join(text.split()[:2])
    finally:
        engine.dispose()
