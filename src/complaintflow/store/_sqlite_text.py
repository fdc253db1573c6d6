"""The hot path's statements as SQLite's own SQL text, run on the driver's cursor.

On an engine the store made itself, while nobody listens to its statement events, the
store runs its prebuilt statements on sqlite3's cursor: parameters converted as the
column types would, errors translated as Core would, none of Core's per-statement work.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Dialect, Insert, Select

from complaintflow._json import dumps
from complaintflow.exceptions import StoreError
from complaintflow.store._codec import remember_last
from complaintflow.store._port import DuplicateKeyError
from complaintflow.store._tables import UTCDateTime, utc_from_db


def speaks_qmark_sqlite(dialect: Dialect) -> bool:
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


class SqliteText:
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


def listened(conn: Connection) -> bool:
    """Whether anyone listens to statement events of the engine (nobody else holds the
    connections of an engine the store made, so none listens to them alone)."""
    d = conn.engine.dispatch
    return bool(
        d.before_execute or d.after_execute or d.before_cursor_execute or d.after_cursor_execute
    )


def run_on_driver(cursor: Any, sql: str, params: Any) -> Any:
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
