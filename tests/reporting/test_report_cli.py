"""``complaintflow report``: the formats, the HTML page, the options."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

import complaintflow.reporting
from complaintflow.reporting import Report

from .conftest import MONTH, STANDARD, WORKFLOWS, Month

SINCE = MONTH.start.isoformat()
UNTIL = (MONTH.start + dt.timedelta(days=MONTH.days)).isoformat()


def _run(cli: typer.Typer, month: Month, *args: str) -> tuple[int, str, str]:
    end = month.end.isoformat()
    result = CliRunner().invoke(
        cli,
        ["report", month.url, "--since", SINCE, "--until", UNTIL, "--now", end, *args],
    )
    return result.exit_code, result.stdout, result.stderr


def test_json_parses_back_into_a_report(cli: typer.Typer, month: Month) -> None:
    code, out, err = _run(cli, month, "--format", "json", "--workflows", str(WORKFLOWS))
    assert code == 0, err
    report = Report.model_validate_json(out)
    assert report.total.volume == month.result.complaints
    assert report.by == ("tier",)


def test_json_agrees_with_the_simulation_report(cli: typer.Typer, month: Month) -> None:
    _, out, _ = _run(
        cli, month, "--format", "json", "--workflows", str(STANDARD), "--timezone", "Asia/Shanghai"
    )
    report = Report.model_validate_json(out)
    assert report.total == month.result.report.total


def test_csv_has_a_header_and_one_row_per_group(cli: typer.Typer, month: Month) -> None:
    code, out, err = _run(cli, month, "--format", "csv", "--by", "week,tier")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header[:3] == ["week", "tier", "volume"]
    assert "resolved_on_time_pct" in header
    assert "time_to_resolve_p90_h" in header
    assert rows[0]["week"] == rows[0]["tier"] == "(all)"
    assert sum(int(r["volume"]) for r in rows[1:]) == int(rows[0]["volume"])


def test_html_is_one_self_contained_page_with_svg_charts(
    cli: typer.Typer, month: Month, tmp_path: Path
) -> None:
    page = tmp_path / "out" / "report.html"
    code, out, err = _run(cli, month, "--format", "html", "--output", str(page), "--title", "March")
    assert code == 0, err
    assert out == ""
    assert f"wrote {page}" in err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 3  # volume over time, on time per tier, time to resolve
    assert "<title>March</title>" in html
    # nothing is fetched: no scripts, stylesheets, images, fonts or imports
    assert not re.search(r"<script|<link|<img|src=|@import|url\(", html)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)


def test_the_table_names_the_grouping_and_the_measures(cli: typer.Typer, month: Month) -> None:
    code, out, err = _run(cli, month, "--by", "team", "--denominator", "10000")
    assert code == 0, err
    assert "timeliness" in out
    assert "closed loop" in out
    assert "team" in out
    assert "agent" in out
    assert "/1000" in out  # the complaint rate


def test_by_none_gives_the_total_only(cli: typer.Typer, month: Month) -> None:
    code, out, _ = _run(cli, month, "--by", "none", "--format", "json")
    assert code == 0
    report = Report.model_validate_json(out)
    assert report.by == ()
    assert len(report.groups) == 1


def test_another_clock_is_measured_with_clock(cli: typer.Typer, month: Month) -> None:
    code, out, _ = _run(cli, month, "--clock", "resolve=overall", "--format", "json")
    assert code == 0
    assert Report.model_validate_json(out).clocks["resolve"] == "overall"


def test_a_missing_database_file_is_an_error_not_a_new_file(
    cli: typer.Typer, tmp_path: Path
) -> None:
    missing = tmp_path / "nothing.db"
    result = CliRunner().invoke(cli, ["report", f"sqlite:///{missing}"])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert not missing.exists()


def test_bad_options_are_one_line_errors(cli: typer.Typer, month: Month) -> None:
    for args, message in (
        (["--by", "tier,colour"], "unknown by 'colour'"),
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--denominator", "lots"], "expected a number or period=number pairs"),
        (["--clock", "resolve"], "expected name=value"),
    ):
        code, _, err = _run(cli, month, *args)
        assert code == 1, args
        assert message in err, err


def test_the_public_namespace_is_sorted_and_complete() -> None:
    names = complaintflow.reporting.__all__
    # ruff's order (RUF022): constants, then classes, then functions
    assert list(names) == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    # pytest rewrites the asserts of a package that ships a pytest plugin: "@py_..." names
    public = {n for n in vars(complaintflow.reporting) if not n.startswith(("_", "@"))}
    public -= {"annotations"}
    assert public == set(names)
