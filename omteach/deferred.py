"""Run at the start of every Python of the course's environment: defers one import every Jupyter
server pays for and none uses. A ``.pth`` line runs it: :func:`install_pth` writes it into
``.venv`` (a step of ``python -m omteach setup``), and the class hub's shared environment adds
``.venv``'s packages, line included (:meth:`omteach.hub.launch.ClassHub._shared_env`).

Every Jupyter server imports ``jupyter_events``, which imports ``jsonschema``'s format checkers;
with ``jsonschema[format-nongpl]`` (what ``nbformat`` and ``jupyter_events`` ask for) those
import ``rfc3987_syntax``, which builds about 35 Earley parsers (Lark) at import: about 1 s of
CPU, half of a student's server start, 30 s of CPU when a class of 30 logs in at once, and a
second of every process that reads a notebook (nbformat: JupyterLab, nbgrader, nbval, each
pytest worker). No Jupyter schema uses the ``iri`` formats it checks (jsonschema issue #1428;
jsonschema's main branch moved to ``rfc3987-syntax2``). Here ``rfc3987_syntax`` is a stand-in
module until something uses it: then the real package is imported and answers, so an IRI is
still checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

DEFERRED = "rfc3987_syntax"


def _real() -> types.ModuleType:
    """The real package, imported now (replacing the stand-in in ``sys.modules``)."""
    module = sys.modules.get(DEFERRED)
    if module is None or getattr(module, "__omteach_deferred__", False):
        sys.modules.pop(DEFERRED, None)
        module = importlib.import_module(DEFERRED)
    return module


def _is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
    return _real().is_valid_syntax(*args, **kwargs)


def _getattr(name: str) -> Any:
    """Anything else asked of the stand-in comes from the real package; not the import system's
    own questions (``__path__``, ``__file__``...), which would import it at once."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_real(), name)


def install() -> bool:
    """Put the stand-in in place, if the package is installed and not yet imported; whether it
    did."""
    if DEFERRED in sys.modules:
        return False
    spec = importlib.util.find_spec(DEFERRED)
    if spec is None:
        return False
    stand_in = types.ModuleType(DEFERRED, "stand-in until first use: omteach.deferred")
    stand_in.__spec__ = spec  # the real package's: importlib.util.find_spec() asks for it
    stand_in.__omteach_deferred__ = True
    stand_in.is_valid_syntax = _is_valid_syntax  # what jsonschema imports from it
    stand_in.__getattr__ = _getattr
    sys.modules[DEFERRED] = stand_in
    return True


PTH_NAME = "omteach_deferred.pth"
PTH_LINE = ("import sys; exec('try:\\n import omteach.deferred\\nexcept ImportError:\\n pass')\n")
"""The ``.pth`` line: Python runs a line that starts with ``import`` at every start. It does
nothing once omteach is uninstalled (a bare import would print an error at every start)."""


def install_pth(site_packages: Path | None = None) -> Path:
    """Write :data:`PTH_LINE` into ``site_packages`` (this Python's, by default); its path."""
    folder = Path(site_packages or sysconfig.get_paths()["purelib"])
    path = folder / PTH_NAME
    path.write_text(PTH_LINE)
    return path


install()
