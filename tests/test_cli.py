"""The installed ``complaintflow`` command, driven as a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from complaintflow import load_workflow, to_dot, to_mermaid, workflow_json_schema

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
STANDARD = WORKFLOWS / "standard.yaml"

BROKEN = """\
workflow: broken
version: 1
roles: [agent]
categories: [service]
tiers:
  minor: {level: 1, handled_by: agent}
  moderate: {level: 2, handled_by: agent}
  severe: {level: 3, handled_by: agnet}
  urgent: {level: 4, handled_by: agent}
states:
  - {name: received, initial: true}
  - {name: closed, final: true}
transitions:
  - trigger: close
    source: received
    dest: closd
    roles: [agent]
clocks:
  respond:
    starts_in: [received]
    target: 24h
    pause_policy: sometimes
"""


def _executable() -> str:
    """The console script pip installed next to this interpreter."""
    found = shutil.which("complaintflow", path=str(Path(sys.executable).parent))
    assert found is not None, (
        f"no complaintflow script next to {sys.executable}: run `make setup` (pip install -e .)"
    )
    return found


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_executable(), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        timeout=120,
    )


def _position(text: str, line_text: str, value: str) -> str:
    """``line:column`` (1-based) of ``value`` on the line of ``text`` that is ``line_text``."""
    lines = text.splitlines()
    number = lines.index(line_text)
    return f"{number + 1}:{line_text.index(value) + 1}"


def test_validate_accepts_the_shipped_workflows() -> None:
    result = run("validate", WORKFLOWS)

    assert result.returncode == 0, result.stderr
    assert "standard-complaint@1" in result.stdout
    assert "after-sales@1" in result.stdout


def test_validate_lists_every_problem_of_a_broken_file_with_file_line_and_column(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")

    result = run("validate", broken, cwd=tmp_path)

    assert result.returncode == 1
    expected = [
        f"{broken}:{_position(BROKEN, '  severe: {level: 3, handled_by: agnet}', 'agnet')}: "
        "tiers.severe.handled_by: unknown role 'agnet'",
        f"{broken}:{_position(BROKEN, '    dest: closd', 'closd')}: "
        "transitions[0].dest: unknown state 'closd'",
        f"{broken}:{_position(BROKEN, '    pause_policy: sometimes', 'sometimes')}: "
        "clocks.respond.pause_policy: 'sometimes'",
    ]
    for line in expected:
        assert line in result.stderr, f"{line!r} missing from:\n{result.stderr}"
    assert result.stderr.count(f"{broken}:") == len(expected)


def test_validate_fails_on_a_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"

    result = run("validate", missing, cwd=tmp_path)

    assert result.returncode == 1
    assert f"{missing}: no such file or folder" in result.stderr


def test_graph_prints_the_mermaid_diagram() -> None:
    result = run("graph", STANDARD, "--format", "mermaid")

    assert result.returncode == 0, result.stderr
    assert result.stdout == to_mermaid(load_workflow(STANDARD))


def test_graph_prints_the_dot_digraph() -> None:
    result = run("graph", STANDARD, "--format", "dot")

    assert result.returncode == 0, result.stderr
    assert result.stdout == to_dot(load_workflow(STANDARD))


def test_graph_of_a_broken_file_fails_with_its_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")

    result = run("graph", broken, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "transitions[0].dest: unknown state 'closd'" in result.stderr


def test_schema_prints_the_json_schema_of_the_format() -> None:
    result = run("schema")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == workflow_json_schema()


def test_python_dash_m_complaintflow_shows_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "complaintflow", "--help"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    for command in ("validate", "graph", "schema", "demo"):
        assert command in result.stdout


def test_graph_refuses_an_unknown_format_and_names_the_known_ones() -> None:
    result = run("graph", STANDARD, "--format", "svg")

    assert result.returncode == 2
    assert "mermaid" in result.stderr
    assert "dot" in result.stderr
