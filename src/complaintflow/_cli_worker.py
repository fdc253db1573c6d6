"""``complaintflow worker``: a process that fires due timers until it is told to stop.

Run one or more of them next to the host application (several hosts may share one
PostgreSQL). SIGTERM or SIGINT stops the process cleanly: the batch being fired
commits (or rolls back) and the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from complaintflow._logging import scrub
from complaintflow.exceptions import ComplaintflowError


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LogfmtFormatter(logging.Formatter):
    """One ``key=value`` line per record: ``ts``, ``level``, ``logger``, ``event``, context.

    The library's own records carry their event name and context as attributes, already
    redacted (see ``complaintflow._logging``); other records become
    ``event=log msg="..."`` with e-mail addresses and phone numbers masked.
    """

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
        pairs: dict[str, Any] = {
            "ts": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        event = getattr(record, "complaintflow_event", None)
        if event is not None:
            pairs["event"] = event
            context = getattr(record, "complaintflow", {})
            pairs.update({k: v for k, v in context.items() if v is not None})
        else:
            # not ours (APScheduler, SQLAlchemy): masked as a second line of defence
            pairs["event"] = "log"
            pairs["msg"] = scrub(record.getMessage())
        if record.exc_info:
            pairs["exc"] = scrub(self.formatException(record.exc_info))
        return " ".join(f"{key}={_value(value)}" for key, value in pairs.items())


def _value(value: object) -> str:
    text = str(value)
    if not text or any(ch.isspace() or ch in '"=' for ch in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure_logging(level: str) -> None:
    """Structured lines to stderr at ``level``; the scheduler's chatter stays at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    if logging.getLevelName(level) > logging.DEBUG:
        # APScheduler logs every run of the sweeper job at INFO
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def worker(
    url: Annotated[
        str,
        typer.Argument(
            help="Database URL: sqlite:///complaints.db or postgresql://user@host/db.",
            show_default=False,
        ),
    ],
    workflows: Annotated[
        Path,
        typer.Option(
            "--workflows",
            help="Workflow file or folder (the workflows the complaints follow).",
            exists=True,
            show_default=False,
        ),
    ],
    table_prefix: Annotated[
        str, typer.Option("--table-prefix", help="Prefix of complaintflow's tables.")
    ] = "cf_",
    schema: Annotated[
        str | None, typer.Option("--schema", help="Database schema holding the tables.")
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            max=10_000,
            help="Timers fired per transaction (default: 500 on PostgreSQL, 200 on SQLite).",
            show_default=False,
        ),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            min=0.1,
            help="Seconds a claim lasts; timers of a dead worker are taken over after it.",
        ),
    ] = 60.0,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.05,
            help="Longest sleep in seconds between sweeps (timers armed elsewhere).",
        ),
    ] = 5.0,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            max=16,
            help="Sweepers side by side in this process (default: 2 on PostgreSQL, 1 on SQLite).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", case_sensitive=False, help="Log level.")
    ] = LogLevel.INFO,
) -> None:
    """Fire due timers (warnings, escalations) until SIGTERM or SIGINT; exit 0 when stopped."""
    configure_logging(log_level.value)
    from complaintflow.engine._engine import Engine

    try:
        engine = Engine.from_url(
            url,
            workflows=workflows,
            migrate=False,
            table_prefix=table_prefix,
            schema=schema,
        )
    except ComplaintflowError as exc:
        raise _fail(str(exc)) from exc
    try:
        process = engine.worker(
            safety_interval=dt.timedelta(seconds=interval),
            batch_size=batch_size,
            lease=dt.timedelta(seconds=lease),
            threads=threads,
        )
        # this process's start-up heap (modules, workflows, calendars) lives as long as
        # the process: frozen, full garbage collections stop walking it after every
        # batch (about 6% of a busy sweeper's time in docs/performance.md)
        gc.freeze()
        process.run_forever()
    finally:
        engine.close()


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``complaintflow`` command line."""
    app.command("worker")(worker)
