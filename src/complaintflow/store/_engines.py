"""Engines the store makes for itself: URLs, SQLite's tuning (WAL, pragmas, ``BEGIN
IMMEDIATE`` from the dialect's hook, the checkpoint thread) and joining a host's SQLite
transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from complaintflow._json import dumps
from complaintflow.exceptions import StoreError
from complaintflow.store._checkpoint import Checkpointer

BEGIN_KEY = "complaintflow_begin"
"""``Connection.info`` key of the statement the next ``BEGIN`` sends (SQLite)."""


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def create_sql_engine(url: str, *, autocheckpoint: int | None = None, **kwargs: Any) -> Engine:
    """An engine tuned for complaintflow: SQLite in WAL mode with sensible pragmas and
    explicit ``BEGIN IMMEDIATE`` for writes; PostgreSQL through psycopg 3.

    ``autocheckpoint`` sets SQLite's ``wal_autocheckpoint`` (pages) on each connection.

    Raises:
        StoreError: the URL is not usable.
    """
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        # not echoed: an unparseable URL may still hold a password
        raise StoreError(
            "invalid database URL (expected e.g. sqlite:///complaints.db or "
            "postgresql://user@host/db)"
        ) from error
    # SQL parameters hold personal data; a host that turns on SQLAlchemy's logging
    # should not find them in its log files
    kwargs.setdefault("hide_parameters", True)
    # JSON columns written through Core encode as the hot path's driver text does
    kwargs.setdefault("json_serializer", dumps)
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        if memory:
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        _tune_sqlite(engine, wal=not memory, autocheckpoint=autocheckpoint)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # one round trip per checkout, which does not show beside the commit's WAL
        # flush; without it the first change after a server restart fails
        kwargs.setdefault("pool_pre_ping", True)
    try:
        return create_engine(url, **kwargs)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as error:
        raise StoreError(f"cannot use database URL {parsed!r}: {error}") from error


def tune_sqlite_connection(
    dbapi_connection: Any, *, wal: bool, autocheckpoint: int | None = None
) -> None:
    """The settings of every SQLite connection the store opens (the benchmarks' baselines
    use them too): the driver's autocommit mode (its own transaction handling cannot do
    ``BEGIN IMMEDIATE`` or savepoints), WAL, ``synchronous=NORMAL``, foreign keys, a
    30-second busy timeout and, when given, ``wal_autocheckpoint`` in pages."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    if wal:
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if autocheckpoint is not None:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
    cursor.close()


def _tune_sqlite(engine: Engine, *, wal: bool, autocheckpoint: int | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        tune_sqlite_connection(dbapi_connection, wal=wal, autocheckpoint=autocheckpoint)

    # BEGIN goes straight to the driver from the dialect's own hook: a "begin" event
    # listener would run it through a full Core execution, and any engine event makes
    # every later statement dispatch events too; errors here are still translated
    def _do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.execute(dbapi_connection.info.pop(BEGIN_KEY, "BEGIN"))

    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]


def checkpointer_for(bind: object) -> Checkpointer | None:
    """A checkpointer for a SQLite database file named by a plain URL (not in memory,
    no URI options): the store opens the file and runs its connections."""
    if not isinstance(bind, str):
        return None
    try:
        parsed = make_url(normalize_url(bind))
    except exc.ArgumentError:
        return None  # create_sql_engine says what is wrong with it
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or parsed.query or not path:
        return None
    if path == ":memory:" or path.startswith("file:"):
        return None
    return Checkpointer(path)


def begin_in_driver(conn: Connection) -> None:
    """Make sure SQLite itself is inside the host's transaction before a savepoint.

    pysqlite in its default mode defers BEGIN to the first INSERT/UPDATE; a SAVEPOINT
    issued before that opens a transaction of its own, and releasing the savepoint
    commits it behind the host's back (a later host rollback would undo nothing).
    """
    if not conn.in_transaction():
        conn.begin()  # what begin_nested() would do; the host commits or rolls back
    dbapi_connection = conn.connection.dbapi_connection
    if not getattr(dbapi_connection, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")
