"""``python -m benchmarks --quick`` runs end to end and prints its tables (a smoke test:
it asserts nothing about speed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(tmp_path: Path, module: str, *args: str) -> str:
    """Run ``python -m module args`` from the repository (its temporary files in
    ``tmp_path``); what it printed. Fails the test if it failed."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_quick_benchmark_prints_the_tables(tmp_path: Path) -> None:
    doc = ROOT / "docs" / "performance.md"
    before = doc.read_bytes() if doc.exists() else None
    out = run_benchmark(tmp_path, "benchmarks", "--quick")
    for workload in ("ours (Engine)", "floor (plain Core, same SQL)", "naive (ORM + Machine"):
        assert workload in out
    assert "events/s" in out
    assert "ours' time per event vs floor" in out
    assert "stored complaints" in out
    assert "Profile of ours" in out
    # the numbers are there: one row per workload and process count, each with a rate
    rows = [line.split() for line in out.splitlines() if line.startswith("sqlite ")]
    rates = [row[-3] for row in rows if "(Engine)" in " ".join(row)]
    assert len(rates) == 2
    assert all(float(rate.replace(",", "")) > 0 for rate in rates)
    # a quick run leaves the performance page alone
    assert (doc.read_bytes() if doc.exists() else None) == before


def test_the_sqlite_commit_benchmark_prints_its_figures(tmp_path: Path) -> None:
    out = run_benchmark(tmp_path, "benchmarks.sqlite_commit", "--lifecycles", "3")
    assert "lifecycle events: 21 per setting" in out
    wal = re.search(r"WAL appended per event: ([\d,]+) bytes", out)
    assert wal is not None, out
    assert int(wal.group(1).replace(",", "")) > 0, out
    for setting in ("the store's checkpoint thread", "SQLite's default", "no checkpoints"):
        row = next(line for line in out.splitlines() if line.startswith(setting))
        assert float(row.split()[-1].replace(",", "")) > 0
    assert "bare sqlite3 transaction" in out


def test_a_benchmark_run_keeps_the_pages_hand_written_sections() -> None:
    # what `python -m benchmarks` keeps of docs/performance.md when it rewrites the page
    script = (
        "import sys; from pathlib import Path; from benchmarks._report import kept_sections; "
        "sys.stdout.write(kept_sections(Path('docs/performance.md').read_text()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    kept = done.stdout
    for title in ("## Timers and escalations", "## What a lifecycle event costs SQLite"):
        assert title in kept
        assert title in (ROOT / "docs" / "performance.md").read_text()
    assert "## Lifecycle throughput" not in kept
