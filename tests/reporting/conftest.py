"""Fixtures: a simulated month on SQLite, engines on fresh databases, the CLI commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from complaintflow import Engine, FakeClock
from complaintflow._replay import register as register_replay
from complaintflow._simulate import Scenario, SimulationResult, simulate
from complaintflow._simulate import register as register_simulate
from complaintflow.reporting._cli import register as register_report

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
STANDARD = WORKFLOWS / "standard.yaml"
DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai
MONTH = Scenario(days=30, arrivals_per_day=4, settle_days=10, seed=11)


@dataclass
class Month:
    """A simulated month kept on disk, and what the simulation said about it."""

    db: Path
    result: SimulationResult

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    @property
    def end(self) -> dt.datetime:
        return MONTH.start + dt.timedelta(days=MONTH.days + MONTH.settle_days)


@pytest.fixture(scope="session")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    """About 120 complaints over 30 days through the standard workflow (seed 11)."""
    db = tmp_path_factory.mktemp("month") / "month.db"
    return Month(db, simulate(STANDARD, MONTH, db=db))


@pytest.fixture
def month_engine(month: Month) -> Iterator[Engine]:
    """An engine on the simulated month, its clock where the simulation stopped."""
    with Engine.from_url(month.url, workflows=STANDARD, clock=FakeClock(month.end)) as engine:
        yield engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def engine(tmp_path: Path, clock: FakeClock) -> Iterator[Engine]:
    """The standard workflow on a fresh SQLite file, at Monday 09:00 in Shanghai."""
    with Engine.from_url(
        f"sqlite:///{tmp_path / 'scenario.db'}", workflows=STANDARD, clock=clock
    ) as e:
        yield e


@pytest.fixture(scope="session")
def cli() -> typer.Typer:
    """A fresh app with the report, simulate and replay commands, as the lead wires them."""
    app = typer.Typer()
    register_report(app)
    register_simulate(app)
    register_replay(app)
    return app
