"""A complaint change inside the host's own transaction: the host commits or rolls back,
and the library never commits, closes or disposes what the host handed in."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaintflow import (
    ComplaintNotFoundError,
    Engine,
    InvalidInputError,
    Notification,
    TriggerNotAllowedError,
)

from ._databases import Database
from ._support import AGENT, EngineFactory, InjectedCrash, dump, failing_statement, intake, outbox


@pytest.fixture
def host(database: Database) -> sa.Engine:
    """The host's own SQLAlchemy engine: plain, none of complaintflow's tuning."""
    return database.host_engine()


@pytest.fixture
def engine(make_engine: EngineFactory, host: sa.Engine) -> Engine:
    return make_engine(host)


@pytest.fixture
def tickets(host: sa.Engine, database: Database) -> sa.Table:
    """A table of the host's own, next to complaintflow's."""
    table = sa.Table(
        "host_tickets",
        sa.MetaData(schema=database.schema),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("complaint_id", sa.String(40)),
    )
    table.create(host)
    return table


@pytest.fixture
def session(host: sa.Engine) -> Iterator[Session]:
    with Session(host) as session:
        yield session


def _count(host: sa.Engine, table: sa.Table) -> int:
    with host.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_change_commits_when_the_host_commits(engine: Engine, session: Session) -> None:
    c = engine.bound(session).open(intake(), actor=AGENT)
    session.commit()
    assert engine.get(c.id).state == "received"


def test_a_change_is_undone_when_the_host_rolls_back(engine: Engine, session: Session) -> None:
    before = dump(engine)
    bound = engine.bound(session)
    c = bound.open(intake(), actor=AGENT)
    bound.fire(c.id, "acknowledge", actor=AGENT)
    session.rollback()
    assert dump(engine) == before


def test_the_host_sees_its_change_before_committing(engine: Engine, session: Session) -> None:
    bound = engine.bound(session)
    c = bound.open(intake(), actor=AGENT)
    bound.fire(c.id, "acknowledge", actor=AGENT)
    assert bound.get(c.id).state == "acknowledged"
    assert [r.trigger for r in bound.history(c.id) if r.kind == "transition"] == ["acknowledge"]


def test_an_uncommitted_change_is_invisible_outside_the_host_transaction(
    engine: Engine, session: Session
) -> None:
    c = engine.bound(session).open(intake(), actor=AGENT)
    with pytest.raises(ComplaintNotFoundError):
        engine.get(c.id)


def test_the_host_rows_and_the_complaint_commit_together(
    engine: Engine, session: Session, host: sa.Engine, tickets: sa.Table
) -> None:
    c = engine.bound(session).open(intake(), actor=AGENT)
    session.execute(sa.insert(tickets).values(id=1, complaint_id=c.id))
    session.commit()
    assert _count(host, tickets) == 1
    assert engine.get(c.id).version == 1


def test_the_host_rows_and_the_complaint_roll_back_together(
    engine: Engine, session: Session, host: sa.Engine, tickets: sa.Table
) -> None:
    session.execute(sa.insert(tickets).values(id=1, complaint_id="pending"))
    c = engine.bound(session).open(intake(), actor=AGENT)
    session.rollback()
    assert _count(host, tickets) == 0
    with pytest.raises(ComplaintNotFoundError):
        engine.get(c.id)


def test_a_refused_change_leaves_the_host_transaction_usable(
    engine: Engine, session: Session, host: sa.Engine, tickets: sa.Table
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    session.execute(sa.insert(tickets).values(id=1, complaint_id=cid))
    with pytest.raises(TriggerNotAllowedError):
        engine.bound(session).fire(cid, "resolve", actor=AGENT, data={"solution": "x"})
    session.commit()
    assert _count(host, tickets) == 1
    assert dump(engine) == before


def test_a_crash_in_the_middle_of_a_change_undoes_only_the_change(
    engine: Engine, session: Session, host: sa.Engine, tickets: sa.Table
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    before = dump(engine)
    session.execute(sa.insert(tickets).values(id=1, complaint_id=cid))
    with (
        failing_statement(engine, r"^\s*INSERT INTO \S*cf_audit_events") as log,
        pytest.raises(InjectedCrash),
    ):
        engine.bound(session).fire(cid, "acknowledge", actor=AGENT)
    assert log.saw(r"^\s*UPDATE \S*cf_complaints")
    session.commit()
    assert _count(host, tickets) == 1
    assert dump(engine) == before


def test_a_host_connection_can_be_bound_like_a_session(engine: Engine, host: sa.Engine) -> None:
    with host.connect() as conn:
        c = engine.bound(conn).open(intake(), actor=AGENT)
        conn.commit()
    assert engine.get(c.id).id == c.id


def test_the_bound_engine_leaves_the_host_session_open_and_in_its_transaction(
    engine: Engine, session: Session
) -> None:
    bound = engine.bound(session)
    bound.open(intake(), actor=AGENT)
    bound.close()
    assert session.in_transaction()
    assert session.execute(sa.text("SELECT 1")).scalar_one() == 1


def test_closing_the_engine_never_disposes_the_host_engine(engine: Engine, host: sa.Engine) -> None:
    engine.open(intake(), actor=AGENT)
    pool = host.pool
    engine.close()
    assert host.pool is pool  # dispose() would have replaced it
    assert pool.checkedin() >= 1


def test_closing_an_engine_made_from_a_url_disposes_its_own_pool(
    make_engine: EngineFactory,
) -> None:
    own = make_engine()
    own.open(intake(), actor=AGENT)
    store_engine = own.store.engine  # type: ignore[attr-defined]
    pool = store_engine.pool
    own.close()
    assert store_engine.pool is not pool


def test_notification_callbacks_wait_while_the_host_may_still_roll_back(
    make_engine: EngineFactory, host: sa.Engine, session: Session
) -> None:
    called: list[Notification] = []
    engine = make_engine(host, on_notify=called.append)
    engine.bound(session).open(intake(tier="severe"), actor=AGENT)
    session.commit()
    assert called == []
    assert [(n.role, n.kind) for n in outbox(engine)] == [("leadership", "notified")]


def test_notification_callbacks_run_after_an_own_commit(make_engine: EngineFactory) -> None:
    called: list[Notification] = []
    engine = make_engine(on_notify=called.append)
    c = engine.open(intake(tier="severe"), actor=AGENT)
    assert [(n.complaint_id, n.role, n.kind) for n in called] == [(c.id, "leadership", "notified")]


def test_only_a_connection_or_a_session_can_be_bound(engine: Engine) -> None:
    with pytest.raises(InvalidInputError, match="expected the host's SQLAlchemy Connection"):
        engine.bound("sqlite:///elsewhere.db")  # type: ignore[arg-type]


class _Events(logging.Handler):
    """The names of complaintflow's log events, as a host's handler receives them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        name = getattr(record, "complaintflow_event", None)
        if name is not None:
            self.names.append(name)

    def opened(self) -> int:
        return self.names.count("complaint.opened")


@pytest.fixture
def events() -> Iterator[_Events]:
    logger = logging.getLogger("complaintflow")
    handler = _Events()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_change_in_the_hosts_session_is_logged_when_the_host_commits(
    engine: Engine, session: Session, events: _Events
) -> None:
    engine.bound(session).open(intake(), actor=AGENT)
    assert events.opened() == 0  # the host may still roll it back
    session.commit()
    assert events.opened() == 1
    session.commit()  # a later commit does not log it again
    assert events.opened() == 1


def test_a_change_the_host_rolls_back_is_never_logged(
    engine: Engine, session: Session, events: _Events
) -> None:
    engine.bound(session).open(intake(), actor=AGENT)
    session.rollback()
    engine.bound(session).open(intake(object="another router"), actor=AGENT)
    session.commit()
    assert events.opened() == 1  # only the second


def test_a_change_in_a_savepoint_the_host_rolls_back_is_not_logged(
    engine: Engine, session: Session, events: _Events
) -> None:
    bound = engine.bound(session)
    bound.open(intake(), actor=AGENT)
    savepoint = session.begin_nested()
    bound.open(intake(object="another router"), actor=AGENT)
    savepoint.rollback()
    session.commit()
    assert events.opened() == 1
    assert len(engine.query().items) == 1


def test_a_change_in_a_session_closed_without_commit_is_not_logged(
    engine: Engine, host: sa.Engine, events: _Events
) -> None:
    with Session(host) as session:
        engine.bound(session).open(intake(), actor=AGENT)
    # the same session object, a new transaction
    session.commit()
    assert events.opened() == 0


def test_a_change_on_the_hosts_connection_is_logged_when_it_commits(
    engine: Engine, host: sa.Engine, events: _Events
) -> None:
    with host.connect() as conn:
        bound = engine.bound(conn)
        bound.open(intake(), actor=AGENT)
        conn.rollback()
        conn.begin()
        bound.open(intake(object="second router"), actor=AGENT)
        savepoint = conn.begin_nested()
        bound.open(intake(object="third router"), actor=AGENT)
        savepoint.rollback()
        assert events.opened() == 0
        conn.commit()
    assert events.opened() == 1
    assert len(engine.query().items) == 1
