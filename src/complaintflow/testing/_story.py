"""The counterexample as a story: who did what to which complaint, at what time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from complaintflow.core._records import AuditRecord, Notification

_MAX_SHOWN = 40


def show_value(value: Any) -> str:
    """A value as short, unambiguous text: control characters escaped, long text cut."""
    if isinstance(value, str):
        shown = value if value.isprintable() and value.strip() == value and value else repr(value)
        if len(shown) > _MAX_SHOWN:
            return f"{shown[: _MAX_SHOWN - 1]}… ({len(value)} chars)"
        return shown
    if isinstance(value, Mapping):
        return show_data(value)
    if isinstance(value, list | tuple):
        return (
            "[" + ", ".join(show_value(v) for v in value[:5]) + (", …]" if len(value) > 5 else "]")
        )
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def show_data(data: Mapping[str, Any]) -> str:
    """Event data as ``{tier: urgent, solution: replaced}``."""
    return "{" + ", ".join(f"{show_value(k)}: {show_value(v)}" for k, v in data.items()) + "}"


class Story:
    """Lines of a run of the state machine, in the order things happened.

    Times are shown in ``tz`` (the workflow's calendar zone, else UTC); complaints by
    short aliases (``C-1``, ``C-2``) in the order they were opened.
    """

    def __init__(self, title: str, tz: dt.tzinfo) -> None:
        self.title = title
        self.tz = tz
        self.lines: list[str] = []
        self._aliases: dict[str, str] = {}
        self._last_day: dt.date | None = None

    def alias(self, complaint_id: str) -> str:
        """``C-n`` for a complaint id (a new one for an id not seen before)."""
        if complaint_id not in self._aliases:
            self._aliases[complaint_id] = f"C-{len(self._aliases) + 1}"
        return self._aliases[complaint_id]

    def when(self, at: dt.datetime) -> str:
        """``Mon 01-05 09:00`` (seconds shown when there are any)."""
        local = at.astimezone(self.tz)
        text = local.strftime("%a %m-%d %H:%M")
        if local.second or local.microsecond:
            text += local.strftime(":%S")
        return text

    def say(self, at: dt.datetime, text: str) -> None:
        """One step: what was done, at ``at``."""
        self.lines.append(f"{self.when(at):<17} {text}")

    def detail(self, text: str) -> None:
        """What else happened in the step just told."""
        self.lines.append(f"{'':<17}   {text}")

    def render(self, ending: Iterable[str] = ()) -> str:
        """The story as text, with ``ending`` (the broken rules) after the steps; a detail
        repeated line after line (a breach escalating again and again) is told once, with
        how many times it happened."""
        shown: list[str] = []
        repeats = 0
        for i, line in enumerate(self.lines):
            if i and line == self.lines[i - 1] and not line[:17].strip():
                repeats += 1
                continue
            if repeats:
                shown[-1] += f" (x{repeats + 1})"
            repeats = 0
            shown.append(line)
        if repeats:
            shown[-1] += f" (x{repeats + 1})"
        return "\n".join([self.title, *(f"  {line}" for line in shown), *ending])


def describe_records(
    records: Sequence[AuditRecord],
    notifications: Sequence[Notification],
    *,
    own: AuditRecord | None = None,
) -> list[str]:
    """Phrases for what a change did besides ``own`` (the record of the step itself):
    timers fired, the system's events, tier changes, escalations, clocks, notifications."""
    phrases: list[str] = []
    clocks: list[str] = []
    for r in records:
        if r is own or r.kind in ("opened", "survey", "contact"):
            continue
        if r.kind == "transition":
            moved = f" -> {r.to_state}" if r.to_state != r.from_state else ""
            who = r.role if r.actor == r.role else f"{r.role} {r.actor}"
            phrases.append(f"{who} fires {r.trigger}{moved}")
        elif r.kind == "timer":
            clock = str(r.data.get("clock", "")).lstrip("_").replace("_", " ")
            threshold = r.data.get("threshold")
            at = f" ({threshold:g}%)" if isinstance(threshold, int | float) else ""
            phrases.append(f"timer: {clock} {r.trigger}{at}")
        elif r.kind == "effect" and r.trigger == "tier_changed":
            phrases.append(f"tier {r.data.get('from_tier') or '-'} -> {r.data.get('to_tier')}")
        elif r.kind == "effect" and r.trigger == "escalate":
            if "escalation_level" in r.data:
                phrases.append(
                    f"escalated {r.data.get('from_role')} -> {r.data.get('to_role')} "
                    f"(level {r.data.get('escalation_level')})"
                )
            else:
                phrases.append(f"escalation at the top ({r.data.get('role')})")
        elif r.kind == "effect":
            phrases.append(f"{r.trigger} {show_data(r.data)}")
        elif r.kind == "clock":
            clocks.append(f"{r.data.get('clock')} {r.data.get('event')}")
        elif r.kind == "transfer":
            phrases.append(f"owner {r.data.get('from_owner')} -> {r.data.get('to_owner')}")
    if clocks:
        phrases.append("clocks: " + ", ".join(clocks))
    told: dict[str, list[str]] = {}
    for n in notifications:
        told.setdefault(n.kind, [])
        if n.role not in told[n.kind]:
            told[n.kind].append(n.role)
    phrases.extend(f"notified {', '.join(roles)} ({kind})" for kind, roles in told.items())
    return phrases
