"""``complaintflow simulate``: a seeded stream through a real engine, alone or compared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from complaintflow import InvalidInputError, load_workflow
from complaintflow._simulate import Scenario, stories
from complaintflow.reporting import Report

from .conftest import STANDARD, WORKFLOWS

SMALL = ["--days", "2", "--arrivals-per-day", "10", "--settle-days", "5"]


def _simulate(cli: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version 2 of the standard workflow: minor complaints must be resolved in 1 business
    hour instead of 7 business days."""
    folder = tmp_path_factory.mktemp("v2")
    shutil.copy(WORKFLOWS / "calendars.yaml", folder / "calendars.yaml")
    text = STANDARD.read_text(encoding="utf-8")
    old = "clocks: {acknowledge: 24h, respond: 24h, resolve: 7bd}"
    assert old in text
    text = text.replace("version: 1", "version: 2", 1).replace(
        old, "clocks: {acknowledge: 24h, respond: 24h, resolve: 1bh}"
    )
    (folder / "standard.yaml").write_text(text, encoding="utf-8")
    return folder / "standard.yaml"


@pytest.fixture(scope="module")
def twice(cli: typer.Typer) -> tuple[str, str]:
    first = _simulate(cli, str(STANDARD), "--seed", "5", *SMALL)
    second = _simulate(cli, str(STANDARD), "--seed", "5", *SMALL)
    assert first[0] == second[0] == 0, first[2]
    return first[1], second[1]


def test_the_same_seed_prints_the_same_output(twice: tuple[str, str]) -> None:
    first, second = twice
    assert first == second
    assert first.startswith("simulated 20 complaints through standard-complaint@1")
    assert "timeliness" in first


def test_another_seed_is_another_stream(cli: typer.Typer, twice: tuple[str, str]) -> None:
    code, out, _ = _simulate(cli, str(STANDARD), "--seed", "6", *SMALL)
    assert code == 0
    assert out != twice[0]


def test_json_output_is_a_report(cli: typer.Typer, tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    code, out, err = _simulate(
        cli, str(STANDARD), "--seed", "5", "--format", "json", "--db", str(db), *SMALL
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["workflow"] == "standard-complaint@1"
    assert payload["complaints"] == 20
    report = Report.model_validate(payload["report"])
    assert report.total.volume == 20
    assert report.overdue == ()  # complaint ids are random: never printed
    assert db.exists()


def test_compare_runs_the_same_stream_through_both_and_shows_the_difference(
    cli: typer.Typer, strict: Path
) -> None:
    code, out, err = _simulate(cli, str(STANDARD), "--compare", str(strict), "--seed", "5", *SMALL)
    assert code == 0, err
    assert "A = standard-complaint@1: 20 complaints" in out
    assert "B = standard-complaint@2: 20 complaints" in out
    rows = {}
    section = ""
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃").split("│")]
        if len(cells) == 5:
            section = cells[0] or section
            rows[(section, cells[1])] = cells[2:]
    # the same customers and people: acknowledging does not depend on the resolve target
    assert rows[("all tiers", "acknowledged on time")][2] == "="
    assert rows[("all tiers", "complaints")] == ["20", "20", "="]
    a, b, diff = rows[("tier minor", "resolved on time")]
    assert a != b
    assert diff.endswith(" pp")
    assert diff.startswith("-")
    assert int(rows[("tier minor", "breaches")][1]) > int(rows[("tier minor", "breaches")][0])


def test_the_stream_does_not_depend_on_the_workflow_version(strict: Path) -> None:
    scenario = Scenario(days=3, arrivals_per_day=10, seed=9)
    a = stories(scenario, load_workflow(STANDARD))
    b = stories(scenario, load_workflow(strict))
    assert [(s.received, s.tier, s.category, s.answers) for s in a] == [
        (s.received, s.tier, s.category, s.answers) for s in b
    ]


def test_the_tier_mix_is_followed(cli: typer.Typer) -> None:
    code, out, err = _simulate(
        cli, str(STANDARD), "--tier-mix", "minor=1,urgent=1", "--format", "json", *SMALL
    )
    assert code == 0, err
    report = Report.model_validate(json.loads(out)["report"])
    tiers = {g.key["tier"]: g.volume for g in report.by_tier}
    assert tiers == {"minor": 10, "urgent": 10}


def test_a_tier_mix_naming_unknown_tiers_is_refused(cli: typer.Typer) -> None:
    code, _, err = _simulate(cli, str(STANDARD), "--tier-mix", "trivial=1", *SMALL)
    assert code == 1
    assert "tier mix names trivial" in err


def test_a_scenario_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="satisfaction must be between 0 and 1"):
        Scenario(satisfaction=1.5).check(load_workflow(STANDARD))
