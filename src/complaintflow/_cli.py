"""The ``complaintflow`` command line (typer + rich)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from complaintflow.definition._compile import Workflow
from complaintflow.definition._graph import to_dot, to_mermaid
from complaintflow.definition._registry import (
    iter_workflow_files,
    load_workflow,
    workflow_json_schema_text,
)
from complaintflow.exceptions import ComplaintflowError, StoreError, WorkflowValidationError

if TYPE_CHECKING:
    from complaintflow.store._sql import SqlStore

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
            workflow = load_workflow(file, require_guards=False)
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
    db: Annotated[
        Path, typer.Option(help="SQLite file to create (replaced when it exists).")
    ] = Path("demo-output/demo.db"),
    complaints: Annotated[
        int, typer.Option(min=1, max=100_000, help="How many complaints come in.")
    ] = 300,
    seed: Annotated[
        int, typer.Option(help="Seed of the simulation (same seed, same week).")
    ] = 2026,
    show_diagrams: Annotated[
        bool, typer.Option("--show-diagrams", help="Draw each workflow (Mermaid).")
    ] = False,
) -> None:
    """The main job: validate the shipped workflows, then run a simulated week of
    complaints through the standard workflow on SQLite and summarise it."""
    from complaintflow._demo import run_demo

    try:
        run_demo(
            db=db,
            complaints=complaints,
            seed=seed,
            workflows=workflows,
            show_diagrams=show_diagrams,
            console=out,
        )
    except WorkflowValidationError as exc:
        for problem in exc.problems:
            err.print(f"error {problem}")
        raise typer.Exit(1) from exc
    except (ComplaintflowError, OSError) as exc:
        err.print(f"error {exc}")
        raise typer.Exit(1) from exc


# --- database ---------------------------------------------------------------------------

db_app = typer.Typer(
    name="db",
    help="The database schema: apply the packaged migrations, show the revision.",
    no_args_is_help=True,
)
app.add_typer(db_app)

UrlArg = Annotated[
    str, typer.Argument(help="Database URL, e.g. sqlite:///complaints.db or postgresql://...")
]
PrefixOpt = Annotated[str, typer.Option("--table-prefix", help="Prefix of every table name.")]
SchemaOpt = Annotated[
    str | None, typer.Option("--schema", help="Database schema holding the tables (PostgreSQL).")
]


@db_app.command("upgrade")
def db_upgrade(url: UrlArg, table_prefix: PrefixOpt = "cf_", schema: SchemaOpt = None) -> None:
    """Apply the packaged migrations; print the revision reached."""
    from complaintflow.store._migrate import upgrade

    with _database(url, table_prefix, schema, create=True) as store:
        before = store.schema_revision()
        upgrade(store.engine, store.tables)
        after = store.schema_revision()
    if before == after:
        out.print(f"already at revision {after}")
    else:
        out.print(f"upgraded to revision {after} (was {before or 'none'})")


@db_app.command("current")
def db_current(url: UrlArg, table_prefix: PrefixOpt = "cf_", schema: SchemaOpt = None) -> None:
    """Print the database's revision, or "none" when no migration was ever applied."""
    from complaintflow.store._tables import SCHEMA_REVISION

    with _database(url, table_prefix, schema, create=False) as store:
        revision = store.schema_revision()
    out.print(revision or "none")
    if revision is None or revision < SCHEMA_REVISION:
        err.print(f"this complaintflow needs revision {SCHEMA_REVISION}: run db upgrade")
    elif revision != SCHEMA_REVISION:
        err.print(f"the database is newer than this complaintflow (needs {SCHEMA_REVISION})")


@db_app.command("forget-keys")
def db_forget_keys(
    url: UrlArg,
    older_than_days: Annotated[
        float,
        typer.Option(
            "--older-than-days",
            min=0.01,
            help="Forget idempotency keys stored more than this many days ago.",
        ),
    ] = 7.0,
    table_prefix: PrefixOpt = "cf_",
    schema: SchemaOpt = None,
) -> None:
    """Delete old idempotency keys (a request repeated with a forgotten key is a new one);
    print how many were deleted."""
    import datetime as dt

    before = dt.datetime.now(dt.UTC) - dt.timedelta(days=older_than_days)
    with _database(url, table_prefix, schema, create=False) as store:
        forgotten = store.forget_idempotency_keys(before, batch=1000)
    out.print(f"forgot {forgotten} idempotency key(s) stored before {before:%Y-%m-%d %H:%M} UTC")


@contextmanager
def _database(url: str, prefix: str, schema: str | None, *, create: bool) -> Iterator[SqlStore]:
    """The store at ``url``; any failure is one line on stderr and exit status 1."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from complaintflow.store._sql import SqlStore

    try:
        if not create:
            _require_sqlite_file(url)
        store = SqlStore(url, table_prefix=prefix, schema=schema)
        try:
            yield store
        finally:
            store.close()
    except (ComplaintflowError, SQLAlchemyError, CommandError, OSError) as exc:
        err.print(f"error: {_one_line(exc, url)}")
        raise typer.Exit(1) from exc


def _require_sqlite_file(url: str) -> None:
    """Refuse to read a SQLite file that does not exist (connecting would create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # the store reports it
    name = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and name
        and name != ":memory:"
        and not name.startswith("file:")
        and not Path(name).exists()
    ):
        raise StoreError("the SQLite database file does not exist")


def _one_line(exc: BaseException, url: str) -> str:
    """The error in one line, saying which database (never its password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError

    text = f"database error: {exc.orig}" if isinstance(exc, DBAPIError) else str(exc)
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    try:
        where = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return text or type(exc).__name__
    return text if where in text else f"{where}: {text or type(exc).__name__}"


def _load_or_exit(file: Path) -> Workflow:
    try:
        return load_workflow(file, require_guards=False)
    except WorkflowValidationError as exc:
        for problem in exc.problems:
            err.print(f"error {problem}")
        raise typer.Exit(1) from exc
    except ComplaintflowError as exc:
        err.print(f"error {exc}")
        raise typer.Exit(1) from exc


def _register_commands() -> None:
    """Commands that live beside the modules they drive."""
    from complaintflow import _cli_check, _cli_worker, _replay, _simulate
    from complaintflow.reporting import _cli as report_cli

    for module in (_cli_worker, report_cli, _simulate, _replay, _cli_check):
        module.register(app)


_register_commands()


def main() -> None:
    """Entry point of the ``complaintflow`` command."""
    app()
