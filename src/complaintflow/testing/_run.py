"""Running the lifecycle machine on a workflow and reporting what it found."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import Verbosity
from hypothesis import seed as use_seed
from hypothesis.stateful import get_state_machine_test

from complaintflow.definition._compile import Guard
from complaintflow.testing._engine import WorkflowSource, load
from complaintflow.testing._invariants import InvariantViolation
from complaintflow.testing._machine import (
    DEFAULT_EXAMPLES,
    DEFAULT_SHRINK_SECONDS,
    DEFAULT_STEPS,
    kit_settings,
    shrink_limit,
    workflow_state_machine,
)


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check_workflow` found.

    Attributes:
        workflow: the workflow's ``name@version``.
        file: the workflow file.
        examples: the runs asked for.
        steps: the steps per run asked for.
        seed: the seed of the search (the same seed searches the same way again).
        violation: the broken rule with its minimal story, or ``None``.
        seconds: how long the search took.
        shrink_cut: shrinking ran into its time limit, so the story may hold steps that
            are not needed.
    """

    workflow: str
    file: str
    examples: int
    steps: int
    seed: int
    violation: InvariantViolation | None
    seconds: float
    shrink_cut: bool = False

    @property
    def passed(self) -> bool:
        """True when no rule was broken."""
        return self.violation is None

    def report(self) -> str:
        """One line when every rule held; else the counterexample story and how to rerun."""
        budget = f"{self.examples} runs of up to {self.steps} steps, seed {self.seed}"
        if self.violation is None:
            return f"ok    {self.workflow} ({self.file}): no rule broken in {budget}"
        cut = (
            "\n(shrinking stopped at its time limit: some steps above may not be needed; "
            "--shrink-seconds gives it longer)"
            if self.shrink_cut
            else ""
        )
        return (
            f"FAIL  {self.workflow} ({self.file}): rule {self.violation.invariant} broken "
            f"({budget}; rerun with --seed {self.seed})\n\n{self.violation.story}{cut}"
        )


def check_workflow(
    workflow: WorkflowSource,
    *,
    examples: int = DEFAULT_EXAMPLES,
    steps: int = DEFAULT_STEPS,
    seed: int | None = None,
    guards: Mapping[str, Guard] | None = None,
    database: Any = None,
    quiet: bool = True,
    shrink_seconds: int | None = DEFAULT_SHRINK_SECONDS,
) -> CheckResult:
    """Hunt for lifecycle rule violations of ``workflow`` and report the first one found.

    Args:
        workflow: a compiled workflow, or a workflow file.
        examples: runs of the state machine.
        steps: steps per run.
        seed: the search's seed (default: a random one, reported in the result).
        guards: the host's named guards the workflow refers to (when loading a file);
            those it names but ``guards`` lacks are played by stand-ins that say yes or
            no (see ``stand_in_guard``).
        database: a Hypothesis example database to replay and save failures (default:
            none, so that a seed alone decides the search).
        quiet: keep Hypothesis from printing its own report.
        shrink_seconds: stop shrinking a counterexample after this long (``None``:
            Hypothesis's own limit, five minutes); the story is then shorter than the
            one found, if not the shortest.

    Returns:
        The result; its ``violation`` holds the minimal counterexample.

    Raises:
        WorkflowValidationError: the workflow file is not valid.
    """
    compiled = load(workflow, guards=guards, stand_ins=True)
    chosen = seed if seed is not None else random.SystemRandom().randrange(2**32)
    settings = kit_settings(
        examples=examples,
        steps=steps,
        database=database,
        verbosity=Verbosity.quiet if quiet else Verbosity.normal,
        print_blob=False,
    )
    machine = workflow_state_machine(compiled, settings=settings, shrink_seconds=None)
    test = use_seed(chosen)(get_state_machine_test(machine, settings=settings))
    started = time.perf_counter()
    violation: InvariantViolation | None = None
    try:
        with shrink_limit(shrink_seconds):
            test()
    except InvariantViolation as found:
        violation = found
    first = machine.first_failure
    cut = (
        violation is not None
        and shrink_seconds is not None
        and first is not None
        and time.monotonic() - first >= shrink_seconds
    )
    return CheckResult(
        compiled.key,
        compiled.file,
        examples,
        steps,
        chosen,
        violation,
        time.perf_counter() - started,
        cut,
    )
