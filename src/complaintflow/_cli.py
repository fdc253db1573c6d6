"""The ``complaintflow`` command line (typer + rich)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from complaintflow.definition._graph import to_dot, to_mermaid
from complaintflow.definition._registry import (
    iter_workflow_files,
    load_workflow,
    workflow_json_schema_text,
)
from complaintflow.exceptions import ComplaintflowError, WorkflowValidationError

app = typer.Typer(
    name="complaintflow",
    help="Complaint-handling workflows: validate, draw, run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Workflow files or folders.")],
) -> None:
    """Check workflow files; list every problem. Exit 0 when all are valid, 1 otherwise."""
    failed = 0
    try:
        files = list(iter_workflow_files(paths))
    except WorkflowValidationError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", markup=True)
        raise typer.Exit(1) from exc
    if not files:
        err.print("no workflow files found")
        raise typer.Exit(1)
    for file in files:
        try:
            workflow = load_workflow(file)
        except WorkflowValidationError as exc:
            failed += 1
            for problem in exc.problems:
                err.print(f"[red]error[/red] {problem}", markup=True, highlight=False)
            continue
        out.print(
            f"[green]ok[/green]    {file}: {workflow.key} "
            f"({len(workflow.states)} states, {len(workflow.transitions)} transitions, "
            f"{len(workflow.clocks)} clocks)"
        )
    if failed:
        err.print(f"{failed} of {len(files)} file(s) invalid")
        raise typer.Exit(1)


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="A workflow file.")],
    format: Annotated[GraphFormat, typer.Option("--format", "-f")] = GraphFormat.mermaid,
) -> None:
    """Print a diagram of a workflow (Mermaid stateDiagram or Graphviz DOT)."""
    workflow = _load_or_exit(file)
    text = to_mermaid(workflow) if format is GraphFormat.mermaid else to_dot(workflow)
    typer.echo(text, nl=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workflow file format."""
    typer.echo(workflow_json_schema_text(), nl=False)


@app.command()
def demo(
    workflows: Annotated[Path, typer.Option(help="Folder of workflow files.")] = Path("workflows"),
) -> None:
    """The main job: validate every shipped workflow and draw each one."""
    from rich.panel import Panel

    files = list(iter_workflow_files([workflows]))
    for file in files:
        workflow = _load_or_exit(file)
        out.print(
            Panel(
                to_mermaid(workflow),
                title=f"{workflow.key} — {file}",
                subtitle=f"{len(workflow.states)} states, {len(workflow.transitions)} "
                f"transitions, clocks: {', '.join(workflow.clocks) or 'none'}",
            )
        )
    out.print(f"[green]{len(files)} workflow(s) valid[/green]")


def _load_or_exit(file: Path):  # type: ignore[no-untyped-def]
    try:
        return load_workflow(file)
    except WorkflowValidationError as exc:
        for problem in exc.problems:
            err.print(f"error {problem}")
        raise typer.Exit(1) from exc
    except ComplaintflowError as exc:
        err.print(f"error {exc}")
        raise typer.Exit(1) from exc


def main() -> None:
    """Entry point of the ``complaintflow`` command."""
    app()
