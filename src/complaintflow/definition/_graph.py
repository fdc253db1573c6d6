"""Drawing a workflow: Mermaid ``stateDiagram-v2`` and Graphviz DOT."""

from __future__ import annotations

import re

from complaintflow.definition._compile import Workflow

_UNSAFE = re.compile(r"[^A-Za-z0-9_ ,()/%.+\-\[\]]")


def _label(text: str) -> str:
    return _UNSAFE.sub("", text)


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


def to_mermaid(workflow: Workflow) -> str:
    """A Mermaid ``stateDiagram-v2``: transitions labelled with trigger and roles,
    final states marked, clock starts/stops/pauses and internal events in notes."""
    edges, internal = _edges(workflow)
    notes = _clock_notes(workflow)
    lines = [
        "---",
        f"title: {_label(workflow.name)} v{workflow.version}",
        "---",
        "stateDiagram-v2",
        "    direction TB",
        "    classDef final fill:#d9f2d9,stroke:#2e7d32,stroke-width:2px",
        "    classDef waiting fill:#fff4d6,stroke:#b7791f",
        f"    [*] --> {workflow.initial_state}",
    ]
    for state in workflow.states:
        description = workflow.state(state).description
        if description:
            lines.append(f"    {state} : {_label(description)}")
    for (src, dest), labels in edges.items():
        for label in labels:
            lines.append(f"    {src} --> {dest} : {_label(label)}")
    for state in workflow.states:
        if workflow.is_final(state):
            lines.append(f"    {state} --> [*]")
    for state in workflow.states:
        body = [*notes.get(state, [])]
        if internal.get(state):
            body.append("also: " + ", ".join(internal[state]))
        if body:
            lines.append(f"    note right of {state}")
            lines.extend(f"        {_label(text)}" for text in body)
            lines.append("    end note")
    if workflow.final_states:
        lines.append(f"    class {','.join(sorted(workflow.final_states))} final")
    if workflow.waiting_states:
        lines.append(f"    class {','.join(sorted(workflow.waiting_states))} waiting")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(workflow: Workflow) -> str:
    """A Graphviz digraph with the same content as :func:`to_mermaid`."""
    edges, internal = _edges(workflow)
    notes = _clock_notes(workflow)
    lines = [
        f"digraph {_dot_quote(f'{workflow.name} v{workflow.version}')} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        "  __start [shape=point, width=0.15];",
        f"  __start -> {_dot_quote(workflow.initial_state)};",
    ]
    for state in workflow.states:
        parts = [state, *notes.get(state, [])]
        if internal.get(state):
            parts.append("also: " + ", ".join(internal[state]))
        attrs = [f"label={_dot_quote(chr(10).join(parts))}"]
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
