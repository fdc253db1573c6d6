"""The pytest plugin, driven as a QA engineer drives it: ``pytest`` in a project of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDARD = HERE.parents[1] / "workflows" / "standard.yaml"
SEEDED = HERE / "seeded" / "clock_stop_bypassed.yaml"


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``folder`` (a project without tests of its own) with ``args``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_broken_rule_fails_the_workflows_test_with_the_story(tmp_path: Path) -> None:
    run = pytest_in(
        tmp_path,
        "--complaintflow-workflow",
        str(SEEDED),
        "--complaintflow-shrink-seconds",
        "2",
        "--hypothesis-seed",
        "1",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED " in run.stdout
    assert "clock_stop_bypassed.yaml::lifecycle" in run.stdout
    assert "rule resolved-before-feedback broken" in run.stdout
    assert "Counterexample for seeded-clock-stop-bypassed@1" in run.stdout
    assert "rerun with --seed 1" in run.stdout


def test_workflows_and_budget_come_from_the_ini_file_and_run_alone(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\ncomplaintflow_workflows =\n    {STANDARD}\ncomplaintflow_examples = 2\n",
        encoding="utf-8",
    )
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n", encoding="utf-8")
    run = pytest_in(tmp_path, "-m", "complaintflow")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 deselected" in run.stdout


def test_the_engine_fixture_gives_engines_on_temporary_sqlite_files(tmp_path: Path) -> None:
    (tmp_path / "test_engine.py").write_text(
        "from complaintflow.testing import FakeClock\n"
        "def test_open(complaintflow_engine):\n"
        f"    engine = complaintflow_engine({str(STANDARD)!r}, clock=FakeClock())\n"
        "    c = engine.open({'customer_name': 'x', 'customer_contact': 'y', 'channel': 'phone',\n"
        "                     'object': 'o', 'reason': 'r'}, actor=('li.na', 'agent'))\n"
        "    assert engine.get(c.id).state == 'received'\n",
        encoding="utf-8",
    )
    run = pytest_in(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, "--complaintflow-workflow", "missing.yaml")
    assert run.returncode == 4
    assert "no such file or folder" in run.stderr


def test_the_hosts_guards_come_from_the_command_line(tmp_path: Path) -> None:
    """The host's guard never lets send_result through, so the bug behind it is
    unreachable; a guard module that is no mapping is a usage error."""
    guarded = HERE / "guarded" / "reopen_skips_feedback.yaml"
    (tmp_path / "host_guards.py").write_text(
        "GUARDS = {'customer_reachable': lambda complaint, data: False}\nBAD = 1\n",
        encoding="utf-8",
    )
    common = ["--complaintflow-workflow", str(guarded), "--complaintflow-examples", "20"]
    common += ["--hypothesis-seed", "1"]
    run = pytest_in(tmp_path, *common, "--complaintflow-guards", "host_guards:GUARDS")
    assert run.returncode == 0, run.stdout + run.stderr
    bad = pytest_in(tmp_path, *common, "--complaintflow-guards", "host_guards:BAD")
    assert bad.returncode == 4, bad.stdout + bad.stderr
    assert "not a mapping of guard names to functions" in bad.stderr
