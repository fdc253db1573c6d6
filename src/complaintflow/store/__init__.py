"""Stores: where complaints live. ``SqlStore`` runs on SQLite and PostgreSQL."""

from complaintflow.store._engines import create_sql_engine
from complaintflow.store._migrate import downgrade, upgrade
from complaintflow.store._port import (
    ClaimedTimer,
    OutboxMessage,
    Page,
    QueryFilter,
    Store,
    StoredIdempotency,
    StoreTransaction,
)
from complaintflow.store._sql import SqlStore
from complaintflow.store._tables import SCHEMA_REVISION, Tables, build_tables

__all__ = [
    "SCHEMA_REVISION",
    "ClaimedTimer",
    "OutboxMessage",
    "Page",
    "QueryFilter",
    "SqlStore",
    "Store",
    "StoreTransaction",
    "StoredIdempotency",
    "Tables",
    "build_tables",
    "create_sql_engine",
    "downgrade",
    "upgrade",
]
