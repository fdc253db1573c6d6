"""The workflow file format as frozen pydantic models.

These models check shape and types only; references between parts (a transition
naming a state, a tier naming a role) are checked by ``_semantics``. The format is
documented in ``docs/workflow-format.md``; ``complaintflow schema`` prints its JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from complaintflow.time._durations import Duration

IDENTIFIER_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=64)]
"""Names of states, triggers, roles, tiers, clocks: letters, digits, ``_``."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]
"""Names of workflows, calendars, categories: letters, digits, ``_ . -``."""

SYSTEM_ROLE = "system"
"""The role of the library's own actions (timers, escalations); always defined."""

ANY_STATE = "*"


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` when one is close enough to be a typo.

    Close means similar spelling, or one is the start of the other (``destination``
    for ``dest``, ``role`` for ``roles``).
    """
    name = str(name)
    options = sorted(set(candidates))
    starts = [
        c
        for c in options
        if (len(c) >= 3 and name.startswith(c)) or (len(name) >= 4 and c.startswith(name))
    ]
    if starts:
        return min(starts, key=lambda c: abs(len(c) - len(name)))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a candidate is close to ``name``, else ``''``."""
    close = closest(name, candidates)
    return f" (did you mean {close!r}?)" if close else ""


def show_value(value: Any) -> str:
    """A value as its YAML author would write it: ``true``, ``null``, ``'text'``, ``a list``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _same(value: Any) -> Any:
    # carries json_schema_input_type: the JSON Schema of a shorthand the model accepts
    return value


def _percent(value: Any) -> Any:
    number: Any = value
    if isinstance(value, str):
        text = value.removesuffix("%").strip()
        number = float(text) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) else None
    if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number < 100:
        raise ValueError(
            f"a warning threshold is a percentage of the target between 0% and 100%, "
            f"like '75%'; got {show_value(value)}"
        )
    return float(number)


def _percent_text(value: float) -> str:
    return f"{value:g}%"


Percent = Annotated[
    float,
    BeforeValidator(_percent, json_schema_input_type=str | float),
    Field(gt=0, lt=100),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*%?$"},
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
            ],
            "description": "A percentage of the target, like '75%' (or a plain number, 75).",
            "examples": ["50%", "75%", "90%"],
        }
    ),
]
"""A threshold like ``75%`` (or a plain number, 75)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- calendars -------------------------------------------------------------------


class HolidaySource(_Model):
    """Public holidays from the ``holidays`` package."""

    country: Annotated[str, StringConstraints(min_length=2, max_length=3)]
    subdiv: str | None = None


class CalendarSpec(_Model):
    """A business calendar: when work happens, in which time zone."""

    description: str = ""
    timezone: str = "UTC"
    working_hours: dict[str, list[str]] = Field(
        default_factory=lambda: {"mon-fri": ["09:00-18:00"]},
        description="Day ('mon'..'sun') or range ('mon-fri') -> windows 'HH:MM-HH:MM'.",
    )
    holidays: HolidaySource | None = None
    extra_holidays: list[dt.date] = Field(default_factory=list)
    extra_working_days: list[dt.date] = Field(default_factory=list)
    make_up_day_hours: list[str] | None = None
    covered_years: list[int] | None = None


# --- actions and conditions --------------------------------------------------------


ACTION_KINDS = ("notify", "assign", "set_tier", "escalate", "raise_tier")


class Action(_Model):
    """One thing done when a transition fires or a tier is entered. Exactly one key."""

    notify: Annotated[
        list[Identifier] | None,
        BeforeValidator(_one_or_many, json_schema_input_type=Identifier | list[Identifier]),
    ] = Field(None, description="Role(s) to notify: a name or a list.")
    assign: Identifier | None = Field(None, description="Role the complaint is assigned to.")
    set_tier: Identifier | None = Field(
        None, description="Tier to set; the tier's on_enter actions run."
    )
    escalate: Literal[True] | None = Field(
        None, description="One level up the escalation chain (or write just: escalate)."
    )
    raise_tier: Literal[True] | None = Field(
        None, description="The next tier up (or write just: raise_tier)."
    )

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, str) and data in ("escalate", "raise_tier"):
            return {data: True}
        if isinstance(data, str):
            raise ValueError(
                f"unknown action {data!r}{did_you_mean(data, ACTION_KINDS)}; an action is "
                "escalate, raise_tier, or a mapping with one of: notify, assign, set_tier"
            )
        if isinstance(data, dict):
            given = [k for k, v in data.items() if v is not None]
            if len(given) != 1:
                raise ValueError(
                    f"an action has exactly one of: {', '.join(ACTION_KINDS)} "
                    f"(got {', '.join(map(str, given)) or 'none'})"
                )
        return data

    @property
    def kind(self) -> str:
        """The action's key, e.g. ``notify``."""
        for name in ACTION_KINDS:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated action without a kind")  # pragma: no cover


ActionEntry = Annotated[
    Action,
    BeforeValidator(_same, json_schema_input_type=Literal["escalate", "raise_tier"] | Action),
]

CONDITION_OPERATORS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "exists")


class Condition(_Model):
    """A declarative test on a complaint, e.g. ``{field: tier, in: [severe, urgent]}``.

    ``field`` names a complaint attribute (``tier``, ``category``, ``channel``,
    ``owner_role``, ``escalation_level``, ``reopen_count``) or a value in the
    event's data (``data.amount``) or the intake record (``intake.object``).
    """

    field: str = Field(
        description="tier, category, channel, state, owner, owner_role, escalation_level, "
        "reopen_count, customer_ref, or data.<key> / intake.<key>."
    )
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [op for op in CONDITION_OPERATORS if self.operand(op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a condition has exactly one operator of: {', '.join(CONDITION_OPERATORS)} "
                f"(got {', '.join(given) or 'none'})"
            )
        return self

    def operand(self, op: str) -> Any:
        """The value given for operator ``op`` (``None`` when absent)."""
        return self.in_ if op == "in" else getattr(self, op)

    @property
    def operator(self) -> str:
        """The one operator this condition uses."""
        return next(op for op in CONDITION_OPERATORS if self.operand(op) is not None)

    def describe(self) -> str:
        """Readable text, e.g. ``tier in ['severe', 'urgent']``."""
        return f"{self.field} {self.operator} {self.operand(self.operator)!r}"


# --- tiers, states, transitions ---------------------------------------------------------


class TierSpec(_Model):
    """A severity tier: its level, who handles it, its clock targets."""

    level: Annotated[int, Field(ge=1, le=4)] = Field(
        description="1 (minor) to 4 (urgent), increasing in the order the tiers are written."
    )
    handled_by: Identifier = Field(description="The role that handles complaints of this tier.")
    description: str = ""
    clocks: dict[Identifier, Duration] = Field(
        default_factory=dict,
        description="Clock targets for this tier, by clock name; they override the clock's target.",
    )
    on_enter: list[ActionEntry] = Field(
        default_factory=list, description="Actions run when a complaint enters this tier."
    )


class StateSpec(_Model):
    """A state of the lifecycle. Written as a bare name or as a mapping."""

    name: Identifier
    description: str = ""
    initial: bool = Field(False, description="Every complaint starts here; exactly one state.")
    final: bool = Field(False, description="The complaint is finished here; every clock stops.")
    waiting_on_customer: bool = Field(
        False,
        description="Waiting on the customer: clocks with pause_policy waiting_on_customer pause.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if not isinstance(data, dict):
            got = show_value(data)
            raise ValueError(f"a state is a name, or a mapping with name: (got {got})")
        return data


StateEntry = Annotated[
    StateSpec, BeforeValidator(_same, json_schema_input_type=Identifier | StateSpec)
]

SourceName = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z][A-Za-z0-9_]*)$")]

Sources = Annotated[
    list[SourceName],
    BeforeValidator(_one_or_many, json_schema_input_type=SourceName | list[SourceName]),
    Field(min_length=1),
]


class TransitionSpec(_Model):
    """A lifecycle event: which trigger moves which source states where, and who may fire it.

    ``dest`` omitted makes an internal transition (the state stays, the event is
    still audited), used for escalations and recorded contacts.
    """

    trigger: Identifier = Field(description="The event's name, e.g. resolve.")
    source: Sources = Field(
        description="State(s) it fires from: a name or a list; '*' is every non-final state."
    )
    dest: Identifier | None = Field(
        None, description="The state it leads to; omitted: the state stays (internal)."
    )
    roles: Annotated[list[Identifier], Field(min_length=1)] = Field(
        description="Roles that may fire it; 'system' is the library's own (timers)."
    )
    description: str = ""
    requires: list[str] = Field(
        default_factory=list,
        description="Fields that must have a value: tier, category, ... or data.<key> / "
        "intake.<key>.",
    )
    guards: list[Identifier] = Field(
        default_factory=list,
        description="Guards registered by the host: load_workflow(path, guards={name: fn}).",
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Declarative tests; all must hold."
    )
    actions: list[ActionEntry] = Field(
        default_factory=list, description="Done after the state changes, in order."
    )
    bypasses_feedback: bool = Field(
        False, description="May reach a final state without the feedback step."
    )


# --- clocks -------------------------------------------------------------------------------


class BreachSpec(_Model):
    """What a clock's breach does."""

    escalate: bool = Field(True, description="One level up the escalation chain.")
    notify: list[Identifier] = Field(default_factory=list, description="Roles to notify.")
    raise_tier: bool = Field(False, description="The next tier up.")
    repeat_every: Duration | None = Field(
        None, description="After the breach, do the same again at this interval."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data == "escalate":
            return {"escalate": True}
        if data == "notify":
            return {"escalate": False, "notify": []}
        if data == "none":
            return {"escalate": False}
        if isinstance(data, str):
            raise ValueError(
                f"unknown breach action {data!r}"
                f"{did_you_mean(data, ('escalate', 'notify', 'none'))}; write escalate, "
                "notify, none, or a mapping (escalate, notify, raise_tier, repeat_every)"
            )
        return data


class ClockSpec(_Model):
    """An SLA clock: when it runs, pauses and stops, and what its breach does."""

    description: str = ""
    starts_in: list[Identifier] = Field(
        default_factory=list, description="States whose entry starts the clock."
    )
    starts_on: list[Identifier] = Field(
        default_factory=list, description="Triggers whose firing starts the clock."
    )
    stops_in: list[Identifier] = Field(
        default_factory=list,
        description="States whose entry stops the clock; final states always stop it.",
    )
    stops_on: list[Identifier] = Field(
        default_factory=list, description="Triggers whose firing stops the clock."
    )
    pauses_in: list[Identifier] = Field(
        default_factory=list, description="States in which the clock pauses."
    )
    pause_policy: Literal["waiting_on_customer", "never"] = Field(
        "waiting_on_customer",
        description="waiting_on_customer: also pause in states marked waiting_on_customer; "
        "never: pause only in pauses_in.",
    )
    when: list[Condition] = Field(
        default_factory=list, description="The clock starts only for complaints matching these."
    )
    on_reopen: Literal["restart", "continue"] = Field(
        "restart",
        description="When a reopened complaint starts the clock again: restart from zero, "
        "or continue with the time already counted.",
    )
    target: Duration | None = Field(
        None, description="Default target; a tier's clocks: entry overrides it."
    )
    warn_at: list[Percent] = Field(
        default_factory=list, description="Warnings at these percentages of the target."
    )
    on_breach: Annotated[
        BreachSpec,
        BeforeValidator(
            _same, json_schema_input_type=Literal["escalate", "notify", "none"] | BreachSpec
        ),
    ] = Field(
        default_factory=BreachSpec,
        description="What the breach does: escalate (default), notify, none, or a mapping.",
    )

    @field_validator("warn_at")
    @classmethod
    def _sorted_unique(cls, value: list[float]) -> list[float]:
        if sorted(set(value)) != value:
            raise ValueError(
                "warning thresholds must be increasing and distinct, got "
                + ", ".join(map(_percent_text, value))
            )
        return value


# --- feedback and invariants ----------------------------------------------------------------


def _calendar_time(value: Duration | None) -> Duration | None:
    if value is not None and value.is_business:
        raise ValueError(
            f"use calendar time (m, h, d, w) here, not {value.describe()}: "
            "this window runs day and night"
        )
    return value


class DedupSpec(_Model):
    """How a repeated contact is recognised as the same matter (不遗漏、不重复)."""

    fields: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^intake\.[A-Za-z_][A-Za-z0-9_]*$")]],
        Field(min_length=1),
    ] = Field(
        description="Intake fields that together name the matter, e.g. "
        "[intake.customer_contact, intake.object]."
    )
    within: Duration | None = Field(
        None, description="Join only if the open complaint was updated within this time."
    )

    @field_validator("within")
    @classmethod
    def _calendar_within(cls, value: Duration | None) -> Duration | None:
        return _calendar_time(value)


class FeedbackSpec(_Model):
    """The customer-feedback step: every way to a final state passes through ``state``."""

    state: Identifier
    no_answer_after: Duration | None = Field(
        None,
        description="Without an answer from the customer within this time, the system "
        "fires auto_close_trigger (the reason is recorded).",
    )
    auto_close_trigger: Identifier = Field(
        "auto_close", description="The trigger fired by the system when no answer came."
    )
    reopen_window: Duration | None = Field(
        None,
        description="After closing, a complaint may be reopened only within this time; "
        "later, open a new complaint linked to it (intake related_to).",
    )

    @field_validator("reopen_window")
    @classmethod
    def _calendar_window(cls, value: Duration | None) -> Duration | None:
        return _calendar_time(value)

    reopen_escalates_after: Annotated[int, Field(ge=1)] | None = Field(
        None, description="The N-th reopen (and every one after it) escalates one level."
    )


class ReturnVisitSpec(_Model):
    """The return visit (回访) after closing: when it is due and how it is recorded."""

    states: list[Identifier] = Field(
        default_factory=list,
        description="Final states that arm a return visit (default: every final state "
        "reached through the feedback step).",
    )
    after: Duration = Field(description="Default interval after closing.")
    by_customer_class: dict[Literal["A", "B", "C"], Duration] = Field(
        default_factory=dict, description="Interval by customer class (intake customer_class)."
    )
    by_tier: dict[Identifier, Duration] = Field(
        default_factory=dict, description="Interval by tier, when the class gives none."
    )
    record_trigger: Identifier = Field(
        "record_return_visit", description="The trigger that records the visit's outcome."
    )


class NotifiedWithin(_Model):
    """A role must have been notified, optionally within a time of entering the condition."""

    role: Identifier
    within: Duration | None = None


class InvariantWhen(_Model):
    """When an invariant applies: in these states and/or for these tiers."""

    states: list[Identifier] = Field(default_factory=list)
    tiers: list[Identifier] = Field(default_factory=list)


class InvariantRequire(_Model):
    """What must then hold."""

    visited: list[Identifier] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)
    notified: list[NotifiedWithin] = Field(default_factory=list)
    feedback_recorded: bool = False


class InvariantSpec(_Model):
    """A declarative rule the QA kit checks after every step."""

    name: Slug
    description: str = ""
    when: InvariantWhen = Field(default_factory=InvariantWhen)
    require: InvariantRequire


# --- the workflow -----------------------------------------------------------------------------


class WorkflowSpec(_Model):
    """A complete workflow definition, as read from one YAML file."""

    workflow: Slug = Field(description="The workflow's name; with version, its identity.")
    version: Annotated[int, Field(ge=1)] = Field(
        description="1, 2, ...: stored complaints keep the name@version they started with."
    )
    description: str = ""
    calendar: Slug | None = Field(
        None, description="Name of the business calendar (under calendars: or imported)."
    )
    imports: list[str] = Field(
        default_factory=list, description="Calendar files, relative to this file."
    )
    calendars: dict[Slug, CalendarSpec] = Field(
        default_factory=dict, description="Business calendars defined in this file, by name."
    )
    roles: Annotated[list[Identifier], Field(min_length=1)] = Field(
        description="Roles of the people who act; 'system' is always defined as well."
    )
    escalation_chain: list[Identifier] = Field(
        default_factory=list,
        description="Roles from the first handler up to leadership; escalation climbs one "
        "level at a time.",
    )
    categories: Annotated[list[Slug], Field(min_length=1)] = Field(
        description="Complaint categories, e.g. technical, service, process."
    )
    tiers: dict[Identifier, TierSpec] = Field(
        description="Exactly four severity tiers by name, levels 1-4 in the order written."
    )
    states: Annotated[list[StateEntry], Field(min_length=2)] = Field(
        description="The lifecycle's states: a name, or a mapping (name, initial, final, ...)."
    )
    transitions: Annotated[list[TransitionSpec], Field(min_length=1)] = Field(
        description="The events that move a complaint: trigger, source, dest, roles, ..."
    )
    clocks: dict[Identifier, ClockSpec] = Field(
        default_factory=dict, description="SLA clocks by name: start, pause, stop, target."
    )
    feedback: FeedbackSpec | None = Field(
        None, description="The customer-feedback step on every way to a final state."
    )
    return_visits: ReturnVisitSpec | None = Field(
        None, description="When a return visit (回访) is due after closing."
    )
    dedup: DedupSpec | None = Field(
        None, description="How a repeated contact joins the open complaint about the same matter."
    )
    invariants: list[InvariantSpec] = Field(
        default_factory=list, description="Rules the QA kit checks after every step."
    )


class CalendarFileSpec(_Model):
    """A shared calendar file: only ``calendars:``."""

    calendars: dict[Slug, CalendarSpec]
