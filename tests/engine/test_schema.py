"""The schema: migrations shipped in the package, prefix and schema chosen by the host,
and an engine that refuses a database whose schema is not current."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from complaintflow import (
    ComplaintNotFoundError,
    Engine,
    InvalidInputError,
    SchemaOutdatedError,
    StoreError,
    Workflow,
)
from complaintflow.store import SCHEMA_REVISION, SqlStore, downgrade

from ._databases import Database, provide_database
from ._support import AGENT, EngineFactory, intake

TABLES = {
    "complaints",
    "audit_events",
    "contacts",
    "timers",
    "outbox",
    "idempotency_keys",
    "alembic_version",
}


def _store(engine: Engine) -> SqlStore:
    assert isinstance(engine.store, SqlStore)
    return engine.store


def _migrated(database: Database, standard: Workflow, **options: Any) -> Engine:
    options.setdefault("schema", database.schema)
    return Engine.from_url(database.url, workflows=standard, **options)


def _set_revision(engine: Engine, revision: str) -> None:
    store = _store(engine)
    versions = sa.table(
        store.tables.version_table, sa.column("version_num"), schema=store.tables.schema
    )
    with store.engine.begin() as conn:
        conn.execute(sa.update(versions).values(version_num=revision))


def _shape(engine: sa.Engine, schema: str | None) -> dict[str, Any]:
    """Tables with their columns, indexes (the schema's name taken out) and keys."""
    inspector = sa.inspect(engine)

    def columns(table: str) -> list[Any]:
        return inspector.get_columns(table, schema)  # type: ignore[return-value]

    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in columns(name)],
            sorted(
                (i["name"].replace(f"{schema}_", ""), tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(name, schema)
            ),
            inspector.get_pk_constraint(name, schema)["constrained_columns"],
        )
        for name in sorted(inspector.get_table_names(schema))
    }


def test_an_empty_database_is_refused_when_migrations_are_off(
    database: Database, standard: Workflow
) -> None:
    with pytest.raises(SchemaOutdatedError) as info:
        _migrated(database, standard, migrate=False)
    url = sa.make_url(database.url).render_as_string(hide_password=True)
    if database.schema:
        url += f" (--schema {database.schema})"
    assert str(info.value) == (
        f"database schema at {url} is at revision none, this library needs "
        f"{SCHEMA_REVISION}; run `complaintflow db upgrade URL`"
    )
    assert (info.value.current, info.value.required) == (None, SCHEMA_REVISION)


def test_the_refusal_names_a_table_prefix_that_is_not_the_default(
    database: Database, standard: Workflow
) -> None:
    with pytest.raises(SchemaOutdatedError, match=r"--table-prefix acme_\)"):
        _migrated(database, standard, migrate=False, table_prefix="acme_")


def test_an_outdated_revision_is_refused(database: Database, standard: Workflow) -> None:
    _set_revision(engine := _migrated(database, standard), "0000")
    engine.close()
    with pytest.raises(SchemaOutdatedError) as info:
        _migrated(database, standard, migrate=False)
    assert info.value.current == "0000"


def test_a_revision_from_a_newer_library_cannot_be_migrated(
    database: Database, standard: Workflow
) -> None:
    _set_revision(engine := _migrated(database, standard), "9999")
    engine.close()
    with pytest.raises(StoreError, match=r"^cannot migrate the database: .*'9999'"):
        _migrated(database, standard)


def test_migrations_bring_an_empty_database_to_the_current_revision(
    database: Database, standard: Workflow
) -> None:
    engine = _migrated(database, standard)
    try:
        assert _store(engine).schema_revision() == SCHEMA_REVISION
        assert engine.open(intake(), actor=AGENT).version == 1
    finally:
        engine.close()


def test_migrating_twice_changes_nothing(database: Database, standard: Workflow) -> None:
    _migrated(database, standard).close()
    engine = _migrated(database, standard)
    try:
        assert _store(engine).schema_revision() == SCHEMA_REVISION
    finally:
        engine.close()


def test_every_table_carries_the_configured_prefix(database: Database, standard: Workflow) -> None:
    engine = _migrated(database, standard, table_prefix="acme_cf_")
    try:
        names = set(sa.inspect(_store(engine).engine).get_table_names(database.schema))
        assert names == {f"acme_cf_{t}" for t in TABLES}
    finally:
        engine.close()


def test_two_prefixes_in_one_database_keep_their_complaints_apart(
    database: Database, standard: Workflow
) -> None:
    one = _migrated(database, standard, table_prefix="one_")
    two = _migrated(database, standard, table_prefix="two_")
    try:
        cid = one.open(intake(), actor=AGENT).id
        with pytest.raises(ComplaintNotFoundError):
            two.get(cid)
    finally:
        one.close()
        two.close()


def test_the_tables_live_in_the_configured_schema(database: Database, standard: Workflow) -> None:
    if database.backend == "sqlite":
        pytest.skip("SQLite has no schemas (only attached databases)")
    engine = _migrated(database, standard)
    try:
        names = set(sa.inspect(_store(engine).engine).get_table_names(database.schema))
        assert names == {f"cf_{t}" for t in TABLES}
    finally:
        engine.close()


def test_the_migrations_build_the_schema_the_tests_install(
    database: Database, standard: Workflow, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if database.backend == "sqlite":
        pytest.skip("the SQLite test template is built by the migrations themselves")
    engine = _migrated(database, standard)
    try:
        with provide_database("postgresql", tmp_path, request) as fast:
            fast.install()
            migrated = _shape(_store(engine).engine, database.schema)
            installed = _shape(_store(engine).engine, fast.schema)
        assert migrated == installed
        assert set(migrated) == {f"cf_{t}" for t in TABLES}
    finally:
        engine.close()


def test_downgrading_to_base_removes_every_table(database: Database, standard: Workflow) -> None:
    engine = _migrated(database, standard)
    store = _store(engine)
    try:
        downgrade(store.engine, store.tables, "base")
        names = set(sa.inspect(store.engine).get_table_names(database.schema))
        assert names & {f"cf_{t}" for t in TABLES - {"alembic_version"}} == set()
        assert store.schema_revision() is None
    finally:
        engine.close()


def test_sqlite_runs_in_wal_mode(engine: Engine, database: Database) -> None:
    if database.backend != "sqlite":
        pytest.skip("WAL is SQLite's")
    engine.open(intake(), actor=AGENT)
    path = sa.make_url(database.url).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_plain_postgresql_url_is_driven_by_psycopg_3(
    make_engine: EngineFactory, database: Database
) -> None:
    if database.backend != "postgresql":
        pytest.skip("PostgreSQL only")
    plain = sa.make_url(database.url).set(drivername="postgresql")
    engine = make_engine(plain.render_as_string(hide_password=False))
    assert _store(engine).engine.dialect.driver == "psycopg"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"table_prefix": "cf-"},
            "invalid table_prefix: use at most 30 ASCII letters, digits and _",
        ),
        ({"table_prefix": "x" * 31}, "invalid table_prefix: use at most 30 ASCII letters"),
        ({"schema": 'evil"; DROP TABLE x; --'}, "invalid schema: use at most 30 ASCII letters"),
        ({"url": None}, "invalid url: expected a database URL or a SQLAlchemy Engine"),
    ],
)
def test_invalid_store_options_are_refused(
    database: Database, standard: Workflow, options: dict[str, Any], message: str
) -> None:
    given = {"url": database.url, **options}
    url = given.pop("url")
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}"):
        Engine.from_url(url, workflows=standard, **given)


def test_an_unreachable_database_is_a_store_error(database: Database, standard: Workflow) -> None:
    if database.backend == "sqlite":
        url = "sqlite:////nonexistent/folder/complaints.db"
    else:
        url = sa.make_url(database.url).set(port=1).render_as_string(hide_password=False)
    with pytest.raises(StoreError, match=r"^cannot migrate the database: "):
        Engine.from_url(url, workflows=standard)
