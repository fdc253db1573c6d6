"""Timer fixtures: every engine test runs on a SQLite file and on the real PostgreSQL,
each on tables of its own (a unique prefix), dropped afterwards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from complaintflow import Engine, FakeClock

from ._support import SLA, STANDARD, drop_tables, new_prefix, sql_store

START = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
"""Monday 10:00 in Shanghai, inside the cn-office hours of the standard workflow."""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'timers.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def _engine(url: str, workflows: Path, clock: FakeClock) -> Iterator[Engine]:
    engine = Engine.from_url(url, workflows=workflows, clock=clock, table_prefix=new_prefix())
    try:
        yield engine
    finally:
        drop_tables(sql_store(engine))
        engine.close()


@pytest.fixture
def engine(db_url: str, clock: FakeClock) -> Iterator[Engine]:
    """An engine on the small wall-clock workflow ``sla.yaml``."""
    yield from _engine(db_url, SLA, clock)


@pytest.fixture
def standard_engine(db_url: str, clock: FakeClock) -> Iterator[Engine]:
    """An engine on the shipped standard workflow (business-time clocks)."""
    yield from _engine(db_url, STANDARD, clock)
