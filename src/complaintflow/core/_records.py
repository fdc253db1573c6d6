"""The records of the domain: intake, actor, complaint snapshot, audit record, timers, outbox.

Snapshots are frozen; a change produces new ones with ``dataclasses.replace``.
Only the intake is a pydantic model: it is what a host hands in from the outside.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from complaintflow._json import dumps

Channel = Literal["phone", "email", "online", "chat", "on_site", "letter", "social", "other"]
"""How a complaint came in (DOMAIN.md §1)."""

Text = Annotated[str, StringConstraints(max_length=10_000)]

MAX_JSON_CHARS = 100_000
"""The largest event ``data`` (or intake ``extra``) accepted, as JSON text."""
MAX_JSON_DEPTH = 32


def plain_json(value: Mapping[Any, Any]) -> dict[str, Any]:
    """``value`` as plain JSON data: a fresh dict equal to what the store gives back.

    Plain JSON data is mappings with string keys, lists, str, int, finite float, bool and
    ``None``, nested at most ``MAX_JSON_DEPTH`` deep and at most ``MAX_JSON_CHARS`` long
    as JSON text. Tuples become lists.

    Raises:
        ValueError: what is wrong, never quoting the values (they may be personal data).
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, str | bool | int) or item is None:
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{path or 'value'}: numbers must be finite, not NaN or infinity")
            continue
        if isinstance(item, Mapping):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise ValueError(
                        f"{path or 'mapping'}: keys must be strings, not {type(key).__name__}"
                    )
                stack.append((sub, f"{path}.{key}" if path else key, depth + 1))
            continue
        if isinstance(item, list | tuple):
            stack.extend((sub, f"{path}[{i}]", depth + 1) for i, sub in enumerate(item))
            continue
        raise ValueError(
            f"{path or 'value'}: {type(item).__name__} is not JSON "
            f"(use str, number, bool, null, list or mapping)"
        )
    text = dumps(value)
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"{len(text)} characters as JSON; at most {MAX_JSON_CHARS} are accepted")
    result: dict[str, Any] = json.loads(text)
    return result


_T = TypeVar("_T")
_FIELDS: dict[type, frozenset[str]] = {}


def evolve(obj: _T, /, **changes: Any) -> _T:
    """A copy of the frozen, slotted record ``obj`` with ``changes``: what
    ``dataclasses.replace`` gives, without its per-call field bookkeeping (the records
    here have no ``__post_init__`` and no init-only fields).

    Raises:
        TypeError: a change names no field of the record.
    """
    cls = type(obj)
    names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
    known = _FIELDS.get(cls)
    if known is None:
        known = _FIELDS[cls] = frozenset(names)
    if not changes.keys() <= known:
        unknown = ", ".join(sorted(changes.keys() - known))
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
    new: _T = object.__new__(cls)
    put = object.__setattr__
    for name in names:
        put(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


class Intake(BaseModel):
    """What is recorded when a complaint is taken in (DOMAIN.md §1).

    Everything here except ``channel``, ``object``, ``customer_ref`` and the
    classification is personal or free text: it is stored, never logged.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    customer_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    customer_contact: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Phone number, e-mail address or other way to reach the customer."
    )
    channel: Channel
    received_at: dt.datetime | None = Field(
        None, description="When the complaint was received; defaults to now."
    )
    place: Text = ""
    object: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="What the complaint is about: a product, service or person."
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    demand: Text = Field("", description="What the customer asks for (诉求).")
    customer_ref: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="The host's own customer id, if any."
    )
    confirmed_with_customer: bool = Field(
        True, description="The agent read the record back to the customer (DOMAIN.md §1)."
    )
    customer_class: Literal["A", "B", "C"] | None = Field(
        None, description="The customer's class by satisfaction; sets return-visit frequency."
    )
    related_to: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="An earlier complaint this one follows up (e.g. after its reopen window)."
    )
    category: str | None = None
    tier: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="Host-defined fields.")

    @field_validator("extra")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return plain_json(value) if value else value

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("received_at must be timezone-aware")
        return value.astimezone(dt.UTC) if value is not None else None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something: a person's (or system's) id and the role they act in."""

    id: str
    role: str

    @classmethod
    def system(cls) -> Actor:
        """The library's own actor for timers and escalations."""
        return cls("system", "system")

    def __str__(self) -> str:
        return f"{self.role}:{self.id}"


ClockStatus = Literal["running", "paused", "stopped"]


@dataclass(frozen=True, slots=True)
class ClockState:
    """An SLA clock of one complaint.

    Time is counted up to ``resumed_at`` in ``accrued_wall`` (elapsed seconds) and
    ``accrued_business`` (working seconds of the calendar); while running, the time
    since ``resumed_at`` counts too. ``target_seconds`` is the target in the clock's
    own measure (business seconds when ``business``); ``deadline`` is when it is
    breached if nothing changes; ``fired`` counts thresholds reached (the warnings in
    order, then the breach, then each repeat).
    """

    name: str
    status: ClockStatus
    started_at: dt.datetime
    resumed_at: dt.datetime | None
    accrued_wall: float = 0.0
    accrued_business: float = 0.0
    target: str | None = None
    business: bool = False
    target_seconds: float | None = None
    deadline: dt.datetime | None = None
    fired: int = 0
    breached_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint as stored: a snapshot at one ``version``.

    ``owner`` is the person accountable (first contact, changed only by an explicit
    transfer); ``assignee_role`` is the role currently asked to act, which
    escalation moves one level at a time up the workflow's chain.
    """

    id: str
    workflow: str
    state: str
    version: int
    owner: str
    owner_role: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    intake: Intake
    channel: str
    tier: str | None = None
    category: str | None = None
    assignee_role: str | None = None
    escalation_level: int = 0
    reopen_count: int = 0
    contact_count: int = 1
    customer_ref: str | None = None
    dedup_key: str | None = None
    closed_at: dt.datetime | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    clocks: tuple[ClockState, ...] = ()

    def clock(self, name: str) -> ClockState | None:
        """The state of clock ``name``, if it ever started."""
        for clock in self.clocks:
            if clock.name == name:
                return clock
        return None

    def value(self, name: str) -> Any:
        """A field as conditions name it: ``tier``, ``data.solution``, ``intake.object``."""
        if name.startswith("data."):
            return self.facts.get(name[5:])
        if name.startswith("intake."):
            key = name[7:]
            if key in Intake.model_fields:
                return getattr(self.intake, key)
            return self.intake.extra.get(key)
        return getattr(self, name, None)


AuditKind = Literal[
    "opened", "transition", "effect", "contact", "transfer", "clock", "timer", "survey"
]
"""``transition``: the one record of a fired trigger; ``effect``: what its actions,
its tier or a timer did besides (tier changes, escalations)."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One append-only entry of a complaint's history.

    ``version`` is the complaint's version after the change; records of one change
    share it and are ordered by ``seq`` within it.
    """

    complaint_id: str
    version: int
    seq: int
    at: dt.datetime
    kind: AuditKind
    actor: str
    role: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    data: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    idempotency_key: str | None = None


TimerKind = Literal["warning", "breach", "repeat", "feedback", "return_visit"]


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """A deadline to arm: when ``due_at`` comes, the sweeper applies its effect."""

    complaint_id: str
    clock: str
    kind: TimerKind
    due_at: dt.datetime
    threshold: float | None = None
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class Notification:
    """A message for people in a role; written to the outbox, delivered by the host."""

    complaint_id: str
    role: str
    kind: str
    at: dt.datetime
    payload: dict[str, Any] = field(default_factory=dict)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_complaint_id(now: dt.datetime) -> str:
    """A sortable, unique id: ``C-`` + 10 chars of milliseconds + 10 random chars."""
    millis = int(now.timestamp() * 1000) & ((1 << 50) - 1)
    rand = int.from_bytes(os.urandom(7), "big") ^ (time.perf_counter_ns() & 0xFFFF)
    value = (millis << 50) | (rand & ((1 << 50) - 1))
    chars = []
    for _ in range(20):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "C-" + "".join(reversed(chars))
