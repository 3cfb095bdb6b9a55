"""The answer key, read from the instructor sources (source/course/*.ipynb), for the tests.

Tests take right answers from here rather than holding them as literals: the student edition and
tests/ then contain no answer to copy, and the key itself is checked against the checkers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

SOURCES = Path(__file__).resolve().parent.parent / "source" / "course"


def source_notebook(chapter: int) -> nbformat.NotebookNode:
    """The instructor source of chapter ``chapter`` (1-5)."""
    (path,) = SOURCES.glob(f"{chapter:02d}_*.ipynb")
    return nbformat.read(path, as_version=4)


def graded_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """nbgrader's cells of a notebook by grade id (answer cells and grading cells)."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


def answer(chapter: int, grade_id: str, name: str, **namespace: Any) -> Any:
    """Run the answer cell ``grade_id`` of the chapter's source (its solution included) in
    ``namespace`` (the notebook variables the cell uses) and return the variable ``name``."""
    cell = graded_cells(source_notebook(chapter))[grade_id]
    assert cell.metadata["nbgrader"]["solution"], f"{grade_id} is not an answer cell"
    exec(compile(cell.source, f"<{grade_id}>", "exec"), namespace)  # the course's own key
    return namespace[name]
