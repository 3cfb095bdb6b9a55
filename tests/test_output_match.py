"""tests/output_match.py judges outputs computed in the browser exactly as nbval judges its own,
and the root conftest.py leaves out nbval's run of exactly the notebooks the browser compares."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import conftest
from tests.output_match import checked, differences, sanitize_patterns

ROOT = Path(__file__).resolve().parent.parent
CH2 = ROOT / "notebooks" / "02_smart_contracts.ipynb"


def committed(path: Path) -> dict[int, list[dict]]:
    """The notebook's own outputs, as the browser hands them over (cell index -> outputs)."""
    nb = json.loads(path.read_text())
    return {i: copy.deepcopy(c["outputs"]) for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "code"}


def first_printing(outputs: dict[int, list[dict]], path: Path = CH2) -> int:
    """The first compared cell that prints to stdout."""
    nb = nbformat.read(path, as_version=4)
    return next(i for i, outs in outputs.items() if checked(nb.cells[i])
                and any(o.get("name") == "stdout" for o in outs))


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("0[1-5]_*.ipynb")),
                         ids=lambda p: p.name)
def test_a_notebooks_own_outputs_match(path):
    assert differences(path, committed(path)) == []


def test_a_changed_figure_is_reported_with_nbvals_name_for_the_cell():
    outputs = committed(CH2)
    index = first_printing(outputs)
    stream = next(o for o in outputs[index] if o.get("name") == "stdout")
    text = "".join(stream["text"])
    stream["text"] = text + "a line nobody printed\n"
    found = differences(CH2, outputs)
    code_number = sorted(outputs).index(index)
    assert len(found) == 1 and found[0].startswith(f"{CH2.name}::Cell {code_number}: "), found
    assert "committed" in found[0] and "computed" in found[0]


def test_an_extra_or_a_missing_output_is_reported():
    outputs = committed(CH2)
    index = first_printing(outputs)
    outputs[index].append({"output_type": "display_data", "data": {"text/plain": "extra"},
                           "metadata": {}})
    assert len(differences(CH2, outputs)) == 1
    outputs = committed(CH2)
    outputs[index] = []
    assert len(differences(CH2, outputs)) == 1


def test_a_cell_the_run_did_not_reach_is_reported():
    outputs = committed(CH2)
    last = max(outputs)
    del outputs[last]
    [found] = differences(CH2, outputs)
    assert "no outputs were computed" in found


def test_what_nbval_forgives_is_forgiven():
    """Streams in pieces and as lists of lines (JupyterLab's model), other widget model ids,
    sanitized values (hashes) and cells tagged nbval-ignore-output."""
    outputs = committed(CH2)
    index = first_printing(outputs)
    stream = next(o for o in outputs[index] if o.get("name") == "stdout")
    text = "".join(stream["text"])
    half = len(text) // 2
    at = outputs[index].index(stream)
    outputs[index][at:at + 1] = [dict(stream, text=[text[:half]]),
                                 dict(stream, text=text[half:].splitlines(keepends=True))]
    for outs in outputs.values():
        for out in outs:
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                view["model_id"] = "0" * 32
    assert differences(CH2, outputs) == []

    patterns = dict(sanitize_patterns())
    assert r"0x[0-9a-f]{10,64}\b" in patterns  # block and transaction hashes
    ch3 = ROOT / "notebooks" / "03_ledger_immutability.ipynb"
    outputs = committed(ch3)
    nb = nbformat.read(ch3, as_version=4)
    hashed = [(i, o) for i, outs in outputs.items() if checked(nb.cells[i]) for o in outs
              if o.get("name") == "stdout" and "0x" in "".join(o["text"])]
    assert hashed, "chapter 3 prints block hashes"
    for _, out in hashed:
        out["text"] = "".join(out["text"]).replace("0x", "0xabcdef0123")
    ignored = [i for i in outputs if not checked(nb.cells[i]) and outputs[i]]
    assert ignored, "chapter 3 has cells tagged nbval-ignore-output"
    for i in ignored:
        outputs[i] = [{"output_type": "stream", "name": "stdout", "text": "anything"}]
    assert differences(ch3, outputs) == []


def test_only_notebooks_with_a_browser_run_are_left_to_it():
    pair = ("notebooks/06_b.ipynb", "notebooks/06_c.ipynb")
    ids = ["tests/test_browser.py::test_notebook_runs_in_jupyterlab[01_a.ipynb]",
           "tests/test_browser.py::test_teacher_and_student_notebooks_side_by_side",
           "notebooks/01_a.ipynb::Cell 0", "notebooks/06_b.ipynb::Cell 0",
           "notebooks/07_d.ipynb::Cell 0"]

    def compared(nodeids, found=True):
        return conftest.compared_in_the_browser(nodeids, found, pair)

    assert compared(ids) == {"notebooks/01_a.ipynb", *pair}
    assert compared(ids[:1]) == {"notebooks/01_a.ipynb"}
    assert compared(ids[1:]) == set(pair)
    assert compared(ids, found=False) == set()
    assert compared(ids[2:]) == set()


def test_a_session_with_the_browser_runs_leaves_out_their_nbval_cells_only():
    """Collected as `make test` collects: every notebook's cells go (its browser test compares
    them: chapters 1-5 alone, chapter 6's two side by side); with the browser tests deselected
    every notebook is nbval's again (the collection test of every notebook by nbval, which
    test_project ran, is this one's second half)."""
    from tests.test_browser import find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium: the browser tests cannot run, so nothing is left out")

    def collected(*args: str) -> list[str]:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                              "-p", "no:cacheprovider", *args, "notebooks",
                              "tests/test_browser.py"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout.splitlines()

    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    lines = collected()
    assert any("side_by_side" in ln for ln in lines)
    assert not [ln for ln in lines if ln.startswith("notebooks/")], lines
    without = collected("-m", "not browser")
    for name in names:  # every notebook is nbval's when no browser test runs it
        assert any(ln.startswith(f"notebooks/{name}::Cell") for ln in without), name
