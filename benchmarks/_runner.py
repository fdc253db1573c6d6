"""Running a workload in worker processes and timing it.

Every measurement runs in fresh worker processes (one, or several each with its own
complaints) on a fresh database. Workers set up and warm up first, then start together
at a barrier; throughput is all timed events over the span from the first start to the
last finish.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._db import Target, fresh
from benchmarks._workloads import STEP_NAMES, WARMUP_COMPLAINTS, run_lifecycles

PRELOAD = ["complaintflow", "sqlalchemy", "sqlalchemy.orm", "transitions", "psycopg"]


def context() -> Any:
    """A forkserver that imported the libraries once (spawn where there is none)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


@dataclass
class Measurement:
    """One timed run of a workload."""

    backend: str
    processes: int
    kind: str
    events: int
    seconds: float
    per_step: dict[str, float] = field(default_factory=dict)  # seconds, all processes
    statements: float = 0.0  # SQL statements per event
    cpu: float = 0.0  # CPU seconds (user + system) of the workers, all processes

    @property
    def cpu_micros(self) -> float:
        """CPU time of the worker processes per event: what the client side costs,
        whatever else runs on the machine (on SQLite that includes the database)."""
        return self.cpu / self.events * 1e6

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def step_micros(self) -> dict[str, float]:
        """Mean microseconds per event of each step (latency inside one process)."""
        per_step = self.events / len(STEP_NAMES)
        return {k: v / per_step * 1e6 for k, v in self.per_step.items()}


def _worker(
    kind: str,
    target: Target,
    complaints: int,
    tag: str,
    warmup: int,
    start: Any,
    results: Any,
) -> None:
    try:
        prepared = run_lifecycles(kind, target, complaints, tag, warmup)
        start.wait(timeout=300)
        cpu = time.process_time()
        began = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        timing = prepared.run()
        ended = time.perf_counter()
        cpu = time.process_time() - cpu
        prepared.workload.close()
        results.put(
            {
                "began": began,
                "ended": ended,
                "timing": timing,
                "statements": prepared.statements,
                "cpu": cpu,
                "error": None,
            }
        )
    except BaseException:
        start.abort()
        results.put({"error": traceback.format_exc()})


def measure(
    kind: str,
    *,
    backend: str,
    url: str,
    processes: int,
    complaints: int,
    folder: Path,
    warmup: int = WARMUP_COMPLAINTS,
) -> Measurement:
    """Time ``complaints`` lifecycles per process of workload ``kind``."""
    ctx = context()
    with fresh(backend, url, folder) as target:
        start = ctx.Barrier(processes)
        results = ctx.Queue()
        workers = [
            ctx.Process(
                target=_worker,
                args=(kind, target, complaints, f"{kind[0]}{i}", warmup, start, results),
            )
            for i in range(processes)
        ]
        for w in workers:
            w.start()
        try:
            outcomes = [results.get(timeout=1800) for _ in workers]
        finally:
            for w in workers:
                w.join(timeout=60)
                if w.is_alive():
                    w.kill()
    failed = [o["error"] for o in outcomes if o["error"] is not None]
    if failed:
        raise RuntimeError(f"{kind} on {backend} failed in a worker:\n{failed[0]}")
    per_step = dict.fromkeys(STEP_NAMES, 0.0)
    for o in outcomes:
        for step, seconds in o["timing"].per_step.items():
            per_step[step] += seconds
    return Measurement(
        backend=backend,
        processes=processes,
        kind=kind,
        events=sum(o["timing"].events for o in outcomes),
        seconds=max(o["ended"] for o in outcomes) - min(o["began"] for o in outcomes),
        per_step=per_step,
        statements=outcomes[0]["statements"],
        cpu=sum(o["cpu"] for o in outcomes),
    )


@dataclass
class Series:
    """Repeated measurements of one (backend, processes, kind)."""

    runs: list[Measurement] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """The median events per second."""
        return statistics.median(m.rate for m in self.runs)

    @property
    def micros(self) -> float:
        """Median time per event in one process, in microseconds."""
        first = self.runs[0]
        return first.processes * 1e6 / self.rate

    @property
    def cpu_micros(self) -> float:
        """Median CPU time per event of the client processes, in microseconds."""
        return statistics.median(m.cpu_micros for m in self.runs)

    @property
    def spread(self) -> tuple[float, float]:
        rates = [m.rate for m in self.runs]
        return min(rates), max(rates)

    @property
    def step_micros(self) -> dict[str, float]:
        """Median per-step latency over the runs."""
        return {
            step: statistics.median(m.step_micros[step] for m in self.runs) for step in STEP_NAMES
        }
