"""Properties of the definition layer, checked on generated input.

1. Any valid workflow survives ``dump_workflow`` -> ``parse_workflow`` unchanged.
2. The loader answers any text, any YAML data and any mutation of a real workflow
   with a loaded workflow or a ``WorkflowValidationError``, never another exception.
"""

from __future__ import annotations

import copy
import itertools
import operator
import string
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from complaintflow.definition._loader import parse_workflow
from complaintflow.definition._models import CONDITION_OPERATORS, WorkflowSpec
from complaintflow.definition._registry import dump_workflow
from complaintflow.definition._semantics import COMPLAINT_FIELDS
from complaintflow.exceptions import WorkflowValidationError

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
STANDARD = (WORKFLOWS / "standard.yaml").read_text(encoding="utf-8")

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- valid workflows ------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
# names YAML 1.1 would read as something else unless the dumper quotes them
TRAP_NAMES = ["on", "off", "Yes", "no", "y", "true", "Null", "e1", "nan"]
TRAP_SLUGS = ["2024-01-01", "1.5", "2024", "0.1", "1e3", "0777", *TRAP_NAMES]

identifiers = st.sampled_from(TRAP_NAMES) | st.builds(
    operator.add, st.sampled_from(string.ascii_letters), st.text(ALNUM + "_", max_size=8)
)
slugs = st.sampled_from(TRAP_SLUGS) | st.builds(
    operator.add, st.sampled_from(ALNUM), st.text(ALNUM + "_.-", max_size=8)
)
# any text a designer may type, YAML traps included (on, 13:30, 2024-01-01, '#', ': ')
texts = st.text(max_size=40) | st.sampled_from(["on", "no", "13:30", "2024-01-01", "~", "- x"])
values = (
    st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
scalars = st.none() | values
CALENDAR_UNITS = ["m", "h", "d", "w"]
BUSINESS_UNITS = ["bh", "bd"]


def distinct(draw: st.DrawFn, names: st.SearchStrategy[str], count: int) -> list[str]:
    """``count`` different names; repeats get a suffix instead of being drawn again."""
    out: list[str] = []
    for name in draw(st.lists(names, min_size=count, max_size=count)):
        while name in out:
            name += "_"
        out.append(name)
    return out


def subset(draw: st.DrawFn, items: list[str], *, min_size: int = 0) -> list[str]:
    return draw(st.lists(st.sampled_from(items), min_size=min_size, max_size=3, unique=True))


def some(draw: st.DrawFn, data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` half the time, so that defaults are exercised too."""
    if draw(st.booleans()):
        data[key] = value


@st.composite
def durations(draw: st.DrawFn, units: list[str]) -> str:
    return f"{draw(st.integers(1, 500))}{draw(st.sampled_from(units))}"


@st.composite
def conditions(draw: st.DrawFn, tiers: list[str]) -> dict[str, Any]:
    field = draw(
        st.sampled_from(sorted(COMPLAINT_FIELDS))
        | identifiers.map(lambda s: f"data.{s}")
        | identifiers.map(lambda s: f"intake.{s}")
    )
    op = draw(st.sampled_from(CONDITION_OPERATORS))
    operand: Any
    if field == "tier" and op in ("equals", "not_equals"):
        operand = draw(st.sampled_from(tiers))
    elif field == "tier" and op in ("in", "not_in"):
        operand = subset(draw, tiers, min_size=1)
    elif op in ("in", "not_in"):
        operand = draw(st.lists(values, max_size=3))
    elif op in ("gt", "gte", "lt", "lte"):
        operand = draw(st.floats(allow_nan=False) | st.integers(-1000, 1000))
    elif op == "exists":
        operand = draw(st.booleans())
    else:
        operand = draw(values)
    return {"field": field, op: operand}


@st.composite
def actions(draw: st.DrawFn, roles: list[str], tiers: list[str], chain: bool) -> Any:
    kinds = ["notify", "assign", "set_tier", "raise_tier"] + (["escalate"] if chain else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "notify":
        return {"notify": subset(draw, roles, min_size=1)}
    if kind == "assign":
        return {"assign": draw(st.sampled_from(roles))}
    if kind == "set_tier":
        return {"set_tier": draw(st.sampled_from(tiers))}
    return draw(st.sampled_from([kind, {kind: True}]))


@st.composite
def workflow_specs(draw: st.DrawFn) -> WorkflowSpec:
    """A random workflow that passes every check, built so by construction.

    The states form a chain from the initial state to a final last state, so every
    state is reachable and can reach a final state; extra edges are added on top.
    With a feedback state, every other edge into a final state bypasses feedback.
    """
    n_states, n_clocks = draw(st.integers(2, 6)), draw(st.integers(0, 3))
    names = distinct(draw, identifiers, 7 + n_states + n_clocks)
    roles, tier_names = names[:3], names[3:7]
    states, clock_names = names[7 : 7 + n_states], names[7 + n_states :]
    finals = {states[-1]} | set(
        draw(st.lists(st.sampled_from(states[1:]), max_size=2)) if n_states > 2 else []
    )
    feedback = None
    if n_states >= 3 and draw(st.booleans()):
        feedback = states[-2]
        finals -= {feedback}
    chain_roles = subset(draw, roles)
    calendar = draw(st.none() | slugs)
    units = CALENDAR_UNITS + (BUSINESS_UNITS if calendar else [])
    data: dict[str, Any] = {
        "workflow": draw(slugs),
        "version": draw(st.integers(1, 10**6)),
        "roles": roles,
        "categories": distinct(draw, slugs, draw(st.integers(1, 3))),
    }
    some(draw, data, "description", draw(texts))
    if chain_roles or draw(st.booleans()):
        data["escalation_chain"] = chain_roles
    if calendar is not None:
        data["calendar"] = calendar
        data["calendars"] = {
            calendar: {
                "timezone": draw(st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin"])),
                "working_hours": {"mon-fri": ["09:00-12:00", "13:30-18:00"]},
                "extra_holidays": draw(st.lists(st.dates(), max_size=2)),
                "description": draw(texts),
            }
        }

    def action_list() -> list[Any]:
        return draw(st.lists(actions(roles, tier_names, bool(chain_roles)), max_size=2))

    targets_needed = {c: draw(st.booleans()) for c in clock_names}
    data["tiers"] = {}
    for level, tier in enumerate(tier_names, start=1):
        clocks = {
            c: draw(durations(units))
            for c in clock_names
            if targets_needed[c] or draw(st.booleans())
        }
        entry: dict[str, Any] = {"level": level, "handled_by": draw(st.sampled_from(roles))}
        if clocks:
            entry["clocks"] = clocks
        some(draw, entry, "on_enter", action_list())
        some(draw, entry, "description", draw(texts))
        data["tiers"][tier] = entry

    data["states"] = []
    for i, name in enumerate(states):
        flags = {"initial": i == 0, "final": name in finals}
        if not any(flags.values()) and draw(st.booleans()):
            data["states"].append(name)  # the bare-name form
            continue
        entry = {"name": name, **{k: v for k, v in flags.items() if v or draw(st.booleans())}}
        some(draw, entry, "waiting_on_customer", draw(st.booleans()))
        some(draw, entry, "description", draw(texts))
        data["states"].append(entry)

    triggers = iter(distinct(draw, identifiers, 10))
    transitions: list[dict[str, Any]] = []

    def transition(sources: list[str], dest: str | None) -> dict[str, Any]:
        into_final = dest in finals and sources != [feedback]
        t: dict[str, Any] = {
            "trigger": next(triggers),
            "source": sources[0] if len(sources) == 1 and draw(st.booleans()) else sources,
            "roles": subset(draw, [*roles, "system"], min_size=1),
        }
        if dest is not None:
            t["dest"] = dest
        if feedback is not None and into_final:
            t["bypasses_feedback"] = True
        some(draw, t, "description", draw(texts))
        some(draw, t, "requires", draw(st.lists(st.sampled_from(sorted(COMPLAINT_FIELDS)))))
        some(draw, t, "guards", draw(st.lists(identifiers, max_size=2)))
        some(draw, t, "conditions", draw(st.lists(conditions(tier_names), max_size=2)))
        some(draw, t, "actions", action_list())
        return t

    for src, dest in itertools.pairwise(states):
        transitions.append(transition([src], dest))
    last_trigger = transitions[-1]["trigger"]
    for _ in range(draw(st.integers(0, 4))):
        dest = draw(st.none() | st.sampled_from(states[1:]))
        sources = ["*"] if draw(st.integers(0, 5)) == 0 else subset(draw, states, min_size=1)
        transitions.append(transition(sources, dest))
    data["transitions"] = transitions
    all_triggers = [t["trigger"] for t in transitions]

    clocks: dict[str, Any] = {}
    for name in clock_names:
        clock: dict[str, Any] = {}
        if draw(st.booleans()):
            clock["starts_in"] = subset(draw, states, min_size=1)
        else:
            clock["starts_on"] = subset(draw, all_triggers, min_size=1)
        stop = draw(st.sampled_from(["none", "in", "on"]))
        if stop == "in":
            clock["stops_in"] = [states[-1], *subset(draw, states)]
        elif stop == "on":
            clock["stops_on"] = [last_trigger, *subset(draw, all_triggers)]
        some(draw, clock, "pauses_in", subset(draw, states))
        some(draw, clock, "pause_policy", draw(st.sampled_from(["waiting_on_customer", "never"])))
        some(draw, clock, "when", draw(st.lists(conditions(tier_names), max_size=2)))
        if not targets_needed[name]:
            clock["target"] = draw(durations(units))
        warn = sorted(set(draw(st.lists(st.integers(1, 99), max_size=3))))
        some(draw, clock, "warn_at", draw(st.sampled_from([warn, [f"{w}%" for w in warn]])))
        breach = draw(
            st.sampled_from(["escalate", "notify", "none"])
            | st.fixed_dictionaries(
                {},
                optional={
                    "escalate": st.booleans(),
                    "notify": st.lists(st.sampled_from(roles), max_size=2),
                    "raise_tier": st.booleans(),
                    "repeat_every": durations(units),
                },
            )
        )
        some(draw, clock, "on_breach", breach)
        some(draw, clock, "description", draw(texts))
        clocks[name] = clock
    if clocks:
        data["clocks"] = clocks
    if feedback is not None:
        data["feedback"] = {"state": feedback}
    invariants = []
    for name in distinct(draw, slugs, draw(st.integers(0, 2))):
        invariants.append(
            {
                "name": name,
                "when": {"states": subset(draw, states), "tiers": subset(draw, tier_names)},
                "require": {
                    "visited": subset(draw, states),
                    "fields": subset(draw, sorted(COMPLAINT_FIELDS)),
                    "notified": [
                        {"role": role, "within": draw(st.none() | durations(units))}
                        for role in subset(draw, roles)
                    ],
                    "feedback_recorded": draw(st.booleans()),
                },
            }
        )
    if invariants:
        data["invariants"] = invariants
    return WorkflowSpec.model_validate(data)


@given(workflow_specs())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_valid_workflow_survives_dump_and_load_unchanged(spec: WorkflowSpec) -> None:
    text = dump_workflow(spec)
    assert parse_workflow(text, "generated.yaml").spec == spec


MINIMAL = """
workflow: minimal
version: 1
roles: [agent]
categories: [service]
tiers:
  minor: {level: 1, handled_by: agent}
  moderate: {level: 2, handled_by: agent}
  severe: {level: 3, handled_by: agent}
  urgent: {level: 4, handled_by: agent}
states:
  - {name: open, initial: true}
  - {name: closed, final: true}
transitions:
  - {trigger: close, source: open, dest: closed, roles: [agent]}
"""


@given(st.text())
@example("line\x85break")
@settings(max_examples=200, deadline=None)
def test_any_description_text_survives_dump_and_load(text: str) -> None:
    """Free text is the part of a workflow YAML is most likely to garble."""
    data = parse_workflow(MINIMAL).spec.model_dump()
    spec = WorkflowSpec.model_validate({**data, "description": text})
    assert parse_workflow(dump_workflow(spec)).spec.description == text


# --- the loader never crashes ---------------------------------------------------------

YAML_TOKENS = [
    "workflow: ", "version: ", "states:", "transitions:", "tiers:", "clocks:", "roles: ",
    "- ", "  ", "    ", "\n", ": ", "[", "]", "{", "}", ",", "'", '"', "#", "&a ", "*a",
    "!!python/object:os.system ", "!tag ", "!!str ", "!!int ", "!!bool ", "!!timestamp ",
    "!!binary ", "!!set ", "<<: ", "? ", "|", ">", "---\n", "...\n", "%YAML 1.1\n", "\t",
    "on", "13:30", "2024-02-30", "1.5h", "75%", "*", "~", "null", "name", "initial: true",
    "source", "dest", "x", "0x1F", "1e3", ".inf", "\\u0000", "\ufeff", "é",
]  # fmt: skip


def assert_answers_with_validation_error(text: str, **kwargs: Any) -> None:
    """Loading either works or raises the library's error, with at least one problem."""
    try:
        parse_workflow(text, "fuzz.yaml", **kwargs)
    except WorkflowValidationError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    assert all(p.message and p.file for p in problems)


# inputs that once crashed the loader, kept so that every run tries them
CRASHERS = [
    "x: !!timestamp x",
    "x: !!bool maybe",
    "x: !!int",
    "x: 2024-13-01",
    "a: &a [*a]",
    "a: " + "[" * 300 + "]" * 300,
    "a: &a [1]\nb: &b [*a, *a]\nc: &c [*b, *b]",
    "states: {a: 1}\ntransitions: {b: 2}\ninvariants: {c: 3}",
    'imports: ["\\0", "", "/dev/zero"]',
    "? [a]\n: 1",
    "<<: {a: 1}",
    "--- ~",
    "a: \x07",
    '"[key]": null',
]


@given(st.text())
@example("")
@FUZZ
def test_any_text_gives_a_validation_error_or_a_workflow(text: str) -> None:
    assert_answers_with_validation_error(text)


def with_crashers(test: Any) -> Any:
    for text in CRASHERS:
        test = example(text)(test)
    return test


@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join))
@with_crashers
@FUZZ
def test_yaml_like_text_gives_a_validation_error_or_a_workflow(text: str) -> None:
    assert_answers_with_validation_error(text)


yaml_data = st.recursive(
    scalars | st.dates(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from([*WorkflowSpec.model_fields, "name", "x"]) | texts, children, max_size=4
        )
    ),
    max_leaves=30,
)


@given(yaml_data)
@FUZZ
def test_any_yaml_data_gives_a_validation_error_or_a_workflow(data: Any) -> None:
    assert_answers_with_validation_error(yaml.safe_dump(data, allow_unicode=True))


def subtrees(data: Any) -> list[Any]:
    """Every value inside ``data``: transplanted elsewhere, they make plausible mistakes."""
    found = [data]
    children = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    for child in children:
        found += subtrees(child)
    return found


STANDARD_DATA = yaml.safe_load(STANDARD)
replacements = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(texts, scalars, max_size=3)
    | st.sampled_from(subtrees(STANDARD_DATA)[1:]).map(copy.deepcopy)
)


@st.composite
def mutated_standard(draw: st.DrawFn) -> str:
    """standard.yaml with a few values deleted or replaced; each level down is half as likely."""
    data = copy.deepcopy(STANDARD_DATA)
    for _ in range(draw(st.integers(1, 3))):
        parent: Any = data
        key = draw(st.sampled_from(list(data)))
        while isinstance(parent[key], dict | list) and parent[key] and draw(st.booleans()):
            parent = parent[key]
            keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
            key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(replacements)
        if not data:
            break
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@given(mutated_standard())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_mutated_standard_workflow_gives_a_validation_error_or_a_workflow(text: str) -> None:
    assert_answers_with_validation_error(text, base_dir=WORKFLOWS)
