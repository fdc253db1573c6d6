"""Diagrams of workflows: Mermaid that the real Mermaid parser reads as meant, and DOT.

The Mermaid tests run ``tests/mermaid/check.mjs`` (Mermaid's own parser under Node.js,
installed by ``make unit`` with ``npm ci --prefix tests/mermaid``). Without Node.js or
that install they are skipped, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from complaintflow import Workflow, WorkflowSpec, load_workflow, to_dot, to_mermaid
from complaintflow.definition._registry import iter_workflow_files

ROOT = Path(__file__).resolve().parents[2]
MERMAID_CHECK = ROOT / "tests" / "mermaid"
SHIPPED = sorted(iter_workflow_files([ROOT / "workflows"]))
NODE_MINIMUM = (20, 19)

_HEAD = """
workflow: drawn
version: 1
roles: [agent]
categories: [service]
tiers:
  minor: {level: 1, handled_by: agent}
  moderate: {level: 2, handled_by: agent}
  severe: {level: 3, handled_by: agent}
  urgent: {level: 4, handled_by: agent}
"""

MERMAID_KEYWORDS = ["note", "state", "class", "classDef", "style", "click", "href", "default"]
MERMAID_KEYWORDS += ["scale", "accTitle", "accDescr", "stateDiagram", "end", "direction", "Note"]

TRICKY_DESCRIPTIONS = {
    "semicolons": "taken in; the first contact owns it",
    "colons": ":: owner: the first contact ::",
    "quotes": 'the "VIP" line',
    "markup": "50%% done #1 <b>bold</b> & {braces} | pipe \\ backslash",
    "turning": "turn direction LR here",
    "chinese": "处理中：回访",
    "lines": "line one\nline two",
    "end_note": "end note",
}


def _chain(states: list[str], descriptions: dict[str, str] | None = None) -> Workflow:
    """A workflow start -> states... -> done, each step a transition ``to_<state>``."""
    descriptions = descriptions or {}
    names = ["start", *states, "done"]
    entries: list[dict[str, Any]] = []
    for name in names:
        entry: dict[str, Any] = {"name": name}
        if name in descriptions:
            entry["description"] = descriptions[name]
        entries.append(entry)
    entries[0]["initial"] = True
    entries[-1]["final"] = True
    data = yaml.safe_load(_HEAD)
    data["states"] = entries
    data["transitions"] = [
        {"trigger": f"to_{dest.lower()}", "source": src, "dest": dest, "roles": ["agent"]}
        for src, dest in itertools.pairwise(names)
    ]
    data["transitions"].append({"trigger": "poke", "source": "*", "roles": ["agent"]})
    return load_workflow(WorkflowSpec.model_validate(data))


KEYWORD_WORKFLOW = _chain(MERMAID_KEYWORDS)
TRICKY_WORKFLOW = _chain(list(TRICKY_DESCRIPTIONS), TRICKY_DESCRIPTIONS)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _unavailable(
            "the Mermaid check needs Node.js (>= 20.19) and npm; "
            "then `npm ci --prefix tests/mermaid` (make unit runs it)"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    found = tuple(int(n) for n in re.findall(r"\d+", version.stdout)[:2])
    if found < NODE_MINIMUM:
        _unavailable(f"the Mermaid check needs Node.js >= 20.19, found {version.stdout.strip()}")
    for package in ("mermaid", "jsdom"):
        if not (MERMAID_CHECK / "node_modules" / package / "package.json").is_file():
            _unavailable(
                f"the Mermaid parser is not installed ({package} is missing): run "
                "`npm ci --prefix tests/mermaid` (make unit runs it)"
            )
    return node


def _parse_with_mermaid(diagrams: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each diagram as Mermaid's parser understood it: ``{ok, summary}`` or ``{ok, error}``."""
    names = list(diagrams)
    result = subprocess.run(
        [_node(), str(MERMAID_CHECK / "check.mjs"), "--batch"],
        input=json.dumps([diagrams[n] for n in names]),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=MERMAID_CHECK,
        timeout=300,
        check=False,
    )
    if result.returncode not in (0, 1) or not result.stdout.strip():
        pytest.fail(f"tests/mermaid/check.mjs failed (exit {result.returncode}):\n{result.stderr}")
    return dict(zip(names, json.loads(result.stdout), strict=True))


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict[str, Any]]:
    """Every diagram of this module, parsed in one Node.js run (startup takes seconds)."""
    diagrams = {path.name: to_mermaid(load_workflow(path)) for path in SHIPPED}
    diagrams["keywords"] = to_mermaid(KEYWORD_WORKFLOW)
    diagrams["tricky"] = to_mermaid(TRICKY_WORKFLOW)
    diagrams["invalid"] = "stateDiagram-v2\n    a -- > b\n"
    return _parse_with_mermaid(diagrams)


def _summary(parsed: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    result = parsed[name]
    assert result["ok"], f"Mermaid's parser rejects the diagram of {name}:\n{result['error']}"
    summary: dict[str, Any] = result["summary"]
    return summary


def _expected_edges(workflow: Workflow) -> list[tuple[str, str, str]]:
    """(source, dest, 'trigger (roles)') of every state-changing transition."""
    return [
        (src, ct.dest_from(src), f"{ct.trigger} ({', '.join(ct.spec.roles)})")
        for ct in workflow.transitions
        if not ct.internal
        for src in ct.sources
    ]


# --- Mermaid, read by Mermaid's own parser --------------------------------------------


def test_the_checker_rejects_invalid_mermaid(parsed: dict[str, dict[str, Any]]) -> None:
    assert not parsed["invalid"]["ok"]
    assert "Parse error" in parsed["invalid"]["error"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_workflow_is_a_valid_mermaid_state_diagram(
    path: Path, parsed: dict[str, dict[str, Any]]
) -> None:
    summary = _summary(parsed, path.name)

    assert summary["diagramType"] == "stateDiagram"
    assert summary["direction"] == "TB"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_mermaid_parser_reads_every_transition_with_its_roles(
    path: Path, parsed: dict[str, dict[str, Any]]
) -> None:
    workflow = load_workflow(path)
    relations = [tuple(r) for r in _summary(parsed, path.name)["relations"]]
    drawn = [(src, dest, re.sub(r" \[[^\]]*\]$", "", label)) for src, dest, label in relations]

    assert sorted(r for r in drawn if "[*]" not in r[:2]) == sorted(_expected_edges(workflow))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_mermaid_parser_reads_every_state_by_its_name(
    path: Path, parsed: dict[str, dict[str, Any]]
) -> None:
    workflow = load_workflow(path)
    states = _summary(parsed, path.name)["states"]

    assert {s["label"] for s in states.values()} == set(workflow.states)
    for name in workflow.states:
        description = workflow.state(name).description
        assert len(states[name]["rows"]) == (1 if description else 0)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_mermaid_parser_reads_final_states_as_ends(
    path: Path, parsed: dict[str, dict[str, Any]]
) -> None:
    workflow = load_workflow(path)
    summary = _summary(parsed, path.name)

    ends = {src for src, dest, _ in summary["relations"] if dest == "[*]"}
    starts = {dest for src, dest, _ in summary["relations"] if src == "[*]"}
    assert ends == set(workflow.final_states)
    assert starts == {workflow.initial_state}
    for name in workflow.final_states:
        assert "final" in summary["states"][name]["classes"]


def test_states_named_like_mermaid_keywords_keep_their_names(
    parsed: dict[str, dict[str, Any]],
) -> None:
    summary = _summary(parsed, "keywords")

    assert sorted(s["label"] for s in summary["states"].values()) == sorted(KEYWORD_WORKFLOW.states)
    assert len(summary["relations"]) == len(KEYWORD_WORKFLOW.states) - 1 + 2


def test_descriptions_with_mermaid_syntax_stay_plain_text(
    parsed: dict[str, dict[str, Any]],
) -> None:
    summary = _summary(parsed, "tricky")
    states = summary["states"]

    # no statement leaked out of a description: same states, edges and direction
    assert set(states) == set(TRICKY_WORKFLOW.states)
    assert len(summary["relations"]) == len(TRICKY_WORKFLOW.states) - 1 + 2
    assert summary["direction"] == "TB"
    for name, text in TRICKY_DESCRIPTIONS.items():
        (row,) = states[name]["rows"]
        for word in re.findall(r"\w+", text):
            assert word in row, f"{word!r} of {text!r} lost: {row!r}"


# --- Mermaid text ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def standard() -> Workflow:
    return load_workflow(ROOT / "workflows" / "standard.yaml")


def test_mermaid_labels_each_transition_with_trigger_and_roles(standard: Workflow) -> None:
    text = to_mermaid(standard)

    assert (
        "    in_progress --> resolved : resolve "
        "(agent, group_leader, supervisor, tech_support, manager)\n" in text
    )
    assert "    awaiting_feedback --> closed : auto_close (system)\n" in text


def test_mermaid_draws_a_transition_once_per_source_state(standard: Workflow) -> None:
    text = to_mermaid(standard)

    assert "    classified --> in_progress : start_handling (" in text
    assert "    reopened --> in_progress : start_handling (" in text


def test_mermaid_marks_the_initial_and_the_final_states(standard: Workflow) -> None:
    lines = to_mermaid(standard).splitlines()

    assert "    [*] --> received" in lines
    assert [line for line in lines if line.endswith("--> [*]")] == [
        "    closed --> [*]",
        "    withdrawn --> [*]",
    ]
    assert "    class closed,withdrawn final" in lines


def test_mermaid_names_the_clock_a_trigger_stops(standard: Workflow) -> None:
    text = to_mermaid(standard)

    assert (
        "    received --> acknowledged : acknowledge "
        "(agent, group_leader, supervisor) [acknowledge]\n" in text
    )


def _note(text: str, state: str) -> list[str]:
    match = re.search(rf"    note right of {state}\n(.*?)\n    end note", text, re.DOTALL)
    assert match is not None, f"no note on {state}"
    return [line.strip() for line in match.group(1).splitlines()]


def test_mermaid_notes_where_clocks_start_stop_and_pause(standard: Workflow) -> None:
    text = to_mermaid(standard)

    assert {"starts acknowledge", "starts respond", "starts overall"} <= set(
        _note(text, "received")
    )
    assert "stops respond" in _note(text, "in_progress")
    assert "pauses resolve" in _note(text, "awaiting_customer")
    # pause_policy: never
    assert "pauses overall" not in _note(text, "awaiting_customer")


def test_mermaid_notes_the_internal_transitions_of_a_state(standard: Workflow) -> None:
    text = to_mermaid(standard)

    assert _note(text, "closed")[-1] == "also: record_return_visit"
    assert _note(text, "received")[-1] == "also: escalate, add_note"


def test_mermaid_declares_each_described_state_with_its_name(standard: Workflow) -> None:
    text = to_mermaid(standard)

    assert '    state "received" as received\n' in text
    assert "    received : taken in, the first contact owns it\n" in text


def test_mermaid_gives_keyword_named_states_another_id() -> None:
    text = to_mermaid(KEYWORD_WORKFLOW)

    assert '    state "note" as note_\n' in text
    assert "    start --> note_ : to_note (agent)\n" in text


def test_mermaid_writes_each_description_on_one_line() -> None:
    text = to_mermaid(TRICKY_WORKFLOW)

    assert "    lines : line one line two\n" in text
    assert "    semicolons : taken in, the first contact owns it\n" in text


# --- DOT ----------------------------------------------------------------------------------


def _outside_quotes(text: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)


@pytest.mark.parametrize("path", [*SHIPPED, "tricky"], ids=lambda p: getattr(p, "name", p))
def test_dot_quotes_and_braces_are_balanced(path: Path | str) -> None:
    workflow = TRICKY_WORKFLOW if path == "tricky" else load_workflow(Path(path))
    text = to_dot(workflow)
    bare = _outside_quotes(text)

    assert '"' not in bare.replace('""', ""), "a quote is not closed"
    assert bare.count("{") == bare.count("}") == 1
    assert bare.count("[") == bare.count("]")
    assert text.startswith("digraph ")
    for line in text.splitlines()[1:-1]:
        assert line.endswith(";"), f"statement without ';': {line!r}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_dot_has_an_edge_for_every_transition(path: Path) -> None:
    workflow = load_workflow(path)
    text = to_dot(workflow)

    for src, dest, label in _expected_edges(workflow):
        assert f'  "{src}" -> "{dest}" [label="{label}' in text


def test_dot_gives_final_states_a_double_border(standard: Workflow) -> None:
    text = to_dot(standard)

    assert re.search(r'^  "closed" \[label="closed\\n.*peripheries=2', text, re.MULTILINE)
    assert not re.search(r'^  "received" \[.*peripheries', text, re.MULTILINE)


def test_dot_escapes_quotes_and_breaks_lines_with_backslash_n() -> None:
    text = to_dot(TRICKY_WORKFLOW)

    assert '\\"VIP\\"' in text
    assert "line one line two" in text
    assert "\\\\ backslash" in text


@pytest.mark.parametrize("path", [*SHIPPED, "tricky"], ids=lambda p: getattr(p, "name", p))
def test_graphviz_renders_the_dot_output(path: Path | str, tmp_path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz is not installed (Debian package graphviz)")
    workflow = TRICKY_WORKFLOW if path == "tricky" else load_workflow(Path(path))

    result = subprocess.run(
        [dot, "-Tsvg", "-o", str(tmp_path / "out.svg")],
        input=to_dot(workflow),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
