"""Databases for the engine tests: a SQLite file, or a PostgreSQL schema of its own.

Running the Alembic migrations for every test would cost ~0.5 s on PostgreSQL, so a
test database gets the current schema the fast way: a copy of a SQLite file the real
migrations built (fixture ``sqlite_template``), or on PostgreSQL the DDL of
``build_tables`` in one round trip. ``test_schema.py`` runs the real migrations and
checks that they build exactly this schema.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from complaintflow.store import SCHEMA_REVISION, build_tables

START = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
"""Monday 10:00 in Shanghai: inside the office hours of the cn-office calendar."""

_PLACEHOLDER = "cf_test_placeholder"


def schema_ddl(dialect: sa.Dialect, schema: str, prefix: str = "cf_") -> list[str]:
    """The statements that build the current schema (tables, indexes, Alembic's version)."""
    tables = build_tables(prefix, schema)
    version = sa.Table(
        tables.version_table,
        sa.MetaData(schema=schema),
        sa.Column("version_num", sa.String(32), primary_key=True),
    )
    statements = [str(CreateSchema(schema).compile(dialect=dialect))]
    for table in [*tables.metadata.sorted_tables, version]:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        statements.extend(str(CreateIndex(ix).compile(dialect=dialect)) for ix in table.indexes)
    statements.append(f"INSERT INTO {schema}.{tables.version_table} VALUES ('{SCHEMA_REVISION}')")
    return statements


def without_fsync(url: str) -> str:
    """``url`` with commits that do not wait for the disk: the same semantics, and much
    faster on a busy machine (a test database need not survive a power cut)."""
    options = {"options": "-c synchronous_commit=off"}
    return sa.make_url(url).update_query_dict(options).render_as_string(hide_password=False)


@dataclass
class Database:
    """An empty database of one test: its URL and the schema to use in it."""

    backend: str
    url: str
    schema: str | None = None
    install: Callable[[], None] = lambda: None
    _engines: list[sa.Engine] = field(default_factory=list)

    def host_engine(self) -> sa.Engine:
        """A plain SQLAlchemy engine, as a host application would create it."""
        engine = sa.create_engine(self.url)
        self._engines.append(engine)
        return engine


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def provide_database(
    backend: str, directory: Path, request: pytest.FixtureRequest
) -> Iterator[Database]:
    """An empty database on ``backend``: a file in ``directory``, or a fresh PostgreSQL
    schema dropped afterwards."""
    if backend == "sqlite":
        path = directory / "complaints.db"
        template: Path = request.getfixturevalue("sqlite_template")
        db = Database("sqlite", f"sqlite:///{path}", install=lambda: shutil.copy(template, path))
        yield db
    else:
        url = without_fsync(request.getfixturevalue("postgres_url"))
        admin: sa.Engine = request.getfixturevalue("postgres_admin")
        schema = f"cf_test_{uuid.uuid4().hex[:16]}"
        ddl = ";\n".join(schema_ddl(admin.dialect, _PLACEHOLDER)).replace(_PLACEHOLDER, schema)

        def install() -> None:
            with admin.begin() as conn:
                conn.exec_driver_sql(ddl)

        db = Database("postgresql", url, schema, install)
        yield db
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for engine in db._engines:
        engine.dispose()
