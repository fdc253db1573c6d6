"""Fenced code blocks of Markdown pages: which ones run, and how.

A block runs when its info string is exactly ``python`` (or ``py``). Blocks with
anything more (``python title="app.py"``) are fragments to read, and blocks in other
languages never run. Lines ``--8<-- "path"`` include a repository file, as
pymdownx.snippets does when the site is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = frozenset({"python", "py"})

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_SNIPPET = re.compile(r"^[ \t]*-{1,}8<-{1,}[ \t]+[\"'](?P<path>[^\"']+)[\"'][ \t]*$")
# a relative SQLite file (sqlite:///name.db), not an absolute path or :memory:
_SQLITE = re.compile(r"sqlite:///(?![/:])")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its info string and its text."""

    page: Path
    line: int
    info: str
    source: str

    @property
    def language(self) -> str:
        return self.info.split(maxsplit=1)[0].lstrip("{.").rstrip("}") if self.info else ""

    @property
    def runs(self) -> bool:
        return self.info.strip() in RUNNABLE

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order; indented fences (in lists, admonitions,
    tabs) count, and a block ends at a fence of the same character at least as long."""
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        found.append(Block(page, i + 1, opening["info"], _include("\n".join(body)) + "\n"))
        i = j + 1
    return found


def _include(text: str) -> str:
    out = []
    for line in text.splitlines():
        snippet = _SNIPPET.match(line)
        out.append(_snippet(snippet["path"]) if snippet else line)
    return "\n".join(out)


def _snippet(target: str) -> str:
    """A file, or the section between ``--8<-- [start:NAME]`` and ``[end:NAME]`` of
    ``file:NAME``, as pymdownx.snippets includes it."""
    path, _, section = target.partition(":")
    text = (ROOT / path).read_text(encoding="utf-8")
    if not section:
        return text
    start, end = f"--8<-- [start:{section}]", f"--8<-- [end:{section}]"
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.rstrip().endswith(start))
    last = next(i for i, line in enumerate(lines) if line.rstrip().endswith(end))
    return "\n".join(lines[first + 1 : last]).strip("\n")


def with_databases_in(source: str, folder: Path) -> str:
    """``source`` with relative SQLite URLs pointed into ``folder``."""
    return _SQLITE.sub(f"sqlite:///{folder.as_posix()}/", source)


def pages() -> list[Path]:
    """The pages whose blocks are checked: the docs and the README."""
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
