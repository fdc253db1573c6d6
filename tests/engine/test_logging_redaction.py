"""Every change is a structured log event; personal data never reaches a log line."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from complaintflow import Engine, FakeClock, InvalidInputError, Notification
from complaintflow._logging import redact, scrub

from ._support import (
    ADDRESS,
    AGENT,
    DEMAND,
    EMAIL,
    LEADER,
    NAME,
    OTHER_AGENT,
    PHONE,
    REASON,
    EngineFactory,
    intake,
)

# free text a customer or an agent wrote: none of it may be logged
SECRETS = [
    NAME,
    PHONE,
    "139 1234 5678",
    EMAIL,
    ADDRESS,
    "Garden Road",
    DEMAND,
    REASON,
    "Li Na",
    "li.na@example.org",
    "+86 138 0000 1111",
    "the router was thrown out of the window",
    "spoke to Mr Zhang at 8 Lotus Lane",
    "firmware 2.1 installed by hand",
    "refund of 199 yuan to card 6222 0212 3456 7890",
    "still angry, will call the newspaper",
    "Mrs Zhang says thank you",
    "customer moved to 55 Harbour Street",
    "works fine now says Zhang Wei",
]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        """Everything a handler could write: the message, its arguments and extras."""
        return "\n".join(f"{r.getMessage()} {r.args!r} {vars(r)!r}" for r in self.records)


@pytest.fixture
def logged() -> Iterator[_Records]:
    """Every stdlib log record at DEBUG and above, as a host logging everything sees it."""
    root = logging.getLogger()
    handler = _Records()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _events(handler: _Records) -> list[tuple[str, dict[str, object]]]:
    return [
        (r.complaintflow_event, r.complaintflow)  # type: ignore[attr-defined]
        for r in handler.records
        if hasattr(r, "complaintflow_event")
    ]


def _scenario(engine: Engine, clock: FakeClock) -> None:
    """A complaint's whole life, and a second one, with personal data everywhere."""
    cid = engine.open(
        intake(extra={"household": "Li Na, li.na@example.org, +86 138 0000 1111"}),
        actor=AGENT,
        correlation_id="req-1",
    ).id
    repeated = intake(channel="email", reason="the router was thrown out of the window")
    engine.open(repeated, actor=OTHER_AGENT)
    engine.fire(cid, "add_note", actor=AGENT, data={"note": "spoke to Mr Zhang at 8 Lotus Lane"})
    engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")
    engine.fire(cid, "acknowledge", actor=AGENT, idempotency_key="ack")  # a replay
    engine.fire(cid, "classify", actor=AGENT, data={"tier": "severe", "category": "technical"})
    engine.fire(cid, "start_handling", actor=AGENT)
    engine.fire(cid, "request_info", actor=AGENT, data={"question": f"is {EMAIL} still yours?"})
    engine.fire(cid, "customer_replied", actor=AGENT, data={"answer": ADDRESS})
    engine.fire(cid, "resolve", actor=AGENT, data={"solution": "firmware 2.1 installed by hand"})
    engine.fire(
        cid,
        "send_result",
        actor=AGENT,
        data={"channel": "phone", "said": "refund of 199 yuan to card 6222 0212 3456 7890"},
    )
    engine.fire(
        cid,
        "customer_unsatisfied",
        actor=AGENT,
        data={"score": 2, "comment": "still angry, will call the newspaper"},
    )
    engine.transfer(cid, OTHER_AGENT, actor=LEADER, note=f"{NAME} asked for someone else, {PHONE}")
    engine.fire(cid, "start_handling", actor=OTHER_AGENT)
    engine.fire(cid, "resolve", actor=OTHER_AGENT, data={"solution": DEMAND})
    engine.fire(cid, "send_result", actor=OTHER_AGENT, data={"channel": "sms", "said": REASON})
    engine.fire(
        cid,
        "customer_satisfied",
        actor=OTHER_AGENT,
        data={"score": 5, "comment": "Mrs Zhang says thank you"},
    )
    engine.record_survey(cid, score=5, actor=AGENT, comment="customer moved to 55 Harbour Street")
    engine.fire(
        cid, "record_return_visit", actor=AGENT, data={"outcome": "works fine now says Zhang Wei"}
    )
    other = engine.open(intake(object="modem", tier="urgent"), actor=AGENT).id
    engine.handover("agent-li", OTHER_AGENT, actor=LEADER, note=f"call {NAME} on {PHONE}")
    engine.fire(other, "withdraw", actor=OTHER_AGENT, data={"reason": DEMAND})
    with pytest.raises(InvalidInputError):
        engine.fire(other, "add_note", actor=AGENT, data={"note": {NAME}})
    # left alone: its clocks warn, breach and escalate
    engine.open(intake(object="set-top box", customer_contact=EMAIL), actor=AGENT)
    clock.advance(dt.timedelta(days=40))
    engine.run_due_timers()


def test_a_scenario_full_of_personal_data_logs_none_of_it(
    make_engine: EngineFactory,
    clock: FakeClock,
    logged: _Records,
    capfd: pytest.CaptureFixture[str],
) -> None:
    def failing_callback(_notification: Notification) -> None:
        raise RuntimeError(f"mail to {EMAIL} bounced")

    engine = make_engine(on_notify=failing_callback)
    with capture_logs() as structlog_events:
        _scenario(engine, clock)
    out, err = capfd.readouterr()
    everything = "\n".join([logged.text(), repr(structlog_events), out, err])

    events = {name for name, _ in _events(logged)}
    assert {
        "complaint.opened",
        "complaint.contact_recorded",
        "complaint.transitioned",
        "complaint.transferred",
        "complaint.escalated",
        "clock.started",
        "notification.callback_failed",
        "timer.fired",
    } <= events
    leaked = [secret for secret in SECRETS if secret in everything]
    assert leaked == []


def test_every_change_is_one_structured_event_with_its_facts(
    engine: Engine, logged: _Records
) -> None:
    cid = engine.open(intake(), actor=AGENT).id
    engine.fire(cid, "acknowledge", actor=LEADER, correlation_id="req-42")
    transitions = [e for name, e in _events(logged) if name == "complaint.transitioned"]
    assert transitions == [
        {
            "complaint_id": cid,
            "workflow": "standard-complaint@1",
            "trigger": "acknowledge",
            "from_state": "received",
            "to_state": "acknowledged",
            "actor": "leader-wang",
            "role": "group_leader",
            "version": 2,
            "correlation_id": "req-42",
            "clock": None,
        }
    ]


def test_events_go_to_the_complaintflow_loggers_of_the_host(
    engine: Engine, logged: _Records
) -> None:
    engine.open(intake(), actor=AGENT)
    names = {r.name for r in logged.records if hasattr(r, "complaintflow_event")}
    assert names == {"complaintflow.engine"}


def test_the_hosts_log_level_decides_what_is_logged(engine: Engine, logged: _Records) -> None:
    library = logging.getLogger("complaintflow")
    library.setLevel(logging.WARNING)
    try:
        engine.open(intake(), actor=AGENT)
    finally:
        library.setLevel(logging.NOTSET)
    assert _events(logged) == []


def test_sql_logging_turned_on_by_the_host_hides_the_parameters(
    engine: Engine, logged: _Records
) -> None:
    sql = logging.getLogger("sqlalchemy.engine")
    sql.setLevel(logging.INFO)
    try:
        engine.open(intake(), actor=AGENT)
    finally:
        sql.setLevel(logging.NOTSET)
    assert any(r.name.startswith("sqlalchemy.engine") for r in logged.records)
    assert [s for s in SECRETS if s in logged.text()] == []


def test_the_redaction_processor_masks_personal_keys_and_contact_details() -> None:
    event = {
        "event": "x.happened",
        "customer_name": NAME,
        "note": "anything",
        "detail": f"write to {EMAIL} or call {PHONE}",
        "payload": {"reason": REASON},
        "complaint_id": "C-01KE5Y3X80A6YB4FH1MF",
    }
    assert redact(None, "info", event) == {
        "event": "x.happened",
        "customer_name": "[redacted]",
        "note": "[redacted]",
        "detail": "write to [redacted] or call [redacted]",
        "payload": "[redacted]",
        "complaint_id": "C-01KE5Y3X80A6YB4FH1MF",
    }


def test_scrubbing_keeps_ids_and_times_intact() -> None:
    text = "complaint C-01KE5Y3X80A6YB4FH1MF at 2026-01-05T10:00:00+00:00 version 12"
    assert scrub(text) == text
