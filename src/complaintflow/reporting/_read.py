"""Reading complaints and their audit trails in chunks, never the whole table at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import DBAPIError

from complaintflow.core._records import AuditRecord
from complaintflow.exceptions import StoreError
from complaintflow.store._codec import audit_from_row
from complaintflow.store._sql import SqlStore


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    """What a report needs of a complaint row: how to group it (never its intake)."""

    id: str
    workflow: str
    tier: str | None
    category: str | None
    channel: str
    owner: str
    owner_role: str
    opened_at: dt.datetime


def iter_histories(
    store: SqlStore,
    *,
    since: dt.datetime,
    until: dt.datetime,
    chunk_size: int = 500,
) -> Iterator[tuple[ComplaintRow, list[AuditRecord]]]:
    """Each complaint received in ``[since, until)`` with its audit trail, oldest first.

    Complaints are read ``chunk_size`` at a time in (``opened_at``, ``id``) order, which
    the complaints table indexes; the audit records of a chunk are read in one query,
    ordered by complaint, version and sequence. Memory stays bounded by one chunk.

    Raises:
        StoreError: the database failed.
    """
    c = store.tables.complaints.c
    a = store.tables.audit.c
    columns = (c.id, c.workflow, c.tier, c.category, c.channel, c.owner, c.owner_role)
    last: tuple[dt.datetime, str] | None = None
    try:
        with store.engine.connect() as conn:
            while True:
                stmt = select(*columns, c.opened_at).where(
                    c.opened_at >= since, c.opened_at < until
                )
                if last is not None:
                    stmt = stmt.where(
                        or_(c.opened_at > last[0], and_(c.opened_at == last[0], c.id > last[1]))
                    )
                stmt = stmt.order_by(c.opened_at, c.id).limit(chunk_size)
                rows = [ComplaintRow(*r) for r in conn.execute(stmt)]
                if not rows:
                    return
                trails: dict[str, list[AuditRecord]] = {r.id: [] for r in rows}
                audit = (
                    select(store.tables.audit)
                    .where(a.complaint_id.in_(list(trails)))
                    .order_by(a.complaint_id, a.version, a.seq)
                )
                for record in conn.execute(audit).mappings():
                    trails[record["complaint_id"]].append(audit_from_row(record))
                for row in rows:
                    yield row, trails[row.id]
                if len(rows) < chunk_size:
                    return
                last = (rows[-1].opened_at, rows[-1].id)
    except DBAPIError as error:
        raise StoreError(f"database error while reading for a report: {error.orig}") from error
