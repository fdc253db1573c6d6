"""``complaintflow check``: hunt for lifecycle rule violations of workflow files.

The QA kit (:mod:`complaintflow.testing`, which needs Hypothesis: the ``testing`` extra)
is imported only when the command runs, so the other commands start without it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from complaintflow.exceptions import WorkflowValidationError


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""
    app.command("check")(check)


def check(
    paths: Annotated[list[Path], typer.Argument(help="Workflow files or folders.")],
    examples: Annotated[
        int | None,
        typer.Option(min=1, help="Runs of the state machine per workflow (default 60)."),
    ] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Steps per run (default 30).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the search (default: random, printed).")
    ] = None,
    guards: Annotated[
        str | None,
        typer.Option(
            help="The host's guards, as module:NAME (a mapping of guard name to function, "
            "importable from the current folder); guards a workflow names that it lacks are "
            "played by stand-ins that say yes or no.",
        ),
    ] = None,
    shrink_seconds: Annotated[
        int | None,
        typer.Option(min=0, help="Stop shrinking a counterexample after this long (default 60 s)."),
    ] = None,
) -> None:
    """Hunt for lifecycle rule violations: drive each workflow on a throw-away SQLite
    file with random permitted and forbidden events, people and jumps of time, checking
    the built-in rules and the workflow's own invariants after every step.

    Exit 0 when no rule was broken, 1 when one was (the shortest story found is
    printed), 2 when a workflow file is not valid.
    """
    from complaintflow.definition._registry import iter_workflow_files

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        from complaintflow.testing import (
            DEFAULT_EXAMPLES,
            DEFAULT_SHRINK_SECONDS,
            DEFAULT_STEPS,
            check_workflow,
        )
        from complaintflow.testing._engine import import_guards, load, unregistered_guards
    except ImportError as exc:  # Hypothesis is an extra
        err.print(
            f"the QA kit needs Hypothesis ({exc}): pip install 'complaintflow[testing]'",
            markup=False,
        )
        raise typer.Exit(2) from exc

    # the engine's own warnings (a stale timer, ...) are for operators, not for this report
    logging.getLogger("complaintflow").setLevel(logging.ERROR)
    out = Console(highlight=False, soft_wrap=True)
    try:
        given = import_guards(guards) if guards else None
    except ValueError as exc:
        err.print(f"--guards: {exc}", markup=False)
        raise typer.Exit(2) from exc
    try:
        files = list(iter_workflow_files(paths))
        workflows = [load(file, guards=given, stand_ins=True) for file in files]
    except WorkflowValidationError as exc:
        for problem in exc.problems:
            err.print(f"error {problem}", markup=False)
        raise typer.Exit(2) from exc
    if not workflows:
        err.print("no workflow files found")
        raise typer.Exit(2)
    broken = 0
    for workflow in workflows:
        result = check_workflow(
            workflow,
            examples=DEFAULT_EXAMPLES if examples is None else examples,
            steps=DEFAULT_STEPS if steps is None else steps,
            seed=seed,
            shrink_seconds=DEFAULT_SHRINK_SECONDS if shrink_seconds is None else shrink_seconds,
        )
        played = unregistered_guards(workflow, given)
        if played:
            out.print(f"      guards played by stand-ins: {', '.join(played)}", markup=False)
        out.print(result.report(), markup=False)
        out.print(f"      ({result.seconds:.1f}s)", markup=False)
        broken += not result.passed
    if broken:
        err.print(f"{broken} of {len(workflows)} workflow(s) broke a rule")
        raise typer.Exit(1)
