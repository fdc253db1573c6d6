"""Shared fixtures: paths, the real PostgreSQL server, SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ENV = "COMPLAINTFLOW_TEST_POSTGRES_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the real PostgreSQL server; skips (or fails under CI=true) without one."""
    url = os.environ.get(PG_ENV)
    if not url:
        reason = (
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
        )
        if _in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # any driver failure means "no server here"
        reason = f"PostgreSQL at {PG_ENV} is not reachable: {type(exc).__name__}: {exc}"
        if _in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def workflows_dir() -> Path:
    return WORKFLOWS
