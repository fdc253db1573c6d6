"""``python -m benchmarks``: measure, print the tables, write ``docs/performance.md``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks import _report
from benchmarks._db import postgres_url, reachable, server_version
from benchmarks._memory import measure_memory
from benchmarks._profile import profile_ours
from benchmarks._runner import Series, measure
from benchmarks._workloads import (
    EVENTS_PER_COMPLAINT,
    ROOT,
    WARMUP_COMPLAINTS,
)

KINDS = ("ours", "floor", "naive")
DOC = ROOT / "docs" / "performance.md"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Lifecycle events/s of the engine against plain SQLAlchemy Core (the "
        "floor) and an ORM + transitions.Machine-per-complaint baseline (naive); memory "
        "against stored complaints; a profile of our path.",
    )
    p.add_argument(
        "--events",
        type=int,
        help=f"lifecycle events per run, shared among its processes (rounded to whole "
        f"lifecycles of {EVENTS_PER_COMPLAINT}; default 2100, --quick 70)",
    )
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "all"),
        help="default all (--quick: sqlite)",
    )
    p.add_argument(
        "--processes",
        type=int,
        help="processes of the multi-process runs, each with its own complaints "
        "(default 4, --quick 2; 1 runs single-process only)",
    )
    p.add_argument("--repeats", type=int, help="runs of each measurement (default 3)")
    p.add_argument("--quick", action="store_true", help="a fast smoke run; writes no doc")
    p.add_argument("--full", action="store_true", help="memory with 1,000,000 stored complaints")
    p.add_argument(
        "--stored",
        type=lambda text: [int(n) for n in text.split(",")],
        help="stored complaints of the memory runs, comma-separated "
        "(default 10000,200000; --full 10000,1000000)",
    )
    p.add_argument("--memory-events", type=int, help="events of each memory run (5000)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument(
        "--postgres-url",
        help="default: $COMPLAINTFLOW_BENCH_POSTGRES_URL, "
        "$COMPLAINTFLOW_TEST_POSTGRES_URL, or the local test server",
    )
    p.add_argument("--output", type=Path, help=f"the page to write (default {DOC})")
    p.add_argument("--no-write", action="store_true", help="print only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quick = args.quick
    events = args.events or (70 if quick else 2100)
    complaints = max(1, -(-events // EVENTS_PER_COMPLAINT))
    processes = args.processes or (2 if quick else 4)
    repeats = args.repeats or (1 if quick else 3)
    if args.stored:
        stored = args.stored
    elif quick:
        stored = [500, 2_000]
    else:
        stored = [10_000, 1_000_000 if args.full else 200_000]
    memory_events = args.memory_events or (100 if quick else 5_000)
    write = not args.no_write and (not quick or args.output is not None)

    pg_url = postgres_url(args.postgres_url)
    shown = make_url(pg_url).render_as_string(hide_password=True)
    backend = args.backend or ("sqlite" if quick else "all")
    backends = ["sqlite", "postgres"] if backend == "all" else [backend]
    notes: list[str] = []
    if "postgres" in backends:
        problem = reachable(pg_url)
        if problem is not None:
            if backend == "postgres":
                print(f"PostgreSQL at {shown} is not usable: {problem}", file=sys.stderr)
                return 2
            backends.remove("postgres")
            notes.append(f"PostgreSQL skipped (not reachable: {problem})")
            print(f"note: {notes[-1]}", flush=True)

    began = time.perf_counter()
    load_before = os.getloadavg()
    run_info = _report.RunInfo(
        date=dt.datetime.now(dt.UTC),
        command="python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
        cores=os.cpu_count() or 0,
        cpu=_cpu_model(),
        python=platform.python_version(),
        databases=[server_version("sqlite://")]
        + ([server_version(pg_url)] if "postgres" in backends else []),
        events=complaints * EVENTS_PER_COMPLAINT,
        processes=processes,
        repeats=repeats,
        load_before=load_before,
        notes=notes,
    )
    series: dict[tuple[str, int, str], Series] = {}
    counts = [1] if processes == 1 else [1, processes]
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as folder_name:
        folder = Path(folder_name)
        for repeat in range(repeats):
            for backend in backends:
                for procs in counts:
                    # rotate the order so slow drifts of the machine hit every workload
                    shift = repeat % len(KINDS)
                    for kind in KINDS[shift:] + KINDS[:shift]:
                        m = measure(
                            kind,
                            backend=backend,
                            url=pg_url,
                            processes=procs,
                            complaints=max(1, -(-complaints // procs)),
                            folder=folder,
                            warmup=2 if quick else WARMUP_COMPLAINTS,
                        )
                        series.setdefault((backend, procs, kind), Series()).runs.append(m)
                        print(
                            f"  run {repeat + 1}/{repeats} {backend:8} {procs}p {kind:5} "
                            f"{m.rate:9,.0f} events/s",
                            flush=True,
                        )
        memory = []
        if not args.skip_memory:
            for backend in backends:
                for size in stored:
                    result = measure_memory(
                        backend=backend,
                        url=pg_url,
                        stored=size,
                        events=memory_events,
                        folder=folder,
                    )
                    memory.append(result)
                    print(
                        f"  memory {backend:8} {size:>9,} stored: "
                        f"RSS {result.after_kib / 1024:.1f} MiB (loaded in "
                        f"{result.load_seconds:.0f} s)",
                        flush=True,
                    )
        profile = None
        if not args.skip_profile:
            profile = profile_ours(
                backend="sqlite", url=pg_url, complaints=complaints, folder=folder
            )
    run_info.load_after = os.getloadavg()
    run_info.seconds = time.perf_counter() - began

    result = _report.Results(run_info, series, memory, profile)
    print()
    print(_report.text(result))
    if write:
        output = args.output or DOC
        previous = output.read_text() if output.exists() else ""
        output.write_text(_report.markdown(result, keep=_report.kept_sections(previous)))
        print(f"\nwrote {output}")
    return 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
