"""The report as one self-contained HTML page: inline CSS and SVG charts, no external assets."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from complaintflow.reporting._models import GroupMeasures, Ratio, Report
from complaintflow.reporting._render import hours, local, percent, score, span

_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; --card:#fff;
        --a:#2f6fb3; --b:#e08a2c; --c:#3a9a6a; --bad:#c0392b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { max-width:1160px; margin:0 auto; padding:24px 28px 40px; }
h1 { font-size:24px; margin:0 0 4px; }
h2 { font-size:17px; margin:28px 0 10px; }
h3 { font-size:14px; margin:14px 0 6px; }
.meta { color:var(--muted); margin:0 0 18px; }
.cards { display:grid; grid-template-columns:repeat(5, 1fr); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
        padding:12px 14px; }
.card .v { font-size:22px; font-weight:600; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .s { color:var(--muted); font-size:12px; }
.charts { display:grid; grid-template-columns:1fr 1fr; gap:14px; }
.chart { background:var(--card); border:1px solid var(--line); border-radius:8px;
         padding:12px 14px; }
.chart.wide { grid-column:1 / span 2; }
.chart h3 { font-size:14px; margin:0 0 6px; }
.chart svg { width:100%; height:auto; display:block; }
table { border-collapse:collapse; width:100%; background:var(--card); font-size:13px; }
th, td { border-bottom:1px solid var(--line); padding:6px 8px; text-align:right;
         white-space:nowrap; }
th:first-child, td:first-child, .l { text-align:left; }
th { background:#eef2f7; font-weight:600; }
tr.total td { font-weight:600; background:#fafbfc; }
.scroll { overflow-x:auto; border:1px solid var(--line); border-radius:8px; }
.late { color:var(--bad); font-weight:600; }
.notes { color:var(--muted); font-size:12px; }
footer { color:var(--muted); font-size:12px; margin-top:24px; }
"""

_MEASURE_NAMES = {
    "business": "business hours",
    "elapsed": "hours",
    "mixed": "business and elapsed hours",
    "none": "hours",
}
_SERIES_COLOURS = ("#2f6fb3", "#e08a2c", "#3a9a6a")


@dataclass(frozen=True)
class _Series:
    name: str
    values: Sequence[float | None]
    colour: str


def _nice_max(value: float, *, whole: bool) -> float:
    """The top of a four-tick axis above ``value``: a round tick step (a whole number
    when ``whole``, for counts)."""
    if value <= 0:
        return 4.0
    wanted = value / 4
    magnitude = 10.0 ** math.floor(math.log10(wanted))
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = factor * magnitude
        if step >= wanted and (not whole or (step >= 1 and step == int(step))):
            return 4 * step
    return 4 * 10 * magnitude  # pragma: no cover


def bar_chart(
    labels: Sequence[str],
    series: Sequence[_Series],
    *,
    y_max: float | None = None,
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 1080,
    height: int = 260,
    value_labels: bool = True,
) -> str:
    """An SVG bar chart (grouped when several series), drawn here: axes, ticks, bars."""
    left, right, top, bottom = 48, 12, 14 if len(series) == 1 else 36, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    whole = all(float(v).is_integer() for v in values)
    top_value = y_max if y_max is not None else _nice_max(max(values, default=0.0), whole=whole)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'font-size="11" font-family="system-ui, sans-serif">'
    ]
    for i in range(5):
        tick = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d9e2ec" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#616e7c">'
            f"{escape(y_format(tick))}</text>"
        )
    n = max(len(labels), 1)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78 / max(len(series), 1))
    every = max(1, math.ceil(n / 16))
    show_values = value_labels and n * len(series) <= 40 and bar_w >= 20
    for i, label in enumerate(labels):
        x0 = left + slot * i + slot * 0.11
        for j, s in enumerate(series):
            value = s.values[i]
            x = x0 + bar_w * j
            if value is None:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4:.1f}" '
                    f'text-anchor="middle" fill="#9aa5b1" font-size="10">n/a</text>'
                )
                continue
            h = plot_h * min(value, top_value) / top_value
            y = top + plot_h - h
            tip = escape(f"{label} · {s.name}: {y_format(value)}")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{s.colour}" rx="2"><title>{tip}</title></rect>'
            )
            if show_values:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                    f'fill="#1f2933" font-size="9.5">{escape(y_format(value))}</text>'
                )
        if i % every == 0:
            parts.append(
                f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 16:.1f}" '
                f'text-anchor="middle" fill="#616e7c">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="#9aa5b1"/>'
    )
    if len(series) > 1:
        x = left
        for s in series:
            parts.append(
                f'<rect x="{x}" y="6" width="12" height="12" rx="2" fill="{s.colour}"/>'
                f'<text x="{x + 17}" y="16" fill="#1f2933">{escape(s.name)}</text>'
            )
            x += 30 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)


def _short(period: str, unit: str) -> str:
    if unit == "day":
        return period[5:]
    if unit == "week":
        return period.split("-")[-1]
    return period


def _card(name: str, value: str, sub: str = "") -> str:
    return (
        f'<div class="card"><div class="k">{escape(name)}</div>'
        f'<div class="v">{escape(value)}</div><div class="s">{escape(sub)}</div></div>'
    )


def _pct(ratio: Ratio) -> str:
    return "—" if ratio.percent is None else f"{ratio.percent:.1f}%"


def _of(ratio: Ratio) -> str:
    return f"{ratio.numerator} of {ratio.denominator}" if ratio.denominator else "nothing counted"


def _cards(report: Report) -> str:
    t = report.total
    s = t.satisfaction
    median = t.time_to_resolve.median_hours
    unit = _MEASURE_NAMES[t.time_to_resolve.measure]
    cards = [
        _card("Complaints", str(t.volume), f"received, per {report.timeline_unit} below"),
        _card("Acknowledged on time", _pct(t.acknowledged_on_time), _of(t.acknowledged_on_time)),
        _card("Responded on time", _pct(t.responded_on_time), _of(t.responded_on_time)),
        _card("Resolved on time", _pct(t.resolved_on_time), _of(t.resolved_on_time)),
        _card(
            "Median time to resolve",
            "—" if median is None else f"{median:.1f} h",
            f"{unit}; p90 {t.time_to_resolve.p90_hours or 0:.1f} h",
        ),
        _card("Escalated", _pct(t.escalation_rate), _of(t.escalation_rate)),
        _card("Reopened", _pct(t.reopen_rate), _of(t.reopen_rate)),
        _card(
            "First-contact resolution",
            _pct(t.first_contact_resolution),
            _of(t.first_contact_resolution),
        ),
        _card(
            "Satisfaction",
            "—" if s.mean_score is None else f"{s.mean_score:.2f}",
            f"{_pct(s.satisfied)} satisfied of {s.responses} responses"
            if s.responses
            else "no responses",
        ),
        _card("Overdue now", str(report.overdue_count), "running clocks past deadline"),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _charts(report: Report) -> str:
    unit = report.timeline_unit
    volume = bar_chart(
        [_short(p.period, unit) for p in report.timeline],
        [_Series("complaints", [float(p.volume) for p in report.timeline], "#2f6fb3")],
        y_format=lambda v: f"{v:g}",
        height=230,
    )
    tiers = list(report.by_tier)
    on_time = bar_chart(
        [g.key["tier"] for g in tiers],
        [
            _Series(name, [getattr(g, attr).percent for g in tiers], colour)
            for (name, attr), colour in zip(
                (
                    ("acknowledged", "acknowledged_on_time"),
                    ("responded", "responded_on_time"),
                    ("resolved", "resolved_on_time"),
                ),
                _SERIES_COLOURS,
                strict=True,
            )
        ],
        y_max=100.0,
        y_format=lambda v: f"{v:.0f}%",
        width=530,
        height=280,
    )
    bins = report.resolve_histogram
    histogram = bar_chart(
        [
            f"{b.lower_hours:g}–{b.upper_hours:g}" if b.upper_hours else f"{b.lower_hours:g}+"
            for b in bins
        ],
        [_Series("complaints", [float(b.count) for b in bins], "#3a9a6a")],
        width=530,
        height=280,
    )
    unit_name = _MEASURE_NAMES[report.total.time_to_resolve.measure]
    return (
        '<div class="charts">'
        f'<div class="chart wide"><h3>Complaints received per {unit}</h3>{volume}</div>'
        f'<div class="chart"><h3>On time per tier (%)</h3>{on_time}</div>'
        f'<div class="chart"><h3>Time to resolve ({unit_name}), complaints per band</h3>'
        f"{histogram}</div></div>"
    )


_TIMELINESS = (
    "volume",
    "ack on time",
    "respond on time",
    "resolve on time",
    "ack med / p90",
    "resolve med / p90",
    "breaches",
)
_LOOP = (
    "escalated",
    "reopened",
    "first-contact",
    "satisfaction",
    "return visits",
    "closed w/o answer",
    "rate",
)


def _tables(report: Report) -> str:
    rows = [("total", ["all"] + [""] * (len(report.by) - 1), report.total)]
    rows += [("", [g.key[d] for d in report.by], g) for g in report.groups]
    out = []
    for title, head, cells in (
        ("Timeliness", _TIMELINESS, _timeliness),
        ("Closed loop", _LOOP, _loop),
    ):
        ths = "".join(f"<th>{escape(h)}</th>" for h in [*(report.by or ["group"]), *head])
        body = []
        for css, key, g in rows:
            tds = "".join(f"<td>{escape(c)}</td>" for c in [*key, *cells(g)])
            body.append(f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>")
        out.append(
            f"<h3>{title}</h3>"
            f'<div class="scroll"><table><tr>{ths}</tr>{"".join(body)}</table></div>'
        )
    return "".join(out)


def _timeliness(g: GroupMeasures) -> list[str]:
    return [
        str(g.volume),
        percent(g.acknowledged_on_time),
        percent(g.responded_on_time),
        percent(g.resolved_on_time),
        hours(g.time_to_acknowledge),
        hours(g.time_to_resolve),
        str(g.breaches),
    ]


def _loop(g: GroupMeasures) -> list[str]:
    rate = g.complaint_rate
    return [
        percent(g.escalation_rate),
        percent(g.reopen_rate),
        percent(g.first_contact_resolution),
        score(g),
        percent(g.return_visit_completion),
        percent(g.closed_without_answer),
        f"{rate.rate:.2f}/{rate.per}" if rate else "—",
    ]


def _overdue(report: Report) -> str:
    if not report.overdue:
        if report.overdue_count:
            count = report.overdue_count
            return f"<p>{count} running clocks are past their deadline (not listed).</p>"
        return "<p>No running clock is past its deadline.</p>"
    head = "".join(
        f"<th class='l'>{h}</th>" for h in ("complaint", "clock", "tier", "owner", "deadline")
    )
    head += "<th>overdue</th>"
    rows = "".join(
        f"<tr><td>{escape(o.complaint_id)}</td><td class='l'>{escape(o.clock)}</td>"
        f"<td class='l'>{escape(o.tier or '—')}</td><td class='l'>{escape(o.owner)}</td>"
        f"<td class='l'>{local(report, o.deadline)}</td>"
        f'<td class="late">{o.overdue_hours:.1f} h</td></tr>'
        for o in report.overdue[:50]
    )
    more = report.overdue_count - min(len(report.overdue), 50)
    tail = f"<p class='notes'>… and {more} more.</p>" if more > 0 else ""
    return f'<div class="scroll"><table><tr>{head}</tr>{rows}</table></div>{tail}'


def to_html(report: Report, *, title: str | None = None) -> str:
    """The whole page: cards, charts, the group table, the overdue list, the notes."""
    from complaintflow import __version__

    name = title or "Complaint measures"
    text = span(report)
    meta = f"{text[:1].upper()}{text[1:]} · grouped by {' × '.join(report.by) or 'nothing'}"
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(name)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body><main>"
        f"<h1>{escape(name)}</h1><p class='meta'>{escape(meta)}</p>"
        f"{_cards(report)}"
        f"<h2>Charts</h2>{_charts(report)}"
        f"<h2>Measures by {escape(' × '.join(report.by) or 'total')}</h2>{_tables(report)}"
        f"<h2>Overdue now ({report.overdue_count})</h2>{_overdue(report)}"
        f"<h2>How to read this</h2><ul class='notes'>{notes}"
        "<li>On time: the clock stopped without a breach and by its deadline; clocks "
        "still running count once they are late. bh: business hours; h*: a mix of "
        "business and elapsed hours.</li></ul>"
        f"<footer>complaintflow {escape(__version__)} · computed from the audit trail</footer>"
        "</main></body></html>\n"
    )
