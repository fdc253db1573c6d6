"""``complaintflow db upgrade | current``, driven as the installed command."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from complaintflow import Engine
from complaintflow.store import SCHEMA_REVISION, build_tables

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("complaintflow")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error")
    return lines[0]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'complaints.db'}"


def test_upgrade_brings_a_new_sqlite_file_to_the_current_revision(sqlite_url: str) -> None:
    result = cli("db", "upgrade", sqlite_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"upgraded to revision {SCHEMA_REVISION} (was none)"


def test_current_prints_the_revision_after_an_upgrade(sqlite_url: str) -> None:
    cli("db", "upgrade", sqlite_url)
    result = cli("db", "current", sqlite_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == SCHEMA_REVISION


def test_a_second_upgrade_changes_nothing(sqlite_url: str) -> None:
    cli("db", "upgrade", sqlite_url)
    result = cli("db", "upgrade", sqlite_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"already at revision {SCHEMA_REVISION}"


def test_current_prints_none_for_a_database_never_migrated(tmp_path: Path) -> None:
    path = tmp_path / "host.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE host_table (id INTEGER PRIMARY KEY)")
    result = cli("db", "current", f"sqlite:///{path}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
    assert "db upgrade" in result.stderr


def test_the_engine_runs_on_a_database_upgraded_by_the_cli(
    sqlite_url: str, workflows_dir: Path
) -> None:
    cli("db", "upgrade", sqlite_url)
    with Engine.from_url(sqlite_url, workflows=workflows_dir, migrate=False) as engine:
        assert engine.store.schema_revision() == SCHEMA_REVISION


def test_table_prefix_keeps_two_stores_apart(sqlite_url: str) -> None:
    assert cli("db", "upgrade", sqlite_url, "--table-prefix", "tenant_a_").returncode == 0
    assert cli("db", "current", sqlite_url, "--table-prefix", "tenant_a_").stdout.strip() == (
        SCHEMA_REVISION
    )
    assert cli("db", "current", sqlite_url).stdout.strip() == "none"


def test_current_refuses_a_missing_sqlite_file_without_creating_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    line = assert_one_line_error(cli("db", "current", f"sqlite:///{path}"))
    assert "missing.db" in line
    assert not path.exists()


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://host/db"])
def test_a_bad_url_is_a_one_line_error(url: str) -> None:
    for command in ("upgrade", "current"):
        assert_one_line_error(cli("db", command, url))


def test_an_unreachable_postgresql_server_is_a_one_line_error() -> None:
    # port 1 refuses at once; the password must not be echoed
    url = "postgresql://someone:s3cret@127.0.0.1:1/nowhere"
    for command in ("upgrade", "current"):
        line = assert_one_line_error(cli("db", command, url))
        assert "s3cret" not in line


def test_a_sqlite_file_in_a_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(cli("db", "upgrade", f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"))


def test_an_invalid_table_prefix_is_a_one_line_error(sqlite_url: str) -> None:
    line = assert_one_line_error(cli("db", "upgrade", sqlite_url, "--table-prefix", "cf-;drop"))
    assert "table_prefix" in line


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_prefix(postgres_url: str) -> Iterator[str]:
    """A table prefix no other test uses; its tables are dropped afterwards."""
    prefix = f"cli{uuid.uuid4().hex[:8]}_"
    yield prefix
    tables = build_tables(prefix)
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            tables.metadata.drop_all(conn, checkfirst=True)
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{tables.version_table}"')
    finally:
        engine.dispose()


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A schema no other test uses; dropped with everything in it afterwards."""
    schema = f"cli_{uuid.uuid4().hex[:8]}"
    yield schema
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_upgrade_and_current_on_postgresql(postgres_url: str, pg_prefix: str) -> None:
    assert cli("db", "current", postgres_url, "--table-prefix", pg_prefix).stdout.strip() == (
        "none"
    )
    result = cli("db", "upgrade", postgres_url, "--table-prefix", pg_prefix)
    assert result.returncode == 0, result.stderr
    assert SCHEMA_REVISION in result.stdout
    current = cli("db", "current", postgres_url, "--table-prefix", pg_prefix)
    assert current.stdout.strip() == SCHEMA_REVISION


@pytest.mark.postgres
def test_upgrade_into_a_postgresql_schema(
    postgres_url: str, pg_prefix: str, pg_schema: str
) -> None:
    args = ("--table-prefix", pg_prefix, "--schema", pg_schema)
    result = cli("db", "upgrade", postgres_url, *args)
    assert result.returncode == 0, result.stderr
    assert cli("db", "current", postgres_url, *args).stdout.strip() == SCHEMA_REVISION
    # the default schema holds nothing of it
    assert cli("db", "current", postgres_url, "--table-prefix", pg_prefix).stdout.strip() == (
        "none"
    )


def test_forget_keys_deletes_the_idempotency_keys_older_than_the_retention(
    sqlite_url: str, workflows_dir: Path
) -> None:
    from complaintflow import FakeClock

    now = dt.datetime.now(dt.UTC)
    for days_ago, key in ((10, "old-1"), (9, "old-2"), (1, "new-1")):
        clock = FakeClock(now - dt.timedelta(days=days_ago))
        with Engine.from_url(
            sqlite_url, workflows=workflows_dir / "standard.yaml", clock=clock
        ) as engine:
            engine.open(
                {
                    "customer_name": "Li Na",
                    "customer_contact": "li.na@example.com",
                    "channel": "email",
                    "object": f"order {key}",
                    "reason": "arrived damaged",
                },
                actor=("agent-1", "agent"),
                idempotency_key=key,
            )
    result = cli("db", "forget-keys", sqlite_url, "--older-than-days", "7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("forgot 2 idempotency key(s) stored before"), result.stdout
    path = sqlalchemy.make_url(sqlite_url).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        left = [row[0] for row in conn.execute("SELECT key FROM cf_idempotency_keys")]
    assert left == ["new-1"]


def test_forget_keys_refuses_a_retention_below_its_minimum(sqlite_url: str) -> None:
    cli("db", "upgrade", sqlite_url)
    result = cli("db", "forget-keys", sqlite_url, "--older-than-days", "0")
    assert result.returncode == 2
    assert "older-than-days" in result.stderr
