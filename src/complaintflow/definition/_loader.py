"""Loading workflow files: YAML -> shape check -> semantic check, every problem at once."""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from complaintflow.definition._models import (
    CalendarFileSpec,
    CalendarSpec,
    ClockSpec,
    FeedbackSpec,
    InvariantSpec,
    StateSpec,
    TierSpec,
    TransitionSpec,
    WorkflowSpec,
    closest,
    did_you_mean,
    show_value,
)
from complaintflow.definition._semantics import Parts, check
from complaintflow.definition._yaml import PathKey, SourceMap, read_yaml
from complaintflow.exceptions import Problem, WorkflowValidationError

M = TypeVar("M", bound=BaseModel)

_NAME_HINT = "names start with a letter and hold only letters, digits and _"
_SLUG_HINT = "names start with a letter or digit and hold only letters, digits, _ . -"
_KEY_ERRORS = frozenset(
    {"string_type", "string_pattern_mismatch", "string_too_long", "string_too_short"}
)
_EXPECTED = {
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "date_type": "expected a date like 2025-10-01",
    "date_parsing": "expected a date like 2025-10-01",
    "date_from_datetime_parsing": "expected a date like 2025-10-01",
    "date_from_datetime_inexact": "expected a date like 2025-10-01, without a time",
    "list_type": "expected a list",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "dict_type": "expected a mapping (key: value)",
}
_BOUNDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _read_as(raw: str, value: Any) -> str:
    """Why an unquoted scalar is not text: the YAML 1.1 traps (``on``, ``13:30``)."""
    if isinstance(value, bool):
        what = f"as the boolean {show_value(value)}"
    elif isinstance(value, int | float) and ":" in raw:
        what = f"1.1 as the base-60 number {value}"
    elif isinstance(value, int | float):
        what = f"as the number {value}"
    else:
        what = "as a date"
    return f"{raw} is read by YAML {what}; to mean the text, write it in quotes: {raw!r}"


def _trap(raw: str, value: Any) -> bool:
    """True for text YAML 1.1 reads as a surprise: ``on``/``no`` -> bool, ``13:30`` -> 810."""
    if isinstance(value, bool):
        return raw.lower() not in ("true", "false")
    return isinstance(value, dt.date) or (isinstance(value, int | float) and ":" in raw)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that the (partial) error location ``loc`` points into."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields
            name = next((n for n, f in fields.items() if part in (n, f.alias)), None)
            if name is None:
                return None
            current = fields[name].annotation
            continue
        current = _unwrap(current, part)
        if current is None:
            return None
    current = _unwrap(current, None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else options[0]
        elif origin in (list, dict) and part is not None:
            args = typing.get_args(annotation)
            return args[-1] if args else None
        else:
            return annotation


_KEY_SYNONYMS = {
    "from": "source",
    "to": "dest",
    "state": "name",
    "role": "roles",
    "if": "conditions",
    "when": "conditions",
}
"""Words designers reach for, and the key the format uses for them."""


def _suggest_key(name: str, allowed: list[str]) -> str | None:
    synonym = _KEY_SYNONYMS.get(name)
    return synonym if synonym in allowed else closest(name, allowed)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    owner = _model_at(model, loc)
    return [f.alias or n for n, f in owner.model_fields.items()] if owner else []


def _message(error: Any, path: PathKey, source: SourceMap, *, is_key: bool) -> str:
    """A pydantic error as a process designer reads it: no ``Input should be``."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    raw = source.plain.get(path)
    if raw is not None and (kind == "string_type" or _trap(raw, value)):
        return _read_as(raw, value)
    if kind == "string_pattern_mismatch":
        hint = _SLUG_HINT if "." in str(ctx.get("pattern", "")) else _NAME_HINT
        return f"{show_value(value)} is not a valid {'key' if is_key else 'name'}: {hint}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",")]
        if options == ["True"]:
            return f"{show_value(value)} is not allowed; write true, or leave the key out"
        hint = did_you_mean(str(value), options)
        return f"{show_value(value)} is not allowed; expected {expected}{hint}"
    if kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
        if path and (
            path[-1] in ("target", "repeat_every", "within")
            or (len(path) >= 3 and path[0] == "tiers" and path[-2] == "clocks")
        ):
            message = f"invalid duration {show_value(value)}: {message}"
        return message
    if kind == "list_type" and isinstance(value, str):
        return f"expected a list, got {show_value(value)} (a list of one is written [{value}])"
    if kind in _EXPECTED:
        shown = "nothing" if value is None else show_value(value)
        return f"{_EXPECTED[kind]}, got {shown}"
    if kind in _BOUNDS:
        bound, phrase = _BOUNDS[kind]
        return f"{phrase} {ctx.get(bound)}, got {show_value(value)}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return f"needs at least {least} item{'s' if least != 1 else ''}, got {len(value or [])}"
    if kind in ("string_too_short", "string_too_long"):
        if kind == "string_too_short":
            limit = f"at least {ctx.get('min_length')}"
        else:
            limit = f"at most {ctx.get('max_length')}"
        return f"must be {limit} characters long, got {show_value(value)}"
    message = str(error["msg"]) or kind
    message = message[0].lower() + message[1:]
    if value is not None and not isinstance(value, dict | list):
        message += f", got {show_value(value)}"
    return message


def _translate(
    exc: ValidationError, model: type[BaseModel], base: PathKey, source: SourceMap
) -> list[Problem]:
    errors = exc.errors(include_url=False)
    # a misspelt key also shows up as the missing key it was meant to be: say it once
    meant: set[PathKey] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            close = _suggest_key(str(loc[-1]), _allowed_keys(model, loc[:-1]))
            if close is not None:
                meant.add((*base, *loc[:-1], close))
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        # pydantic marks a bad dict key by a last "[key]"; a user's own key may read so too
        is_key = len(loc) >= 2 and loc[-1] == "[key]" and error["type"] in _KEY_ERRORS
        if is_key:
            loc = loc[:-1]
        path = (*base, *loc)
        if source.was_reported(path):
            continue
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            close = _suggest_key(str(loc[-1]), allowed)
            if close is not None:
                message = f"unknown key {loc[-1]!r} (did you mean {close!r}?)"
            else:
                message = f"unknown key {loc[-1]!r}" + (
                    f"; allowed: {', '.join(allowed)}" if allowed else ""
                )
            problems.append(source.problem(path, message, key=True))
        elif error["type"] == "missing":
            if path not in meant:
                problems.append(source.problem(path[:-1], f"missing required key {loc[-1]!r}"))
        else:
            message = _message(error, path, source, is_key=is_key)
            problems.append(source.problem(path, message, key=is_key))
    return problems


def _parse(
    model: type[M], data: Any, base: PathKey, source: SourceMap, problems: list[Problem]
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_translate(exc, model, base, source))
        return None


def _written_name(raw: Any, path: PathKey, source: SourceMap) -> str | None:
    """The name a state entry that failed the shape check was meant to have, if any."""
    if isinstance(raw, dict):
        raw, path = raw.get("name"), (*path, "name")
    return raw if isinstance(raw, str) else source.plain.get(path)


def _partial_parts(data: Mapping[str, Any], source: SourceMap) -> Parts:
    """Validate each piece of a broken file on its own, keeping what passes."""
    sink: list[Problem] = []
    parts = Parts()

    def names(key: str) -> list[str] | None:
        value = data.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        return None

    parts.roles = names("roles")
    parts.escalation_chain = names("escalation_chain")
    parts.categories = names("categories")
    calendar = data.get("calendar")
    parts.calendar = calendar if isinstance(calendar, str) else None

    def listed(key: str) -> list[tuple[int, Any]]:
        value = data.get(key)
        return list(enumerate(value)) if isinstance(value, list) else []

    def mapped(key: str) -> list[tuple[str, Any]]:
        value = data.get(key)
        return list(value.items()) if isinstance(value, dict) else []

    for name, raw in mapped("tiers"):
        if (tier := _parse(TierSpec, raw, (), source, sink)) is not None:
            parts.tiers[name] = tier
    parts.tiers_given = isinstance(data.get("tiers"), dict) and len(parts.tiers) == len(
        data["tiers"]
    )
    for i, raw in listed("states"):
        if (state := _parse(StateSpec, raw, (), source, sink)) is not None:
            parts.states[i] = state
        elif (written := _written_name(raw, ("states", i), source)) is not None:
            parts.misread_states.add(written)
    for i, raw in listed("transitions"):
        if (transition := _parse(TransitionSpec, raw, (), source, sink)) is not None:
            parts.transitions[i] = transition
    parts.transitions_given = len(parts.transitions) == len(listed("transitions"))
    for name, raw in mapped("clocks"):
        if (clock := _parse(ClockSpec, raw, (), source, sink)) is not None:
            parts.clocks[name] = clock
    for name, raw in mapped("calendars"):
        if (cal := _parse(CalendarSpec, raw, (), source, sink)) is not None:
            parts.calendars[name] = cal
    for i, raw in listed("invariants"):
        if (inv := _parse(InvariantSpec, raw, (), source, sink)) is not None:
            parts.invariants[i] = inv
    if isinstance(data.get("feedback"), dict):
        parts.feedback = _parse(FeedbackSpec, data["feedback"], (), source, sink)
    return parts


def _full_parts(spec: WorkflowSpec) -> Parts:
    return Parts(
        roles=list(spec.roles),
        escalation_chain=list(spec.escalation_chain),
        categories=list(spec.categories),
        tiers=dict(spec.tiers),
        states=dict(enumerate(spec.states)),
        transitions=dict(enumerate(spec.transitions)),
        clocks=dict(spec.clocks),
        calendars=dict(spec.calendars),
        calendar=spec.calendar,
        feedback=spec.feedback,
        return_visits=spec.return_visits,
        invariants=dict(enumerate(spec.invariants)),
        complete=True,
    )


def _sorted(problems: list[Problem], file: str) -> list[Problem]:
    """In file order; problems of imported calendar files after the workflow's own."""
    return sorted(problems, key=lambda p: (p.file != file, p.file, p.line or 0, p.column or 0))


class LoadedWorkflow:
    """A valid workflow definition together with where it came from."""

    def __init__(
        self, spec: WorkflowSpec, file: str, calendars: Mapping[str, CalendarSpec]
    ) -> None:
        self.spec = spec
        self.file = file
        self.calendars: dict[str, CalendarSpec] = {**calendars, **spec.calendars}

    @property
    def calendar(self) -> CalendarSpec | None:
        """The calendar the workflow names, if any."""
        return self.calendars[self.spec.calendar] if self.spec.calendar else None


def _read_calendars(
    path: Path, name: str, problems: list[Problem], at: PathKey, source: SourceMap
) -> dict[str, CalendarSpec]:
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        problems.append(
            source.problem(
                at,
                f"calendar file {str(path)!r} {what} "
                "(imports are looked up next to the workflow file)",
            )
        )
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        problems.append(source.problem(at, f"cannot read calendar file {name!r}: {reason}"))
        return {}
    data, cal_source, found = read_yaml(text, str(path))
    if found:
        problems.extend(found)
        return {}
    if not isinstance(data, dict):
        found = [
            Problem(
                f"a calendar file is a mapping with calendars:, got {show_value(data)}",
                "",
                str(path),
                1,
                1,
            )
        ]
        problems.extend(found)
        return {}
    spec = _parse(CalendarFileSpec, data, (), cal_source, problems)
    return dict(spec.calendars) if spec else {}


def parse_workflow(
    text: str,
    file: str = "<string>",
    *,
    base_dir: Path | None = None,
    extra_calendars: Mapping[str, CalendarSpec] | None = None,
) -> LoadedWorkflow:
    """Parse and check workflow text.

    Args:
        text: the YAML text.
        file: the name shown in error messages.
        base_dir: where ``imports:`` are looked up (default: the current directory).
        extra_calendars: calendars the host defines, by name.

    Raises:
        WorkflowValidationError: with every problem found, in file order.
    """
    data, source, problems = read_yaml(text, file)
    if data is None and problems:
        raise WorkflowValidationError(problems, file)
    if not isinstance(data, dict):
        message = (
            "a workflow file is a mapping of keys (workflow:, version:, states:, ...), "
            f"got {show_value(data)}"
        )
        raise WorkflowValidationError([Problem(message, "", file, 1, 1)], file)
    calendars: dict[str, CalendarSpec] = dict(extra_calendars or {})
    imports = data.get("imports")
    if isinstance(imports, list):
        for i, name in enumerate(imports):
            if isinstance(name, str):
                target = (base_dir or Path.cwd()) / name
                found = _read_calendars(target, name, problems, ("imports", i), source)
                calendars.update(found)
    spec = _parse(WorkflowSpec, data, (), source, problems)
    parts = _full_parts(spec) if spec is not None else _partial_parts(data, source)
    for path, message in check(parts, calendars):
        problems.append(source.problem(path, message))
    if problems or spec is None:
        raise WorkflowValidationError(_sorted(problems, file), file)
    return LoadedWorkflow(spec, file, calendars)


def load_workflow_file(
    path: str | Path, *, extra_calendars: Mapping[str, CalendarSpec] | None = None
) -> LoadedWorkflow:
    """Read and check one workflow file.

    Raises:
        WorkflowValidationError: the file cannot be read or is not valid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise WorkflowValidationError(
            [Problem(f"cannot read the file: {reason}", "", str(path))], str(path)
        ) from exc
    return parse_workflow(text, str(path), base_dir=path.parent, extra_calendars=extra_calendars)


def is_calendar_file(path: Path) -> bool:
    """True when a YAML file holds only ``calendars:`` (a shared calendar file)."""
    try:
        data, _, problems = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError):
        return False
    return not problems and isinstance(data, dict) and set(data) == {"calendars"}
