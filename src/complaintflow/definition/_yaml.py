"""Safe YAML reading that remembers where every value came from.

PyYAML's composer gives nodes with marks; we build plain Python data from them
ourselves so that every value's path maps to a line and column, duplicate keys are
found (PyYAML silently keeps the last), and no tag can construct an object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from complaintflow.exceptions import Problem

PathKey = tuple[str | int, ...]

MAX_DEPTH = 50
"""Deepest nesting of lists and mappings read; a workflow needs fewer than ten levels."""
MAX_VALUES = 100_000
"""Most values one file may expand to, so that aliases cannot blow up (billion laughs)."""

_STANDARD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(
    _STANDARD + name for name in ("null", "bool", "int", "float", "str", "timestamp")
)
_TYPE_NAMES = {
    "null": "null",
    "bool": "boolean",
    "int": "whole number",
    "float": "number",
    "timestamp": "date",
}


def format_path(path: PathKey) -> str:
    """``('transitions', 6, 'dest')`` -> ``transitions[6].dest``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/object`` -> ``!!python/object`` (as it was written)."""
    return "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag


@dataclass
class SourceMap:
    """Where each path of a document stands in its file (1-based line and column).

    Attributes:
        plain: the written text of unquoted scalars that YAML read as something other
            than text (``on`` -> true, ``13:30`` -> 810), to explain type errors.
        reported: paths whose value was refused while reading; later checks skip them.
    """

    file: str
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    plain: dict[PathKey, str] = field(default_factory=dict)
    reported: set[PathKey] = field(default_factory=set)

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[int | None, int | None]:
        """The position of ``path``; of its key when ``key``; else of the nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while True:
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None, None
            probe = probe[:-1]

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(message, format_path(path), self.file, line, column)

    def was_reported(self, path: PathKey) -> bool:
        """True when ``path`` or one of its ancestors was refused while reading."""
        return any(path[:n] in self.reported for n in range(len(path) + 1))


class _TooManyValues(Exception):
    pass


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # a fresh constructor per file: it caches every node it has built
        self.scalars = SafeConstructor()
        self.count = 0
        self.open: set[int] = set()

    def refuse(self, path: PathKey, node: Node, message: str) -> None:
        line, column = _mark(node)
        self.problems.append(Problem(message, format_path(path), self.source.file, line, column))
        self.source.reported.add(path)

    def build(self, node: Node, path: PathKey, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooManyValues
        self.source.values[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            self.refuse(path, node, "an alias here refers to a value that contains it")
            return None
        if depth >= MAX_DEPTH:
            self.refuse(path, node, f"values are nested more than {MAX_DEPTH} levels deep")
            return None
        self.open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                self._check_tag(node, _STANDARD + "map", path)
                return self._mapping(node, path, depth)
            assert isinstance(node, SequenceNode)
            self._check_tag(node, _STANDARD + "seq", path)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: ScalarNode, path: PathKey) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.refuse(path, node, _tag_message(node.tag))
            return None
        try:
            value = self.scalars.construct_object(node, deep=True)
        # PyYAML raises what the Python type raises (ValueError for 2024-02-30,
        # KeyError for `!!bool maybe`, TypeError for `!!timestamp x`): all mean bad text
        except Exception as exc:
            kind = _TYPE_NAMES.get(node.tag.removeprefix(_STANDARD), "value")
            dated = kind == "date" and isinstance(exc, ValueError) and str(exc)
            reason = f" ({exc})" if dated else ""
            self.refuse(path, node, f"{node.value!r} is not a valid {kind}{reason}")
            return None
        if node.style is None and not isinstance(value, str) and value is not None:
            self.source.plain[path] = node.value
        return value

    def _check_tag(self, node: Node, expected: str, path: PathKey) -> None:
        if node.tag != expected:
            self.refuse(path, node, _tag_message(node.tag))

    def _mapping(self, node: MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _STANDARD + "merge":
                self.refuse(path, key_node, "merge keys (<<) are not supported; write the keys out")
                continue
            if not isinstance(key_node, ScalarNode):
                self.refuse(path, key_node, "a key must be a plain name, not a list or a mapping")
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.refuse(path, key_node, _tag_message(key_node.tag))
                continue
            # every key of the format is a name: take it as written, so that `on:` and
            # `2024:` stay the names 'on' and '2024' instead of true and 2024
            key = str(key_node.value)
            child = (*path, key)
            line, column = _mark(key_node)
            if key in first_line:
                self.problems.append(
                    Problem(
                        f"duplicate key {key!r} (first given on line {first_line[key]})",
                        format_path(child),
                        self.source.file,
                        line,
                        column,
                    )
                )
                continue
            first_line[key] = line
            self.source.keys[child] = (line, column)
            result[key] = self.build(value_node, child, depth + 1)
        return result


def _tag_message(tag: str) -> str:
    shown = show_tag(tag)
    if tag.startswith(_STANDARD + "python/"):
        return (
            f"tag {shown!r} is not allowed: workflow files are read as safe YAML, "
            "which never builds Python objects"
        )
    return (
        f"tag {shown!r} is not allowed: write plain text, numbers, true/false, dates, "
        "lists and mappings, without tags"
    )


def _syntax_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Problem(
            f"YAML syntax error: character U+{ord(char):04X} is not allowed in a YAML file",
            "",
            file,
            line,
            column,
        )
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Problem(f"YAML syntax error: {exc}", "", file)
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    if "'\\t'" in what:
        what = "a tab character cannot be used here; YAML indents with spaces only, never tabs"
    elif what == "mapping values are not allowed here":
        what += " (check the indentation, or put a value holding ': ' in quotes)"
    elif (
        exc.context
        and exc.context_mark
        and exc.problem_mark
        and exc.context_mark.line != exc.problem_mark.line
    ):
        what += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
    return Problem(
        f"YAML syntax error: {what}",
        "",
        file,
        mark.line + 1 if mark else None,
        mark.column + 1 if mark else None,
    )


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document safely.

    Returns:
        The plain data (``None`` when nothing could be read), its source map, and the
        problems found while reading (syntax, duplicate keys, forbidden tags, too deep).
    """
    source = SourceMap(file)
    try:
        documents = list(_compose_all(text))
    except yaml.YAMLError as exc:
        return None, source, [_syntax_problem(exc, text, file)]
    except _TooDeep as exc:
        message = f"values are nested more than {MAX_DEPTH} levels deep"
        return None, source, [Problem(message, "", file, exc.mark.line + 1, exc.mark.column + 1)]
    if not documents or (len(documents) == 1 and _is_empty(documents[0])):
        return None, source, [Problem("the file is empty", "", file, 1, 1)]
    if len(documents) > 1:
        line = documents[1].start_mark.line + 1
        return (
            None,
            source,
            [Problem("a workflow file holds one YAML document, found several", "", file, line, 1)],
        )
    builder = _Builder(source)
    try:
        data = builder.build(documents[0], ())
    except _TooManyValues:
        message = (
            f"the file expands to more than {MAX_VALUES} values (through YAML aliases?); "
            "write it out plainly"
        )
        return None, source, [Problem(message, "", file, 1, 1)]
    return data, source, builder.problems


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STANDARD + "null" and not node.value


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """PyYAML's loader, stopped before its composer recurses too deep for Python."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        nested = isinstance(event, yaml.CollectionStartEvent)
        if nested:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _TooDeep(event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            if nested:
                self.depth -= 1


def _compose_all(text: str) -> Iterator[Node]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()
