"""Where the time of our path goes: cProfile of the engine's lifecycle, grouped by layer."""

from __future__ import annotations

import cProfile
import pstats
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._db import fresh
from benchmarks._workloads import run_lifecycles

# (group, substring of the code's file name or of a C function's description)
GROUPS = (
    ("database driver (sqlite3 / psycopg, incl. commit)", ("sqlite3", "psycopg", "socket")),
    ("SQLAlchemy", ("sqlalchemy",)),
    ("complaintflow: engine facade", ("complaintflow/engine",)),
    ("complaintflow: store (SQL, row codec)", ("complaintflow/store",)),
    ("complaintflow: core (apply, SLA clocks)", ("complaintflow/core",)),
    ("complaintflow: business calendar", ("complaintflow/time",)),
    ("complaintflow: workflow / transitions", ("complaintflow/definition", "transitions")),
    ("complaintflow: logging", ("complaintflow/_logging", "structlog", "logging/")),
    ("pydantic (intake model)", ("pydantic",)),
    ("json", ("json/", "json.")),
    ("dataclasses.replace", ("dataclasses.py",)),
    ("datetime / zoneinfo / holidays", ("datetime", "zoneinfo", "holidays")),
)
OTHER = "other Python (builtins, contextlib, hashlib, ...)"


def group_of(file: str, name: str) -> str:
    where = f"{file} {name}"
    for group, needles in GROUPS:
        if any(n in where for n in needles):
            return group
    return OTHER


@dataclass
class Profile:
    events: int
    seconds: float  # profiled, so slower than unprofiled
    groups: list[tuple[str, float]] = field(default_factory=list)  # (group, share)
    top: list[tuple[str, float, float, float]] = field(default_factory=list)
    # (function, calls per event, own µs per event, share)
    ours: list[tuple[str, float, float]] = field(default_factory=list)
    # (complaintflow function, cumulative µs per event, share)


def _label(file: str, line: int, name: str) -> str:
    if file == "~":
        return name
    short = file.split("site-packages/")[-1].split("src/")[-1]
    short = re.sub(r"^.*/lib/python3\.\d+/", "", short)  # the standard library
    return f"{short}:{line}({name})"


def profile_ours(*, backend: str, url: str, complaints: int, folder: Path) -> Profile:
    """Profile ``complaints`` lifecycles of our engine in this process."""
    with fresh(backend, url, folder) as target:
        prepared = run_lifecycles("ours", target, complaints, "prof")
        profiler = cProfile.Profile()
        profiler.enable()
        timing = prepared.run()
        profiler.disable()
        prepared.workload.close()
    stats: Any = pstats.Stats(profiler).stats
    events = timing.events
    total = sum(entry[2] for entry in stats.values())
    groups: Counter[str] = Counter()
    for (file, _line, name), entry in stats.items():
        groups[group_of(file, name)] += entry[2]
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    ours = [
        (key, entry)
        for key, entry in stats.items()
        if "complaintflow" in key[0] and not key[2].startswith("<")
    ]
    ours.sort(key=lambda kv: kv[1][3], reverse=True)
    return Profile(
        events=events,
        seconds=total,
        groups=[(g, t / total) for g, t in groups.most_common()],
        top=[
            (_label(*key), entry[1] / events, entry[2] / events * 1e6, entry[2] / total)
            for key, entry in top
        ],
        ours=[
            (_label(*key), entry[3] / events * 1e6, entry[3] / total) for key, entry in ours[:15]
        ],
    )
