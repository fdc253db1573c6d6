"""Each example runs with the one command its README names, and does what it says."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_example_readme_names_its_one_command() -> None:
    index = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert folders
    for folder in folders:
        readme = (folder / "README.md").read_text(encoding="utf-8")
        command = re.search(r"^Run: `(?P<command>[^`]+)`", readme, re.MULTILINE)
        assert command is not None, f"{folder.name}/README.md has no 'Run: `...`' line"
        script = command["command"].split()[1]
        assert (ROOT / script).is_file(), f"{folder.name}: {script} does not exist"
        assert f"`{command['command'].split(' [')[0]}`" in index


def test_the_minimal_example_drives_a_complaint_to_closed_and_prints_its_history() -> None:
    out = _ok(_run("examples/minimal/main.py"))
    assert "in state 'received'" in out
    assert "now 'closed' at version 4" in out
    assert re.search(r"v4 transition confirm\s+awaiting_feedback -> closed", out)


def test_the_minimal_example_takes_a_database_url(tmp_path: Path) -> None:
    _ok(_run("examples/minimal/main.py", f"sqlite:///{tmp_path}/kept.db"))
    assert (tmp_path / "kept.db").is_file()


def test_the_fastapi_service_passes_its_own_tests() -> None:
    result = subprocess.run(
        [PYTHON, "-m", "pytest", "examples/fastapi_service", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b\d+ passed\b", result.stdout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_fastapi_service_serves_requests_with_its_one_command(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "COMPLAINTS_DATABASE_URL": f"sqlite:///{tmp_path}/service.db",
    }
    server = subprocess.Popen(
        [PYTHON, "examples/fastapi_service/service.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/docs", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the service did not start:\n{server.communicate()[0]}")
                time.sleep(0.2)
        agent = {"X-User": "agent-li", "X-Role": "agent"}
        opened = httpx.post(
            f"{base}/complaints",
            json={
                "order_number": "SO-1",
                "customer_name": "Zhang Wei",
                "customer_contact": "+86 139 1234 5678",
                "object": "router X200",
                "reason": "no connection",
            },
            headers=agent,
        )
        assert opened.status_code == 201, opened.text
        cid = opened.json()["id"]
        acted = httpx.post(f"{base}/complaints/{cid}/actions/acknowledge", json={}, headers=agent)
        assert acted.json()["state"] == "acknowledged"
        history = httpx.get(f"{base}/complaints/{cid}/history").json()
        assert [r["trigger"] for r in history if r["kind"] == "transition"] == ["acknowledge"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0


def test_the_host_scheduler_example_fires_the_timers_on_the_hosts_scheduler() -> None:
    out = _ok(_run("examples/host_scheduler/main.py"))
    assert "now assigned to 'supervisor', level 2" in out
    assert "escalated agent -> group_leader" in out
    assert "scheduler still running: True" in out
    # the host's logging configuration decides how complaintflow's events look
    assert "complaintflow.engine complaint.escalated complaint_id=" in out


def test_the_outbox_example_delivers_every_message_and_empties_the_outbox() -> None:
    out = _ok(_run("examples/outbox_delivery/main.py"))
    assert "8 messages sent, 0 left in the outbox" in out
    assert out.count("sent pager  to") == 4
    assert out.count("sent e-mail to agent") == 4


def test_the_csv_replay_example_imports_every_row_and_prints_the_measures() -> None:
    out = _ok(_run("examples/csv_replay/main.py"))
    assert "replayed 22 complaints from complaints.csv" in out
    assert re.search(r"timers fired: [1-9]\d*", out)
    assert "under the standard workflow: timeliness" in out
    assert re.search(r"│ all\s+│\s+22 │", out)
