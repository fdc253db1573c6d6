"""Two reports side by side: what changed from A to B (another workflow version, say)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.table import Table

from complaintflow.reporting._models import NONE_LABEL, GroupMeasures, Report

_Get = Callable[[GroupMeasures], float | None]

# (measure, value, unit of the difference, decimals, in the per-tier summary)
_MEASURES: tuple[tuple[str, _Get, str, int, bool], ...] = (
    ("complaints", lambda g: g.volume, "", 0, False),
    ("acknowledged on time", lambda g: g.acknowledged_on_time.percent, " pp", 1, False),
    ("responded on time", lambda g: g.responded_on_time.percent, " pp", 1, False),
    ("resolved on time", lambda g: g.resolved_on_time.percent, " pp", 1, True),
    ("escalated", lambda g: g.escalation_rate.percent, " pp", 1, True),
    ("reopened", lambda g: g.reopen_rate.percent, " pp", 1, False),
    ("first-contact resolution", lambda g: g.first_contact_resolution.percent, " pp", 1, False),
    ("satisfied", lambda g: g.satisfaction.satisfied.percent, " pp", 1, False),
    ("mean score", lambda g: g.satisfaction.mean_score, "", 2, False),
    ("return visits", lambda g: g.return_visit_completion.percent, " pp", 1, False),
    ("closed without answer", lambda g: g.closed_without_answer.percent, " pp", 1, False),
    ("median time to acknowledge", lambda g: g.time_to_acknowledge.median_hours, " h", 1, False),
    ("median time to resolve", lambda g: g.time_to_resolve.median_hours, " h", 1, True),
    ("p90 time to resolve", lambda g: g.time_to_resolve.p90_hours, " h", 1, False),
    ("breaches", lambda g: g.breaches, "", 0, True),
)


def _show(value: float | None, unit: str, digits: int) -> str:
    if value is None:
        return "—"
    suffix = "%" if unit == " pp" else unit
    return f"{value:.{digits}f}{suffix}"


def _delta(a: float | None, b: float | None, unit: str, digits: int) -> str:
    if a is None or b is None:
        return "—"
    diff = b - a
    if abs(diff) < 0.5 * 10**-digits:
        return "="
    return f"{diff:+.{digits}f}{unit}"


def comparison_rows(
    a: GroupMeasures, b: GroupMeasures, *, brief: bool = False
) -> Iterator[tuple[str, str, str, str]]:
    """``(measure, A, B, B − A)`` for two groups; ``brief``: the per-tier summary only."""
    for name, get, unit, digits, in_brief in _MEASURES:
        if brief and not in_brief:
            continue
        x, y = get(a), get(b)
        yield name, _show(x, unit, digits), _show(y, unit, digits), _delta(x, y, unit, digits)


def compare(a: Report, b: Report, *, labels: tuple[str, str] = ("A", "B"), width: int = 120) -> str:
    """A table of every measure of ``a`` and ``b`` in total, the main ones per tier, and
    the difference B − A (percentage points for rates, hours for times)."""
    sections = [("all tiers", a.total, b.total, False)]
    for ga in a.by_tier:
        name = ga.key["tier"]
        gb = b.tier(None if name == NONE_LABEL else name)
        if gb is not None:
            sections.append((f"tier {name}", ga, gb, True))
    table = Table()
    for name in ("", "measure", labels[0], labels[1], f"{labels[1]} − {labels[0]}"):
        table.add_column(name, justify="left" if name in ("", "measure") else "right")
    for title, ga, gb, brief in sections:
        for i, row in enumerate(comparison_rows(ga, gb, brief=brief)):
            table.add_row(title if i == 0 else "", *row)
        table.add_section()
    overdue = a.overdue_count, b.overdue_count
    table.add_row("", "overdue now", *map(str, overdue), _delta(*overdue, "", 0))
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False, color_system=None).print(table)
    return buffer.getvalue()
