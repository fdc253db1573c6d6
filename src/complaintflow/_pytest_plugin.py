"""The pytest plugin of the QA kit (registered as the ``complaintflow`` pytest11 entry point).

``pytest --complaintflow-workflow PATH`` (files or folders, repeatable) adds one test per
workflow file that runs :func:`complaintflow.testing.check_workflow` on it; a broken
rule fails the test with the shortest story found. The tests carry the marker
``complaintflow``, so ``-m complaintflow`` runs them alone. The fixture
``complaintflow_engine`` makes engines on temporary SQLite files.

Nothing of complaintflow is imported until one of these is used, so the plugin costs
nothing in test runs that do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from complaintflow.engine._engine import Engine
    from complaintflow.testing._run import CheckResult

MARKER = "complaintflow"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("complaintflow", "complaintflow QA kit (lifecycle rules of workflows)")
    group.addoption(
        "--complaintflow-workflow",
        action="append",
        default=[],
        metavar="PATH",
        help="check the lifecycle rules of the workflow file(s) at PATH (a file or a folder; "
        "may be given several times)",
    )
    group.addoption(
        "--complaintflow-examples",
        type=int,
        default=None,
        metavar="N",
        help="runs of the lifecycle state machine per workflow (default: the ini option "
        "complaintflow_examples, else the kit's default)",
    )
    group.addoption(
        "--complaintflow-steps",
        type=int,
        default=None,
        metavar="N",
        help="steps per run (default: the ini option complaintflow_steps, else the kit's)",
    )
    group.addoption(
        "--complaintflow-shrink-seconds",
        type=int,
        default=None,
        metavar="S",
        help="stop shrinking a counterexample after S seconds (default: the ini option "
        "complaintflow_shrink_seconds, else the kit's)",
    )
    group.addoption(
        "--complaintflow-guards",
        default=None,
        metavar="MODULE:NAME",
        help="the host's guards the workflows name, a mapping importable as MODULE:NAME "
        "(default: the ini option complaintflow_guards; guards not given are played by "
        "stand-ins that say yes or no)",
    )
    parser.addini("complaintflow_workflows", "workflow files or folders to check", "linelist")
    parser.addini("complaintflow_guards", "the host's guards, as MODULE:NAME")
    parser.addini("complaintflow_examples", "runs of the lifecycle state machine per workflow")
    parser.addini("complaintflow_steps", "steps per run of the lifecycle state machine")
    parser.addini("complaintflow_shrink_seconds", "how long to shrink a counterexample")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: lifecycle rules of a workflow file (the complaintflow QA kit)"
    )


def _number(config: pytest.Config, option: str, ini: str) -> int | None:
    given = config.getoption(option)
    if given is not None:
        return int(given)
    text = str(config.getini(ini) or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"ini option {ini} must be a whole number, got {text!r}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    paths = [*config.getoption("complaintflow_workflow"), *config.getini("complaintflow_workflows")]
    if not paths:
        return
    from complaintflow.definition._registry import iter_workflow_files
    from complaintflow.exceptions import WorkflowValidationError

    try:
        files = list(iter_workflow_files(paths))
    except WorkflowValidationError as exc:
        raise pytest.UsageError(f"--complaintflow-workflow: {exc}") from exc
    if not files:
        raise pytest.UsageError(f"--complaintflow-workflow: no workflow files in {paths}")
    examples = _number(config, "complaintflow_examples", "complaintflow_examples")
    steps = _number(config, "complaintflow_steps", "complaintflow_steps")
    shrink = _number(config, "complaintflow_shrink_seconds", "complaintflow_shrink_seconds")
    guards = None
    spec = config.getoption("complaintflow_guards") or str(config.getini("complaintflow_guards"))
    if spec.strip():
        from complaintflow.testing._engine import import_guards

        try:
            guards = import_guards(spec.strip())
        except ValueError as exc:
            raise pytest.UsageError(f"--complaintflow-guards: {exc}") from exc
    for file in files:
        item = WorkflowItem.from_parent(
            session,
            name=f"complaintflow[{file}]",
            nodeid=f"{file}::lifecycle",
            workflow_file=file,
            examples=examples,
            steps=steps,
            shrink_seconds=shrink,
            guards=guards,
        )
        item.add_marker(MARKER)
        items.append(item)


class WorkflowRuleBroken(AssertionError):
    """A workflow broke a lifecycle rule; ``result`` holds the story."""

    def __init__(self, result: CheckResult) -> None:
        self.result = result
        super().__init__(result.report())


class WorkflowItem(pytest.Item):
    """One workflow file's lifecycle rules, checked by the QA kit."""

    def __init__(
        self,
        *,
        workflow_file: Path,
        examples: int | None = None,
        steps: int | None = None,
        shrink_seconds: int | None = None,
        guards: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.guards = guards
        self.workflow_file = workflow_file
        self.examples = examples
        self.steps = steps
        self.shrink_seconds = shrink_seconds

    def runtest(self) -> None:
        from complaintflow.testing._machine import (
            DEFAULT_EXAMPLES,
            DEFAULT_SHRINK_SECONDS,
            DEFAULT_STEPS,
        )
        from complaintflow.testing._run import check_workflow

        seed = self.config.getoption("hypothesis_seed", None)
        result = check_workflow(
            self.workflow_file,
            examples=self.examples or DEFAULT_EXAMPLES,
            steps=self.steps or DEFAULT_STEPS,
            seed=int(seed) if seed is not None and str(seed).isdigit() else None,
            guards=self.guards,
            shrink_seconds=(
                DEFAULT_SHRINK_SECONDS if self.shrink_seconds is None else self.shrink_seconds
            ),
        )
        self.user_properties.append(("complaintflow_seed", result.seed))
        if not result.passed:
            raise WorkflowRuleBroken(result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        from complaintflow.exceptions import WorkflowValidationError

        if isinstance(excinfo.value, WorkflowRuleBroken):
            return excinfo.value.result.report()
        if isinstance(excinfo.value, WorkflowValidationError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.workflow_file, None, f"complaintflow lifecycle rules of {self.workflow_file}"


@pytest.fixture
def complaintflow_engine() -> Iterator[Callable[..., Engine]]:
    """Make engines on temporary SQLite files: ``complaintflow_engine(workflow, clock=...)``
    takes what :func:`complaintflow.testing.engine_on_temp_sqlite` takes; every engine is
    closed and its file removed after the test."""
    from complaintflow.testing._engine import engine_on_temp_sqlite

    with ExitStack() as stack:

        def make(workflow: Any, **options: Any) -> Engine:
            return stack.enter_context(engine_on_temp_sqlite(workflow, **options))

        yield make
