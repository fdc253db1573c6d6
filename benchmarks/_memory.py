"""Memory of a process firing events on random complaints, against how many are stored.

The stored complaints are bulk-loaded: one complaint is opened through the engine and
its row cloned with new ids and dedup keys, written with executemany in chunks. A fresh
worker process then fires ``add_note`` on random complaints; its resident set size
(VmRSS from ``/proc/self/status``) is read before, after a warm-up and at the end, with
the peak (VmHWM).
"""

from __future__ import annotations

import hashlib
import json
import random
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._db import Target, fresh, plain_engine
from benchmarks._runner import context
from benchmarks._workloads import AGENT, INTAKE, WORKFLOW_FILE

CHUNK = 10_000


def memory_id(i: int) -> str:
    return f"C-M{i:012d}"


def rss() -> dict[str, int]:
    """Resident set size and its peak of this process, in KiB."""
    found: dict[str, int] = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0])
    except OSError:
        pass
    if not found:  # no /proc: the peak is all getrusage knows (KiB on Linux)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        found = {"VmRSS": peak, "VmHWM": peak}
    return found


def _driver_insert(
    db: sa.Engine, table: sa.Table, row: dict[str, Any]
) -> tuple[str, Callable[[str, str], Any]]:
    """The driver-level INSERT SQLAlchemy emits for ``row``, and a maker of its parameters
    for another id and dedup key: values are encoded once, not once per row."""
    seen: list[tuple[str, Any]] = []

    def grab(*args: Any) -> None:
        seen.append((args[2], args[3]))  # (conn, cursor, statement, parameters, ...)

    sentinel = {**row, "id": "__id__", "dedup_key": "__key__", "open_dedup_key": "__key__"}
    sa.event.listen(db, "before_cursor_execute", grab)
    try:
        with db.connect() as conn, conn.begin() as tx:
            conn.execute(sa.insert(table), sentinel)
            tx.rollback()
    finally:
        sa.event.remove(db, "before_cursor_execute", grab)
    statement, parameters = next((st, p) for st, p in seen if "INSERT" in st.upper())
    if isinstance(parameters, dict):  # psycopg: JSON values come wrapped, to encode per row
        parameters = {
            k: json.dumps(v.obj) if type(v).__name__ in ("Json", "Jsonb") else v
            for k, v in parameters.items()
        }
        keys = {k: v for k, v in parameters.items() if v in ("__id__", "__key__")}

        def make_dict(cid: str, key: str) -> Any:
            return {**parameters, **{k: cid if v == "__id__" else key for k, v in keys.items()}}

        return statement, make_dict
    values = list(parameters)
    slots = [(i, v) for i, v in enumerate(values) if v in ("__id__", "__key__")]

    def make_tuple(cid: str, key: str) -> Any:
        for i, v in slots:
            values[i] = cid if v == "__id__" else key
        return tuple(values)

    return statement, make_tuple


def bulk_load(target: Target, stored: int) -> float:
    """Store ``stored`` complaints shaped like the one the engine opens (its row cloned
    with new ids and dedup keys, executemany in chunks); seconds taken."""
    from complaintflow import Engine

    began = time.perf_counter()
    with Engine.from_url(
        target.url, workflows=WORKFLOW_FILE, migrate=False, table_prefix=target.prefix
    ) as engine:
        model = engine.open(INTAKE, actor=AGENT).id
    complaints = target.tables().complaints
    db = plain_engine(target.url)
    try:
        with db.connect() as conn:
            query = sa.select(complaints).where(complaints.c.id == model)
            row = dict(conn.execute(query).mappings().one())
        statement, make = _driver_insert(db, complaints, row)
        with db.connect() as conn:
            for offset in range(0, stored, CHUNK):
                batch = []
                for i in range(offset, min(offset + CHUNK, stored)):
                    cid = memory_id(i)
                    batch.append(make(cid, hashlib.sha1(cid.encode()).hexdigest()))
                with conn.begin():
                    conn.exec_driver_sql(statement, batch)
            if db.dialect.name == "postgresql":
                with conn.begin():
                    conn.exec_driver_sql(f'ANALYZE "{complaints.name}"')
    finally:
        db.dispose()
    return time.perf_counter() - began


def _worker(target: Target, stored: int, events: int, seed: int, results: Any) -> None:
    try:
        from complaintflow import Engine

        rng = random.Random(seed)
        with Engine.from_url(
            target.url, workflows=WORKFLOW_FILE, migrate=False, table_prefix=target.prefix
        ) as engine:
            before = rss()["VmRSS"]
            warmup = max(1, events // 10)
            for n in range(warmup + events):
                if n == warmup:
                    warmed = rss()["VmRSS"]
                    began = time.perf_counter()
                cid = memory_id(rng.randrange(stored))
                engine.fire(cid, "add_note", actor=AGENT, data={"note": f"note {n}"})
            seconds = time.perf_counter() - began
            after = rss()
        results.put(
            {
                "before": before,
                "warmed": warmed,
                "after": after["VmRSS"],
                "peak": after["VmHWM"],
                "rate": events / seconds,
                "error": None,
            }
        )
    except BaseException:
        results.put({"error": traceback.format_exc()})


@dataclass
class MemoryResult:
    backend: str
    stored: int
    events: int
    load_seconds: float
    before_kib: int
    warmed_kib: int
    after_kib: int
    peak_kib: int
    rate: float


def measure_memory(
    *, backend: str, url: str, stored: int, events: int, folder: Path
) -> MemoryResult:
    """Bulk-load ``stored`` complaints, then fire ``events`` in a fresh process."""
    ctx = context()
    with fresh(backend, url, folder) as target:
        load_seconds = bulk_load(target, stored)
        results = ctx.Queue()
        worker = ctx.Process(target=_worker, args=(target, stored, events, stored, results))
        worker.start()
        try:
            outcome = results.get(timeout=1800)
        finally:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    if outcome["error"] is not None:
        raise RuntimeError(f"memory worker on {backend} failed:\n{outcome['error']}")
    return MemoryResult(
        backend,
        stored,
        events,
        load_seconds,
        outcome["before"],
        outcome["warmed"],
        outcome["after"],
        outcome["peak"],
        outcome["rate"],
    )
