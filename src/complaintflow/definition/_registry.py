"""Loading workflows from files and folders, and the JSON Schema of the format."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from complaintflow.definition._compile import Guard, Workflow
from complaintflow.definition._loader import (
    is_calendar_file,
    load_workflow_file,
    parse_workflow,
)
from complaintflow.definition._models import CalendarSpec, WorkflowSpec
from complaintflow.exceptions import Problem, WorkflowValidationError

YAML_SUFFIXES = (".yaml", ".yml")


def iter_workflow_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Workflow files among ``paths``: files as given, folders searched (sorted, recursive),
    shared calendar files skipped.

    Raises:
        WorkflowValidationError: a path does not exist.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.suffix in YAML_SUFFIXES
                    and child.is_file()
                    and not is_calendar_file(child)
                ):
                    yield child
        elif path.is_file():
            yield path
        else:
            raise WorkflowValidationError(
                [Problem("no such file or folder", "", str(path))], str(path)
            )


def load_workflow(
    source: str | Path | WorkflowSpec,
    *,
    guards: Mapping[str, Guard] | None = None,
    calendars: Mapping[str, CalendarSpec] | None = None,
    require_guards: bool = True,
) -> Workflow:
    """Load, validate and compile one workflow.

    Args:
        source: a file path, or an already-built ``WorkflowSpec``.
        guards: named guards the workflow's transitions refer to.
        calendars: calendars defined by the host, by name.
        require_guards: refuse guard names missing from ``guards``; without it they
            are accepted and refuse every event (for checking a file on its own).

    Raises:
        WorkflowValidationError: every problem in the file, with file, line and column.
    """
    if isinstance(source, WorkflowSpec):
        # a spec built in Python still gets the semantic checks of a file
        text = dump_workflow(source)
        loaded = parse_workflow(text, f"<{source.workflow}>", extra_calendars=calendars)
        return Workflow(
            loaded.spec,
            calendars=loaded.calendars,
            guards=guards,
            file=loaded.file,
            require_guards=require_guards,
        )
    loaded = load_workflow_file(source, extra_calendars=calendars)
    return Workflow(
        loaded.spec,
        calendars=loaded.calendars,
        guards=guards,
        file=loaded.file,
        require_guards=require_guards,
    )


def load_workflows(
    paths: str | Path | Iterable[str | Path],
    *,
    guards: Mapping[str, Guard] | None = None,
    calendars: Mapping[str, CalendarSpec] | None = None,
) -> dict[str, Workflow]:
    """Load every workflow in files and folders, keyed by ``name@version``.

    Raises:
        WorkflowValidationError: all problems of all files together; a workflow
            name and version defined twice is a problem too.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    result: dict[str, Workflow] = {}
    problems: list[Problem] = []
    for path in iter_workflow_files(paths):
        try:
            workflow = load_workflow(path, guards=guards, calendars=calendars)
        except WorkflowValidationError as exc:
            problems.extend(exc.problems)
            continue
        if workflow.key in result:
            problems.append(
                Problem(
                    f"workflow {workflow.key} is also defined in {result[workflow.key].file}",
                    "workflow",
                    str(path),
                )
            )
            continue
        result[workflow.key] = workflow
    if problems:
        raise WorkflowValidationError(problems, "workflows")
    return result


_LINE_BREAKS_READ_AS_NEWLINES = frozenset("\r\x85\u2028\u2029\ufeff")


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML writes NEL, LS, PS and CR raw in plain and single-quoted text, and reading
    # turns them into newlines; only double quotes escape them
    quoted = not _LINE_BREAKS_READ_AS_NEWLINES.isdisjoint(value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if quoted else None)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _represent_text)


def dump_workflow(spec: WorkflowSpec) -> str:
    """YAML text of ``spec`` that loads back to an equal spec."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data.setdefault("version", spec.version)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def workflow_json_schema() -> dict[str, Any]:
    """The JSON Schema of the workflow file format (for editors and validators)."""
    schema = WorkflowSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://complaintflow.dev/schema/workflow.json"
    schema["title"] = "complaintflow workflow"
    return schema


def workflow_json_schema_text() -> str:
    """The JSON Schema as stable, pretty-printed text."""
    return json.dumps(workflow_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
