"""Engine fixtures: every test runs on a SQLite file and on the real PostgreSQL.

Each test gets a database of its own (see ``_databases.py``): a SQLite file in
``tmp_path``, or on PostgreSQL a schema with a unique name, dropped afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from complaintflow import Engine, FakeClock, Workflow, load_workflow

from ._databases import BACKENDS, START, Database, provide_database, without_fsync
from ._support import EngineFactory

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def standard() -> Workflow:
    return load_workflow(WORKFLOWS / "standard.yaml")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, standard: Workflow) -> Path:
    """A SQLite file migrated by the real migrations, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "complaints.db"
    Engine.from_url(f"sqlite:///{path}", workflows=standard).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to copy
    return path


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[sa.Engine]:
    admin = sa.create_engine(without_fsync(postgres_url))
    yield admin
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with provide_database(request.param, tmp_path, request) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_engine(
    database: Database, clock: FakeClock, standard: Workflow
) -> Iterator[EngineFactory]:
    """Engines on this test's database, its schema installed (the standard workflow, the
    fake clock and the test's schema unless told otherwise); closed after the test."""
    made: list[Engine] = []
    database.install()

    def make(url: str | sa.Engine | None = None, **options: Any) -> Engine:
        options.setdefault("workflows", standard)
        options.setdefault("clock", clock)
        options.setdefault("schema", database.schema)
        options.setdefault("migrate", False)
        engine = Engine.from_url(url if url is not None else database.url, **options)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: EngineFactory) -> Engine:
    return make_engine()


@pytest.fixture
def guarded(make_engine: EngineFactory) -> Engine:
    """An engine on ``guarded.yaml``: a host guard that refuses when the data says so,
    declarative conditions on event data."""

    def within_contract(complaint: Any, data: dict[str, Any]) -> bool | tuple[bool, str]:
        if data.get("contract") == "expired":
            return False, "the service contract has expired"
        return True

    workflow = load_workflow(HERE / "guarded.yaml", guards={"within_contract": within_contract})
    return make_engine(workflows=workflow)
