"""Hypothesis strategies for complaints: intake records, people, classifications, events.

Text strategies are hostile on purpose: every script, emoji sequences, right-to-left
overrides, zero-width and control characters, SQL and template look-alikes, empty
strings where a field may be empty and the longest strings a field accepts.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar, get_args

from hypothesis import strategies as st

from complaintflow.core._records import Actor, Channel, Complaint
from complaintflow.definition._compile import CompiledTransition, Workflow
from complaintflow.definition._models import SYSTEM_ROLE
from complaintflow.exceptions import (
    ComplaintError,
    GuardRejectedError,
    InvalidInputError,
    MissingFieldsError,
    PermissionDeniedError,
    TriggerNotAllowedError,
)
from complaintflow.testing._facts import (
    COMPLAINT_SETTABLE,
    WorkflowFacts,
    data_conditions,
    facts_of,
    violating_value,
)

T = TypeVar("T")

CHANNELS: tuple[str, ...] = get_args(Channel)
"""The intake channels the library knows."""

PEOPLE = ("li.na", "wang.wei", "zhang.min", "chen.jie", "liu.yang", "zhao.lei", "张伟", "o'brien")
"""Ids of the people the strategies act as."""

HOSTILE_PIECES = (
    "\x00",
    "\t",
    "\r\n",
    "\x1b[31m",
    "\x7f",
    "\x1f",
    "\x85",
    "\u200b",
    "\u200d",
    "\u202e",
    "\ufeff",
    "\u2028",
    "e\u0301",
    "👍🏽",
    "👨‍👩‍👧",
    "张伟",
    "投诉",
    "Ωμέγα",
    "مرحبا",
    "'; DROP TABLE cf_complaints; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "%s%n",
    "null",
    "\\u0000",
    "𝕳𝖊𝖑𝖑𝖔",
)
"""Pieces of text that have broken software before."""

# both Python and pydantic (Rust's White_Space) strip these, so padding with them keeps
# a text's length after stripping predictable
_PADDING = st.sampled_from(["", " ", "\t", "\n", "  ", "\u3000"])
_WORD = st.sampled_from(["router", "refund", "invoice", "技术员", "delivery", "x"])

# An index into a list that depends on the complaint's state, drawn wide and taken modulo
# the list's length: Hypothesis generates new runs by copying choices of earlier ones, and
# a copied small index would pick the first option of whatever list it lands on.
_SPREAD = st.integers(0, 2**16 - 1)


Draw = Callable[[st.SearchStrategy[Any]], Any]
"""What draws a value: Hypothesis's ``draw`` (of ``st.composite`` or ``st.data()``)."""


class Chooser(Protocol):
    """Picks one of a list of options (an event strategy's decisions go through it)."""

    def __call__(self, options: Sequence[T], /) -> T: ...


class _DrawnChoice:
    """Decisions drawn by Hypothesis, one choice each."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def __call__(self, options: Sequence[T], /) -> T:
        return _one(self._draw, options)


class SeededChoice:
    """Decisions made by a seeded random generator: a whole step of the state machine
    then hangs on one choice (its seed), which Hypothesis copies, deletes or shrinks
    as one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self, options: Sequence[T], /) -> T:
        return options[self.rng.randrange(len(options))]


def _spread(options: Sequence[T]) -> st.SearchStrategy[T]:
    """One of ``options``, drawn as :func:`_one` draws (shrinking towards the first)."""
    return _SPREAD.map(lambda i: options[i % len(options)])


def _one(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of ``options`` (a list that depends on the complaint's state)."""
    return options[draw(_SPREAD) % len(options)]


def _edge_safe(text: str) -> str:
    """``text`` without leading or trailing characters any stripper might remove."""
    start, end = 0, len(text)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return text[start:end]


def _fit(text: str, lead: str, trail: str, min_size: int, max_size: int) -> str:
    core = _edge_safe(_edge_safe(text)[:max_size])
    if len(core) < min_size:
        core = (core + "x" * min_size)[: max(min_size, len(core))]
    return lead + core + trail


@functools.lru_cache(maxsize=512)
def hostile_texts(
    *, min_size: int = 0, max_size: int = 200, padded: bool = True
) -> st.SearchStrategy[str]:
    """Texts a pydantic ``str`` field with these length limits accepts (after stripping
    surrounding whitespace, as :class:`~complaintflow.Intake` does): any script, emoji,
    control characters, look-alikes of SQL and templates, the empty string when
    ``min_size`` is 0 and texts of exactly ``max_size`` characters.

    With ``padded`` some texts carry leading and trailing whitespace that stripping
    removes; without it every text is within the limits as it is (for fields that are
    not stripped, like a transfer's note).
    """
    pieces = st.sampled_from(HOSTILE_PIECES) | st.text(min_size=1, max_size=4)
    short = st.text(max_size=min(40, max_size)) | st.lists(pieces, max_size=8).map("".join)
    longest = st.builds(
        lambda piece, word: (piece + word) * (max_size // max(1, len(piece + word)) + 1),
        pieces,
        _WORD,
    )
    body = st.one_of(short, longest) if max_size > 40 else short
    padding = _PADDING if padded else st.just("")
    generated = st.builds(
        _fit, body, padding, padding, st.just(min_size), st.just(max_size)
    ).filter(lambda s: min_size <= len(s.strip()) <= max_size)
    # a fixed pool first: a failure shrinks to its plainest text in one step, not one
    # character at a time (each step replays a whole run of the state machine)
    return st.sampled_from(_pool(min_size, max_size, padded)) | generated


def _pool(min_size: int, max_size: int, padded: bool) -> list[str]:
    longest = ("投诉x" * max_size)[:max_size]
    texts = ["x", "", "Zhang Wei", *HOSTILE_PIECES, "".join(HOSTILE_PIECES), longest]
    pads = [("", ""), (" ", "\t"), ("\u3000", "\n")] if padded else [("", "")]
    found: dict[str, None] = {}
    for i, text in enumerate(texts):
        lead, trail = pads[i % len(pads)]
        fitted = _fit(text, lead, trail, min_size, max_size)
        if min_size <= len(fitted.strip()) <= max_size and (padded or len(fitted) <= max_size):
            found[fitted] = None
    return list(found)


@functools.lru_cache(maxsize=512)
def invalid_texts(*, min_size: int = 0, max_size: int = 200) -> st.SearchStrategy[object]:
    """Values such a field refuses: one character too long, only whitespace where text is
    required, lone surrogates (not encodable as UTF-8), and values that are not text."""
    options: list[st.SearchStrategy[object]] = [
        st.builds(lambda c: c * (max_size + 1), st.sampled_from(["x", "张", "👍"])),
        st.sampled_from(["a\ud800b", "\udfff", "\ud83d"]),
        # not text (bytes are no example: pydantic decodes UTF-8 bytes into text)
        st.integers() | st.lists(st.text(max_size=2), max_size=2) | st.just({"text": "x"}),
    ]
    if min_size >= 1:
        options.append(st.sampled_from(["", " ", "\t\n", "\u3000"]))
    return st.one_of(options)


@functools.lru_cache(maxsize=512)
def tiers(workflow: Workflow) -> st.SearchStrategy[str]:
    """The workflow's tiers, lowest first (so failures shrink towards the lowest)."""
    return _spread(sorted(workflow.tiers, key=lambda t: workflow.tiers[t].level))


@functools.lru_cache(maxsize=512)
def categories(workflow: Workflow) -> st.SearchStrategy[str]:
    """The workflow's categories."""
    return _spread(list(workflow.spec.categories))


@functools.lru_cache(maxsize=512)
def roles(workflow: Workflow, *, system: bool = False) -> st.SearchStrategy[str]:
    """The workflow's roles of people (and ``system`` when asked for)."""
    facts = facts_of(workflow)
    names = [*facts.human_roles, "system"] if system else list(facts.human_roles)
    return _spread(names)


@functools.lru_cache(maxsize=512)
def actors(
    workflow: Workflow | None = None, *, role: str | None = None
) -> st.SearchStrategy[Actor]:
    """People acting in one of the workflow's roles (or in ``role``)."""
    if role is not None:
        chosen: st.SearchStrategy[str] = st.just(role)
    elif workflow is not None:
        chosen = roles(workflow)
    else:
        chosen = st.sampled_from(["agent", "group_leader", "supervisor", "manager"])
    return st.builds(Actor, st.sampled_from(PEOPLE), chosen)


def _actor_for(draw: Draw, role: str) -> Actor:
    """A person in ``role``, or the system actor for the ``system`` role."""
    return Actor.system() if role == SYSTEM_ROLE else draw(actors(role=role))


@functools.lru_cache(maxsize=512)
def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | hostile_texts(max_size=60)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(hostile_texts(max_size=10), inner, max_size=3)
        ),
        max_leaves=6,
    )


@functools.lru_cache(maxsize=512)
def intakes(
    workflow: Workflow | None = None, *, hostile: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Intake records (as a host hands them in: a mapping) that are valid.

    With ``hostile`` (the default) every free-text field is drawn from
    :func:`hostile_texts` at its own limits; optional fields are sometimes left out,
    sometimes empty. With a workflow, the intake sometimes carries a tier and category
    of it, and the ``intake.<key>`` fields its transitions require.
    """

    def text(lo: int, hi: int) -> st.SearchStrategy[str]:
        if hostile:
            return hostile_texts(min_size=lo, max_size=hi)
        return st.sampled_from(["Zhang Wei", "router X200", "it drops the line", "refund"])

    required: dict[str, st.SearchStrategy[Any]] = {
        "customer_name": text(1, 200),
        "customer_contact": text(1, 200),
        "channel": st.sampled_from(CHANNELS),
        "object": text(1, 500),
        "reason": text(1, 10_000),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "place": text(0, 10_000),
        "demand": text(0, 10_000),
        "customer_ref": st.none() | text(0, 200),
        "confirmed_with_customer": st.just(True),
        "customer_class": st.none() | st.sampled_from(["A", "B", "C"]),
        "extra": st.dictionaries(hostile_texts(max_size=20), _json_values(), max_size=3),
    }
    if workflow is not None:
        optional["tier"] = tiers(workflow)
        optional["category"] = categories(workflow)
        extra_keys = sorted(
            {
                name[7:]
                for ct in workflow.transitions
                for name in ct.spec.requires
                if name.startswith("intake.")
            }
        )
        if extra_keys:
            optional["extra"] = st.fixed_dictionaries(
                {}, optional={k: text(1, 40) for k in extra_keys}
            )
    return st.fixed_dictionaries(required, optional=optional)


_INVALID_FIELDS: dict[str, tuple[int, int]] = {
    "customer_name": (1, 200),
    "customer_contact": (1, 200),
    "object": (1, 500),
    "reason": (1, 10_000),
    "place": (0, 10_000),
    "demand": (0, 10_000),
}


@st.composite
def invalid_intakes(draw: st.DrawFn, workflow: Workflow | None = None) -> dict[str, Any]:
    """Intake records that must be refused with :class:`~complaintflow.InvalidInputError`:
    a valid record with exactly one thing wrong (a required field missing or invalid, an
    unknown channel, key or customer class, a naive ``received_at``, an ``extra`` that is
    not JSON, a record not confirmed with the customer, a tier or category the workflow
    does not have)."""
    record = draw(intakes(workflow))
    how = draw(
        st.sampled_from(
            [
                "bad_text",
                "missing",
                "channel",
                "unknown_key",
                "received_at",
                "customer_class",
                "extra",
                "unconfirmed",
                *(["tier", "category"] if workflow is not None else []),
            ]
        )
    )
    if how == "bad_text":
        name = draw(st.sampled_from(sorted(_INVALID_FIELDS)))
        lo, hi = _INVALID_FIELDS[name]
        record[name] = draw(invalid_texts(min_size=lo, max_size=hi))
    elif how == "missing":
        del record[draw(st.sampled_from(["customer_name", "customer_contact", "object"]))]
    elif how == "channel":
        record["channel"] = draw(st.sampled_from(["fax", "", "PHONE", "phone ", None, 7]))
    elif how == "unknown_key":
        record[draw(st.sampled_from(["id_card_number", "Customer_Name", "状态"]))] = "x"
    elif how == "received_at":
        record["received_at"] = draw(
            st.sampled_from([dt.datetime(2026, 1, 5, 9, 0), "yesterday", "2026-13-01"])
        )
    elif how == "customer_class":
        record["customer_class"] = draw(st.sampled_from(["D", "a", "", 1]))
    elif how == "extra":
        record["extra"] = draw(
            st.sampled_from(
                [{"amount": math.nan}, {"when": dt.date(2026, 1, 5)}, {"tags": {1, 2}}, [1]]
            )
        )
    elif how == "unconfirmed":
        # the agent reads the record back to the customer before accepting it
        record["confirmed_with_customer"] = False
    elif how == "tier":
        record["tier"] = draw(st.sampled_from(["no-such-tier", "", "URGENT"]))
    else:
        record["category"] = draw(st.sampled_from(["no-such-category", ""]))
    return record


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A lifecycle event to fire: ``engine.fire(id, trigger, actor=actor, data=data)``.

    Attributes:
        trigger: the trigger's name.
        actor: who fires it.
        data: the event's data.
        expect: for a deliberately forbidden event, the error the engine must raise;
            ``None`` for an event the workflow permits.
        why: what makes a forbidden event forbidden, in words.
    """

    trigger: str
    actor: Actor
    data: Mapping[str, Any] = field(default_factory=dict)
    expect: type[ComplaintError] | None = None
    why: str = ""


class Sketch(NamedTuple):
    """What a sequence of events has made of a complaint so far: its state, tier and
    category (a complaint's own fields, without a stored complaint)."""

    state: str
    tier: str | None = None
    category: str | None = None


def _state_of(complaint: Complaint | Sketch | str) -> tuple[str, str | None, str | None]:
    if isinstance(complaint, str):
        return complaint, None, None
    return complaint.state, complaint.tier, complaint.category


_DATA_VALUES: dict[tuple[int, str], tuple[CompiledTransition, st.SearchStrategy[Any]]] = {}


def _data_value(ct: CompiledTransition, key: str) -> st.SearchStrategy[Any]:
    """A value for ``data.<key>`` that the transition's conditions accept."""
    # transitions hold lists, so they cannot be hashed; their identity is enough
    cached = _DATA_VALUES.get((id(ct), key))
    if cached is None or cached[0] is not ct:
        cached = _DATA_VALUES[(id(ct), key)] = (ct, _new_data_value(ct, key))
    return cached[1]


def _new_data_value(ct: CompiledTransition, key: str) -> st.SearchStrategy[Any]:
    conditions = data_conditions(ct, key)
    if not conditions:
        return hostile_texts(min_size=1, max_size=60) | st.integers(0, 10)
    low, high = -(10**6), 10**6
    for c in conditions:
        op = c.operator
        operand = c.operand(op)
        if op == "equals":
            return st.just(operand)
        if op == "in":
            return st.sampled_from(list(operand))
        if op == "gte":
            low = max(low, math.ceil(operand))
        elif op == "gt":
            low = max(low, math.floor(operand) + 1)
        elif op == "lte":
            high = min(high, math.floor(operand))
        elif op == "lt":
            high = min(high, math.ceil(operand) - 1)
    refused = [c.operand(c.operator) for c in conditions if c.operator == "not_equals"]
    refused += [v for c in conditions if c.operator == "not_in" for v in c.operand("not_in")]
    return st.integers(low, max(low, high)).filter(lambda v: v not in refused)


def _data_for(
    draw: Draw,
    workflow: Workflow,
    requires: list[str],
    ct: CompiledTransition,
    tier: str | None,
    category: str | None,
    *,
    leave_out: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in requires:
        if name == leave_out:
            continue
        if name.startswith("data."):
            data[name[5:]] = draw(_data_value(ct, name[5:]))
        elif name == "tier":
            data["tier"] = draw(tiers(workflow))
        elif name == "category":
            data["category"] = draw(categories(workflow))
    for c in ct.spec.conditions:
        key = c.field[5:]
        if c.field.startswith("data.") and key not in data and key != (leave_out or "")[5:]:
            data[key] = draw(_data_value(ct, key))
    return data


@st.composite
def permitted_events(
    draw: st.DrawFn,
    workflow: Workflow,
    complaint: Complaint | str,
    *,
    forward: bool = False,
    covered: Collection[tuple[str, str, str]] = (),
) -> Event:
    """An event the workflow permits for ``complaint`` (a complaint, or a state): a
    trigger allowed from its state, fired by a person in a role allowed to fire it,
    with the data it requires, drawn to satisfy its conditions on event data.

    With ``forward``, only events that bring the complaint nearer to closing (through
    the feedback step), when there are any. ``covered`` holds (state, trigger, role)
    already exercised: when some options are not among them, one of those is chosen.
    Conditions on the complaint itself and host guards may still refuse such an event;
    so may the reopen window.
    """
    return permitted_event(
        draw, _DrawnChoice(draw), workflow, complaint, forward=forward, covered=covered
    )


def permitted_event(
    draw: Draw,
    choose: Chooser,
    workflow: Workflow,
    complaint: Complaint | str,
    *,
    forward: bool = False,
    covered: Collection[tuple[str, str, str]] = (),
) -> Event:
    """:func:`permitted_events`, with its decisions made by ``choose`` and only the
    content (data values, people) drawn."""
    facts = facts_of(workflow)
    state, tier, category = _state_of(complaint)
    options = (facts.forward(state) if forward else []) or facts.options(state)
    if not options:
        raise ValueError(f"no person may fire anything from state {state!r}")
    options = [o for o in options if (state, o.trigger, o.role) not in covered] or options
    option = choose(options)
    requires = facts.requires(option.trigger, state, option.role)
    data = _data_for(draw, workflow, requires, option.transition, tier, category)
    return Event(option.trigger, _actor_for(draw, option.role), data)


@st.composite
def forbidden_events(draw: st.DrawFn, workflow: Workflow, complaint: Complaint | str) -> Event:
    """An event the engine must refuse for ``complaint`` (a complaint, or a state), with
    the error it must refuse it with (``Event.expect``): a trigger not allowed from its
    state, a role that may not fire it, a required field left out, data failing a
    condition, or invalid input (unknown tier, data that is not JSON, an empty actor id).
    """
    return forbidden_event(draw, _DrawnChoice(draw), workflow, complaint)


def forbidden_event(
    draw: Draw, choose: Chooser, workflow: Workflow, complaint: Complaint | Sketch | str
) -> Event:
    """:func:`forbidden_events`, with its decisions made by ``choose``."""
    facts = facts_of(workflow)
    state, tier, category = _state_of(complaint)
    allowed = workflow.allowed_triggers(state)
    kinds = ["invalid_input"]
    elsewhere = [t for t in workflow.triggers if t not in allowed]
    if elsewhere:
        kinds.append("not_from_state")
    if allowed:
        kinds.append("role")
    missing = _missing_options(facts, state, tier, category)
    if missing:
        kinds.append("missing")
    guarded = _guard_options(facts, state)
    if guarded:
        kinds.append("condition")
    kind = choose(kinds)
    if kind == "not_from_state":
        trigger = choose(elsewhere)
        role = choose(facts.trigger_roles.get(trigger) or facts.human_roles)
        actor = draw(actors(role=role))
        return Event(
            trigger,
            actor,
            {},
            TriggerNotAllowedError,
            f"{trigger} is not allowed from {state}",
        )
    if kind == "role":
        trigger = choose(allowed)
        may = set(workflow.roles_for(trigger, state))
        outsiders = [r for r in facts.human_roles if r not in may] or ["visitor"]
        actor = draw(actors(role=choose(outsiders)))
        return Event(
            trigger, actor, {}, PermissionDeniedError, f"role {actor.role} may not fire it"
        )
    if kind == "missing":
        trigger, role, ct, left_out = choose(missing)
        data = _data_for(
            draw, workflow, list(ct.spec.requires), ct, tier, category, leave_out=left_out
        )
        return Event(
            trigger, draw(actors(role=role)), data, MissingFieldsError, f"without {left_out}"
        )
    if kind == "condition":
        trigger, role, ct, condition, value = choose(guarded)
        data = _data_for(draw, workflow, list(ct.spec.requires), ct, tier, category)
        data[condition.field[5:]] = value
        return Event(
            trigger,
            draw(actors(role=role)),
            data,
            GuardRejectedError,
            f"{condition.field} = {value!r} fails {condition.describe()}",
        )
    trigger = choose(list(allowed) or list(workflow.triggers))
    role = choose(facts.human_roles)
    bad: list[tuple[Mapping[str, Any], Actor, str]] = [
        ({"tier": "no-such-tier"}, Actor("li.na", role), "an unknown tier"),
        ({"category": "no-such-category"}, Actor("li.na", role), "an unknown category"),
        ({"amount": math.nan}, Actor("li.na", role), "data that is not JSON (NaN)"),
        ({"when": dt.date(2026, 1, 5)}, Actor("li.na", role), "data that is not JSON (a date)"),
        ({}, Actor("", role), "an empty actor id"),
        ({}, Actor("x" * 201, role), "an actor id of 201 characters"),
    ]
    bad_data, actor, why = choose(bad)
    return Event(trigger, actor, bad_data, InvalidInputError, why)


def _missing_options(
    facts: WorkflowFacts, state: str, tier: str | None, category: str | None
) -> list[tuple[str, str, CompiledTransition, str]]:
    found = []
    values = {"tier": tier, "category": category}
    for option in facts.options(state):
        ct = facts.first_permitted(option.trigger, state, option.role)
        if ct is None or ct is not option.transition:
            continue
        for name in ct.spec.requires:
            if name.startswith("data.") or (name in COMPLAINT_SETTABLE and values[name] is None):
                found.append((option.trigger, option.role, ct, name))
    return found


def _guard_options(
    facts: WorkflowFacts, state: str
) -> list[tuple[str, str, CompiledTransition, Any, Any]]:
    found = []
    for option in facts.options(state):
        permitted = [
            ct
            for ct in facts.workflow.candidates(option.trigger, state)
            if option.role in ct.spec.roles
        ]
        if len(permitted) != 1 or permitted[0].guards:
            continue
        ct = permitted[0]
        for condition in ct.spec.conditions:
            if not condition.field.startswith("data."):
                continue
            value = violating_value(condition)
            if value is not None:
                found.append((option.trigger, option.role, ct, condition, value))
    return found


@st.composite
def event_sequences(
    draw: st.DrawFn, workflow: Workflow, *, valid: bool = True, max_size: int = 12
) -> list[Event]:
    """Events for one new complaint, from the workflow's initial state.

    With ``valid`` the events follow the workflow graph (each permitted from the state
    the previous ones led to, preferring transitions without conditions on the
    complaint itself). Otherwise the sequence ends in one deliberately forbidden event
    (its ``expect`` says how the engine must refuse it).
    """
    facts = facts_of(workflow)
    state = workflow.initial_state
    tier: str | None = None
    category: str | None = None
    events: list[Event] = []
    size = draw(st.integers(0, max(0, max_size - (0 if valid else 1))))
    for _ in range(size):
        options = [
            o
            for o in facts.options(state)
            if not any(not c.field.startswith("data.") for c in o.transition.spec.conditions)
            and not o.transition.guards
            and facts.first_permitted(o.trigger, state, o.role) is o.transition
        ]
        if not options:
            break
        forward = [o for o in options if o in facts.forward(state)]
        prefer_forward = bool(forward) and draw(st.booleans())
        option = _one(draw, forward if prefer_forward else options)
        requires = facts.requires(option.trigger, state, option.role)
        data = _data_for(draw, workflow, requires, option.transition, tier, category)
        events.append(Event(option.trigger, _actor_for(draw, option.role), data))
        tier = data.get("tier", tier)
        category = data.get("category", category)
        state = option.transition.dest_from(state)
    if not valid:
        # what the events made of it, tier and category included: a field the complaint
        # already has is not missing from an event that leaves it out
        sketch = Sketch(state, tier, category)
        events.append(forbidden_event(draw, _DrawnChoice(draw), workflow, sketch))
    return events
