"""A ready engine on a temporary SQLite file, for tests and for the QA kit."""

from __future__ import annotations

import hashlib
import importlib
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from complaintflow.definition._compile import Guard, Workflow
from complaintflow.definition._registry import (
    iter_workflow_files,
    load_workflow,
    load_workflows,
)
from complaintflow.engine._engine import Engine
from complaintflow.store._sql import SqlStore
from complaintflow.time._clock import Clock, FakeClock

WorkflowSource = Workflow | str | Path
"""A compiled workflow, or the path of a workflow file (or of a folder of them)."""

_TEMPLATES: dict[str, Path] = {}
_TEMPLATE_LOCK = threading.Lock()


def _template(prefix: str) -> Path:
    """A migrated, empty SQLite file for ``prefix``, made once per process and copied
    for each engine: copying is several times faster than running the migrations."""
    with _TEMPLATE_LOCK:
        path = _TEMPLATES.get(prefix)
        if path is not None and path.exists():
            return path
        from complaintflow.store._migrate import upgrade

        folder = Path(tempfile.mkdtemp(prefix="complaintflow-template-"))
        path = folder / "template.db"
        store = SqlStore(f"sqlite:///{path}", table_prefix=prefix)
        try:
            upgrade(store.engine, store.tables)
        finally:
            store.close()
        with sqlite3.connect(path) as conn:
            # one self-contained file (no -wal beside it) that can simply be copied
            conn.execute("PRAGMA journal_mode=DELETE")
        _TEMPLATES[prefix] = path
        return path


def load(
    source: WorkflowSource,
    *,
    guards: Mapping[str, Guard] | None = None,
    stand_ins: bool = False,
) -> Workflow:
    """``source`` as a compiled workflow (a folder must hold exactly one workflow).

    With ``stand_ins``, guards the file names but ``guards`` does not hold are played
    by :func:`stand_in_guard`, so that a workflow can be checked without the host's code.

    Raises:
        WorkflowValidationError: the file is not a valid workflow.
        ValueError: a folder holds no workflow, or several.
    """
    if isinstance(source, Workflow):
        return source
    path = Path(source)
    if path.is_dir():
        files = sorted(iter_workflow_files([path]))
        if len(files) != 1:
            raise ValueError(
                f"{path} holds {len(files)} workflows; name one file "
                f"({', '.join(str(f) for f in files) or 'none found'})"
            )
        path = files[0]
    if not stand_ins:
        return load_workflow(path, guards=guards)
    workflow = load_workflow(path, guards=guards, require_guards=False)
    missing = unregistered_guards(workflow, guards)
    if not missing:
        return workflow
    # compiled again, now with a stand-in in the place of each guard the host did not give
    return load_workflow(
        path, guards={**{name: stand_in_guard(name) for name in missing}, **(guards or {})}
    )


def unregistered_guards(workflow: Workflow, guards: Mapping[str, Guard] | None) -> list[str]:
    """The guards ``workflow`` names that ``guards`` does not hold, sorted."""
    named = {name for t in workflow.spec.transitions for name in t.guards}
    return sorted(named - set(guards or {}))


def import_guards(spec: str) -> Mapping[str, Guard]:
    """The host's guards named by ``module:NAME``: a mapping of guard names to functions,
    imported with the current folder on the path.

    Raises:
        ValueError: ``spec`` is not ``module:NAME``, cannot be imported, or is no such
            mapping.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:NAME, got {spec!r}")
    here = str(Path.cwd())
    sys.path.insert(0, here)
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {spec}: {exc}") from exc
    finally:
        sys.path.remove(here)
    if not isinstance(found, Mapping) or not all(
        isinstance(k, str) and callable(v) for k, v in found.items()
    ):
        raise ValueError(f"{spec} is not a mapping of guard names to functions")
    return found


GUARD_ANSWERS: ContextVar[random.Random | None] = ContextVar("guard_answers", default=None)
"""Where stand-in guards draw their answers while the kit's state machine runs a step
(seeded by the step, so a replay gets the same answers and shrinking can change them)."""


def stand_in_guard(name: str) -> Guard:
    """A stand-in for the host's guard ``name`` that says yes or no.

    Inside the kit's state machine each answer is drawn from the step's own seed, so
    every guarded path gets explored and a run replays exactly. Elsewhere the answer is
    decided by the complaint's state and version and the names of the event's data.
    """

    def decide(complaint: Any, data: Mapping[str, Any] | None = None, *_: Any) -> tuple[bool, str]:
        answers = GUARD_ANSWERS.get()
        if answers is not None:
            yes = answers.random() < 0.6
        else:
            key = f"{name}|{complaint.state}|{complaint.version}|{','.join(sorted(data or {}))}"
            yes = hashlib.blake2b(key.encode("utf-8", "replace"), digest_size=1).digest()[0] < 160
        return yes, "" if yes else f"the kit's stand-in for guard {name!r} said no"

    decide.__name__ = f"stand_in_{name}"
    return decide


@contextmanager
def engine_on_temp_sqlite(
    workflow: WorkflowSource | Mapping[str, Workflow],
    *,
    clock: Clock | None = None,
    guards: Mapping[str, Guard] | None = None,
    table_prefix: str = "cf_",
    **options: Any,
) -> Iterator[Engine]:
    """An :class:`Engine` on a fresh, migrated SQLite file that is deleted afterwards.

    The database is a real file (WAL mode, ``BEGIN IMMEDIATE`` writers), as in
    production, not an in-memory database::

        from complaintflow.testing import FakeClock, engine_on_temp_sqlite

        clock = FakeClock()
        with engine_on_temp_sqlite("workflows/standard.yaml", clock=clock) as engine:
            complaint = engine.open(intake, actor=("li.na", "agent"))
            clock.advance(timedelta(hours=20))
            engine.run_due_timers()

    Args:
        workflow: a compiled workflow, a workflow file or folder, or workflows by
            ``name@version``.
        clock: the engine's clock (default: a new :class:`FakeClock`).
        guards: named guards the workflow's transitions refer to (when loading a path).
        table_prefix: prefix of the table names.
        options: further keyword arguments of :class:`Engine` (``on_notify``, ...).

    Yields:
        The engine; it is closed and the file removed when the block ends.
    """
    workflows: Mapping[str, Workflow] | Workflow
    if isinstance(workflow, Mapping | Workflow):
        workflows = workflow
    elif Path(workflow).is_dir():
        workflows = load_workflows(workflow, guards=guards)
    else:
        workflows = load_workflow(workflow, guards=guards)
    folder = Path(tempfile.mkdtemp(prefix="complaintflow-test-"))
    try:
        path = folder / "complaints.db"
        shutil.copyfile(_template(table_prefix), path)
        store = SqlStore(f"sqlite:///{path}", table_prefix=table_prefix)
        try:
            engine = Engine(workflows, store=store, clock=clock or FakeClock(), **options)
        except BaseException:
            store.close()
            raise
        with engine:
            yield engine
    finally:
        shutil.rmtree(folder, ignore_errors=True)
