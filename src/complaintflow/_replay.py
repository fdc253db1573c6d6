"""``complaintflow replay``: historical complaints from a CSV, replayed through a real engine.

Each row (a complaint with its received, resolved and closed times, category and
priority) is replayed through a workflow on SQLite with a :class:`~complaintflow.FakeClock`
that moves to each event time in order, all rows interleaved: the complaint is opened
at its receipt (with its tier, so every clock has its tier's target from the start),
acknowledged and classified shortly after, resolved and its result sent at the resolved
time, and closed by the system at the closed time. Timers fire in between at their due
times, so warnings, breaches, escalations, auto-closes and return-visit reminders happen
as the workflow's targets and business calendar say. The measures are then computed from
the audit trail, exactly as ``complaintflow report`` does.

The people are replaced by the :class:`~complaintflow._simulate.Driver`: it walks the
workflow's graph, so any workflow with a feedback step can be replayed.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from complaintflow._simulate import Driver
from complaintflow.core._records import Actor, Complaint, Intake
from complaintflow.definition._compile import CompiledTransition, Workflow
from complaintflow.definition._registry import load_workflow
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import ComplaintError, ComplaintflowError, InvalidInputError
from complaintflow.reporting._cli import (
    OutputFormat,
    parse_by,
    parse_pairs,
    parse_zone,
    write,
)
from complaintflow.reporting._measures import compute_measures
from complaintflow.reporting._models import Report
from complaintflow.time._clock import FakeClock

MISSING = frozenset({"", "?", "na", "n/a", "null", "none", "nan", "-"})
TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
)
"""Tried in order after ISO 8601 when no --time-format is given (note: 03/04 is read as
March 4th; pass --time-format for day-first dates written with slashes)."""
_CHANNELS = (
    ("phone", ("phone", "call", "tel", "voice", "hotline", "311")),
    ("email", ("mail",)),
    ("chat", ("chat", "wechat", "message", "sms")),
    ("online", ("web", "online", "internet", "app", "portal", "mobile")),
    ("on_site", ("walk", "person", "site", "counter", "store")),
    ("letter", ("letter", "post", "fax")),
    ("social", ("social", "twitter", "facebook", "weibo")),
)
_TOKEN = re.compile(r"\s*([^\s\-:.)]+)")


@dataclass(frozen=True)
class Columns:
    """Which CSV column holds what; only ``received`` is required."""

    received: str
    closed: str | None = None
    resolved: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class SourceMapping:
    """How source values become the workflow's: times, tiers, categories."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    time_format: str | None = None
    priority_map: Mapping[str, str] = field(default_factory=dict)
    category_map: Mapping[str, str] = field(default_factory=dict)
    default_tier: str | None = None
    default_category: str | None = None


@dataclass
class Row:
    """One historical complaint, in the workflow's terms."""

    index: int
    key: str
    received: dt.datetime
    resolved: dt.datetime | None
    closed: dt.datetime | None
    tier: str
    category: str
    channel: str
    source_category: str | None


def parse_time(text: str | None, mapping: SourceMapping) -> dt.datetime | None:
    """A timestamp of the file, UTC-aware; ``None`` for a missing value.

    Raises:
        ValueError: the value is no timestamp in any format tried.
    """
    if text is None or text.strip().lower() in MISSING:
        return None
    value = text.strip()
    formats = (mapping.time_format,) if mapping.time_format else TIME_FORMATS
    parsed: dt.datetime | None = None
    if mapping.time_format is None:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    for fmt in formats:
        if parsed is not None:
            break
        try:
            parsed = dt.datetime.strptime(value, fmt)
        except (ValueError, TypeError):
            continue
    if parsed is None:
        raise ValueError(f"{value!r} is not a time in a known format; pass --time-format")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=mapping.timezone)
    return parsed.astimezone(dt.UTC)


def channel_of(value: str | None) -> str:
    """The intake channel a source value names (``other`` when none fits)."""
    if not value:
        return "other"
    text = value.strip().lower()
    for channel, words in _CHANNELS:
        if any(word in text for word in words):
            return channel
    return "other"


def _lookup(value: str, table: Mapping[str, str]) -> str | None:
    if value in table:
        return table[value]
    match = _TOKEN.match(value)
    return table.get(match.group(1)) if match else None


def read_rows(
    path: Path, columns: Columns, mapping: SourceMapping, workflow: Workflow, *, limit: int | None
) -> tuple[list[Row], Counter[str]]:
    """The file's complaints (the last row of each ``id``, when an id column is given)
    and the reasons rows were skipped or values defaulted, counted."""
    notes: Counter[str] = Counter()
    tiers = sorted(workflow.tiers, key=workflow.tier_level)
    default_tier = mapping.default_tier or tiers[0]
    default_category = mapping.default_category or workflow.spec.categories[0]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        wanted = [c for c in vars(columns).values() if c is not None]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise InvalidInputError(
                "columns",
                [f"{path.name} has no column {c!r}" for c in missing]
                + [f"its columns: {', '.join(header)}"],
            )
        records: dict[str, dict[str, str]] = {}
        for number, record in enumerate(reader, start=1):
            key = record[columns.id].strip() if columns.id else str(number)
            records.pop(key, None)  # the last row of an id wins, in its last position
            records[key] = record
    rows: list[Row] = []
    for key, record in records.items():
        if limit is not None and len(rows) >= limit:
            break
        try:
            received = parse_time(record[columns.received], mapping)
            resolved = parse_time(record[columns.resolved], mapping) if columns.resolved else None
            closed = parse_time(record[columns.closed], mapping) if columns.closed else None
        except ValueError:
            notes["skipped: a time that does not parse"] += 1
            continue
        if received is None:
            notes["skipped: no received time"] += 1
            continue
        if closed is not None and closed < received:
            notes["skipped: closed before received"] += 1
            continue
        if resolved is not None and (resolved < received or (closed and resolved > closed)):
            notes["resolved time out of order: the closed time is used"] += 1
            resolved = None
        priority = record[columns.priority].strip() if columns.priority else ""
        tier = _lookup(priority, mapping.priority_map) or (
            priority if priority in workflow.tiers else None
        )
        if tier is None:
            notes[f"priority without a tier, taken as {default_tier}"] += 1
            tier = default_tier
        source = record[columns.category].strip() if columns.category else None
        category = _lookup(source, mapping.category_map) if source else None
        if category is None:
            category = source if source in workflow.spec.categories else default_category
            if source not in workflow.spec.categories:
                notes[f"category not in the workflow, taken as {default_category}"] += 1
        rows.append(
            Row(
                index=len(rows),
                key=key[:40],
                received=received,
                resolved=resolved,
                closed=closed,
                tier=tier,
                category=category,
                channel=channel_of(record[columns.channel]) if columns.channel else "other",
                source_category=source,
            )
        )
    return rows, notes


class Replay(Driver):
    """Replays rows: open, acknowledge and classify, resolve, close, at their times."""

    def __init__(
        self,
        engine: Engine,
        clock: FakeClock,
        workflow: Workflow,
        rows: Iterable[Row],
        *,
        acknowledge_after: dt.timedelta,
        source: str,
        resolve_clock: str = "resolve",
    ) -> None:
        super().__init__(engine, clock, workflow)
        self.rows = {row.index: row for row in rows}
        self.source = source
        self.resolve_clock = workflow.clocks.get(resolve_clock)
        self.closed_by_timer = 0
        for row in self.rows.values():
            done = row.resolved or row.closed
            front = row.received + acknowledge_after
            self.schedule(row.received, row.index, "open")
            self.schedule(min(front, done) if done else front, row.index, "front")
            if done is not None:
                self.schedule(done, row.index, "resolve")
            if row.closed is not None:
                self.schedule(row.closed, row.index, "close")

    def perform(self, index: int, step: str) -> None:
        row = self.rows[index]
        if step == "open":
            self._open(row)
            return
        if index not in self.ids:
            return
        c = self.engine.get(self.ids[index])
        if step == "front":
            self._walk(c, row, handling=False)
        elif step == "resolve":
            self._walk(c, row, handling=True)
        elif step == "close":
            self._close(c, row)

    def _open(self, row: Row) -> None:
        role = "agent" if "agent" in self.workflow.roles else self.workflow.spec.roles[0]
        record = Intake(
            customer_name="historical customer",
            customer_contact=f"replay:{row.key}",
            channel=row.channel,
            received_at=row.received,
            object=(row.source_category or "complaint")[:500],
            reason=f"replayed from {self.source}",
            customer_ref=row.key,
            tier=row.tier,
            extra={"source_category": row.source_category},
        )
        try:
            c = self.engine.open(record, actor=Actor(f"{role}-replay", role))
        except ComplaintError as exc:
            self.refused.append(f"open: {exc}")
            return
        self.ids[row.index] = c.id

    def _classification(self, row: Row) -> dict[str, Any]:
        return {
            "tier": row.tier,
            "category": row.category,
            "solution": "resolved in the source system",
            "channel": "source system",
        }

    def _resolve_hop(self, route: list[CompiledTransition]) -> CompiledTransition:
        """The hop that ends handling: into a state that stops the resolve clock, else
        the last before the feedback step."""
        spec = self.resolve_clock
        for ct in route:
            if spec is not None and (ct.spec.dest in spec.stops_in or ct.trigger in spec.stops_on):
                return ct
        return route[-2] if self.feedback and len(route) > 1 else route[-1]

    def _walk(self, c: Complaint, row: Row, *, handling: bool) -> None:
        """Fire the hops before handling ends (``handling=False``) or the rest of the way
        to the feedback step (``True``)."""
        data = self._classification(row)
        while not self.workflow.is_final(c.state) and c.state != self.feedback:
            route = self.route(c, data)
            if not route:
                self.refused.append(f"no way from {c.state} to the feedback step")
                return
            hop = route[0]
            if not handling and hop is self._resolve_hop(route):
                return
            front = c.state == self.workflow.initial_state or bool(
                set(hop.spec.requires) & {"tier", "category"}
            )
            after = self.fire(c, hop, self.data_for(hop, data), front=front)
            if after is None:
                return
            c = after

    def _close(self, c: Complaint, row: Row) -> None:
        spec = self.workflow.spec.feedback
        if self.workflow.is_final(c.state):
            self.closed_by_timer += 1
            return
        if spec is None or c.state != spec.state:
            self._walk(c, row, handling=True)
            c = self.engine.get(c.id)
        trigger = spec.auto_close_trigger if spec else "auto_close"
        if "system" not in self.workflow.roles_for(trigger, c.state):
            self.refused.append(f"{c.state}: the system may not fire {trigger}")
            return
        try:
            self.engine.fire(
                c.id, trigger, actor=Actor.system(), data={"reason": "closed in the source system"}
            )
        except ComplaintError as exc:
            self.refused.append(f"{trigger}: {exc}")


@dataclass(frozen=True)
class ReplayResult:
    """What a replay produced."""

    workflow: str
    report: Report
    rows: int
    notes: Counter[str]
    timers_fired: int
    closed_by_timer: int
    refused: tuple[str, ...]
    seconds: float


def replay(
    csv_path: Path,
    workflow: Workflow | str | Path,
    columns: Columns,
    mapping: SourceMapping = SourceMapping(),
    *,
    acknowledge_after: dt.timedelta = dt.timedelta(minutes=5),
    db: Path | None = None,
    by: tuple[str, ...] = ("tier",),
    limit: int | None = None,
) -> ReplayResult:
    """Replay ``csv_path`` through ``workflow`` on a fresh SQLite file (``db``, replaced; a
    temporary one by default) and compute the measures of the replayed complaints.

    Raises:
        InvalidInputError: a column is missing or a mapping names an unknown tier or
            category.
        WorkflowValidationError: the workflow is invalid.
    """
    wf = workflow if isinstance(workflow, Workflow) else load_workflow(workflow)
    _check_mapping(mapping, wf)
    started = time.perf_counter()
    rows, notes = read_rows(csv_path, columns, mapping, wf, limit=limit)
    if not rows:
        raise InvalidInputError("csv", [f"no row of {csv_path.name} could be replayed"])
    first = min(r.received for r in rows)
    last_received = max(r.received for r in rows)
    end = max(t for r in rows for t in (r.received, r.resolved, r.closed) if t is not None)
    with tempfile.TemporaryDirectory(prefix="complaintflow-replay-") as tmp:
        path = db if db is not None else Path(tmp) / "replay.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        clock = FakeClock(first)
        with Engine.from_url(f"sqlite:///{path}", workflows=wf, clock=clock) as engine:
            driver = Replay(
                engine,
                clock,
                wf,
                rows,
                acknowledge_after=acknowledge_after,
                source=csv_path.name,
            )
            driver.run_until(end + dt.timedelta(seconds=1))
            report = compute_measures(
                engine,
                since=first,
                until=last_received + dt.timedelta(seconds=1),
                by=by,
                timezone=str(mapping.timezone),
            )
    return ReplayResult(
        workflow=wf.key,
        report=report,
        rows=len(rows),
        notes=notes,
        timers_fired=driver.timers_fired,
        closed_by_timer=driver.closed_by_timer,
        refused=tuple(driver.refused),
        seconds=time.perf_counter() - started,
    )


def _check_mapping(mapping: SourceMapping, wf: Workflow) -> None:
    errors = []
    tiers = [*mapping.priority_map.values(), *filter(None, [mapping.default_tier])]
    for tier in tiers:
        if tier not in wf.tiers:
            errors.append(f"tier {tier!r} is not one of {', '.join(wf.tiers)}")
    categories = [*mapping.category_map.values(), *filter(None, [mapping.default_category])]
    for category in categories:
        if category not in wf.spec.categories:
            errors.append(f"category {category!r} is not one of {', '.join(wf.spec.categories)}")
    if errors:
        raise InvalidInputError("replay mapping", errors)


# --- the command ----------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add the ``replay`` command to ``app``."""
    app.command("replay")(replay_command)


def replay_command(
    csv_file: Annotated[Path, typer.Argument(metavar="CSV", help="Historical complaints.")],
    workflow: Annotated[Path, typer.Option(help="The workflow file to replay through.")],
    received_col: Annotated[str, typer.Option(help="Column of the receipt time.")] = "received",
    closed_col: Annotated[str | None, typer.Option(help="Column of the closing time.")] = None,
    resolved_col: Annotated[
        str | None, typer.Option(help="Column of the resolution time (default: closed).")
    ] = None,
    category_col: Annotated[str | None, typer.Option(help="Column of the category.")] = None,
    priority_col: Annotated[str | None, typer.Option(help="Column of the priority.")] = None,
    channel_col: Annotated[str | None, typer.Option(help="Column of the channel.")] = None,
    id_col: Annotated[
        str | None,
        typer.Option(help="Column of the complaint id, for event logs: the last row of each id."),
    ] = None,
    time_format: Annotated[
        str | None, typer.Option(help="strptime format, e.g. '%d-%m-%Y %H:%M' (default: guess).")
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Zone of times without an offset; periods too.")
    ] = "UTC",
    priority_map: Annotated[
        str | None,
        typer.Option(help="Priority to tier, e.g. 1=urgent,2=severe,3=moderate,4=minor."),
    ] = None,
    category_map: Annotated[
        str | None, typer.Option(help="Source category to workflow category, a=b,...")
    ] = None,
    default_tier: Annotated[
        str | None, typer.Option(help="Tier of unmapped priorities (default: the lowest).")
    ] = None,
    default_category: Annotated[
        str | None, typer.Option(help="Category of unmapped values (default: the first).")
    ] = None,
    acknowledge_after: Annotated[
        int, typer.Option(min=0, help="Minutes from receipt to acknowledgement.")
    ] = 5,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay only the first N.")] = None,
    by: Annotated[str, typer.Option(help="Group the measures by (see report --by).")] = "tier",
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    db: Annotated[Path | None, typer.Option(help="Keep the SQLite file here (replaced).")] = None,
) -> None:
    """Replay historical complaints from a CSV through a workflow (its targets, business
    calendar and timers) on a real engine, and print the measures."""
    from complaintflow.reporting._render import render

    try:
        mapping = SourceMapping(
            timezone=parse_zone(timezone),
            time_format=time_format,
            priority_map=parse_pairs(priority_map or "", "priority-map"),
            category_map=parse_pairs(category_map or "", "category-map"),
            default_tier=default_tier,
            default_category=default_category,
        )
        columns = Columns(
            received=received_col,
            closed=closed_col,
            resolved=resolved_col,
            category=category_col,
            priority=priority_col,
            channel=channel_col,
            id=id_col,
        )
        if not csv_file.is_file():
            raise InvalidInputError("csv", [f"{csv_file}: no such file"])
        result = replay(
            csv_file,
            workflow,
            columns,
            mapping,
            acknowledge_after=dt.timedelta(minutes=acknowledge_after),
            db=db,
            by=parse_by(by),
            limit=limit,
        )
    except ComplaintflowError as exc:
        for line in getattr(exc, "problems", None) or [exc]:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        typer.echo(f"error: cannot read {csv_file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{result.workflow}: replayed in {result.seconds:.1f} s", err=True)
    if format is OutputFormat.table:
        lines = [
            f"replayed {result.rows} complaints from {csv_file.name} through {result.workflow}; "
            f"{result.timers_fired} timers fired; {result.closed_by_timer} closed by the "
            f"workflow's feedback timer before their recorded closing; "
            f"{len(result.refused)} action(s) refused",
            *(f"  {reason}: {n}" for reason, n in sorted(result.notes.items())),
            render(result.report, "table", title=f"Replay of {csv_file.name}"),
        ]
        write("\n".join(lines), output)
    else:
        write(render(result.report, format.value, title=f"Replay of {csv_file.name}"), output)
