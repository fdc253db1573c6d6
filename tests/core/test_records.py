"""The records' copy-with-changes (``evolve``) against ``dataclasses.replace``."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaintflow.core._records import AuditRecord, ClockState, Complaint, Intake, evolve

AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
BASE = Complaint(
    id="c-1",
    workflow="standard@1",
    state="received",
    version=1,
    owner="agent-1",
    owner_role="agent",
    opened_at=AT,
    updated_at=AT,
    intake=Intake.model_construct(customer_name="x", channel="phone", extra={}),
    channel="phone",
    clocks=(ClockState(name="respond", status="running", started_at=AT, resumed_at=AT),),
)

changes = st.fixed_dictionaries(
    {},
    optional={
        "state": st.sampled_from(["acknowledged", "classified", "closed"]),
        "version": st.integers(1, 10**6),
        "tier": st.none() | st.sampled_from(["minor", "urgent"]),
        "escalation_level": st.integers(0, 5),
        "updated_at": st.datetimes(timezones=st.just(dt.UTC)),
        "facts": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    },
)


@given(changes)
def test_evolve_gives_what_dataclasses_replace_gives(values: dict[str, object]) -> None:
    made = evolve(BASE, **values)
    assert made == dataclasses.replace(BASE, **values)  # type: ignore[arg-type]
    assert made is not BASE
    assert BASE.version == 1  # the original is untouched


def test_evolve_copies_a_clock_state() -> None:
    clock = BASE.clocks[0]
    stopped = evolve(clock, status="stopped", stopped_at=AT)
    assert stopped == dataclasses.replace(clock, status="stopped", stopped_at=AT)
    assert clock.status == "running"


def test_evolve_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(TypeError, match="Complaint has no field"):
        evolve(BASE, stat="closed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        evolve(BASE).state = "closed"  # type: ignore[misc]


def test_evolve_copies_a_slotted_record_field_by_field() -> None:
    record = AuditRecord(
        complaint_id="c-1",
        version=2,
        seq=0,
        at=AT,
        kind="transition",
        actor="agent-1",
        role="agent",
        trigger="acknowledge",
        from_state="received",
        to_state="acknowledged",
        data={},
        correlation_id=None,
        idempotency_key=None,
    )
    assert evolve(record, seq=1) == dataclasses.replace(record, seq=1)
    with pytest.raises(TypeError, match="AuditRecord has no field"):
        evolve(record, sequence=1)
