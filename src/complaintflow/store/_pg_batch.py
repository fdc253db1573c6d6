"""A batch of rows as one statement on PostgreSQL.

The sweeper writes the effects of a whole batch of timers at once: hundreds of audit
records, complaint updates, settled and armed timers. Sent as an ``executemany``,
psycopg pipelines one statement per row, and the server parses, plans and runs each
of them. Here each kind of write is one statement with one parameter: the rows as a
JSON array, which ``json_to_recordset`` turns back into typed rows on the server. A
batch costs a few round trips however many timers it holds, and both ends encode and
parse the rows in C (psycopg would quote and escape array elements in Python).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Dialect, Table

from complaintflow._json import dumps
from complaintflow.store._codec import remember_last
from complaintflow.store._tables import Tables, UTCDateTime

Convert = Callable[[Any], Any] | None


@remember_last
def _utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return value.isoformat()


def _convert(column: Column[Any]) -> Convert:
    # JSON columns go in as they are: nested in the rows' JSON, read as jsonb
    return _utc if isinstance(column.type, UTCDateTime) else None


class RecordsetText:
    """One statement writing any number of rows given as Core-style dicts."""

    __slots__ = ("_converts", "_keys", "sql")

    def __init__(self, sql: str, keys: Sequence[tuple[str, Convert]]) -> None:
        self.sql = sql
        self._keys = tuple(key for key, _ in keys)
        self._converts = tuple((key, convert) for key, convert in keys if convert is not None)

    def params(self, rows: Sequence[Mapping[str, Any]]) -> tuple[str]:
        """The statement's one parameter: the rows as JSON text."""
        items = []
        for row in rows:
            item = {key: row[key] for key in self._keys}
            for key, convert in self._converts:
                value = item[key]
                if value is not None:
                    item[key] = convert(value)
            items.append(item)
        return (dumps(items),)


class PgBatches:
    """The sweeper's batch statements for one set of tables, built on first use."""

    def __init__(self, tables: Tables, dialect: Dialect) -> None:
        self.t = tables
        self.dialect = dialect
        self._q = dialect.identifier_preparer
        self._built: dict[tuple[str, tuple[str, ...]], RecordsetText] = {}

    def _table(self, table: Table) -> str:
        return str(self._q.format_table(table))

    def _source(self, items: Sequence[tuple[str, Column[Any]]]) -> tuple[str, list[Any]]:
        """``json_to_recordset`` of the statement's parameter, typed as ``items``'
        columns, named ``v``; and the keys with their conversions."""
        columns = ", ".join(
            f"{self._q.quote(key)} {column.type.compile(dialect=self.dialect)}"
            for key, column in items
        )
        keys = [(key, _convert(column)) for key, column in items]
        return f"json_to_recordset(%s::json) AS v({columns})", keys

    def _cached(
        self, kind: str, keys: tuple[str, ...], build: Callable[[], RecordsetText]
    ) -> RecordsetText:
        found = self._built.get((kind, keys))
        if found is None:
            found = self._built[kind, keys] = build()
        return found

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> RecordsetText:
        """``INSERT`` of ``rows`` (every row has the keys of the first)."""
        keys = tuple(sorted(rows[0]))

        def build() -> RecordsetText:
            source, converts = self._source([(k, table.c[k]) for k in keys])
            columns = ", ".join(self._q.quote(k) for k in keys)
            sql = f"INSERT INTO {self._table(table)} ({columns}) SELECT {columns} FROM {source}"
            return RecordsetText(sql, converts)

        return self._cached(f"insert {table.name}", keys, build)

    def update_complaints(self, rows: Sequence[Mapping[str, Any]]) -> RecordsetText:
        """``UPDATE`` of complaints ``b_id`` still at version ``b_version``, returning the
        ids of those updated."""
        table = self.t.complaints
        keys = tuple(sorted(k for k in rows[0] if k not in ("b_id", "b_version")))

        def build() -> RecordsetText:
            items = [("b_id", table.c.id), ("b_version", table.c.version)]
            items += [(k, table.c[k]) for k in keys]
            source, converts = self._source(items)
            sets = ", ".join(f"{self._q.quote(k)} = v.{self._q.quote(k)}" for k in keys)
            sql = (
                f"UPDATE {self._table(table)} AS t SET {sets} FROM {source} "
                f"WHERE t.id = v.b_id AND t.version = v.b_version RETURNING t.id"
            )
            return RecordsetText(sql, converts)

        return self._cached("update complaints", keys, build)

    def cancel_clocks(self) -> RecordsetText:
        """Cancel the pending timers of rows ``(b_id, b_clock, b_at)``."""
        t = self.t.timers

        def build() -> RecordsetText:
            items = [("b_id", t.c.complaint_id), ("b_clock", t.c.clock), ("b_at", t.c.fired_at)]
            source, converts = self._source(items)
            sql = (
                f"UPDATE {self._table(t)} AS t SET status = 'cancelled', fired_at = v.b_at "
                f"FROM {source} WHERE t.complaint_id = v.b_id AND t.clock = v.b_clock "
                f"AND t.status = 'pending'"
            )
            return RecordsetText(sql, converts)

        return self._cached("cancel", (), build)

    def settle(self) -> RecordsetText:
        """Settle timers of rows ``(b_id, b_status, b_at)`` and clear their leases."""
        t = self.t.timers

        def build() -> RecordsetText:
            items = [("b_id", t.c.id), ("b_status", t.c.status), ("b_at", t.c.fired_at)]
            source, converts = self._source(items)
            sql = (
                f"UPDATE {self._table(t)} AS t SET status = v.b_status, fired_at = v.b_at, "
                f"lease_owner = NULL, lease_until = NULL FROM {source} WHERE t.id = v.b_id"
            )
            return RecordsetText(sql, converts)

        return self._cached("settle", (), build)
