"""A report as text: a console table, JSON, CSV, or one self-contained HTML page."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from complaintflow.exceptions import InvalidInputError
from complaintflow.reporting._models import DurationStats, GroupMeasures, Ratio, Report

Format = Literal["table", "json", "csv", "html"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv", "html")


def render(report: Report, format: Format | str = "table", *, title: str | None = None) -> str:
    """``report`` as text: ``table`` (for a terminal), ``json``, ``csv`` (one row per group,
    the total first) or ``html`` (one self-contained page with inline SVG charts).

    Raises:
        InvalidInputError: an unknown format.
    """
    if format == "json":
        return report.model_dump_json(indent=2) + "\n"
    if format == "csv":
        return to_csv(report)
    if format == "html":
        from complaintflow.reporting._html import to_html

        return to_html(report, title=title)
    if format == "table":
        return to_text(report, title=title)
    raise InvalidInputError("format", [f"unknown format {format!r}; allowed: {', '.join(FORMATS)}"])


# --- cells ------------------------------------------------------------------------------


def percent(ratio: Ratio) -> str:
    """``92.1% (35/38)``, or ``—`` when nothing was counted."""
    if ratio.percent is None:
        return "—"
    return f"{ratio.percent:.1f}% ({ratio.numerator}/{ratio.denominator})"


def hours(stats: DurationStats) -> str:
    """``3.2 / 11.0 h`` (median / p90), ``bh`` for business hours, ``—`` for none."""
    if stats.median_hours is None or stats.p90_hours is None:
        return "—"
    unit = {"business": "bh", "mixed": "h*"}.get(stats.measure, "h")
    return f"{stats.median_hours:.1f} / {stats.p90_hours:.1f} {unit}"


def score(group: GroupMeasures) -> str:
    s = group.satisfaction
    if s.mean_score is None and s.satisfied.percent is None:
        return "—"
    mean = f"{s.mean_score:.2f}" if s.mean_score is not None else "—"
    share = f"{s.satisfied.percent:.0f}%" if s.satisfied.percent is not None else "—"
    return f"{mean} · {share} of {s.responses}"


def local(report: Report, at: dt.datetime) -> str:
    """``at`` in the report's time zone, to the minute."""
    return f"{at.astimezone(ZoneInfo(report.timezone)):%Y-%m-%d %H:%M}"


def span(report: Report) -> str:
    """``received 2026-03-01 00:00 – 2026-04-01 00:00 (Asia/Shanghai); as of ...``"""
    return (
        f"received {local(report, report.since)} – {local(report, report.until)} "
        f"({report.timezone}); as of {local(report, report.now)}"
    )


def _rows(report: Report) -> list[tuple[str, GroupMeasures]]:
    rows = [("all", report.total)]
    if report.by:
        rows += [(", ".join(g.key.values()), g) for g in report.groups]
    return rows


# --- table ------------------------------------------------------------------------------


def to_text(report: Report, *, title: str | None = None, width: int = 160) -> str:
    """The report as console tables (timeliness, then the closed loop, then overdue)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, color_system=None)
    for table in tables(report, title=title):
        console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    return buffer.getvalue()


def tables(report: Report, *, title: str | None = None) -> Iterable[Table | str]:
    """The rich tables of :func:`to_text` (a line when nothing is overdue), for a host's
    own console."""
    head = title or "Complaint measures"
    group = " × ".join(report.by) or "all"
    timely = Table(title=f"{head}: timeliness ({span(report)})")
    timely.add_column(group, no_wrap=True)
    for name in ("volume", "ack on time", "respond on time", "resolve on time"):
        timely.add_column(name, justify="right")
    for name in ("ack med / p90", "resolve med / p90", "breaches"):
        timely.add_column(name, justify="right")
    loop = Table(title=f"{head}: closed loop")
    loop.add_column(group, no_wrap=True)
    for name in ("escalated", "reopened", "first-contact res.", "satisfaction"):
        loop.add_column(name, justify="right")
    for name in ("return visits", "closed w/o answer", "rate"):
        loop.add_column(name, justify="right")
    for label, g in _rows(report):
        timely.add_row(
            label,
            str(g.volume),
            percent(g.acknowledged_on_time),
            percent(g.responded_on_time),
            percent(g.resolved_on_time),
            hours(g.time_to_acknowledge),
            hours(g.time_to_resolve),
            str(g.breaches),
        )
        rate = g.complaint_rate
        loop.add_row(
            label,
            percent(g.escalation_rate),
            percent(g.reopen_rate),
            percent(g.first_contact_resolution),
            score(g),
            percent(g.return_visit_completion),
            percent(g.closed_without_answer),
            f"{rate.rate:.2f}/{rate.per}" if rate else "—",
        )
    yield timely
    yield loop
    if not report.overdue:
        caption = f"overdue now: {report.overdue_count} running clock(s) past their deadline"
        yield caption + (" (not listed)" if report.overdue_count else "")
        return
    overdue = Table(title=f"Overdue now: {report.overdue_count} running clock(s) past deadline")
    for name in ("complaint", "clock", "tier", "owner", "deadline", "overdue"):
        overdue.add_column(name, justify="right" if name == "overdue" else "left")
    for o in report.overdue[:20]:
        overdue.add_row(
            o.complaint_id,
            o.clock,
            o.tier or "—",
            o.owner,
            local(report, o.deadline),
            f"{o.overdue_hours:.1f} h",
        )
    if report.overdue_count > 20:
        overdue.add_row("…", f"{report.overdue_count - 20} more", "", "", "", "")
    yield overdue


# --- csv --------------------------------------------------------------------------------


def flatten(group: GroupMeasures) -> dict[str, Any]:
    """One group as flat columns: ``resolved_on_time_pct``, ``time_to_resolve_p90_h``, ..."""
    row: dict[str, Any] = {"volume": group.volume}
    for name in ("acknowledged_on_time", "responded_on_time", "resolved_on_time"):
        _ratio(row, name, getattr(group, name))
    for name in ("time_to_acknowledge", "time_to_respond", "time_to_resolve"):
        stats: DurationStats = getattr(group, name)
        row[f"{name}_count"] = stats.count
        row[f"{name}_median_h"] = stats.median_hours
        row[f"{name}_p90_h"] = stats.p90_hours
        row[f"{name}_measure"] = stats.measure
    for name in ("escalation_rate", "reopen_rate", "first_contact_resolution"):
        _ratio(row, name, getattr(group, name))
    row["satisfaction_responses"] = group.satisfaction.responses
    row["satisfaction_mean_score"] = group.satisfaction.mean_score
    _ratio(row, "satisfied", group.satisfaction.satisfied)
    _ratio(row, "return_visit_completion", group.return_visit_completion)
    _ratio(row, "closed_without_answer", group.closed_without_answer)
    row["breaches"] = group.breaches
    rate = group.complaint_rate
    row["complaint_rate"] = rate.rate if rate else None
    row["complaint_rate_per"] = rate.per if rate else None
    return row


def _ratio(row: dict[str, Any], name: str, ratio: Ratio) -> None:
    row[f"{name}_pct"] = ratio.percent
    row[f"{name}_n"] = ratio.numerator
    row[f"{name}_of"] = ratio.denominator


def to_csv(report: Report) -> str:
    """One row per group (the total first, its key columns ``(all)``), flat columns."""
    buffer = io.StringIO()
    dims = list(report.by)
    rows = [(dict.fromkeys(dims, "(all)"), report.total)] + [(g.key, g) for g in report.groups]
    writer: csv.DictWriter[str] | None = None
    for key, group in rows:
        record = {**{d: key.get(d, "") for d in dims}, **flatten(group)}
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(record), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return buffer.getvalue()
