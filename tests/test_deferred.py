"""omteach.deferred: the import every Jupyter server and notebook reader pays for and none uses
(rfc3987_syntax, about 1 s of CPU) waits until something checks an IRI, in the course's .venv
and in the class hub's environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from omteach import deferred
from omteach.setup_tools import setup_plan

ROOT = Path(__file__).resolve().parent.parent

DEFERRED_CHECK = """
import sys
import omteach.deferred
import jsonschema  # what every Jupyter server imports (through jupyter_events), and nbformat
assert sys.modules["rfc3987_syntax"].__omteach_deferred__, "imported at once"
check = jsonschema.Draft7Validator.FORMAT_CHECKER
print(check.conforms("http://example.com/a", "iri"),
      check.conforms("http://ex ample.com/<>", "iri"))
print(getattr(sys.modules["rfc3987_syntax"], "__omteach_deferred__", False))
"""

SHOW = ("import sys, nbformat; "
        "print(getattr(sys.modules.get('rfc3987_syntax'), '__omteach_deferred__', False))")


@pytest.fixture(scope="module", autouse=True)
def _installed():
    import importlib.util

    if importlib.util.find_spec("rfc3987_syntax") is None:
        pytest.skip("rfc3987-syntax is not installed here (jsonschema[format-nongpl] brings it)")


def test_rfc3987_syntax_is_imported_only_when_an_iri_is_checked():
    """Still checked when a schema asks for an IRI, by the real package."""
    out = subprocess.run([sys.executable, "-c", DEFERRED_CHECK], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "False"], out  # a good IRI, a bad one; then the real module


def test_the_set_up_writes_the_pth_line_into_the_venv(tmp_path):
    step = next(s for s in setup_plan(Path("v"), cpu_index_reachable=False)
                if "deferred" in " ".join(s.argv))
    assert step.argv[0].endswith("python") and step.argv[1] == "-c"
    assert deferred.install_pth(tmp_path) == tmp_path / deferred.PTH_NAME
    assert (tmp_path / deferred.PTH_NAME).read_text() == deferred.PTH_LINE
    assert deferred.PTH_LINE.startswith("import ")  # only such lines of a .pth are run


def test_the_pth_line_is_silent_once_omteach_is_gone():
    """Python runs the line at every start of the venv: an uninstalled omteach must not print
    an error each time."""
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"exec({deferred.PTH_LINE!r}); import sys; "
                          "print('omteach.deferred' in sys.modules)"],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0 and out.stdout.split() == ["False"] and not out.stderr, out


def test_this_checkouts_venv_defers_it():
    """`make setup` ran the step here: a Python of .venv reading a notebook does not build the
    parsers (each pytest worker, JupyterLab, nbgrader: a second of CPU each)."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in this checkout's .venv")
    assert (Path(sysconfig.get_paths()["purelib"]) / deferred.PTH_NAME).exists(), (
        "run `make setup` again: .venv predates the deferred import")
    out = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.split() == ["True"], out
