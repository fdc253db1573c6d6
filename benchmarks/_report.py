"""The results as a console table and as ``docs/performance.md``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from benchmarks._memory import MemoryResult
from benchmarks._profile import Profile
from benchmarks._runner import Series
from benchmarks._workloads import STEP_NAMES, TIER

TIME_VS_FLOOR = 1.5
SPEED_VS_NAIVE = 5.0
EVENTS_PER_SECOND = 3000.0
NAMES = {
    "ours": "ours (Engine)",
    "floor": "floor (plain Core, same SQL)",
    "naive": "naive (ORM + Machine per complaint)",
}


@dataclass
class RunInfo:
    date: dt.datetime
    command: str
    cores: int
    cpu: str
    python: str
    databases: list[str]
    events: int
    processes: int
    repeats: int
    load_before: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0


@dataclass
class Results:
    info: RunInfo
    series: dict[tuple[str, int, str], Series]
    memory: list[MemoryResult]
    profile: Profile | None

    def configurations(self) -> list[tuple[str, int]]:
        return list(dict.fromkeys((b, p) for b, p, _ in self.series))

    def ratios(self, backend: str, processes: int) -> tuple[float, float]:
        """(ours' time per event / the floor's, ours' speed / the naive one's)."""
        ours = self.series[(backend, processes, "ours")].rate
        floor = self.series[(backend, processes, "floor")].rate
        naive = self.series[(backend, processes, "naive")].rate
        return floor / ours, ours / naive

    def cpu_ratios(self, backend: str, processes: int) -> tuple[float, float]:
        """The same ratios by client CPU time per event (robust to a busy machine)."""
        ours = self.series[(backend, processes, "ours")].cpu_micros
        floor = self.series[(backend, processes, "floor")].cpu_micros
        naive = self.series[(backend, processes, "naive")].cpu_micros
        return ours / floor, naive / ours

    def single_sqlite(self) -> float | None:
        found = self.series.get(("sqlite", 1, "ours"))
        return found.rate if found else None


def _yes(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _table(header: list[str], rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def _throughput(r: Results, *, markdown: bool) -> str:
    rows = []
    for (backend, procs, kind), s in r.series.items():
        low, high = s.spread
        rows.append(
            [
                backend,
                str(procs),
                NAMES[kind],
                f"{s.rate:,.0f}",
                f"{s.micros:,.0f}",
                f"{low:,.0f}-{high:,.0f}",
                f"{s.cpu_micros:,.0f}",
            ]
        )
    header = [
        "backend",
        "processes",
        "workload",
        "events/s",
        "µs/event",
        "runs (min-max)",
        "client CPU µs/event",
    ]
    return _table(header, rows, markdown=markdown)


def _ratios(r: Results, *, markdown: bool) -> str:
    rows = []
    for backend, procs in r.configurations():
        vs_floor, vs_naive = r.ratios(backend, procs)
        cpu_floor, cpu_naive = r.cpu_ratios(backend, procs)
        rows.append(
            [
                backend,
                str(procs),
                f"{vs_floor:.2f}x ({_yes(vs_floor <= TIME_VS_FLOOR)})",
                f"{vs_naive:.1f}x ({_yes(vs_naive >= SPEED_VS_NAIVE)})",
                f"{cpu_floor:.2f}x",
                f"{cpu_naive:.1f}x",
            ]
        )
    header = [
        "backend",
        "processes",
        f"ours' time per event vs floor (target <= {TIME_VS_FLOOR}x)",
        f"ours' speed vs naive (target >= {SPEED_VS_NAIVE:.0f}x)",
        "by client CPU: vs floor",
        "vs naive",
    ]
    return _table(header, rows, markdown=markdown)


def _absolute(r: Results) -> str:
    rate = r.single_sqlite()
    if rate is None:
        return "Absolute target (SQLite file, one process): not measured in this run."
    cpu = r.series[("sqlite", 1, "ours")].cpu_micros
    return (
        f"Absolute: ours on a SQLite file in one process: {rate:,.0f} events/s "
        f"(target >= {EVENTS_PER_SECOND:,.0f}/s: {_yes(rate >= EVENTS_PER_SECOND)}); "
        f"{1e6 / cpu:,.0f} events per CPU-second."
    )


def _reachable(r: Results) -> str:
    """What the floor itself reaches, against the targets that are not ratios to it."""
    key = ("sqlite", 1)
    if key not in r.configurations():
        return ""
    floor = r.series[(*key, "floor")]
    naive = r.series[(*key, "naive")]
    ours = r.series[(*key, "ours")]
    beyond = [
        name
        for name, rate in (
            (f"{EVENTS_PER_SECOND:,.0f} events/s", EVENTS_PER_SECOND),
            (f"{SPEED_VS_NAIVE:.0f}x naive", SPEED_VS_NAIVE * naive.rate),
        )
        if rate > floor.rate
    ]
    verdict = (
        f"{' and '.join(beyond)} {'ask' if len(beyond) > 1 else 'asks'} for more than the "
        "floor reaches, that is for less time per event than the database and SQLAlchemy "
        "Core take to write our rows, each event committed in its own transaction"
        if beyond
        else "the floor reaches both"
    )
    return (
        f"For scale: on this machine the floor itself (plain Core replaying our SQL, nothing "
        f"computed) ran {floor.rate:,.0f} events/s on a SQLite file in one process "
        f"({floor.cpu_micros:,.0f} µs of CPU per event), naive {naive.rate:,.0f}/s and ours "
        f"{ours.rate:,.0f}/s. {EVENTS_PER_SECOND:,.0f} events/s is "
        f"{EVENTS_PER_SECOND / floor.rate:.1f}x the floor's rate and {SPEED_VS_NAIVE:.0f}x "
        f"naive ({SPEED_VS_NAIVE * naive.rate:,.0f}/s) is "
        f"{SPEED_VS_NAIVE * naive.rate / floor.rate:.1f}x it: {verdict}."
    )


def _steps(r: Results, *, markdown: bool) -> str:
    rows = []
    for backend, procs in r.configurations():
        if procs != 1:
            continue
        for kind in ("ours", "floor", "naive"):
            micros = r.series[(backend, procs, kind)].step_micros
            rows.append([backend, kind] + [f"{micros[s]:,.0f}" for s in STEP_NAMES])
    return _table(["backend", "workload", *STEP_NAMES], rows, markdown=markdown)


def _statements(r: Results, *, markdown: bool) -> str:
    rows = []
    for backend, procs in r.configurations():
        if procs == 1:
            rows.append(
                [backend]
                + [
                    f"{r.series[(backend, 1, k)].runs[0].statements:.1f}"
                    for k in ("ours", "floor", "naive")
                ]
            )
    return _table(["backend", "ours", "floor", "naive"], rows, markdown=markdown)


def _memory(r: Results, *, markdown: bool) -> str:
    rows = []
    base: dict[str, int] = {}
    for m in r.memory:
        first = base.setdefault(m.backend, m.after_kib)
        rows.append(
            [
                m.backend,
                f"{m.stored:,}",
                f"{m.load_seconds:.0f} s",
                f"{m.before_kib / 1024:.1f}",
                f"{m.warmed_kib / 1024:.1f}",
                f"{m.after_kib / 1024:.1f}",
                f"{m.peak_kib / 1024:.1f}",
                f"{(m.after_kib - first) / 1024:+.1f}",
                f"{m.rate:,.0f}",
            ]
        )
    header = [
        "backend",
        "stored complaints",
        "bulk load",
        "RSS at start (MiB)",
        "after warm-up",
        "after the events",
        "peak (VmHWM)",
        "vs fewest stored",
        "events/s",
    ]
    return _table(header, rows, markdown=markdown)


def _profile(p: Profile, *, markdown: bool) -> str:
    groups = _table(
        ["where (own time)", "share"],
        [[g, f"{share:.0%}"] for g, share in p.groups],
        markdown=markdown,
    )

    def name(function: str) -> str:
        return f"`{function}`" if markdown else function

    top = _table(
        ["function", "calls/event", "own µs/event", "share"],
        [[name(f), f"{calls:.1f}", f"{us:.0f}", f"{share:.1%}"] for f, calls, us, share in p.top],
        markdown=markdown,
    )
    ours = _table(
        ["complaintflow function", "cumulative µs/event", "share"],
        [[name(f), f"{us:.0f}", f"{share:.0%}"] for f, us, share in p.ours],
        markdown=markdown,
    )
    return f"{groups}\n\n{top}\n\n{ours}"


def text(r: Results) -> str:
    i = r.info
    parts = [
        f"Lifecycle events/s: median of {i.repeats} run(s) of {i.events} events each, shared "
        f"among the processes (µs/event = time per event inside one process)",
        _throughput(r, markdown=False),
        "",
        _ratios(r, markdown=False),
        _absolute(r),
        _reachable(r),
        "",
        "Per-step latency in one process (µs, median)",
        _steps(r, markdown=False),
        "",
        "SQL statements per event",
        _statements(r, markdown=False),
    ]
    if r.memory:
        parts += [
            "",
            "Memory of a process firing events on random complaints",
            _memory(r, markdown=False),
        ]
    if r.profile is not None:
        parts += [
            "",
            f"Profile of ours (SQLite, one process, {r.profile.events} events)",
            _profile(r.profile, markdown=False),
        ]
    parts += [
        "",
        f"{i.cores} cores ({i.cpu}); load average {i.load_before[0]:.1f} before, "
        f"{i.load_after[0]:.1f} after; took {i.seconds:.0f} s",
    ]
    parts += [f"note: {n}" for n in i.notes]
    return "\n".join(parts)


KEPT_SECTIONS = ("## Timers and escalations", "## What a lifecycle event costs SQLite")
"""Sections of the page that other benchmarks write (``python -m benchmarks.timers``,
``python -m benchmarks.sqlite_commit``): a run of this one keeps them as they are."""


def kept_sections(page: str) -> str:
    """The ``KEPT_SECTIONS`` of an existing page, each up to the next ``## `` heading."""
    found = []
    for title in KEPT_SECTIONS:
        start = page.find(f"\n{title}\n")
        if start < 0:
            continue
        end = page.find("\n## ", start + 1)
        found.append(page[start + 1 : end if end >= 0 else len(page)].rstrip() + "\n")
    return "\n".join(found)


def markdown(r: Results, *, keep: str = "") -> str:
    """The page; ``keep`` (see :func:`kept_sections`) goes at its end."""
    i = r.info
    memory = ""
    if r.memory:
        memory = f"""
## Memory against stored complaints

A worker process fires `add_note` on random complaints ({r.memory[0].events:,} events
after a warm-up of a tenth of that) on a database holding the given number of
complaints. RSS is VmRSS of `/proc/self/status`; the peak is VmHWM. The complaints
were bulk-loaded by cloning the row of one complaint opened through the engine (new ids
and dedup keys, executemany in chunks of 10,000); the bulk-load time is shown.

{_memory(r, markdown=True)}

The engine keeps no per-complaint state in memory (one shared state machine per
workflow, snapshots read per event), so RSS should not grow with the number of stored
complaints; the column "vs fewest stored" shows the difference.
"""
    profile = ""
    if r.profile is not None:
        p = r.profile
        profile = f"""
## Where our time goes

`cProfile` of the `ours` workload (SQLite file, one process, {p.events:,} events;
profiling slows it, so look at the shares). Own time grouped by where the code lives:

{_profile(p, markdown=True)}

How the hot path is built, and so how to read the tables: every event is one
transaction (`BEGIN IMMEDIATE`, `SELECT` the complaint, the conditional `UPDATE`, the
audit `INSERT`s, cancel and arm timers, the outbox, `COMMIT`). On SQLite the store runs
these statements as SQL text compiled once per store from its Core statements, on the
driver's own cursor (parameters converted as the column types would; errors translated
as Core would), which skips all of Core's per-statement work; the rows written are the
same, byte for byte. It does so only on an engine it made itself while nobody listens
to the engine's statement events (a listener, such as a tracer, puts it back on Core).
`BEGIN IMMEDIATE` is sent to the driver from the dialect's `do_begin` hook, not from a
`begin` event listener: any engine event listener makes every statement dispatch
events. Timer cancels are one prebuilt statement run once per clock (an expanding `IN`
is compiled anew on every call). On PostgreSQL the same statements run through Core.
What is left is the `COMMIT` itself (on SQLite with WAL: appending the transaction's
pages to the log; a thread of the store checkpoints the log beside the writers),
SQLAlchemy's connection and transaction handling, reading the row back into a snapshot
(JSON of the intake, facts and clocks), the core's work (the shared state machine,
clock rules in business time, audit records) and writing the row (the clocks as JSON,
encoded by orjson; clocks the change left as they were are written back as read,
without encoding them again).
"""
    notes = "".join(f"\n- {n}" for n in i.notes)
    return f"""# Performance

How fast complaintflow runs a complaint's lifecycle, compared with what the same work
costs in plain SQLAlchemy Core and with the pattern people often write by hand; how its
memory behaves as complaints pile up; and where its time goes. Every figure on this page
was produced by `python -m benchmarks` in one run (see "This run" below); a full run
rewrites the page, except "Timers and escalations" at its end, which comes from
`python -m benchmarks.timers`.

## How to run

```bash
make bench                        # = .venv/bin/python -m benchmarks
python -m benchmarks --quick      # a smoke run in seconds; writes no page
python -m benchmarks --backend sqlite --events 7000 --processes 4 --repeats 5
python -m benchmarks --full       # memory with 1,000,000 stored complaints
```

Options: `--events N` (lifecycle events per run, shared among its processes),
`--backend sqlite|postgres|all`, `--processes P` (the multi-process runs; single-process
runs are always made), `--repeats R`, `--quick` (SQLite only unless `--backend` says
otherwise; one run of 70 events; small memory runs), `--full`, `--stored 10000,200000`,
`--memory-events N`, `--skip-memory`, `--skip-profile`, `--postgres-url URL` (default:
`$COMPLAINTFLOW_BENCH_POSTGRES_URL`, `$COMPLAINTFLOW_TEST_POSTGRES_URL`, or
`postgresql+psycopg://postgres@127.0.0.1:5432/test`; PostgreSQL is skipped when it does
not answer), `--output PATH`, `--no-write`. `tests/test_benchmarks_smoke.py` runs
`--quick` as a smoke test (it asserts nothing about speed).

## What is measured

**The lifecycle**: `open -> acknowledge -> classify -> start_handling -> resolve ->
send_result -> customer_satisfied` with the data the standard workflow requires (tier
`{TIER}`, whose entry notifies leadership, so `classify` also writes an outbox row),
7 events per complaint, every event a full change in its own transaction, on a SQLite
file and on PostgreSQL, in one process and in several processes that each work on their
own complaints. Three workloads run in the same invocation, interleaved (their order
rotates between repeats):

- **ours**: `Engine.from_url(...)`, `engine.open(...)`, `engine.fire(...)`: input
  validation, the shared state machine, SLA clocks in business time (the `cn-office`
  calendar), audit records, timer rows armed and cancelled, the outbox, the optimistic
  version check. The real system clock.
- **floor**: plain SQLAlchemy Core executing exactly the statements our store executes
  (on SQLite our store runs them as prebuilt driver text, see "Where our time goes"; the
  floor runs the Core statements they were compiled from):
  `SELECT` the complaint, conditional `UPDATE` of its row (`WHERE id = ? AND version =
  ?`, row count checked), `INSERT` of the audit rows, `UPDATE`/`INSERT` of timer rows as
  the change does, `INSERT` into the outbox where the change notifies; on `open` the
  dedup `SELECT` and the `INSERT`. The statements and their parameters are captured from
  a run of the Engine on the same tables and replayed with new ids, prebuilt, in the
  same transactions; nothing is computed. The floor is what the database and SQLAlchemy
  Core cost for our rows.
- **naive**: an ORM-mapped complaint row (same table), one `transitions.Machine` built per
  complaint with the ORM object as its model (every state and transition of the
  standard workflow), the trigger, an audit ORM object, commit. It writes fewer rows than we do
  (no clocks, timers or outbox) and checks nothing.

All three use the same database settings (SQLite: WAL, `synchronous=NORMAL`, writers
take the lock with `BEGIN IMMEDIATE`, sent straight to the driver, the write-ahead log is
checkpointed by a thread beside the writers as our store does; PostgreSQL: the
server's defaults, so every commit waits for the WAL flush; only our store pings a
connection when it takes it from the pool). Each run uses a fresh database (PostgreSQL:
tables with a unique prefix, dropped afterwards) and fresh worker processes, which set
up, warm up with 5 lifecycles, and start together; events/s is all timed events over
the span from the first start to the last finish. µs/event is the time per event inside
one process.

## This run

- Date: {i.date:%Y-%m-%d %H:%M} UTC; command: `{i.command}`
- Machine: {i.cores} cores ({i.cpu}), Python {i.python}; {", ".join(i.databases)} (local)
- {i.events:,} events per run (7 per complaint), shared among the run's processes;
  {i.repeats} run(s) of each measurement, the **median** is reported with the range
- Load average {i.load_before[0]:.1f} at the start and {i.load_after[0]:.1f} at the end; the
  run took {i.seconds / 60:.1f} minutes{notes}

This machine has 2 cores and is shared with other engineers' test suites, which run
while the benchmarks run: the figures are noisy (see the min-max range), and a quiet
machine of the same kind gives higher absolute rates. The ratios are more stable than the
absolute figures, because the three workloads are interleaved and suffer the same noise,
but whole runs repeated half an hour apart on this machine still differed by up to a
third in the ratios: treat smaller differences as noise.

## Lifecycle throughput

{_throughput(r, markdown=True)}

## Ratios and targets

{_ratios(r, markdown=True)}

{_absolute(r)}

{_reachable(r)}

"Time per event vs floor" divides the floor's events/s by ours; "speed vs naive" divides
ours by the naive one's. The two "by client CPU" columns compare the CPU time (user +
system) the worker processes spent per event instead: that part does not depend on what
else runs on the machine, so it is the steadier comparison here. On SQLite it covers
the database's own work too (SQLite runs in the process); on PostgreSQL it leaves out
the server and the wait for its commits. "Events per CPU-second" is what one core would
do with nothing else running.

### Latency per step (one process, µs, median)

{_steps(r, markdown=True)}

### SQL statements per event

Cursor executions per event, as SQLAlchemy's `before_cursor_execute` event sees them,
plus those our store runs on SQLite's own cursor, counted where it runs them (on
SQLite `BEGIN IMMEDIATE` goes straight to the driver and, like the commits, is not
counted; on PostgreSQL the store's engine also pings the server when it checks a
connection out of the pool, which is not counted here).

{_statements(r, markdown=True)}
{memory}{profile}{"" if not keep else chr(10) + keep}"""
