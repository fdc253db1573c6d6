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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    and_,
    bindparam,
    delete,
    exc,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from complaintflow.core._apply import Change
from complaintflow.core._records import AuditRecord, Complaint, Notification, TimerSpec
from complaintflow.exceptions import ConcurrencyConflictError, InvalidInputError, StoreError
from complaintflow.store import _sweep
from complaintflow.store._checkpoint import CAP_PAGES
from complaintflow.store._codec import (
    IMMUTABLE_COLUMNS,
    audit_from_row,
    audit_to_row,
    complaint_from_row,
    complaint_to_row,
)
from complaintflow.store._engines import (
    BEGIN_KEY,
    begin_in_driver,
    checkpointer_for,
    create_sql_engine,
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
from complaintflow.store._sqlite_text import SqliteText, listened, speaks_qmark_sqlite
from complaintflow.store._sqlite_text import run_on_driver as _run_on_driver
from complaintflow.store._tables import Tables, build_tables

_IDENTIFIER = re.compile(r"[A-Za-z0-9_]*")


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class _Statements:
    """The hot-path statements, built once per store so SQLAlchemy caches their SQL.

    On SQLite they also run as driver text (``driver``, see :class:`SqliteText`).
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
        self.driver: dict[int, SqliteText] | None = None
        if dialect is not None and speaks_qmark_sqlite(dialect):
            self.driver = {}


class _SqlTransaction(StoreTransaction):
    def __init__(
        self, conn: Connection, tables: Tables, sql: _Statements, *, on_driver: bool = False
    ) -> None:
        self.conn = conn
        self.t = tables
        self.sql = sql
        # a host's connection may come from an engine of its own
        self.driver = sql.driver if speaks_qmark_sqlite(conn.dialect) else None
        # the driver's cursor, where the hot path may bypass Core's execution: on an
        # engine the store made itself, outside a host's transaction, while nobody
        # listens to its execution events (tracing, statement logs, tests' crashes)
        self._cursor: Any = None
        if on_driver and self.driver is not None and not listened(conn):
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
            text = driver[id(statement)] = SqliteText(statement, self.sql.dialect, first)
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
        self._checkpointer = checkpointer_for(bind)
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
                begin_in_driver(conn)
            with conn.begin_nested():
                yield conn
            return
        with self.engine.connect() as conn:
            if write and self.dialect == "sqlite":
                conn.info[BEGIN_KEY] = "BEGIN IMMEDIATE"
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
