"""Timers and escalations: ``python -m benchmarks.timers [--quick | --full]``.

With many pending (not yet due) timers in the database, it measures:

* throughput: due breach timers fired by 1 and by 2 worker processes, each an
  audited escalation (a ``timer`` record, a ``transition`` of the system actor and
  an ``effect``), and checks every one fired exactly once;
* lag: the real ``Worker`` (APScheduler wake-up, system clock) with timers falling
  due at a steady rate, from due time to the committed effect;
* memory: the resident set of a worker process as pending timers grow tenfold;
* APScheduler 3's own ``SQLAlchemyJobStore`` with one job per deadline, measured in
  the same run: ``add_job`` rate, fire rate, and late jobs it drops by default.

The rows are bulk-copied from complaints made through the engine (their clocks,
timers and audit trail are real), so only the firing is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from complaintflow import Engine, FakeClock
from complaintflow.core._apply import Change
from complaintflow.store import SqlStore, Tables, build_tables
from complaintflow.timers._sweeper import sweep_until_idle

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "workflows" / "standard.yaml"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_ENV = ("COMPLAINTFLOW_BENCH_POSTGRES_URL", "COMPLAINTFLOW_TEST_POSTGRES_URL")
CHUNK = 5_000
INTAKE = {
    "customer_name": "Bench Customer",
    "customer_contact": "bench@example.com",
    "channel": "phone",
    "object": "router",
    "reason": "it keeps dropping the line",
}
_CLOCK_TIMES = ("started_at", "resumed_at", "deadline", "breached_at", "stopped_at")


@dataclass(frozen=True)
class Sizes:
    pending: int
    """Timers pending, not due, while the due ones fire."""
    due: int
    """Due breach timers fired in the throughput runs."""
    lag_timers: int
    lag_rate: int
    """Timers falling due per second in the lag run."""
    memory_due: int
    aps_jobs: int
    templates: int = 100
    """Complaints made through the engine, then copied."""
    workers: tuple[int, ...] = (1, 2)


QUICK = Sizes(2_000, 400, 300, 500, 200, 50, templates=20)
DEFAULT = Sizes(200_000, 100_000, 5_000, 500, 10_000, 2_000)
FULL = replace(DEFAULT, pending=1_000_000, lag_timers=10_000)


# --- the database --------------------------------------------------------------------


@dataclass
class Template:
    """A complaint made through the engine: its row and its pending timer rows."""

    complaint: dict[str, Any]
    timers: list[dict[str, Any]]
    due_at: dt.datetime | None = None
    """When its breach timers fall due (``None``: nothing due)."""


@dataclass
class Templates:
    due: list[Template]
    """Complaints with two breach timers (``acknowledge``, ``respond``) due 6 h ago."""
    fresh: list[Template]
    """Complaints just opened: three timers pending, due in 18 h and in 24 days."""


@dataclass
class Database:
    """Tables of one backend, under a prefix of their own."""

    backend: str
    url: str
    prefix: str = field(default_factory=lambda: f"bt{uuid.uuid4().hex[:8]}_")

    @property
    def tables(self) -> Tables:
        return build_tables(self.prefix)

    def engine(self, **options: Any) -> Engine:
        return Engine.from_url(
            self.url, workflows=STANDARD, table_prefix=self.prefix, migrate=False, **options
        )

    def reset(self) -> None:
        """Empty every table."""
        engine = sa.create_engine(self.url)
        t = self.tables
        try:
            with engine.begin() as conn:
                if self.backend == "postgresql":
                    names = ", ".join(table.name for table in t.metadata.sorted_tables)
                    conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
                else:
                    for table in t.metadata.sorted_tables:
                        conn.execute(sa.delete(table))
        finally:
            engine.dispose()


@contextmanager
def fresh(backend: str, url: str) -> Iterator[Database]:
    """New, migrated tables; dropped afterwards."""
    db = Database(backend, url)
    engine = Engine.from_url(url, workflows=STANDARD, table_prefix=db.prefix)
    try:
        yield db
    finally:
        store = _store(engine)
        with store.engine.begin() as conn:
            store.tables.metadata.drop_all(conn, checkfirst=True)
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {store.tables.version_table}"))
        engine.close()


def _store(engine: Engine) -> SqlStore:
    store = engine.store
    assert isinstance(store, SqlStore)
    return store


def make_templates(db: Database, count: int) -> Templates:
    """``count`` complaints of each kind, made through the engine, then removed from the
    tables again (only their rows are kept, to be copied)."""
    now = _now()
    clock = FakeClock(now - dt.timedelta(hours=30))
    engine = db.engine(clock=clock)
    try:
        for n in range(count):
            engine.open({**INTAKE, "object": f"due-{n}"}, actor=("a-1", "agent"))
        clock.advance(dt.timedelta(hours=18))
        engine.run_due_timers()  # the 75 % warnings: the breaches come next
        clock.set(now)
        for n in range(count):
            engine.open({**INTAKE, "object": f"fresh-{n}"}, actor=("a-1", "agent"))
        store = _store(engine)
        t = store.tables
        with store.engine.connect() as conn:
            complaints = [dict(r) for r in conn.execute(sa.select(t.complaints)).mappings()]
            pending = t.timers.c.status == "pending"
            timers = [
                dict(r)
                for r in conn.execute(
                    sa.select(t.timers).where(pending).order_by(t.timers.c.id)
                ).mappings()
            ]
    finally:
        engine.close()
    db.reset()
    templates = Templates([], [])
    for row in complaints:
        own = [
            {k: v for k, v in r.items() if k != "id"}
            for r in timers
            if r["complaint_id"] == row["id"]
        ]
        breaches = [r["due_at"] for r in own if r["kind"] == "breach"]
        template = Template(row, own, min(breaches) if breaches else None)
        (templates.due if breaches else templates.fresh).append(template)
    assert len(templates.due) == len(templates.fresh) == count
    return templates


def _shift_clocks(clocks: list[dict[str, Any]], delta: dt.timedelta) -> list[dict[str, Any]]:
    shifted = []
    for clock in clocks:
        item = dict(clock)
        for key in _CLOCK_TIMES:
            if item.get(key):
                item[key] = (dt.datetime.fromisoformat(item[key]) + delta).isoformat()
        shifted.append(item)
    return shifted


def clone(
    template: Template, new_id: str, delta: dt.timedelta | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A copy of ``template`` under ``new_id``, all its times moved by ``delta``."""
    row = {**template.complaint, "id": new_id, "dedup_key": None, "open_dedup_key": None}
    timers = [{**t, "complaint_id": new_id} for t in template.timers]
    if delta:
        for key in ("opened_at", "updated_at"):
            row[key] = row[key] + delta
        row["clocks"] = _shift_clocks(row["clocks"], delta)
        for timer in timers:
            timer["due_at"] = timer["due_at"] + delta
            timer["created_at"] = timer["created_at"] + delta
    return row, timers


def insert(db: Database, rows: Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]) -> int:
    """Write cloned complaints and their timers in chunks; how many timers."""
    engine = sa.create_engine(db.url)
    tables = db.tables
    written = 0
    complaints: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []

    def flush(conn: sa.Connection) -> None:
        nonlocal written
        if complaints:
            conn.execute(sa.insert(tables.complaints), complaints)
            conn.execute(sa.insert(tables.timers), timers)
            written += len(timers)
            complaints.clear()
            timers.clear()

    try:
        with engine.begin() as conn:
            for row, own in rows:
                complaints.append(row)
                timers.extend(own)
                if len(timers) >= CHUNK:
                    flush(conn)
            flush(conn)
            if db.backend == "postgresql":
                conn.exec_driver_sql(f"ANALYZE {tables.timers.name}")
                conn.exec_driver_sql(f"ANALYZE {tables.complaints.name}")
    finally:
        engine.dispose()
    return written


def load_pending(db: Database, templates: Templates, pending: int, *, tag: str = "P") -> int:
    """Complaints whose three timers are all pending, not due: at least ``pending`` timers."""
    count = math.ceil(pending / 3)
    fresh_ = templates.fresh
    return insert(db, (clone(fresh_[n % len(fresh_)], f"C-{tag}{n:08d}") for n in range(count)))


def load_due(
    db: Database,
    templates: Templates,
    due: int,
    *,
    due_at: Callable[[int], dt.datetime] | None = None,
    tag: str = "D",
) -> int:
    """Complaints with two due breach timers each (and one pending far ahead): ``due``
    due timers. ``due_at(n)`` moves complaint ``n`` in time so its breaches fall due then
    (default: as the template, six hours ago). Returns how many timers were written."""
    templates_ = templates.due

    def rows() -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        for n in range(math.ceil(due / 2)):
            template = templates_[n % len(templates_)]
            delta = None
            if due_at is not None:
                assert template.due_at is not None
                delta = due_at(n) - template.due_at
            yield clone(template, f"C-{tag}{n:08d}", delta)

    return insert(db, rows())


def load(db: Database, templates: Templates, *, pending: int, due: int) -> tuple[int, int]:
    """``due`` due breach timers among about ``pending`` others not due; the actual
    (pending, due)."""
    with_due = math.ceil(due / 2)
    written = load_due(db, templates, due)
    background = load_pending(db, templates, max(0, pending - with_due))
    return written - 2 * with_due + background, 2 * with_due


def counts(db: Database) -> dict[str, Any]:
    """Fired breaches (by complaint and clock), and the escalation levels reached."""
    engine = sa.create_engine(db.url)
    t = db.tables
    a = t.audit.c
    try:
        with engine.connect() as conn:
            per_key = conn.execute(
                sa.select(sa.func.count())
                .select_from(t.audit)
                .where(a.kind == "timer", a.trigger == "breach")
                .group_by(a.complaint_id, a.data["clock"].as_string())
            ).scalars()
            seen = list(per_key)
            levels: dict[int, int] = dict(
                conn.execute(
                    sa.select(t.complaints.c.escalation_level, sa.func.count()).group_by(
                        t.complaints.c.escalation_level
                    )
                ).all()
            )
    finally:
        engine.dispose()
    return {"keys": len(seen), "twice": sum(1 for n in seen if n > 1), "levels": levels}


def exactly_once(check: dict[str, Any], due: int) -> bool:
    """One breach record per due timer, none twice; each complaint with due timers
    escalated exactly twice, the others never."""
    return bool(
        check["keys"] == due
        and check["twice"] == 0
        and check["levels"].get(2) == due // 2
        and set(check["levels"]) <= {0, 2}
    )


# --- worker processes --------------------------------------------------------------------


def rss_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def child_sweep(url: str, prefix: str, batch: int | None, threads: int | None) -> None:
    """A worker process: say ``ready``; on each ``go`` line sweep until nothing is due and
    print what happened as JSON; stop at any other line or the end of stdin.

    It sweeps as ``complaintflow worker`` does: the worker's sweepers (``threads``, by
    default the worker's own choice for the database), each in a thread of its own, with
    ``batch`` timers per transaction (by default the worker's).
    """
    engine = Engine.from_url(url, workflows=STANDARD, table_prefix=prefix, migrate=False)
    worker = engine.worker(batch_size=batch, lease=dt.timedelta(seconds=120), threads=threads)
    sweepers = worker.sweepers
    sweepers[0].next_due()  # connected
    gc.freeze()  # as the `complaintflow worker` process does once it has started
    ready = {"ready": True, "rss": rss_kb()[0], "threads": len(sweepers)}
    print(json.dumps({**ready, "batch": sweepers[0].batch_size}), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        began = ended = time.time()
        fired = idle = 0
        while idle < 2:  # twice nothing to lease: another worker holds the rest, or none left
            swept = sweep_until_idle(sweepers)
            if swept:
                fired += swept
                ended = time.time()
                idle = 0
            else:
                idle += 1
                time.sleep(0.05)
        rss, hwm = rss_kb()
        report = {"fired": fired, "began": began, "ended": ended, "rss": rss, "hwm": hwm}
        print(json.dumps(report), flush=True)
    engine.close()


class Workers:
    """Worker processes kept between measurements (each start costs an interpreter)."""

    def __init__(self, db: Database, count: int, batch: int | None, threads: int | None) -> None:
        command = [sys.executable, "-m", "benchmarks.timers", "--child-sweep"]
        self.procs = [
            subprocess.Popen(
                [*command, db.url, db.prefix, str(batch or "default"), str(threads or "default")],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        started = [self._read(proc) for proc in self.procs]
        self.rss_start = [ready["rss"] for ready in started]
        self.threads = started[0]["threads"]
        self.batch = started[0]["batch"]

    @staticmethod
    def _read(proc: subprocess.Popen[str]) -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a worker process ended (exit code {proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def sweep(self, count: int) -> dict[str, Any]:
        """The first ``count`` processes sweep at once until nothing is due; their rate."""
        procs = self.procs[:count]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [self._read(proc) for proc in procs]
        fired = sum(r["fired"] for r in results)
        seconds = max(r["ended"] for r in results) - min(r["began"] for r in results)
        return {
            "fired": fired,
            "seconds": seconds,
            "rate": fired / max(seconds, 1e-9),
            "rss": max(r["rss"] for r in results),
            "hwm": max(r["hwm"] for r in results),
        }

    def close(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- lag with the real worker --------------------------------------------------------


def measure_lag(db: Database, *, count: int, rate: int, first_due: dt.datetime) -> dict[str, Any]:
    """Run the real Worker (system clock, APScheduler) until ``count`` timers fired;
    lag = commit of the effect minus due time."""
    engine = db.engine()
    lags: list[float] = []
    done = threading.Event()
    original = engine._after_commit

    def record(changes: list[Change], correlation_id: str | None) -> None:
        committed = dt.datetime.now(dt.UTC)
        for change in changes:
            for record_ in change.audit:
                if record_.kind == "timer":
                    due = dt.datetime.fromisoformat(record_.data["due_at"])
                    lags.append((committed - due).total_seconds())
        if len(lags) >= count:
            done.set()
        original(changes, correlation_id)

    engine._after_commit = record  # type: ignore[method-assign]
    worker = engine.worker()
    worker.start()
    try:
        # a slow sweeper falls behind the arrivals: allow for 50 fires a second
        span = max(count / rate, count / 50)
        wait = (first_due - dt.datetime.now(dt.UTC)).total_seconds() + span + 30
        done.wait(timeout=max(wait, 1.0))
    finally:
        worker.stop()
        engine.close()
    if not lags:
        return {"fired": 0}
    lags.sort()
    return {
        "fired": len(lags),
        "p50": statistics.median(lags),
        "p99": lags[min(len(lags) - 1, math.ceil(0.99 * len(lags)) - 1)],
        "max": lags[-1],
        "late_over_1s": sum(1 for x in lags if x > 1.0),
    }


# --- APScheduler 3 with one job per deadline -------------------------------------------------


def measure_apscheduler(url: str, jobs: int) -> dict[str, Any]:
    """add_job and fire rates of APScheduler's SQLAlchemyJobStore, and late jobs dropped
    with its default misfire_grace_time (1 s)."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    table = f"bt{uuid.uuid4().hex[:8]}_aps_jobs"
    store = SQLAlchemyJobStore(url=url, tablename=table)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=dt.UTC)
    seen: dict[str, int] = {"executed": 0, "missed": 0, "error": 0}
    lock = threading.Lock()
    finished = threading.Event()
    expected = [0]

    def listen(event: Any) -> None:
        kind = {EVENT_JOB_EXECUTED: "executed", EVENT_JOB_MISSED: "missed"}.get(event.code, "error")
        with lock:
            seen[kind] += 1
            if sum(seen.values()) >= expected[0]:
                finished.set()

    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    result: dict[str, Any] = {}
    try:
        for grace, label in ((None, "no_grace"), ("default", "default_grace")):
            expected[0] = jobs
            finished.clear()
            for key in seen:
                seen[key] = 0
            options: dict[str, Any] = {} if grace == "default" else {"misfire_grace_time": None}
            began = time.perf_counter()
            for n in range(jobs):
                scheduler.add_job(
                    "benchmarks.timers:aps_job",
                    "date",
                    run_date=dt.datetime.now(dt.UTC),
                    id=f"{label}-{n}",
                    args=[n],
                    **options,
                )
            added = time.perf_counter() - began
            began = time.perf_counter()
            scheduler.resume()
            finished.wait(timeout=600)
            fired = time.perf_counter() - began
            scheduler.pause()
            result[label] = {
                "add_rate": jobs / added,
                "fire_rate": seen["executed"] / fired if seen["executed"] else 0.0,
                "executed": seen["executed"],
                "missed": seen["missed"],
                "errors": seen["error"],
            }
    finally:
        scheduler.shutdown(wait=True)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()
    return result


def aps_job(n: int) -> int:
    """What each APScheduler job runs: nothing (our side does a full audited escalation)."""
    return n


# --- the run -----------------------------------------------------------------------------


def backends(choice: str, pg_url: str, tmp: Path) -> list[tuple[str, str, str | None]]:
    """(backend, url, why skipped) per backend asked for."""
    found: list[tuple[str, str, str | None]] = []
    if choice in ("sqlite", "all"):
        found.append(("sqlite", f"sqlite:///{tmp / 'timers.db'}", None))
    if choice in ("postgres", "all"):
        engine = sa.create_engine(pg_url)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            found.append(("postgresql", pg_url, None))
        except Exception as exc:  # any driver failure means "not here"
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            found.append(("postgresql", pg_url, why))
        finally:
            engine.dispose()
    return found


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def steady(first: dt.datetime, rate: int) -> Callable[[int], dt.datetime]:
    """Due times of complaint ``n``'s two timers: ``rate`` timers a second from ``first``."""

    def due_at(n: int) -> dt.datetime:
        return first + dt.timedelta(seconds=2 * n / rate)

    return due_at


_STARTED = time.perf_counter()


def say(backend: str, text: str) -> None:
    print(f"{time.perf_counter() - _STARTED:6.1f}s [{backend}] {text}", flush=True)


PARTS = ("throughput", "memory", "lag", "apscheduler")


def measure_backend(
    db: Database,
    sizes: Sizes,
    batch: int | None,
    aps_url: str,
    parts: frozenset[str],
    threads: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    templates = make_templates(db, sizes.templates)
    say(db.backend, "templates made")
    if parts & {"throughput", "memory"}:
        workers = Workers(db, max(sizes.workers) if "throughput" in parts else 1, batch, threads)
        out["threads"] = workers.threads
        out["batch"] = workers.batch
        say(db.backend, "worker processes started")
        try:
            if "throughput" in parts:
                out.update(measure_throughput(db, templates, sizes, workers))
            if "memory" in parts:
                out["memory"] = measure_memory(db, templates, sizes, workers)
        finally:
            workers.close()
    if "lag" in parts:
        db.reset()
        pending = load_pending(db, templates, max(3, sizes.pending // 10))
        # placed after the load, so the first timers are not due before the worker runs
        first_due = _now() + dt.timedelta(seconds=1.0 + sizes.lag_timers / 2000)
        load_due(db, templates, sizes.lag_timers, due_at=steady(first_due, sizes.lag_rate))
        out["lag"] = measure_lag(
            db, count=sizes.lag_timers, rate=sizes.lag_rate, first_due=first_due
        )
        out["lag"]["pending"] = pending
        say(db.backend, f"lag at {sizes.lag_rate}/s: {out['lag']}")
    if "apscheduler" in parts:
        out["apscheduler"] = measure_apscheduler(aps_url, sizes.aps_jobs)
        say(db.backend, f"APScheduler: {out['apscheduler']}")
    return out


def measure_throughput(
    db: Database, templates: Templates, sizes: Sizes, workers: Workers
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for count in sizes.workers:
        db.reset()
        began = time.perf_counter()
        pending, due = load(db, templates, pending=sizes.pending, due=sizes.due)
        loaded = time.perf_counter() - began
        say(db.backend, f"loaded {pending:,} pending + {due:,} due timers in {loaded:.1f} s")
        swept = workers.sweep(count)
        check = counts(db)
        swept.update(pending=pending, due=due, load_seconds=loaded, **check)
        swept["exactly_once"] = exactly_once(check, due)
        out[f"workers_{count}"] = swept
        say(
            db.backend,
            f"{count} worker(s): {swept['rate']:,.0f} escalations/s, "
            f"exactly once: {swept['exactly_once']}",
        )
    return out


def measure_memory(
    db: Database, templates: Templates, sizes: Sizes, workers: Workers
) -> dict[str, Any]:
    """One worker process fires the same number of due timers twice: among a tenth of
    the pending timers, then among all of them."""
    db.reset()
    small = max(3, sizes.pending // 10)
    pending, _ = load(db, templates, pending=small, due=sizes.memory_due)
    first = workers.sweep(1)
    load_pending(db, templates, sizes.pending - pending, tag="Q")
    load_due(db, templates, sizes.memory_due, tag="E")
    second = workers.sweep(1)
    say(
        db.backend,
        f"worker RSS {first['rss'] / 1024:.1f} MiB with {pending:,} pending, "
        f"{second['rss'] / 1024:.1f} MiB with {sizes.pending:,}",
    )
    return {
        "rss_start": workers.rss_start[0],
        "small": {"pending": pending, **first},
        "large": {"pending": sizes.pending, **second},
    }


def run(
    sizes: Sizes,
    choice: str,
    pg_url: str,
    batch: int | None,
    parts: frozenset[str],
    threads: int | None = None,
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cf-bench-timers-") as folder:
        tmp = Path(folder)
        for backend, url, skipped in backends(choice, pg_url, tmp):
            if skipped:
                results[backend] = {"skipped": skipped}
                say(backend, f"skipped: {skipped}")
                continue
            aps_url = f"sqlite:///{tmp / 'aps.db'}" if backend == "sqlite" else url
            with fresh(backend, url) as db:
                results[backend] = measure_backend(db, sizes, batch, aps_url, parts, threads)
    return results


def table(results: dict[str, dict[str, Any]], sizes: Sizes) -> str:
    names = list(results)
    lines = [
        "| measure | " + " | ".join(names) + " | target |",
        "|---|" + "---|" * len(names) + "---|",
    ]

    def row(label: str, target: str, cell: Callable[[dict[str, Any]], str]) -> None:
        values = []
        for name in names:
            data = results[name]
            try:
                values.append("skipped" if "skipped" in data else cell(data))
            except (KeyError, TypeError, ZeroDivisionError):
                values.append("n/a")
        lines.append(f"| {label} | " + " | ".join(values) + f" | {target} |")

    def rate(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda d: f"{d[key]['rate']:,.0f}"

    def once(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda d: "yes" if d[key]["exactly_once"] else "**NO**"

    row("sweep threads per worker process", "", lambda d: f"{d['threads']}")
    row("timers per sweep transaction (batch)", "", lambda d: f"{d['batch']}")
    for workers in sizes.workers:
        key = f"workers_{workers}"
        label = f"fire {sizes.due:,} due breaches, {workers} worker(s): escalations/s"
        row(label, ">= 5,000", rate(key))
        row(f"  fired exactly once ({workers} worker(s))", "yes", once(key))
    row("  pending (not due) timers meanwhile", "", lambda d: f"{d['workers_1']['pending']:,}")
    row(
        f"lag at {sizes.lag_rate}/s, real Worker: p50 / p99 / max (s)",
        "p99 < 1 s",
        lambda d: f"{d['lag']['p50']:.3f} / {d['lag']['p99']:.3f} / {d['lag']['max']:.3f}",
    )
    row(
        "  timers later than 1 s",
        "0",
        lambda d: f"{d['lag']['late_over_1s']:,} of {d['lag']['fired']:,}",
    )
    row(
        "worker RSS after firing, pending x1 -> x10 (MiB)",
        "flat",
        lambda d: (
            f"{d['memory']['small']['rss'] / 1024:.1f} -> {d['memory']['large']['rss'] / 1024:.1f}"
        ),
    )
    row(
        "  pending timers meanwhile",
        "",
        lambda d: f"{d['memory']['small']['pending']:,} -> {d['memory']['large']['pending']:,}",
    )
    row(
        f"APScheduler 3 SQLAlchemyJobStore: add_job/s ({sizes.aps_jobs:,} jobs)",
        "",
        lambda d: f"{d['apscheduler']['no_grace']['add_rate']:,.0f}",
    )
    row(
        "  APScheduler fire rate, no-op jobs (jobs/s)",
        "",
        lambda d: f"{d['apscheduler']['no_grace']['fire_rate']:,.0f}",
    )
    row(
        "  late jobs dropped, default misfire_grace_time",
        "",
        lambda d: f"{d['apscheduler']['default_grace']['missed']:,} of {sizes.aps_jobs:,}",
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.timers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--full", action="store_true", help="1,000,000 pending timers")
    parser.add_argument("--pending", type=int, help="pending (not due) timers (default 200,000)")
    parser.add_argument("--due", type=int, help="due breach timers to fire (default 100,000)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument(
        "--pg-url",
        help="PostgreSQL URL (default: $COMPLAINTFLOW_BENCH_POSTGRES_URL, "
        "$COMPLAINTFLOW_TEST_POSTGRES_URL or the local server)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help="timers per sweep transaction (default: the worker's, 500 on PostgreSQL and 200 "
        "on SQLite)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="sweep threads per worker process (default: the worker's, 2 on PostgreSQL and 1 "
        "on SQLite)",
    )
    parser.add_argument("--only", help=f"measure only these (comma-separated): {', '.join(PARTS)}")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--child-sweep",
        nargs=4,
        metavar=("URL", "PREFIX", "BATCH", "THREADS"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.child_sweep:
        url, prefix, batch, threads = args.child_sweep
        child_sweep(
            url,
            prefix,
            None if batch == "default" else int(batch),
            None if threads == "default" else int(threads),
        )
        return 0
    sizes = QUICK if args.quick else FULL if args.full else DEFAULT
    sizes = replace(
        sizes,
        pending=args.pending if args.pending is not None else sizes.pending,
        due=args.due if args.due is not None else sizes.due,
    )
    sizes = replace(sizes, memory_due=min(sizes.memory_due, sizes.due))
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # its missed-job warnings
    pg_url = args.pg_url or next(
        (os.environ[n] for n in POSTGRES_ENV if os.environ.get(n)), DEFAULT_POSTGRES_URL
    )
    load_before = os.getloadavg()
    began = time.perf_counter()
    parts = frozenset(args.only.split(",")) if args.only else frozenset(PARTS)
    if not parts <= set(PARTS):
        parser.error(f"--only takes a comma-separated list of {', '.join(PARTS)}")
    results = run(sizes, args.backend, pg_url, args.batch_size, parts, args.threads)
    elapsed = time.perf_counter() - began
    print()
    print(table(results, sizes))
    print()
    print(
        f"{os.cpu_count()} CPUs; load average before {load_before[0]:.1f}, "
        f"after {os.getloadavg()[0]:.1f}; "
        f"run took {elapsed:.0f} s"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"sizes": sizes.__dict__, "results": results}, indent=2, default=str)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
