"""Carry edits made in notebooks/ (the student edition) back into the instructor sources.

The sources in source/course/ are what nbgrader reads; notebooks/ is generated from them
(`make notebooks`). Someone who edits a lesson cell in notebooks/ (in JupyterLab, or on another
branch) would lose the edit at the next `make notebooks`; this script adopts those edits first:
every cell of notebooks/NN.ipynb is copied into source/course/NN.ipynb as it is, except nbgrader's
exercise and grading cells, which keep their source version (solution and hidden tests), matched by
grade id. Outputs, widget state and execution timestamps are left out of the sources.

    .venv/bin/python source/sync_from_notebooks.py   # then: make notebooks
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "source" / "course"


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    """The nbgrader grade id of a cell, or None for an ordinary cell."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def sync(student_path: Path, source_path: Path) -> list[str]:
    """Rewrite ``source_path`` from ``student_path``; returns the grade ids it kept from the
    source. Fails if the student edition lost an exercise or grading cell of the source."""
    student = nbformat.read(student_path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    graded = {grade_id(c): c for c in source.cells if grade_id(c)}
    cells, kept = [], []
    for cell in student.cells:
        gid = grade_id(cell)
        if gid is not None:
            if gid not in graded:
                raise SystemExit(f"{student_path.name}: cell {gid} is not in {source_path}")
            cell = graded[gid]
            kept.append(gid)
        cell = nbformat.from_dict(dict(cell))
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    missing = sorted(set(graded) - set(kept))
    if missing:
        raise SystemExit(f"{student_path.name} lost the graded cells {missing}: restore them")
    student.cells = cells
    student.metadata.pop("widgets", None)
    nbformat.validate(student)
    nbformat.write(student, source_path)
    return kept


def main() -> None:
    """Sync every chapter that has a source."""
    for source_path in sorted(SOURCES.glob("[0-9]*.ipynb")):
        kept = sync(ROOT / "notebooks" / source_path.name, source_path)
        print(f"{source_path.relative_to(ROOT)}: lesson cells from notebooks/, "
              f"{len(kept)} graded cells kept")


if __name__ == "__main__":
    sys.exit(main())
