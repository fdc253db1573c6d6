"""The SQLAlchemy store: SQLite (embedded default, WAL) and PostgreSQL (psycopg 3).

A host may hand in its own ``Engine`` (we never dispose it), or a ``Connection`` /
``Session`` through :meth:`SqlStore.bound`, in which case a change runs in a savepoint
of the host's transaction and the host commits.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Dialect,
    Engine,
    Insert,
    Select,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    exc,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from complaintflow._json import dumps
from complaintflow.core._apply import Change
from complaintflow.core._records import AuditRecord, Complaint, Notification, TimerSpec
from complaintflow.exceptions import ConcurrencyConflictError, InvalidInputError, StoreError
from complaintflow.store import _sweep
from complaintflow.store._checkpoint import CAP_PAGES, Checkpointer
from complaintflow.store._codec import (
    IMMUTABLE_COLUMNS,
    audit_from_row,
    audit_to_row,
    complaint_from_row,
    complaint_to_row,
    remember_last,
)
from complaintflow.store._host_commit import after_host_commit
from complaintflow.store._pg_batch import PgBatches, RecordsetText
from complaintflow.store._port import (
    ClaimedTimer,
    DuplicateKeyError,
    OutboxMessage,
    Page,
    QueryFilter,
    Store,
    StoredIdempotency,
    StoreTransaction,
    TimerOutcome,
)
from complaintflow.store._tables import Tables, UTCDateTime, build_tables, utc_from_db

_BEGIN_KEY = "complaintflow_begin"
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]*")


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


def _tune_sqlite(engine: Engine, *, wal: bool, autocheckpoint: int | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # the driver's own transaction handling cannot do BEGIN IMMEDIATE or savepoints
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

    # BEGIN goes straight to the driver from the dialect's own hook: a "begin" event
    # listener would run it through a full Core execution, and any engine event makes
    # every later statement dispatch events too; errors here are still translated
    def _do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.execute(dbapi_connection.info.pop(_BEGIN_KEY, "BEGIN"))

    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]


def _checkpointer_for(bind: object) -> Checkpointer | None:
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


def _begin_in_driver(conn: Connection) -> None:
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


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class _Statements:
    """The hot-path statements, built once per store so SQLAlchemy caches their SQL.

    On SQLite they also run as driver text (``driver``, see :class:`_SqliteText`).
    """

    def __init__(self, t: Tables, dialect: Dialect | None = None) -> None:
        c = t.complaints.c
        columns = [col.name for col in t.complaints.columns if col.name not in IMMUTABLE_COLUMNS]
        self.get = select(t.complaints).where(c.id == bindparam("b_id"))
        self.get_locked = self.get.with_for_update()
        self.duplicate = select(t.complaints).where(
            c.workflow == bindparam("b_workflow"), c.open_dedup_key == bindparam("b_key")
        )
        self.insert = insert(t.complaints)
        # open_dedup_key is written only when a complaint closes or reopens: a newer
        # complaint may have taken over the matter (see release_dedup_key)
        self.update = (
            update(t.complaints)
            .where(c.id == bindparam("b_id"), c.version == bindparam("b_version"))
            .values({name: bindparam(name) for name in columns if name != "open_dedup_key"})
        )
        self.update_key = (
            update(t.complaints)
            .where(c.id == bindparam("b_id"), c.version == bindparam("b_version"))
            .values({name: bindparam(name) for name in columns})
        )
        self.key_holder = select(c.id).where(
            c.workflow == bindparam("b_workflow"), c.open_dedup_key == bindparam("b_key")
        )
        self.version = select(c.version).where(c.id == bindparam("b_id"))
        self.audit = insert(t.audit)
        tc = t.timers.c
        # one row of parameters per clock: an expanding IN would be compiled anew per call
        self.cancel = (
            update(t.timers)
            .where(
                tc.complaint_id == bindparam("b_id"),
                tc.status == "pending",
                tc.clock == bindparam("b_clock"),
            )
            .values(status="cancelled", fired_at=bindparam("b_at"))
        )
        self.timers = insert(t.timers)
        # the sweeper settles a batch's timers in one executemany of this
        self.settle = (
            update(t.timers)
            .where(tc.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                fired_at=bindparam("b_at"),
                lease_owner=None,
                lease_until=None,
            )
        )
        self.outbox = insert(t.outbox)
        self.dialect = dialect
        # PostgreSQL: the sweeper's batches as one statement per kind of write
        self.pg = PgBatches(t, dialect) if dialect and dialect.name == "postgresql" else None
        self.driver: dict[int, _SqliteText] | None = None
        if dialect is not None and _speaks_qmark_sqlite(dialect):
            self.driver = {}


def _speaks_qmark_sqlite(dialect: Dialect) -> bool:
    return dialect.name == "sqlite" and dialect.paramstyle == "qmark"


@remember_last
def _sqlite_time(value: dt.datetime) -> str:
    # the text SQLAlchemy's SQLite DATETIME writes of UTCDateTime's naive UTC value:
    # "YYYY-MM-DD HH:MM:SS.ffffff", without the "+00:00"
    if value.tzinfo is not dt.UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _to_sqlite(kind: Any) -> Callable[[Any], Any] | None:
    if isinstance(kind, UTCDateTime):
        return _sqlite_time
    if isinstance(kind, JSON):
        return dumps
    return None  # the driver stores str, int, float, bool and None as they are


def _from_sqlite(kind: Any) -> Callable[[Any], Any] | None:
    if isinstance(kind, UTCDateTime):
        return utc_from_db
    if isinstance(kind, JSON):
        return json.loads
    if isinstance(kind, Boolean):
        return bool
    return None


class _SqliteText:
    """A hot-path statement compiled once to SQLite's SQL text, with the conversions
    its parameters and result columns need (those of the tables' column types).

    Run by ``exec_driver_sql``, it skips Core's per-execution work (cache lookup,
    parameter and result processing) and keeps Core's events, error translation and
    connection handling. Built from the keys of the first parameters it is given:
    every later call passes the same keys.
    """

    __slots__ = ("_columns", "_constants", "_converts", "_get", "sql")

    def __init__(self, statement: Any, dialect: Dialect, keys: Iterable[str]) -> None:
        given = set(keys)
        column_keys = sorted(given) if isinstance(statement, Insert) else None
        compiled: Any = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        names: list[str] = []
        self._constants: list[tuple[int, Any]] = []  # literals of the statement
        self._converts: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(compiled.positiontup):
            bind = compiled.binds[name]
            if name in given or bind.required:
                names.append(name)
                convert = _to_sqlite(bind.type)
                if convert is not None:
                    self._converts.append((index, convert))
            elif not bind.required:  # a literal of the statement, NULL included
                self._constants.append((index, bind.effective_value))
            else:
                raise ValueError(f"no value for {name!r} in {self.sql}")
        get = itemgetter(*names)
        self._get: Callable[[Mapping[str, Any]], Any] = (
            get if len(names) > 1 else lambda one: (get(one),)
        )
        self._columns: list[tuple[str, Callable[[Any], Any] | None]] = []
        if isinstance(statement, Select):
            self._columns = [
                (str(col.key), _from_sqlite(col.type)) for col in statement.selected_columns
            ]

    def params(self, given: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Any:
        """Driver parameters: a tuple, or a list of tuples for executemany."""
        if isinstance(given, Mapping):
            return self._values(given)
        return [self._values(one) for one in given]

    def _values(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(self._get(given))
        for index, constant in self._constants:
            values.insert(index, constant)
        for index, convert in self._converts:
            value = values[index]
            if value is not None:
                values[index] = convert(value)
        return tuple(values)

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        """A result row as Core would give it, by column name."""
        return {
            name: value if convert is None or value is None else convert(value)
            for (name, convert), value in zip(self._columns, values, strict=True)
        }


class _SqlTransaction(StoreTransaction):
    def __init__(
        self, conn: Connection, tables: Tables, sql: _Statements, *, on_driver: bool = False
    ) -> None:
        self.conn = conn
        self.t = tables
        self.sql = sql
        # a host's connection may come from an engine of its own
        self.driver = sql.driver if _speaks_qmark_sqlite(conn.dialect) else None
        # the driver's cursor, where the hot path may bypass Core's execution: on an
        # engine the store made itself, outside a host's transaction, while nobody
        # listens to its execution events (tracing, statement logs, tests' crashes)
        self._cursor: Any = None
        if on_driver and self.driver is not None and not _listened(conn):
            self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _execute(
        self, statement: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Any:
        """Run a hot-path statement of ``self.sql`` with Core-style parameters (a dict,
        or a list of them): as driver text on SQLite, through Core elsewhere.

        Gives what has ``rowcount`` and ``fetchone()``: Core's result, or the driver's
        cursor where the store owns the engine (see :func:`_run_on_driver`).
        """
        driver = self.driver
        if driver is None:
            return self.conn.execute(statement, params)
        text = driver.get(id(statement))
        if text is None:
            assert self.sql.dialect is not None
            first = params if isinstance(params, Mapping) else params[0]
            text = driver[id(statement)] = _SqliteText(statement, self.sql.dialect, first)
        if self._cursor is not None:
            return _run_on_driver(self._cursor, text.sql, text.params(params))
        return self.conn.exec_driver_sql(text.sql, text.params(params))

    def _batch(
        self, statement: Any, rows: Sequence[Mapping[str, Any]], recordset: RecordsetText | None
    ) -> Any:
        """Write ``rows`` with ``statement``, or on PostgreSQL in one statement
        (``recordset``); gives what has ``rowcount``."""
        if recordset is None or not rows:
            return self._execute(statement, list(rows))
        return self.conn.exec_driver_sql(recordset.sql, recordset.params(rows))

    def _complaint(self, statement: Any, params: Mapping[str, Any]) -> Complaint | None:
        row = self._execute(statement, params).fetchone()
        if row is None:
            return None
        driver = self.driver
        return complaint_from_row(
            row._mapping if driver is None else driver[id(statement)].row(row)
        )

    def get(self, complaint_id: str, *, lock: bool = False) -> Complaint | None:
        stmt = self.sql.get_locked if lock else self.sql.get
        return self._complaint(stmt, {"b_id": complaint_id})

    def find_open_duplicate(self, workflow: str, dedup_key: str) -> Complaint | None:
        return self._complaint(self.sql.duplicate, {"b_workflow": workflow, "b_key": dedup_key})

    def release_dedup_key(self, complaint_id: str) -> None:
        self.conn.execute(
            update(self.t.complaints)
            .where(self.t.complaints.c.id == complaint_id)
            .values(open_dedup_key=None)
        )

    def open_by_owner(self, owner: str) -> list[Complaint]:
        c = self.t.complaints.c
        rows = self.conn.execute(
            select(self.t.complaints)
            .where(c.owner == owner, c.is_open.is_(True))
            .order_by(c.opened_at, c.id)
        ).mappings()
        return [complaint_from_row(r) for r in rows]

    def write(self, change: Change) -> None:
        after = change.after
        row = complaint_to_row(after, changes_only=change.before is not None)
        sql = self.sql
        try:
            if change.before is None:
                self._execute(sql.insert, row)
            else:
                row["b_id"] = row.pop("id")
                row["b_version"] = change.before.version
                statement = sql.update
                key = row.pop("open_dedup_key")
                if (change.before.closed_at is None) != (after.closed_at is None):
                    statement = sql.update_key
                    if key is not None and self._matter_taken(after.workflow, key):
                        key = None  # reopened while a newer complaint holds the matter
                    row["open_dedup_key"] = key
                if self._execute(statement, row).rowcount != 1:
                    found = self._execute(sql.version, {"b_id": after.id}).fetchone()
                    actual = found[0] if found is not None else None
                    raise ConcurrencyConflictError(
                        after.id, change.before.version, actual if actual is not None else -1
                    )
        except exc.IntegrityError as error:
            raise DuplicateKeyError(str(error.orig)) from error
        if change.audit:
            self._execute(sql.audit, [audit_to_row(r) for r in change.audit])
        now = after.updated_at
        if change.cancel_clocks:
            cancels = [
                {"b_id": after.id, "b_clock": clock, "b_at": now}
                for clock in sorted(change.cancel_clocks)
            ]
            self._execute(sql.cancel, cancels[0] if len(cancels) == 1 else cancels)
        if change.arm:
            self._execute(sql.timers, [_timer_row(t, now) for t in change.arm])
        if change.notifications:
            self._execute(sql.outbox, [_outbox_row(n) for n in change.notifications])

    def _matter_taken(self, workflow: str, key: str) -> bool:
        holder = self._execute(self.sql.key_holder, {"b_workflow": workflow, "b_key": key})
        return holder.fetchone() is not None

    def add_contact(
        self, complaint_id: str, at: dt.datetime, channel: str, actor: str, details: dict[str, Any]
    ) -> None:
        self.conn.execute(
            insert(self.t.contacts).values(
                complaint_id=complaint_id, at=at, channel=channel, actor=actor, details=details
            )
        )

    def get_idempotency(self, key: str) -> StoredIdempotency | None:
        i = self.t.idempotency.c
        row = self.conn.execute(
            select(i.operation, i.complaint_id, i.request_hash, i.result).where(i.key == key)
        ).first()
        return StoredIdempotency(*row) if row is not None else None

    def put_idempotency(self, key: str, stored: StoredIdempotency, at: dt.datetime) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(self.t.idempotency).values(
                        key=key,
                        operation=stored.operation,
                        complaint_id=stored.complaint_id,
                        request_hash=stored.request_hash,
                        result=stored.result,
                        created_at=at,
                    )
                )
        except exc.IntegrityError as error:
            raise DuplicateKeyError(key) from error

    def lock_leased(
        self, timer_ids: Sequence[int], *, worker: str, lease: dt.timedelta
    ) -> list[ClaimedTimer]:
        _sweep.guard_postgres(self.conn, lease)
        return _sweep.lock_leased(self.conn, self.t, timer_ids, worker=worker)

    def lock_leased_versions(
        self, timer_ids: Sequence[int], *, worker: str, lease: dt.timedelta
    ) -> tuple[set[int], dict[str, int]]:
        _sweep.guard_postgres(self.conn, lease)
        return _sweep.leased_versions(self.conn, self.t, timer_ids, worker=worker)

    def release_timer(self, timer_id: int) -> None:
        _sweep.release(self.conn, self.t, timer_id)

    def settle_timer(self, timer_id: int, status: str, at: dt.datetime) -> None:
        self._execute(self.sql.settle, {"b_id": timer_id, "b_status": status, "b_at": at})

    def settle_timers(self, outcomes: Sequence[TimerOutcome], at: dt.datetime) -> None:
        # one executemany per statement kind: a few round trips per batch, not per timer
        pg = self.sql.pg if self.conn.dialect.name == "postgresql" else None
        if outcomes:
            self._batch(
                self.sql.settle,
                [{"b_id": o.claimed.id, "b_status": o.status, "b_at": at} for o in outcomes],
                pg.settle() if pg else None,
            )
        fired = [(o.claimed, o.change) for o in outcomes if o.change is not None]
        if any(change.before is None for _, change in fired):  # pragma: no cover
            # timers fire on stored complaints, never on new ones
            super().settle_timers([o for o in outcomes if o.change is not None], at)
            return
        first: dict[str, Complaint] = {}
        last: dict[str, Complaint] = {}
        audit: list[AuditRecord] = []
        notifications: list[Notification] = []
        arms: dict[tuple[str, str], list[TimerSpec]] = {}
        cancels: dict[tuple[str, str], None] = {}
        for claimed, change in fired:
            cid = change.after.id
            if change.before is not None:
                first.setdefault(cid, change.before)
            last[cid] = change.after
            audit.extend(change.audit)
            notifications.extend(change.notifications)
            for clock in change.cancel_clocks:
                arms.pop((cid, clock), None)  # armed earlier in this batch: never written
                if clock != claimed.timer.clock:
                    cancels[cid, clock] = None
            for timer in change.arm:
                arms.setdefault((cid, timer.clock), []).append(timer)
        self._update_swept(first, last, pg)
        sql = self.sql
        if audit:
            rows = [audit_to_row(r) for r in audit]
            self._batch(sql.audit, rows, pg.insert(self.t.audit, rows) if pg else None)
        if cancels:
            rows = [{"b_id": cid, "b_clock": clock, "b_at": at} for cid, clock in cancels]
            self._batch(sql.cancel, rows, pg.cancel_clocks() if pg else None)
        armed = [_timer_row(t, at) for timers in arms.values() for t in timers]
        if armed:
            self._batch(sql.timers, armed, pg.insert(self.t.timers, armed) if pg else None)
        if notifications:
            rows = [_outbox_row(n) for n in notifications]
            self._batch(sql.outbox, rows, pg.insert(self.t.outbox, rows) if pg else None)

    def _all_updated(self, rows: list[dict[str, Any]]) -> bool:
        """Update the complaints of ``rows`` in one executemany; if any was not at its
        version, undo the whole statement (a savepoint) and say so."""
        cursor = self._cursor
        if cursor is None:
            savepoint = self.conn.begin_nested()
            if self._execute(self.sql.update, rows).rowcount == len(rows):
                savepoint.commit()
                return True
            savepoint.rollback()
            return False
        _run_on_driver(cursor, "SAVEPOINT cf_swept", ())
        done = bool(self._execute(self.sql.update, rows).rowcount == len(rows))
        if not done:
            _run_on_driver(cursor, "ROLLBACK TO cf_swept", ())
        _run_on_driver(cursor, "RELEASE cf_swept", ())
        return done

    def _update_swept(
        self, first: dict[str, Complaint], last: dict[str, Complaint], pg: PgBatches | None
    ) -> None:
        """Update each complaint from its ``first`` snapshot to its ``last`` in one
        executemany, checking the version."""
        rows = []
        for cid, before in first.items():
            after = last[cid]
            if (before.closed_at is None) != (after.closed_at is None):
                # closed (or reopened): the dedup key moves, which write() knows how to do
                self.write(Change(before, after, ()))
                continue
            row = complaint_to_row(after, changes_only=True)
            row["b_id"] = row.pop("id")
            row["b_version"] = before.version
            del row["open_dedup_key"]
            rows.append(row)
        if not rows:
            return
        # which complaint moved on must be told exactly: once the others are updated, a
        # version read back cannot tell "ours" from "a request's" (both are before + 1)
        stale = None
        if pg is not None:
            recordset = pg.update_complaints(rows)
            updated = {row[0] for row in self._batch(self.sql.update, rows, recordset)}
            stale = next((row for row in rows if row["b_id"] not in updated), None)
        elif not self._all_updated(rows):
            # undone; one UPDATE per complaint, each with its row count, finds which
            stale = next((r for r in rows if self._execute(self.sql.update, r).rowcount != 1), None)
        if stale is not None:
            found = self._execute(self.sql.version, {"b_id": stale["b_id"]}).fetchone()
            raise ConcurrencyConflictError(
                stale["b_id"], stale["b_version"], found[0] if found is not None else -1
            )


def _listened(conn: Connection) -> bool:
    """Whether anyone listens to statement events of the engine (nobody else holds the
    connections of an engine the store made, so none listens to them alone)."""
    d = conn.engine.dispatch
    return bool(
        d.before_execute or d.after_execute or d.before_cursor_execute or d.after_cursor_execute
    )


def _run_on_driver(cursor: Any, sql: str, params: Any) -> Any:
    """Run SQL text on SQLite's own cursor, translating its errors as Core would."""
    try:
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except sqlite3.IntegrityError as error:
        raise DuplicateKeyError(str(error)) from error
    except sqlite3.Error as error:
        raise StoreError(f"database error: {error}") from error
    return cursor


def _timer_row(t: TimerSpec, now: dt.datetime) -> dict[str, Any]:
    return {
        "complaint_id": t.complaint_id,
        "clock": t.clock,
        "kind": t.kind,
        "threshold": t.threshold,
        "sequence": t.sequence,
        "due_at": t.due_at,
        "status": "pending",
        "created_at": now,
    }


def _outbox_row(n: Notification) -> dict[str, Any]:
    return {
        "complaint_id": n.complaint_id,
        "role": n.role,
        "kind": n.kind,
        "at": n.at,
        "payload": n.payload,
        "attempts": 0,
    }


class SqlStore(Store):
    """The SQLAlchemy store.

    Args:
        bind: a database URL, or the host's ``Engine`` (never disposed by us).
        table_prefix: prefix of every table name (default ``cf_``).
        schema: the database schema (PostgreSQL) holding the tables.
    """

    def __init__(
        self,
        bind: str | Engine,
        *,
        table_prefix: str = "cf_",
        schema: str | None = None,
        _connection: Connection | Session | None = None,
        _owns_engine: bool | None = None,
    ) -> None:
        for what, name in (("table_prefix", table_prefix), ("schema", schema)):
            if name is not None and (
                not isinstance(name, str) or len(name) > 30 or not _IDENTIFIER.fullmatch(name)
            ):
                raise InvalidInputError(what, ["use at most 30 ASCII letters, digits and _"])
        if schema == "":
            raise InvalidInputError("schema", ["use None for the default schema"])
        # on a SQLite file the store opened, a thread of its own checkpoints the log
        self._checkpointer = _checkpointer_for(bind)
        if isinstance(bind, str):
            cap = CAP_PAGES if self._checkpointer is not None else None
            self.engine = create_sql_engine(bind, autocheckpoint=cap)
            self._owns_engine = True
        else:
            self.engine = bind
            self._owns_engine = False
        # the hot path may skip Core's execution (and so its events) only on our own engine
        self._made_engine = isinstance(bind, str)
        if _owns_engine is not None:
            self._owns_engine = _owns_engine
        self.tables = build_tables(table_prefix, schema)
        self._sql = _Statements(self.tables, self.engine.dialect)
        self._host = _connection

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def bound(self, connection: Connection | Session) -> SqlStore:
        """A view of this store that works inside the host's connection or session.

        Changes run in a savepoint of the host's transaction; the host commits (or
        rolls back) when it sees fit.
        """
        if not isinstance(connection, Connection | Session):
            raise InvalidInputError(
                "bound", ["expected the host's SQLAlchemy Connection or Session"]
            )
        view = copy.copy(self)
        # same tables and statements: new ones would be compiled again on every request
        view._host = connection
        view._owns_engine = False
        return view

    # --- transactions ----------------------------------------------------------------

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[Connection]:
        if self._host is not None:
            conn = self._host.connection() if isinstance(self._host, Session) else self._host
            if conn.dialect.name == "sqlite":
                _begin_in_driver(conn)
            with conn.begin_nested():
                yield conn
            return
        with self.engine.connect() as conn:
            if write and self.dialect == "sqlite":
                conn.info[_BEGIN_KEY] = "BEGIN IMMEDIATE"
            with conn.begin():
                yield conn

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[_SqlTransaction]:
        try:
            with self._connect(write=True) as conn:
                yield _SqlTransaction(
                    conn, self.tables, self._sql, on_driver=self._made_engine and self._host is None
                )
        except exc.OperationalError as error:
            raise StoreError(f"database error: {error.orig}") from error
        except exc.DBAPIError as error:
            if isinstance(error, exc.IntegrityError):
                raise DuplicateKeyError(str(error.orig)) from error
            raise StoreError(f"database error: {error.orig}") from error
        if self._checkpointer is not None and self._host is None:
            self._checkpointer.committed()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._connect(write=False) as conn:
                yield conn
        except exc.DBAPIError as error:
            raise StoreError(f"database error: {error.orig}") from error

    # --- reads -------------------------------------------------------------------------

    def get(self, complaint_id: str) -> Complaint | None:
        with self._read() as conn:
            return _SqlTransaction(conn, self.tables, self._sql).get(complaint_id)

    def history(self, complaint_id: str) -> list[AuditRecord]:
        a = self.tables.audit.c
        with self._read() as conn:
            rows = conn.execute(
                select(self.tables.audit)
                .where(a.complaint_id == complaint_id)
                .order_by(a.version, a.seq)
            ).mappings()
            return [audit_from_row(r) for r in rows]

    def query(self, where: QueryFilter, *, limit: int, cursor: str | None) -> Page:
        c = self.tables.complaints.c
        clauses: list[Any] = []
        for column, value in (
            (c.state, _as_list(where.state)),
            (c.tier, _as_list(where.tier)),
            (c.category, _as_list(where.category)),
        ):
            if value is not None:
                clauses.append(column.in_(value))
        if where.workflow is not None:
            if "@" in where.workflow:
                clauses.append(c.workflow == where.workflow)
            else:  # every version of the workflow
                clauses.append(c.workflow.startswith(where.workflow + "@", autoescape=True))
        for column, scalar in (
            (c.owner, where.owner),
            (c.customer_ref, where.customer_ref),
        ):
            if scalar is not None:
                clauses.append(column == scalar)
        if where.open is not None:
            clauses.append(c.is_open.is_(where.open))
        if where.opened_from is not None:
            clauses.append(c.opened_at >= where.opened_from)
        if where.opened_until is not None:
            clauses.append(c.opened_at < where.opened_until)
        if where.updated_from is not None:
            clauses.append(c.updated_at >= where.updated_from)
        if where.updated_until is not None:
            clauses.append(c.updated_at < where.updated_until)
        if cursor is not None:
            opened, last_id = _decode_cursor(cursor)
            clauses.append(or_(c.opened_at > opened, and_(c.opened_at == opened, c.id > last_id)))
        stmt = (
            select(self.tables.complaints)
            .where(*clauses)
            .order_by(c.opened_at, c.id)
            .limit(limit + 1)
        )
        with self._read() as conn:
            items = [complaint_from_row(r) for r in conn.execute(stmt).mappings()]
        more = len(items) > limit
        items = items[:limit]
        next_cursor = _encode_cursor(items[-1]) if more and items else None
        return Page(tuple(items), next_cursor)

    # --- timers and outbox ------------------------------------------------------------------

    def lease_due_timers(
        self, now: dt.datetime, *, limit: int, worker: str, lease: dt.timedelta
    ) -> list[int]:
        with self._transaction() as tx:
            _sweep.guard_postgres(tx.conn, lease)
            return _sweep.lease(tx.conn, self.tables, now, limit=limit, worker=worker, lease=lease)

    def read_leased(
        self, timer_ids: Sequence[int], *, worker: str, lease: dt.timedelta
    ) -> list[ClaimedTimer]:
        with self._read() as conn:
            return _sweep.lock_leased(conn, self.tables, timer_ids, worker=worker, lock=False)

    def next_due(self, now: dt.datetime | None = None) -> dt.datetime | None:
        with self._read() as conn:
            return _sweep.next_due(conn, self.tables, now or dt.datetime.now(dt.UTC))

    def pending_outbox(self, limit: int) -> list[OutboxMessage]:
        o = self.tables.outbox.c
        with self._read() as conn:
            rows = conn.execute(
                select(self.tables.outbox)
                .where(o.delivered_at.is_(None))
                .order_by(o.id)
                .limit(limit)
            ).mappings()
            return [
                OutboxMessage(
                    r["id"],
                    Notification(
                        r["complaint_id"], r["role"], r["kind"], r["at"], dict(r["payload"])
                    ),
                    r["attempts"],
                )
                for r in rows
            ]

    def mark_delivered(self, message_ids: Sequence[int], at: dt.datetime) -> None:
        if not message_ids:
            return
        o = self.tables.outbox.c
        with self._transaction() as tx:
            tx.conn.execute(
                update(self.tables.outbox)
                .where(o.id.in_(list(message_ids)))
                .values(delivered_at=at)
            )

    # --- schema --------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        from sqlalchemy import column, inspect, table

        with self._read() as conn:
            if not inspect(conn).has_table(self.tables.version_table, schema=self.tables.schema):
                return None
            versions = table(
                self.tables.version_table, column("version_num"), schema=self.tables.schema
            )
            value = conn.execute(select(versions.c.version_num)).scalar_one_or_none()
            return str(value) if value is not None else None

    def forget_idempotency_batch(self, before: dt.datetime, *, limit: int) -> int:
        i = self.tables.idempotency.c
        oldest = select(i.key).where(i.created_at < before).limit(limit)
        with self._transaction() as tx:
            # by primary key: no index on created_at (a sweep now and then reads the table)
            keys = list(tx.conn.execute(oldest).scalars())
            if keys:
                tx.conn.execute(delete(self.tables.idempotency).where(i.key.in_(keys)))
        return len(keys)

    def after_commit(self, callback: Callable[[], None]) -> None:
        if self._host is None:
            callback()
        else:
            after_host_commit(self._host, callback)

    def close(self) -> None:
        if self._owns_engine:
            if self._checkpointer is not None:
                self._checkpointer.close()
            self.engine.dispose()


def _encode_cursor(c: Complaint) -> str:
    raw = json.dumps([c.opened_at.isoformat(), c.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        opened, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = dt.datetime.fromisoformat(opened)
        if at.utcoffset() is None or not isinstance(last_id, str):
            raise ValueError("not a cursor")
        return at, last_id
    except (ValueError, TypeError) as error:
        raise InvalidInputError("cursor", [f"{cursor!r} is not a cursor from query()"]) from error
