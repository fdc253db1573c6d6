"""Loading workflow files: YAML -> shape check -> semantic check, every problem at once."""

from __future__ import annotations

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
)
from complaintflow.definition._semantics import Parts, check, did_you_mean
from complaintflow.definition._yaml import PathKey, SourceMap, read_yaml
from complaintflow.exceptions import Problem, WorkflowValidationError

M = TypeVar("M", bound=BaseModel)

_NAME_HINT = "names start with a letter and hold only letters, digits and _"
_SLUG_HINT = "names start with a letter or digit and hold only letters, digits, _ . -"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


def _translate(
    exc: ValidationError, model: type[BaseModel], base: PathKey, source: SourceMap
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        is_key = "[key]" in error["loc"]
        kind = error["type"]
        value = error.get("input")
        path = (*base, *loc)
        if kind == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            allowed = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
            problems.append(
                source.problem(
                    path,
                    f"unknown key {loc[-1]!r}{did_you_mean(str(loc[-1]), allowed)}"
                    + (f"; allowed: {', '.join(allowed)}" if allowed else ""),
                    key=True,
                )
            )
            continue
        if kind == "missing":
            problems.append(source.problem(path[:-1], f"missing required key {loc[-1]!r}"))
            continue
        if kind == "string_pattern_mismatch":
            hint = _SLUG_HINT if "." in str(error.get("ctx", {}).get("pattern", "")) else _NAME_HINT
            what = "key" if is_key else "name"
            message = f"{_short(value)} is not a valid {what}: {hint}"
        elif kind == "literal_error":
            expected = str(error.get("ctx", {}).get("expected", ""))
            options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",")]
            message = (
                f"{_short(value)} is not allowed; expected {expected}"
                f"{did_you_mean(str(value), options)}"
            )
        elif kind == "value_error":
            message = str(error["msg"]).removeprefix("Value error, ")
            if (loc and loc[-1] in ("target", "repeat_every", "within")) or (
                len(loc) >= 2 and loc[-2] == "clocks" and path[0] == "tiers"
            ):
                message = f"invalid duration {_short(value)}: {message}"
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            message = f"expected a mapping (key: value), got {_short(value)}"
        elif kind == "list_type":
            message = f"expected a list, got {_short(value)}"
        elif kind == "too_short":
            message = str(error["msg"]).replace("List should have", "needs")
            message = message.lower()
        else:
            message = str(error["msg"])
            message = message[0].lower() + message[1:]
            if value is not None and not isinstance(value, dict | list):
                message += f", got {_short(value)}"
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

    def entries(key: str) -> list[tuple[Any, Any]]:
        value = data.get(key)
        if isinstance(value, list):
            return list(enumerate(value))
        if isinstance(value, dict):
            return list(value.items())
        return []

    for key, raw in entries("tiers"):
        if (tier := _parse(TierSpec, raw, (), source, sink)) is not None:
            parts.tiers[str(key)] = tier
    parts.tiers_given = isinstance(data.get("tiers"), dict) and len(parts.tiers) == len(
        data["tiers"]
    )
    for key, raw in entries("states"):
        if (state := _parse(StateSpec, raw, (), source, sink)) is not None:
            parts.states[int(key)] = state
    for key, raw in entries("transitions"):
        if (transition := _parse(TransitionSpec, raw, (), source, sink)) is not None:
            parts.transitions[int(key)] = transition
    for key, raw in entries("clocks"):
        if (clock := _parse(ClockSpec, raw, (), source, sink)) is not None:
            parts.clocks[str(key)] = clock
    for key, raw in entries("calendars"):
        if (cal := _parse(CalendarSpec, raw, (), source, sink)) is not None:
            parts.calendars[str(key)] = cal
    for key, raw in entries("invariants"):
        if (inv := _parse(InvariantSpec, raw, (), source, sink)) is not None:
            parts.invariants[int(key)] = inv
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
        invariants=dict(enumerate(spec.invariants)),
        complete=True,
    )


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


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
    path: Path, source_file: str, problems: list[Problem], at: PathKey, source: SourceMap
) -> dict[str, CalendarSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(
            source.problem(at, f"cannot read calendar file {str(path)!r}: {exc.strerror}")
        )
        return {}
    data, cal_source, found = read_yaml(text, str(path))
    if found:
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
        raise WorkflowValidationError(_sorted(problems), file)
    if not isinstance(data, dict):
        raise WorkflowValidationError(
            [
                Problem(
                    f"expected a mapping at the top of a workflow file, got {_short(data)}",
                    "",
                    file,
                    1,
                    1,
                )
            ],
            file,
        )
    calendars: dict[str, CalendarSpec] = dict(extra_calendars or {})
    imports = data.get("imports")
    if isinstance(imports, list):
        for i, name in enumerate(imports):
            if isinstance(name, str):
                target = (base_dir or Path.cwd()) / name
                calendars.update(_read_calendars(target, file, problems, ("imports", i), source))
    spec = _parse(WorkflowSpec, data, (), source, problems)
    parts = _full_parts(spec) if spec is not None else _partial_parts(data, source)
    for path, message in check(parts, calendars):
        problems.append(source.problem(path, message))
    if problems or spec is None:
        raise WorkflowValidationError(_sorted(problems), file)
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
