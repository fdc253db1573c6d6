"""``complaintflow replay``: historical complaints from a CSV through a real engine.

data/complaints.csv (times in Asia/Shanghai, standard workflow):
R1 urgent, resolved in 1h55m of its 24h        -> on time
R2 minor, resolved after 14 working days of 7bd -> late
R3 moderate, no resolved time: closed next day  -> on time (the closed time is used)
R4 severe, still open at the end               -> late and overdue
R5 has no received time, R6 closes before it is received: both skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from complaintflow._replay import Columns, SourceMapping, channel_of, parse_time, replay
from complaintflow.reporting import Report

from .conftest import DATA, SHARED_DATA, STANDARD

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLUMNS = Columns(
    received="received",
    resolved="resolved",
    closed="closed",
    category="category",
    priority="priority",
    channel="channel",
    id="id",
)
MAPPING = SourceMapping(
    timezone=SHANGHAI,
    time_format="%Y-%m-%d %H:%M",
    priority_map={"1": "urgent", "2": "severe", "3": "moderate", "4": "minor"},
    category_map={"Billing Dept": "billing"},
)
UCI = SHARED_DATA / "uci_incident_event_log_partial.csv"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Report:
    result = replay(DATA / "complaints.csv", STANDARD, COLUMNS, MAPPING)
    assert result.rows == 4
    assert result.notes == {
        "skipped: no received time": 1,
        "skipped: closed before received": 1,
    }
    assert result.refused == ()
    return result.report


def test_rows_become_complaints_of_the_mapped_tiers(replayed: Report) -> None:
    assert replayed.total.volume == 4
    assert {g.key["tier"]: g.volume for g in replayed.by_tier} == {
        "minor": 1,
        "moderate": 1,
        "severe": 1,
        "urgent": 1,
    }


def test_resolution_is_judged_against_the_workflow_targets(replayed: Report) -> None:
    def resolved(tier: str) -> tuple[int, int]:
        group = replayed.tier(tier)
        assert group is not None
        return group.resolved_on_time.numerator, group.resolved_on_time.denominator

    assert resolved("urgent") == (1, 1)
    assert resolved("minor") == (0, 1)
    assert resolved("moderate") == (1, 1)
    assert resolved("severe") == (0, 1)  # still running, long past its 3bd
    total = replayed.total.resolved_on_time
    assert (total.numerator, total.denominator) == (2, 4)


def test_urgent_time_to_resolve_is_calendar_time(replayed: Report) -> None:
    """Classified 5 minutes after its receipt at 09:10, resolved at 11:10: 1h55m."""
    urgent = replayed.tier("urgent")
    assert urgent is not None
    assert urgent.time_to_resolve.median_hours == pytest.approx(115 / 60, abs=1e-3)
    assert urgent.time_to_resolve.measure == "elapsed"


def test_open_complaints_are_overdue_at_the_end(replayed: Report) -> None:
    assert {(o.tier, o.clock) for o in replayed.overdue} >= {("severe", "resolve")}
    assert replayed.now == dt.datetime(2026, 3, 21, 10, 0, 1, tzinfo=SHANGHAI)


def test_closed_rows_are_closed_by_the_system_without_an_answer(replayed: Report) -> None:
    closed = replayed.total.closed_without_answer
    assert (closed.numerator, closed.denominator) == (3, 3)
    assert replayed.total.satisfaction.responses == 0


def test_the_last_row_of_an_id_wins_in_an_event_log() -> None:
    columns = Columns(received="opened", closed="closed", priority="priority", id="number")
    mapping = SourceMapping(priority_map={"1": "urgent", "3": "moderate"})
    result = replay(DATA / "event_log.csv", STANDARD, columns, mapping)
    assert result.rows == 2
    report = result.report
    assert report.total.volume == 2
    closed = report.total.closed_without_answer
    assert (closed.numerator, closed.denominator) == (1, 1)


def test_times_in_the_usual_formats() -> None:
    utc = SourceMapping()
    assert parse_time("04/12/2018 11:11:26 AM", utc) == dt.datetime(
        2018, 4, 12, 11, 11, 26, tzinfo=dt.UTC
    )
    assert parse_time("29-02-2016 01:16", utc) == dt.datetime(2016, 2, 29, 1, 16, tzinfo=dt.UTC)
    assert parse_time("2026-03-02T09:00:00+08:00", utc) == dt.datetime(
        2026, 3, 2, 1, 0, tzinfo=dt.UTC
    )
    assert parse_time("?", utc) is None
    with pytest.raises(ValueError, match="--time-format"):
        parse_time("yesterday", utc)


@pytest.mark.parametrize(
    ("value", "channel"),
    [
        ("Phone", "phone"),
        ("E-mail", "email"),
        ("Internet", "online"),
        ("Walk-in", "on_site"),
        ("WeChat", "chat"),
        ("Carrier pigeon", "other"),
        (None, "other"),
    ],
)
def test_channels_are_recognised(value: str | None, channel: str) -> None:
    assert channel_of(value) == channel


def _invoke(cli: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_command_prints_the_measures_as_json(cli: typer.Typer, tmp_path: Path) -> None:
    code, out, err = _invoke(
        cli,
        "replay",
        str(DATA / "complaints.csv"),
        "--workflow", str(STANDARD),
        "--received-col", "received",
        "--resolved-col", "resolved",
        "--closed-col", "closed",
        "--category-col", "category",
        "--priority-col", "priority",
        "--channel-col", "channel",
        "--timezone", "Asia/Shanghai",
        "--priority-map", "1=urgent,2=severe,3=moderate,4=minor",
        "--category-map", "Billing Dept=billing",
        "--format", "json",
        "--db", str(tmp_path / "replay.db"),
    )  # fmt: skip
    assert code == 0, err
    report = Report.model_validate_json(out)
    assert report.total.volume == 4
    assert (tmp_path / "replay.db").exists()


def test_a_missing_column_is_named(cli: typer.Typer) -> None:
    code, _, err = _invoke(
        cli, "replay", str(DATA / "complaints.csv"), "--workflow", str(STANDARD),
        "--received-col", "created",
    )  # fmt: skip
    assert code == 1
    assert "has no column 'created'" in err
    assert "its columns: id, received" in err


def test_an_unknown_tier_in_the_map_is_refused(cli: typer.Typer) -> None:
    code, _, err = _invoke(
        cli, "replay", str(DATA / "complaints.csv"), "--workflow", str(STANDARD),
        "--priority-col", "priority", "--priority-map", "1=critical",
    )  # fmt: skip
    assert code == 1
    assert "tier 'critical' is not one of minor, moderate, severe, urgent" in err


@pytest.mark.skipif(
    not UCI.exists(), reason=f"the shared real data set is not here ({UCI} is missing)"
)
def test_the_real_servicenow_event_log_replays(cli: typer.Typer, tmp_path: Path) -> None:
    """The first 40 incidents of the UCI ServiceNow log (priority 1-4 -> tiers)."""
    shutil.copy(UCI, tmp_path / UCI.name)
    code, out, err = _invoke(
        cli,
        "replay", str(tmp_path / UCI.name),
        "--workflow", str(STANDARD),
        "--id-col", "number",
        "--received-col", "opened_at",
        "--resolved-col", "resolved_at",
        "--closed-col", "closed_at",
        "--priority-col", "priority",
        "--category-col", "category",
        "--channel-col", "contact_type",
        "--time-format", "%d-%m-%Y %H:%M",
        "--priority-map", "1=urgent,2=severe,3=moderate,4=minor",
        "--default-category", "technical",
        "--limit", "40",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    report = Report.model_validate_json(out)
    assert report.total.volume == 40
    assert report.total.acknowledged_on_time.percent == 100.0  # 5 minutes after receipt
    assert report.total.time_to_resolve.count > 30
    assert {g.key["tier"] for g in report.by_tier} <= {"minor", "moderate", "severe", "urgent"}
    json.loads(out)
