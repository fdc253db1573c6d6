"""A change is written whole or not at all: a crash at any step leaves every table as it was.

The crash is injected at the SQL level (the statement raises before it reaches the
database), so these tests do not depend on how the store builds its statements.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from complaintflow import Engine, StoreError
from complaintflow.store import SqlStore

from ._databases import Database
from ._support import (
    AGENT,
    LEADER,
    OTHER_AGENT,
    EngineFactory,
    InjectedCrash,
    dump,
    failing_statement,
    intake,
    to_in_progress,
)

UPDATE_COMPLAINT = r"^\s*UPDATE \S*cf_complaints\b"
INSERT_COMPLAINT = r"^\s*INSERT INTO \S*cf_complaints\b"
INSERT_AUDIT = r"^\s*INSERT INTO \S*cf_audit_events\b"
INSERT_TIMER = r"^\s*INSERT INTO \S*cf_timers\b"
CANCEL_TIMER = r"^\s*UPDATE \S*cf_timers\b"
INSERT_OUTBOX = r"^\s*INSERT INTO \S*cf_outbox\b"
INSERT_CONTACT = r"^\s*INSERT INTO \S*cf_contacts\b"
INSERT_KEY = r"^\s*INSERT INTO \S*cf_idempotency_keys\b"


def test_a_crash_after_the_complaint_update_before_its_audit_record_writes_nothing(
    engine: Engine,
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    with failing_statement(engine, INSERT_AUDIT) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT)
    assert log.saw(UPDATE_COMPLAINT)
    assert dump(engine) == before


def test_a_crash_while_queueing_notifications_writes_nothing(engine: Engine) -> None:
    before = dump(engine)
    with failing_statement(engine, INSERT_OUTBOX) as log, pytest.raises(InjectedCrash):
        engine.open(intake(tier="urgent"), actor=AGENT)
    assert log.saw(INSERT_COMPLAINT)
    assert log.saw(INSERT_AUDIT)
    assert log.saw(INSERT_TIMER)
    assert dump(engine) == before


def test_a_crash_while_arming_timers_writes_nothing(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    before = dump(engine)
    with failing_statement(engine, INSERT_TIMER) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "classify", actor=AGENT, data={"tier": "minor", "category": "service"})
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_a_crash_while_cancelling_timers_writes_nothing(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    to_in_progress(engine, cid)
    before = dump(engine)
    with failing_statement(engine, CANCEL_TIMER) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "request_info", actor=AGENT)
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_a_crash_while_storing_the_idempotency_key_writes_nothing(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    with failing_statement(engine, INSERT_KEY) as log, pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_a_change_that_crashed_can_be_made_again_with_the_same_key(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    with failing_statement(engine, INSERT_KEY), pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    c = engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    assert (c.state, c.version) == ("acknowledged", 2)


def test_a_crash_while_joining_a_repeated_contact_leaves_no_contact(engine: Engine) -> None:
    engine.open(intake(), actor=AGENT)
    before = dump(engine)
    with failing_statement(engine, INSERT_AUDIT) as log, pytest.raises(InjectedCrash):
        engine.open(intake(channel="email"), actor=OTHER_AGENT)
    assert log.saw(INSERT_CONTACT)
    assert dump(engine) == before


def test_a_crash_in_the_middle_of_a_handover_hands_over_nothing(engine: Engine) -> None:
    for i in range(3):
        engine.open(intake(object=f"item {i}"), actor=AGENT)
    before = dump(engine)
    with (
        failing_statement(engine, UPDATE_COMPLAINT, skip=1) as log,
        pytest.raises(InjectedCrash),
    ):
        engine.handover("agent-li", OTHER_AGENT, actor=LEADER)
    assert log.saw(INSERT_AUDIT)
    assert dump(engine) == before


def test_the_engine_carries_on_after_a_crash(engine: Engine) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    with failing_statement(engine, INSERT_AUDIT), pytest.raises(InjectedCrash):
        engine.fire(cid, "acknowledge", actor=AGENT)
    c = engine.fire(cid, "acknowledge", actor=AGENT)
    assert (c.state, c.version) == ("acknowledged", 2)
    assert [r.trigger for r in engine.history(cid) if r.kind == "transition"] == ["acknowledge"]


# --- SQLite's driver path -----------------------------------------------------------------
# With nobody listening to the engine's execution events, the store runs its hot-path
# statements on SQLite's own cursor. The crash is then raised by the database itself: a
# trigger that fails when the statement reaches it.


def _fail_in_database(engine: Engine, table: str, when: str) -> None:
    store = engine.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        # the body names a table that does not exist: SQLite reports it when it runs
        conn.exec_driver_sql(
            f"CREATE TRIGGER crash_{table} {when} ON {table} "
            f"BEGIN SELECT * FROM no_such_table_injected_crash; END"
        )


def _runs_on_driver(engine: Engine) -> bool:
    store = engine.store
    assert isinstance(store, SqlStore)
    with store.transaction() as tx:
        return getattr(tx, "_cursor", None) is not None


@pytest.mark.parametrize(
    ("table", "when"),
    [
        ("cf_audit_events", "BEFORE INSERT"),
        ("cf_timers", "BEFORE UPDATE"),
        ("cf_outbox", "BEFORE INSERT"),
    ],
)
def test_on_sqlites_driver_path_a_failing_statement_writes_nothing(
    make_engine: EngineFactory, database: Database, table: str, when: str
) -> None:
    if database.backend != "sqlite":
        pytest.skip("the driver path is SQLite's")
    engine = make_engine()
    assert _runs_on_driver(engine)
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=AGENT)
    _fail_in_database(engine, table, when)
    before = dump(engine)
    with pytest.raises(StoreError, match="no_such_table_injected_crash"):
        # classify to urgent: an audit record, a timer cancelled, a notification queued
        engine.fire(cid, "classify", actor=AGENT, data={"tier": "urgent", "category": "service"})
    assert dump(engine) == before
    assert engine.get(cid).version == 2


def test_listening_to_execution_events_takes_the_store_off_the_driver_path(
    make_engine: EngineFactory, database: Database
) -> None:
    if database.backend != "sqlite":
        pytest.skip("the driver path is SQLite's")
    engine = make_engine()
    store = engine.store
    assert isinstance(store, SqlStore)
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        assert not _runs_on_driver(engine)
        engine.open(intake(), actor=AGENT)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    assert any(s.lstrip().startswith("INSERT INTO cf_complaints") for s in seen)
    # once the listener is gone, the store goes back to the driver
    assert _runs_on_driver(engine)
