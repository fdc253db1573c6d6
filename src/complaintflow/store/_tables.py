"""The SQL tables, built for a table prefix and schema chosen by the host."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA_REVISION = "0001"
"""The Alembic revision this version of the library needs."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else utc_from_db(value)


def utc_from_db(value: str | dt.datetime) -> dt.datetime:
    """A stored time as a timezone-aware UTC datetime (SQLite keeps naive UTC text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class Tables:
    """The tables of one store."""

    metadata: MetaData
    complaints: Table
    audit: Table
    contacts: Table
    timers: Table
    outbox: Table
    idempotency: Table
    prefix: str
    schema: str | None

    @property
    def version_table(self) -> str:
        """Alembic's version table, prefixed so it never meets the host's own."""
        return f"{self.prefix}alembic_version"


def build_tables(prefix: str = "cf_", schema: str | None = None) -> Tables:
    """The table definitions for ``prefix`` (e.g. ``cf_``) in ``schema``."""
    md = MetaData(schema=schema)
    p = prefix
    complaints = Table(
        f"{p}complaints",
        md,
        Column("id", String(40), primary_key=True),
        Column("workflow", String(120), nullable=False),
        Column("state", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("owner", String(200), nullable=False),
        Column("owner_role", String(64), nullable=False),
        Column("assignee_role", String(64)),
        Column("tier", String(64)),
        Column("category", String(100)),
        Column("channel", String(32), nullable=False),
        Column("escalation_level", Integer, nullable=False, default=0),
        Column("reopen_count", Integer, nullable=False, default=0),
        Column("contact_count", Integer, nullable=False, default=1),
        Column("customer_ref", String(200)),
        Column("dedup_key", String(64)),
        Column("open_dedup_key", String(64)),
        Column("is_open", Boolean, nullable=False),
        Column("opened_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("closed_at", UTCDateTime),
        Column("intake", JSONType, nullable=False),
        Column("facts", JSONType, nullable=False),
        Column("clocks", JSONType, nullable=False),
        Index(f"ix_{p}complaints_state_tier", "state", "tier"),
        Index(f"ix_{p}complaints_owner_open", "owner", "is_open"),
        Index(f"ix_{p}complaints_customer", "customer_ref"),
        Index(f"ix_{p}complaints_opened", "opened_at", "id"),
        Index(f"ix_{p}complaints_updated", "updated_at"),
        Index(f"ux_{p}complaints_open_dedup", "workflow", "open_dedup_key", unique=True),
    )
    audit = Table(
        f"{p}audit_events",
        md,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("complaint_id", String(40), nullable=False),
        Column("version", Integer, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("role", String(64), nullable=False),
        Column("trigger", String(64)),
        Column("from_state", String(64)),
        Column("to_state", String(64)),
        Column("data", JSONType, nullable=False),
        Column("correlation_id", String(200)),
        Column("idempotency_key", String(200)),
        Index(f"ux_{p}audit_complaint_version", "complaint_id", "version", "seq", unique=True),
        Index(f"ix_{p}audit_at", "at"),
    )
    contacts = Table(
        f"{p}contacts",
        md,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("complaint_id", String(40), nullable=False, index=True),
        Column("at", UTCDateTime, nullable=False),
        Column("channel", String(32), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("details", JSONType, nullable=False),
    )
    timers = Table(
        f"{p}timers",
        md,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("complaint_id", String(40), nullable=False),
        Column("clock", String(64), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("threshold", Float),
        Column("sequence", Integer, nullable=False),
        Column("due_at", UTCDateTime, nullable=False),
        Column("status", String(16), nullable=False),
        Column("lease_owner", String(200)),
        Column("lease_until", UTCDateTime),
        Column("fired_at", UTCDateTime),
        Column("created_at", UTCDateTime, nullable=False),
        Index(f"ix_{p}timers_complaint", "complaint_id", "status"),
        Index(f"ix_{p}timers_due", "status", "due_at"),
    )
    outbox = Table(
        f"{p}outbox",
        md,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("complaint_id", String(40), nullable=False, index=True),
        Column("role", String(64), nullable=False),
        Column("kind", String(64), nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("payload", JSONType, nullable=False),
        Column("delivered_at", UTCDateTime),
        Column("attempts", Integer, nullable=False, default=0),
        Index(f"ix_{p}outbox_pending", "delivered_at", "id"),
    )
    idempotency = Table(
        f"{p}idempotency_keys",
        md,
        Column("key", String(200), primary_key=True),
        Column("operation", String(32), nullable=False),
        Column("complaint_id", String(40), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("result", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
    )
    return Tables(md, complaints, audit, contacts, timers, outbox, idempotency, prefix, schema)
