"""Helpers of the engine tests: people, intake records full of personal data, table dumps."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from complaintflow import Actor, Complaint, Engine, Notification
from complaintflow.store import SqlStore

EngineFactory = Callable[..., Engine]
"""The ``make_engine`` fixture: an engine on the test's database; options as ``from_url``."""

AGENT = Actor("agent-li", "agent")
OTHER_AGENT = Actor("agent-chen", "agent")
LEADER = Actor("leader-wang", "group_leader")
SUPERVISOR = Actor("supervisor-zhou", "supervisor")
TECH = Actor("tech-sun", "tech_support")
MANAGER = Actor("manager-zhao", "manager")

# personal data that must never reach a log line
NAME = "Zhang Wei"
PHONE = "+86 139 1234 5678"
EMAIL = "zhang.wei@example.com"
ADDRESS = "12 Garden Road, Room 301, Chaoyang District"
DEMAND = "replace the router and refund the January fee"
REASON = "the router drops the connection every evening"


def intake(**changes: Any) -> dict[str, Any]:
    """An intake record as a host hands it in; ``changes`` override fields."""
    record: dict[str, Any] = {
        "customer_name": NAME,
        "customer_contact": PHONE,
        "channel": "phone",
        "place": ADDRESS,
        "object": "router X200",
        "reason": REASON,
        "demand": DEMAND,
        "customer_ref": "CUST-0042",
    }
    record.update(changes)
    return record


def to_in_progress(
    engine: Engine, complaint_id: str, *, tier: str = "minor", category: str = "technical"
) -> Complaint:
    """Acknowledge, classify and start handling a received complaint."""
    engine.fire(complaint_id, "acknowledge", actor=AGENT)
    engine.fire(complaint_id, "classify", actor=AGENT, data={"tier": tier, "category": category})
    return engine.fire(complaint_id, "start_handling", actor=AGENT)


def to_awaiting_feedback(engine: Engine, complaint_id: str) -> Complaint:
    """Run a received complaint to the point where the customer is asked for an opinion."""
    to_in_progress(engine, complaint_id)
    engine.fire(complaint_id, "resolve", actor=AGENT, data={"solution": "replaced the router"})
    return engine.fire(
        complaint_id,
        "send_result",
        actor=AGENT,
        data={"channel": "phone", "said": "router replaced"},
    )


def to_closed(engine: Engine, complaint_id: str) -> Complaint:
    to_awaiting_feedback(engine, complaint_id)
    return engine.fire(complaint_id, "customer_satisfied", actor=AGENT, data={"score": 5})


def outbox(engine: Engine) -> list[Notification]:
    return [m.notification for m in engine.outbox(limit=1000)]


Dump = dict[str, list[dict[str, Any]]]


def dump(engine: Engine) -> Dump:
    """Every row of every complaintflow table, in primary-key order."""
    store = engine.store
    assert isinstance(store, SqlStore)
    t = store.tables
    result: Dump = {}
    with store.engine.connect() as conn:
        for table in (t.complaints, t.audit, t.contacts, t.timers, t.outbox, t.idempotency):
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            result[table.name] = [row._asdict() for row in rows]
    return result


@dataclass
class StatementLog:
    """The SQL statements run while a :func:`failing_statement` was armed."""

    statements: list[str]

    def saw(self, pattern: str) -> bool:
        return any(re.search(pattern, s, re.IGNORECASE) for s in self.statements)


class InjectedCrash(RuntimeError):
    """The failure a test injects in the middle of a change."""


@contextmanager
def failing_statement(engine: Engine, pattern: str, *, skip: int = 0) -> Iterator[StatementLog]:
    """Make the SQL statement matching ``pattern`` (after ``skip`` matching ones ran)
    raise :class:`InjectedCrash`, as if the process died there; every statement run
    before it is logged."""
    store = engine.store
    assert isinstance(store, SqlStore)
    log = StatementLog([])
    matches = 0

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal matches
        if re.search(pattern, statement, re.IGNORECASE | re.DOTALL):
            matches += 1
            if matches > skip:
                raise InjectedCrash(f"crash before {' '.join(statement.split()[:3])}")
        log.statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", before)
