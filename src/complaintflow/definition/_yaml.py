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
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from complaintflow.exceptions import Problem

PathKey = tuple[str | int, ...]


def format_path(path: PathKey) -> str:
    """``('transitions', 6, 'dest')`` -> ``transitions[6].dest``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class SourceMap:
    """Where each path of a document stands in its file (1-based line and column)."""

    file: str
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

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


class _Scalars(SafeConstructor):
    """Resolves scalar nodes only; anything with an unknown tag is refused."""


_SCALARS = _Scalars()


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def build(self, node: Node, path: PathKey) -> Any:
        self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            self._check_tag(node, "tag:yaml.org,2002:seq", path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            return _SCALARS.construct_object(node, deep=True)
        except ConstructorError:
            self.problems.append(
                self.source.problem(path, f"tag {node.tag!r} is not allowed (safe YAML only)")
            )
            return None

    def _check_tag(self, node: Node, expected: str, path: PathKey) -> None:
        if node.tag != expected:
            self.problems.append(
                self.source.problem(path, f"tag {node.tag!r} is not allowed (safe YAML only)")
            )

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[Any, Any]:
        self._check_tag(node, "tag:yaml.org,2002:map", path)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    self.source.problem(path, "keys must be plain scalars (no merge keys)")
                )
                continue
            key = self.build(key_node, (*path, "<key>"))
            if not isinstance(key, str | int | bool) or key is None:
                key = str(key)
            child = (*path, str(key))
            if key in result:
                self.problems.append(
                    Problem(
                        f"duplicate key {key!r} "
                        f"(first given on line {self._first_line(node, key)})",
                        format_path(child),
                        self.source.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
                continue
            self.source.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child)
        self.source.values.pop((*path, "<key>"), None)
        return result

    @staticmethod
    def _first_line(node: MappingNode, key: Any) -> int:
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(key):
                return int(key_node.start_mark.line) + 1
        return 0  # pragma: no cover


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document safely.

    Returns:
        The plain data (``None`` on a syntax error), its source map, and the problems
        found while reading (syntax, duplicate keys, forbidden tags).
    """
    source = SourceMap(file)
    try:
        documents = list(_compose_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        return None, source, [Problem(f"YAML syntax error: {what}", "", file, line, column)]
    except yaml.YAMLError as exc:
        return None, source, [Problem(f"YAML syntax error: {exc}", "", file)]
    if not documents:
        return None, source, [Problem("the file is empty", "", file, 1, 1)]
    if len(documents) > 1:
        second = documents[1]
        return (
            None,
            source,
            [
                Problem(
                    "a workflow file holds one YAML document, found several",
                    "",
                    file,
                    second.start_mark.line + 1,
                    1,
                )
            ],
        )
    builder = _Builder(source)
    data = builder.build(documents[0], ())
    return data, source, builder.problems


def _compose_all(text: str) -> Iterator[Node]:
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()
