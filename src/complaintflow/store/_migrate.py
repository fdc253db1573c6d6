"""Applying the packaged Alembic migrations to a database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, exc
from sqlalchemy.schema import CreateSchema

from complaintflow.exceptions import StoreError
from complaintflow.store._tables import Tables

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_error() -> type[Exception]:
    # alembic is imported on first use: it costs ~0.4 s at import, and most
    # processes (CLI calls, web workers) never migrate
    from alembic.util.exc import CommandError

    return CommandError


def _config(connection: Connection, tables: Tables) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["tables"] = tables
    return config


def upgrade(engine: Engine, tables: Tables, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    try:
        _upgrade(engine, tables, revision)
    except (exc.SQLAlchemyError, _alembic_error()) as error:
        detail = getattr(error, "orig", None) or error
        raise StoreError(f"cannot migrate the database: {detail}") from error


def _upgrade(engine: Engine, tables: Tables, revision: str) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.info["complaintflow_begin"] = "BEGIN IMMEDIATE"
        with connection.begin():
            if tables.schema and engine.dialect.name == "postgresql":
                # alembic creates its version table before the first revision runs
                connection.execute(CreateSchema(tables.schema, if_not_exists=True))
            from alembic import command

            command.upgrade(_config(connection, tables), revision)


def downgrade(engine: Engine, tables: Tables, revision: str) -> None:
    """Take the database back to ``revision`` (``base`` removes every table).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    try:
        with engine.connect() as connection, connection.begin():
            from alembic import command

            command.downgrade(_config(connection, tables), revision)
    except (exc.SQLAlchemyError, _alembic_error()) as error:
        detail = getattr(error, "orig", None) or error
        raise StoreError(f"cannot migrate the database: {detail}") from error
