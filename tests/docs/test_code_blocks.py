"""Every ```python block of the docs and the README runs as written.

The blocks of one page run in order in one fresh namespace, with the repository root
as the working directory and relative SQLite URLs pointed into a temporary folder.
Blocks with a title (```python title="app.py"```) are fragments and do not run; see
the contributor note in docs/index.md.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._blocks import ROOT, Block, blocks, pages, with_databases_in

# Blocks in pages this suite does not own that fail as written, by page and a piece of
# their text; reported to the page's owner. A fixed block fails
# test_a_known_broken_block_still_fails: then remove it here.
KNOWN_BROKEN: dict[tuple[str, str], str] = {}


def _known_broken(block: Block) -> bool:
    page = str(block.page.relative_to(ROOT))
    return any(page == p and text in block.source for p, text in KNOWN_BROKEN)


def _run(block: Block, namespace: dict[str, object], databases: Path) -> None:
    code = compile(with_databases_in(block.source, databases), block.where, "exec")
    exec(code, namespace)


def _pages_with_code() -> list[Path]:
    return [page for page in pages() if any(b.runs for b in blocks(page))]


@pytest.fixture
def in_repository(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The repository as working directory; logging as it was, whatever a page set up."""
    monkeypatch.chdir(ROOT)
    loggers = [logging.getLogger(), logging.getLogger("complaintflow")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("in_repository")
@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_the_python_blocks_of_the_page_run_in_order(page: Path, tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block in blocks(page):
        if not block.runs or _known_broken(block):
            continue
        try:
            _run(block, namespace, tmp_path)
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc)[-6:])
            pytest.fail(f"the block at {block.where} failed:\n{detail}", pytrace=False)


@pytest.mark.usefixtures("in_repository")
@pytest.mark.parametrize("key", sorted(KNOWN_BROKEN), ids=lambda k: f"{k[0]}:{k[1][:30]}")
def test_a_known_broken_block_still_fails(key: tuple[str, str], tmp_path: Path) -> None:
    """When the owner fixes the block, this fails: remove it from KNOWN_BROKEN."""
    page, text = key
    namespace: dict[str, object] = {"__name__": "docs_known_broken"}
    for block in blocks(ROOT / page):
        if not block.runs:
            continue
        if text in block.source:
            with pytest.raises(Exception):  # noqa: B017, PT011 - any failure counts
                _run(block, namespace, tmp_path)
            return
        _run(block, namespace, tmp_path)
    pytest.fail(f"no runnable block of {page} contains {text!r}: remove it from KNOWN_BROKEN")


def test_relative_sqlite_urls_point_into_the_temporary_folder(tmp_path: Path) -> None:
    source = 'a("sqlite:///complaints.db"); b("sqlite:////abs/x.db"); c("sqlite:///:memory:")'
    assert with_databases_in(source, tmp_path) == (
        f'a("sqlite:///{tmp_path.as_posix()}/complaints.db"); '
        'b("sqlite:////abs/x.db"); c("sqlite:///:memory:")'
    )


def test_only_plain_python_blocks_run_and_snippets_are_included(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "\n".join(
            [
                "```python",
                "x = 1",
                "```",
                '```python title="app.py"',
                "fragment()",
                "```",
                "!!! note",
                "    ```python",
                "    y = 2",
                "    ```",
                "````markdown",
                "```python",
                "not a block of its own",
                "```",
                "````",
                "```yaml",
                '--8<-- "examples/minimal/workflow.yaml"',
                "```",
                '```python title="excerpt"',
                '--8<-- "examples/fastapi_service/service.py:session"',
                "```",
            ]
        ),
        encoding="utf-8",
    )
    found = blocks(page)
    runs = [(b.line, b.runs) for b in found]
    assert runs == [(1, True), (4, False), (8, True), (11, False), (16, False), (19, False)]
    assert found[2].source == "y = 2\n"
    assert found[4].source.startswith("# A first workflow")
    assert found[5].source.startswith("def request_session(")
    assert "--8<--" not in found[5].source
    assert os.fspath(found[0].page) == os.fspath(page)
