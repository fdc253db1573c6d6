"""Drawing a workflow: Mermaid ``stateDiagram-v2`` and Graphviz DOT.

Both show the same content: every state-changing transition as an edge labelled
with its trigger, the roles that may fire it and the clocks it starts or stops;
final states marked; per state, the clocks that start, stop or pause on entering it
and the internal transitions (no state change) that may fire there.
"""

from __future__ import annotations

import re

from complaintflow.definition._compile import Workflow

# Mermaid's stateDiagram lexer reads these (case-insensitively) as keywords where a
# state id is expected; such states get another id and keep their name as label.
_MERMAID_KEYWORDS = frozenset(
    {
        "accdescr",
        "acctitle",
        "class",
        "classdef",
        "click",
        "default",
        "direction",
        "end",
        "href",
        "note",
        "scale",
        "state",
        "statediagram",
        "style",
    }
)
# ';' ends a Mermaid statement, '#' starts an entity code, '<>&' are HTML, '{}' and '|'
# open blocks: none of them may reach a label. Letters of any script are kept.
_UNSAFE = re.compile(r"[^\w ,()/%.+\-\[\]'!?:—–、，。（）]")
# any line holding "direction TB" is read as a direction statement, wherever it stands
_DIRECTION = re.compile(r"(?i)(direction)(?=\s+(?:TB|BT|RL|LR))")
_ZERO_WIDTH_SPACE = "\u200b"


def _label(text: str) -> str:
    """``text`` as one line that Mermaid reads as plain label text."""
    text = " ".join(text.replace(";", ",").replace('"', "'").split())
    text = _UNSAFE.sub("", text)
    # a label may hold single colons, but not "::" nor a colon at either end
    text = re.sub(r":{2,}", ":", text).strip(": ")
    return _DIRECTION.sub(r"\1" + _ZERO_WIDTH_SPACE, text)


def _mermaid_ids(workflow: Workflow) -> dict[str, str]:
    """The Mermaid id of each state: its name, unless that is a Mermaid keyword."""
    taken = set(workflow.states)
    ids = {}
    for state in workflow.states:
        if state.lower() not in _MERMAID_KEYWORDS:
            ids[state] = state
            continue
        alias = f"{state}_"
        while alias in taken:
            alias += "_"
        taken.add(alias)
        ids[state] = alias
    return ids


def _clock_notes(workflow: Workflow) -> dict[str, list[str]]:
    """Per state, the clock events that happen on entering it."""
    notes: dict[str, list[str]] = {}

    def add(state: str, text: str) -> None:
        notes.setdefault(state, []).append(text)

    for name, clock in workflow.clocks.items():
        for state in clock.starts_in:
            add(state, f"starts {name}")
        for state in clock.stops_in:
            add(state, f"stops {name}")
        pauses = set(clock.pauses_in)
        if clock.pause_policy == "waiting_on_customer":
            pauses |= workflow.waiting_states
        for state in sorted(pauses):
            add(state, f"pauses {name}")
    return notes


def _edges(workflow: Workflow) -> tuple[dict[tuple[str, str], list[str]], dict[str, list[str]]]:
    """Labels of state-changing edges, and of internal triggers per state."""
    edges: dict[tuple[str, str], list[str]] = {}
    internal: dict[str, list[str]] = {}
    for ct in workflow.transitions:
        roles = ", ".join(ct.spec.roles)
        clocks = [
            n for n, c in workflow.clocks.items() if ct.trigger in (*c.starts_on, *c.stops_on)
        ]
        extra = f" [{'/'.join(clocks)}]" if clocks else ""
        label = f"{ct.trigger} ({roles}){extra}"
        for src in ct.sources:
            if ct.internal:
                internal.setdefault(src, []).append(ct.trigger)
            else:
                edges.setdefault((src, ct.dest_from(src)), []).append(label)
    return edges, internal


def _state_notes(workflow: Workflow) -> dict[str, list[str]]:
    """Per state, the lines of its note: clock events, then internal triggers."""
    _, internal = _edges(workflow)
    notes = _clock_notes(workflow)
    result: dict[str, list[str]] = {}
    for state in workflow.states:
        body = [*notes.get(state, [])]
        if internal.get(state):
            body.append("also: " + ", ".join(internal[state]))
        if body:
            result[state] = body
    return result


def to_mermaid(workflow: Workflow) -> str:
    """A Mermaid ``stateDiagram-v2``: transitions labelled with trigger and roles,
    final states marked, clock starts/stops/pauses and internal events in notes."""
    edges, _ = _edges(workflow)
    ids = _mermaid_ids(workflow)
    lines = [
        "---",
        f"title: {_label(workflow.name)} v{workflow.version}",
        "---",
        "stateDiagram-v2",
        "    direction TB",
        "    classDef final fill:#d9f2d9,stroke:#2e7d32,stroke-width:2px",
        "    classDef waiting fill:#fff4d6,stroke:#b7791f",
    ]
    descriptions = {s: _label(workflow.state(s).description) for s in workflow.states}
    for state in workflow.states:
        # "id : text" alone would show the text instead of the name; declared with
        # its name first, the state shows the name as title and the text below it
        if ids[state] != state or descriptions[state]:
            lines.append(f'    state "{state}" as {ids[state]}')
        if descriptions[state]:
            lines.append(f"    {ids[state]} : {descriptions[state]}")
    lines.append(f"    [*] --> {ids[workflow.initial_state]}")
    for (src, dest), labels in edges.items():
        for label in labels:
            lines.append(f"    {ids[src]} --> {ids[dest]} : {_label(label)}")
    for state in workflow.states:
        if workflow.is_final(state):
            lines.append(f"    {ids[state]} --> [*]")
    for state, body in _state_notes(workflow).items():
        lines.append(f"    note right of {ids[state]}")
        lines.extend(f"        {_label(text)}" for text in body)
        lines.append("    end note")
    if workflow.final_states:
        final = ",".join(sorted(ids[s] for s in workflow.final_states))
        lines.append(f"    class {final} final")
    if workflow.waiting_states:
        waiting = ",".join(sorted(ids[s] for s in workflow.waiting_states))
        lines.append(f"    class {waiting} waiting")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')


def _dot_quote(*lines: str) -> str:
    """A DOT string; several lines are joined with DOT's centred line break ``\\n``."""
    return '"' + "\\n".join(_dot_escape(line) for line in lines) + '"'


def to_dot(workflow: Workflow) -> str:
    """A Graphviz digraph with the same content as :func:`to_mermaid`."""
    edges, _ = _edges(workflow)
    notes = _state_notes(workflow)
    lines = [
        f"digraph {_dot_quote(f'{workflow.name} v{workflow.version}')} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        "  __start [shape=point, width=0.15];",
        f"  __start -> {_dot_quote(workflow.initial_state)};",
    ]
    for state in workflow.states:
        description = workflow.state(state).description
        parts = [state, *([description] if description else []), *notes.get(state, [])]
        attrs = [f"label={_dot_quote(*parts)}"]
        if workflow.is_final(state):
            attrs += ["peripheries=2", 'fillcolor="#d9f2d9"']
        elif state in workflow.waiting_states:
            attrs.append('fillcolor="#fff4d6"')
        lines.append(f"  {_dot_quote(state)} [{', '.join(attrs)}];")
    for (src, dest), labels in edges.items():
        for label in labels:
            lines.append(f"  {_dot_quote(src)} -> {_dot_quote(dest)} [label={_dot_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
