"""nbval's comparison of a notebook's committed outputs, for outputs computed elsewhere.

``make test`` opens chapters 1-5 in a real JupyterLab (tests/test_browser.py), where a kernel
runs every cell; nbval would run each of them again in a kernel of its own, for the same
outputs. The browser test hands the outputs its kernel sent to :func:`differences`, which judges
them exactly as nbval judges its own: the same cell tags and comment markers
(``nbval-ignore-output``, ``NBVAL_SKIP``, ...), the same merging of stream outputs, the same
sanitizing patterns (``tests/nbval_sanitize.cfg``, given to nbval in pyproject.toml) and nbval's
own ``compare_outputs``. The root conftest.py then leaves those notebooks' nbval items out of a
session that runs their browser test, so each notebook runs once there; ``pytest notebooks/``
alone still runs nbval as before.

Written here rather than used from nbval because nbval offers its comparison only inside the
pytest item that executed the cell; this module calls nbval's functions and methods on a
stand-in for that item, so the rules stay nbval's.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbval import plugin as nbval

ROOT = Path(__file__).resolve().parent.parent


def _nbval_options() -> list[str]:
    """The nbval options pyproject.toml gives pytest (addopts), as pytest reads them."""
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return shlex.split(conf["tool"]["pytest"]["ini_options"]["addopts"])


def sanitize_patterns() -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of the sanitize file nbval is given in pyproject.toml."""
    [arg] = [a for a in _nbval_options() if a.startswith("--nbval-sanitize-with=")]
    path = ROOT / arg.split("=", 1)[1]
    return nbval.get_sanitize_patterns(path.read_text())


SKIP_COMPARE = ("metadata", "traceback", "prompt_number", "output_type", "name",
                "execution_count", "application/vnd.jupyter.widget-view+json",
                "image/png", "image/jpeg")
"""What nbval's IPyNbFile leaves out of a comparison without ``--nbdime`` (random widget model
ids, images rendered by the platform's fonts)."""


def _judge(patterns: list[tuple[str, str]]) -> SimpleNamespace:
    """A stand-in for the nbval cell item that ``IPyNbCell.compare_outputs`` is a method of."""
    judge = SimpleNamespace(parent=SimpleNamespace(skip_compare=SKIP_COMPARE,
                                                   sanitize_patterns=dict(patterns)),
                            colors=nbval.nocolors, comparison_traceback=[])
    judge.sanitize = lambda s: nbval.IPyNbCell.sanitize(judge, s)

    def format_output_compare(key, left, right):
        judge.comparison_traceback.append(
            f" mismatch {key!r}\n<<<<<<<<<<<< committed:\n{_short(left)}\n"
            f"============ computed:\n{_short(right)}\n>>>>>>>>>>>>")
    judge.format_output_compare = format_output_compare
    return judge


def _short(value, n: int = 1500) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[:n] + f"… ({len(text)} characters)"


def checked(cell) -> bool:
    """Whether nbval compares this code cell's outputs (its tags and markers, as nbval reads
    them; a cell that was never run in the committed notebook is not compared either)."""
    options = defaultdict(bool, nbval.find_metadata_tags(cell.metadata))
    options.update(dict(nbval.find_comment_markers(cell.source)))
    options.setdefault("check", True)
    return not options["skip"] and bool(options["check"]) and cell.execution_count is not None


def differences(notebook: Path, computed: dict[int, list[dict]]) -> list[str]:
    """What nbval would report for ``notebook`` if its code cells had printed ``computed``
    (cell index in the notebook -> that cell's outputs, as nbformat dicts). A code cell missing
    from ``computed`` is reported too: a run that skipped cells proves nothing."""
    nb = nbformat.read(notebook, as_version=4)
    patterns = sanitize_patterns()
    found = []
    code = [(index, cell) for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for number, (index, cell) in enumerate(code):
        where = f"{notebook.name}::Cell {number}"  # nbval's name for it (code cells counted)
        if index not in computed:
            found.append(f"{where}: no outputs were computed for it")
            continue
        if not checked(cell):
            continue
        judge = _judge(patterns)
        test = nbval.coalesce_streams([nbformat.from_dict(_plain(o)) for o in computed[index]])
        ref = nbval.coalesce_streams([nbformat.from_dict(o) for o in cell.outputs])
        if not nbval.IPyNbCell.compare_outputs(judge, test, ref):
            detail = "\n".join(judge.comparison_traceback)
            found.append(f"{where}: outputs differ from the committed ones\n{detail}")
    return found


def _plain(output: dict) -> dict:
    """An output as nbformat stores it: JupyterLab's model gives a stream's text and a mime
    type's text either as one string or as a list of lines."""
    out = dict(output)
    if isinstance(out.get("text"), list):
        out["text"] = "".join(out["text"])
    if isinstance(out.get("data"), dict):
        out["data"] = {k: "".join(v) if isinstance(v, list) and all(
            isinstance(x, str) for x in v) else v for k, v in out["data"].items()}
    return out

