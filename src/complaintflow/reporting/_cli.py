"""``complaintflow report``: the measures of a database, as a table, JSON, CSV or HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from complaintflow.exceptions import ComplaintflowError, InvalidInputError, WorkflowValidationError


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command("report")(report)


def report(
    url: Annotated[str, typer.Argument(help="Database URL, e.g. sqlite:///complaints.db.")],
    since: Annotated[
        str | None,
        typer.Option(help="Received from (ISO date or time; default: 30 days before --until)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Received before (ISO date or time; default: now).")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            help="Group by, comma-separated: day, week, month, tier, category, channel, "
            "owner, team, workflow; 'none' for the total only."
        ),
    ] = "tier",
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
    workflows: Annotated[
        Path | None,
        typer.Option(help="Workflow file or folder: their final and feedback states."),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Zone of periods and of dates without one.")
    ] = "UTC",
    denominator: Annotated[
        str | None,
        typer.Option(
            help="Volume to relate complaints to (orders, ...): a number, or "
            "period=number pairs like 2026-03=12000,2026-04=13500."
        ),
    ] = None,
    per: Annotated[int, typer.Option(min=1, help="Complaint rate per this many.")] = 1000,
    clock: Annotated[
        list[str] | None,
        typer.Option(help="Measure another clock, e.g. --clock resolve=handling (repeatable)."),
    ] = None,
    now: Annotated[str | None, typer.Option(help="Report as of this time (default: now).")] = None,
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
    table_prefix: Annotated[str, typer.Option(help="Prefix of every table name.")] = "cf_",
    schema: Annotated[str | None, typer.Option(help="Database schema (PostgreSQL).")] = None,
) -> None:
    """Measures of the complaints received in a range, computed from the audit trail:
    on-time rates, times to acknowledge and resolve, escalation, reopen, first-contact
    resolution, satisfaction, return visits, complaint rate, clocks overdue now."""
    from complaintflow.definition._registry import load_workflows
    from complaintflow.reporting._measures import compute_measures
    from complaintflow.reporting._render import render
    from complaintflow.store._sql import SqlStore

    try:
        zone = parse_zone(timezone)
        at = parse_when(now, zone, "now") if now else dt.datetime.now(dt.UTC)
        end = parse_when(until, zone, "until") if until else at
        start = parse_when(since, zone, "since") if since else end - dt.timedelta(days=30)
        loaded = load_workflows(workflows) if workflows is not None else None
        _require_database(url)
        store = SqlStore(url, table_prefix=table_prefix, schema=schema)
        try:
            result = compute_measures(
                store,
                since=start,
                until=end,
                by=parse_by(by),
                denominator=parse_denominator(denominator),
                per=per,
                clocks=parse_pairs(clock or [], "clock"),
                now=at,
                timezone=timezone,
                workflows=loaded,
            )
        finally:
            store.close()
    except WorkflowValidationError as exc:
        for problem in exc.problems:
            typer.echo(f"error {problem}", err=True)
        raise typer.Exit(1) from exc
    except ComplaintflowError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    write(render(result, format.value, title=title), output)


def write(text: str, output: Path | None) -> None:
    """Print ``text``, or write it to ``output`` and say so on stderr."""
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


def _require_database(url: str) -> None:
    # connecting to a SQLite file that is not there would create an empty one
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from complaintflow.exceptions import StoreError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from exc
    name = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and name
        and name != ":memory:"
        and not name.startswith("file:")
        and not Path(name).exists()
    ):
        raise StoreError(f"the SQLite database file {name} does not exist")


# --- parsing options (shared by simulate and replay) -------------------------------------


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            "timezone", [f"unknown time zone {name!r}; use an IANA name like Asia/Shanghai"]
        ) from exc


def parse_when(text: str, zone: ZoneInfo, what: str) -> dt.datetime:
    """An ISO date (midnight) or date-time; without an offset it is in ``zone``."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInputError(
            what, [f"{text!r} is not an ISO date or time like 2026-03-01 or 2026-03-01T09:00"]
        ) from exc
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def parse_by(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none", "total"):
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_pairs(items: list[str] | str, what: str) -> dict[str, str]:
    """``a=1,b=2`` (or a list of ``a=1``) as a mapping."""
    parts = items.split(",") if isinstance(items, str) else items
    pairs: dict[str, str] = {}
    for part in parts:
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInputError(what, [f"expected name=value, got {part!r}"])
        pairs[key.strip()] = value.strip()
    return pairs


def parse_denominator(text: str | None) -> float | Mapping[str, float] | None:
    if text is None or not text.strip():
        return None
    try:
        if "=" not in text:
            return float(text)
        return {k: float(v) for k, v in parse_pairs(text, "denominator").items()}
    except ValueError as exc:
        raise InvalidInputError(
            "denominator", [f"expected a number or period=number pairs, got {text!r}"]
        ) from exc
