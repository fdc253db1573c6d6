"""``complaintflow worker``, driven as a subprocess: fires due timers, stops cleanly."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from complaintflow import Engine
from complaintflow._cli_worker import LogfmtFormatter
from complaintflow.store import SCHEMA_REVISION

from ._support import ROOT, STANDARD, breach_records, new_prefix, seed_due_breaches

CLI = Path(sys.executable).with_name("complaintflow")


@pytest.fixture(scope="module")
def worker_command() -> list[str]:
    """The installed ``complaintflow worker`` command."""
    return [str(CLI), "worker"]


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[str, str, int]:
    url = f"sqlite:///{tmp_path / 'complaints.db'}"
    prefix = new_prefix()
    due = seed_due_breaches(url, prefix, templates=5, copies=4)
    return url, prefix, due


class Running:
    """A worker process whose stderr goes to a file (a full pipe would block it)."""

    def __init__(self, command: list[str], stderr: Path) -> None:
        self.stderr_path = stderr
        self._file = stderr.open("wb")
        self.proc = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self._file
        )

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.stderr()}"
            time.sleep(0.1)

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=60)
        self._file.close()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._file.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for process in started:
        process.close()


def test_the_worker_fires_due_timers_and_exits_0_on_sigterm(
    worker_command: list[str],
    seeded: tuple[str, str, int],
    running: list[Running],
    tmp_path: Path,
) -> None:
    url, prefix, due = seeded
    args = ["--workflows", str(STANDARD), "--table-prefix", prefix, "--interval", "1"]
    worker = Running([*worker_command, url, *args, "--lease", "10"], tmp_path / "w.err")
    running.append(worker)

    engine = Engine.from_url(url, workflows=STANDARD, table_prefix=prefix, migrate=False)
    try:
        deadline = time.monotonic() + 90
        while sum(breach_records(engine).values()) < due:
            assert worker.proc.poll() is None, worker.stderr()
            assert time.monotonic() < deadline, worker.stderr()
            time.sleep(0.2)
        assert set(breach_records(engine).values()) == {1}
    finally:
        engine.close()

    code = worker.stop(signal.SIGTERM)
    text = worker.stderr()
    assert code == 0, text
    lines = text.splitlines()
    assert lines, "the worker logged nothing"
    assert all(line.startswith("ts=") and " level=" in line for line in lines), text
    events = [line.split(" event=", 1)[1].split(" ", 1)[0] for line in lines]
    assert events[0] == "worker.started", text
    # the default: two sweep threads on PostgreSQL, one on SQLite
    assert f"threads={2 if url.startswith('postgresql') else 1}" in lines[0], text
    assert events.count("timer.fired") == due, text
    signalled = events.index("worker.signalled")
    assert "signal=SIGTERM" in lines[signalled]
    assert events[-1] == "worker.stopped", text
    assert signalled < len(events) - 1
    assert f"fired={due}" in lines[-1]
    assert "customer@example.com" not in worker.stderr()  # personal data stays out of logs


def test_sigint_stops_the_worker_cleanly_and_the_log_level_is_honoured(
    worker_command: list[str],
    seeded: tuple[str, str, int],
    running: list[Running],
    tmp_path: Path,
) -> None:
    url, prefix, _ = seeded
    args = ["--workflows", str(STANDARD), "--table-prefix", prefix, "--log-level", "debug"]
    worker = Running([*worker_command, url, *args, "--threads", "3"], tmp_path / "w.err")
    running.append(worker)
    worker.wait_for("event=worker.started")
    assert "threads=3" in worker.stderr()

    assert worker.stop(signal.SIGINT) == 0
    assert "event=worker.stopped" in worker.stderr().splitlines()[-1]
    assert "level=debug" in worker.stderr()


def test_the_worker_refuses_a_database_without_its_tables(
    worker_command: list[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run(
        [*worker_command, url, "--workflows", str(STANDARD)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: database schema")
    assert f"is at revision none, this library needs {SCHEMA_REVISION}" in line
    assert "complaintflow db upgrade" in line


def test_log_lines_are_key_values_and_foreign_messages_are_masked() -> None:
    ours = logging.makeLogRecord(
        {
            "name": "complaintflow.worker",
            "levelname": "INFO",
            "complaintflow_event": "worker.stopped",
            "complaintflow": {"worker": "h:1:ab", "fired": 3, "note": None},
        }
    )
    theirs = logging.makeLogRecord(
        {"name": "apscheduler", "levelname": "ERROR", "msg": "job for li@example.com failed"}
    )
    line = LogfmtFormatter().format(ours)
    assert line.startswith("ts=")
    assert line.endswith(
        "level=info logger=complaintflow.worker event=worker.stopped worker=h:1:ab fired=3"
    )
    assert (
        LogfmtFormatter()
        .format(theirs)
        .endswith('level=error logger=apscheduler event=log msg="job for [redacted] failed"')
    )
