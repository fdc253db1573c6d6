"""Complaint snapshots to table rows and back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from complaintflow.core._records import AuditRecord, ClockState, Complaint, Intake


def remember_last(convert: Callable[[Any], str]) -> Callable[[Any], str]:
    """``convert`` remembering its last argument (by identity) and result: a change, or
    a sweep batch, writes its one "now" into many columns and rows."""
    last: list[tuple[object, str]] = [(object(), "")]  # one cell, replaced whole

    def remembered(value: Any) -> str:
        seen, text = last[0]
        if value is seen:
            return text
        text = convert(value)
        last[0] = (value, text)
        return text

    return remembered


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value is not None else None


# A clock decoded from a row, by id, with the JSON it came from: a change leaves most
# clocks as they were, and writing one of those back needs no encoding. The clock is
# kept with its JSON so its id cannot be reused while the entry lives; the map is
# emptied when it grows past _DECODED_MAX (memory stays bounded).
_DECODED: dict[int, tuple[ClockState, dict[str, Any]]] = {}
_DECODED_MAX = 4096


def clocks_to_json(clocks: tuple[ClockState, ...]) -> list[dict[str, Any]]:
    items = []
    for k in clocks:
        known = _DECODED.get(id(k))
        items.append(known[1] if known is not None and known[0] is k else _clock_to_json(k))
    return items


def _clock_to_json(k: ClockState) -> dict[str, Any]:
    return {
        "name": k.name,
        "status": k.status,
        "started_at": _iso(k.started_at),
        "resumed_at": _iso(k.resumed_at),
        "accrued_wall": k.accrued_wall,
        "accrued_business": k.accrued_business,
        "target": k.target,
        "business": k.business,
        "target_seconds": k.target_seconds,
        "deadline": _iso(k.deadline),
        "fired": k.fired,
        "breached_at": _iso(k.breached_at),
        "stopped_at": _iso(k.stopped_at),
    }


def clocks_from_json(items: list[dict[str, Any]]) -> tuple[ClockState, ...]:
    clocks = tuple(_clock_from_json(item) for item in items)
    if len(_DECODED) > _DECODED_MAX:
        _DECODED.clear()
    for clock, item in zip(clocks, items, strict=True):
        _DECODED[id(clock)] = (clock, item)
    return clocks


def _clock_from_json(k: dict[str, Any]) -> ClockState:
    return ClockState(
        name=k["name"],
        status=k["status"],
        started_at=dt.datetime.fromisoformat(k["started_at"]),
        resumed_at=_time(k.get("resumed_at")),
        accrued_wall=k.get("accrued_wall", 0.0),
        accrued_business=k.get("accrued_business", 0.0),
        target=k.get("target"),
        business=k.get("business", False),
        target_seconds=k.get("target_seconds"),
        deadline=_time(k.get("deadline")),
        fired=k.get("fired", 0),
        breached_at=_time(k.get("breached_at")),
        stopped_at=_time(k.get("stopped_at")),
    )


IMMUTABLE_COLUMNS = frozenset(
    {"id", "workflow", "channel", "customer_ref", "dedup_key", "opened_at", "intake"}
)
"""Columns written once, when a complaint is opened."""


def complaint_to_row(c: Complaint, *, changes_only: bool = False) -> dict[str, Any]:
    """The row of ``c``; a complaint is open until it has a ``closed_at``.

    With ``changes_only`` the columns that never change after opening are left out
    (except ``id``), which spares serialising the intake on every event.
    """
    is_final = c.closed_at is not None
    row = {
        "id": c.id,
        "state": c.state,
        "version": c.version,
        "owner": c.owner,
        "owner_role": c.owner_role,
        "assignee_role": c.assignee_role,
        "tier": c.tier,
        "category": c.category,
        "escalation_level": c.escalation_level,
        "reopen_count": c.reopen_count,
        "contact_count": c.contact_count,
        "open_dedup_key": None if is_final else c.dedup_key,
        "is_open": not is_final,
        "updated_at": c.updated_at,
        "closed_at": c.closed_at,
        "facts": c.facts,
        "clocks": clocks_to_json(c.clocks),
    }
    if not changes_only:  # the IMMUTABLE_COLUMNS
        row["workflow"] = c.workflow
        row["channel"] = c.channel
        row["customer_ref"] = c.customer_ref
        row["dedup_key"] = c.dedup_key
        row["opened_at"] = c.opened_at
        row["intake"] = c.intake.model_dump(mode="json")
    return row


def _trusted_intake(raw: Mapping[str, Any]) -> Intake:
    # our own rows were validated when the complaint was opened
    values = dict(raw)
    received = values.get("received_at")
    if isinstance(received, str):
        values["received_at"] = dt.datetime.fromisoformat(received)
    values.setdefault("extra", {})
    return Intake.model_construct(**values)


def complaint_from_row(row: Mapping[Any, Any]) -> Complaint:
    return Complaint(
        id=row["id"],
        workflow=row["workflow"],
        state=row["state"],
        version=row["version"],
        owner=row["owner"],
        owner_role=row["owner_role"],
        opened_at=row["opened_at"],
        updated_at=row["updated_at"],
        intake=_trusted_intake(row["intake"]),
        channel=row["channel"],
        tier=row["tier"],
        category=row["category"],
        assignee_role=row["assignee_role"],
        escalation_level=row["escalation_level"],
        reopen_count=row["reopen_count"],
        contact_count=row["contact_count"],
        customer_ref=row["customer_ref"],
        dedup_key=row["dedup_key"],
        closed_at=row["closed_at"],
        facts=dict(row["facts"] or {}),
        clocks=clocks_from_json(list(row["clocks"] or [])),
    )


def audit_to_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "complaint_id": record.complaint_id,
        "version": record.version,
        "seq": record.seq,
        "at": record.at,
        "kind": record.kind,
        "actor": record.actor,
        "role": record.role,
        "trigger": record.trigger,
        "from_state": record.from_state,
        "to_state": record.to_state,
        "data": record.data,
        "correlation_id": record.correlation_id,
        "idempotency_key": record.idempotency_key,
    }


def audit_from_row(row: Mapping[Any, Any]) -> AuditRecord:
    return AuditRecord(
        complaint_id=row["complaint_id"],
        version=row["version"],
        seq=row["seq"],
        at=row["at"],
        kind=row["kind"],
        actor=row["actor"],
        role=row["role"],
        trigger=row["trigger"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        data=dict(row["data"] or {}),
        correlation_id=row["correlation_id"],
        idempotency_key=row["idempotency_key"],
    )


_ROW_TIMES = ("opened_at", "updated_at", "closed_at")


def encode_complaint(c: Complaint) -> str:
    """A complaint as JSON text (for idempotent replies)."""
    row = complaint_to_row(c)
    for key in _ROW_TIMES:
        row[key] = _iso(row[key])
    return json.dumps(row, sort_keys=True)


def decode_complaint(text: str) -> Complaint:
    """The complaint :func:`encode_complaint` wrote."""
    row = json.loads(text)
    for key in _ROW_TIMES:
        row[key] = _time(row[key])
    return complaint_from_row(row)
