"""Set up and start the course without ``make``: ``python -m omteach setup`` and ``... lab``.

Standard library only: this module runs before any dependency is installed, on Linux, macOS and
Windows alike. The Makefile calls the same code, so both routes install the same way:

1. a virtual environment ``.venv`` in the checkout;
2. PyTorch, pinned and **first**: on Linux, PyPI's default torch is the CUDA build (several GB),
   so the pin comes from PyTorch's CPU index when it is reachable; once a torch satisfying the
   package's range is present, nothing else asks for another one;
3. omteach itself, editable, with its test tools if asked;
4. the ``omteach`` Jupyter kernel every notebook asks for, registered inside ``.venv``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from omteach.errors import SetupError  # standard library only, like this module

#: The torch the course is tested with; the set-up installs exactly this before anything else.
TORCH_VERSION = "2.13.0"
#: PyTorch's index of CPU-only wheels (a few hundred MB instead of several GB of CUDA).
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPI_INDEX = "https://pypi.org/simple"
KERNEL_NAME = "omteach"
KERNEL_DISPLAY_NAME = "Python 3 (omteach)"
#: Oldest and newest Python the course is tested on.
OLDEST_PYTHON, NEWEST_PYTHON = (3, 11), (3, 13)
#: The checkout: set-up installs it in editable mode, so it must be a clone, not a wheel.
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Step:
    """One command of the set-up, with what it is for in plain words."""

    what: str
    argv: tuple[str, ...]


def python_problem(version: tuple[int, int] = sys.version_info[:2]) -> str | None:
    """Why this Python cannot run the course (None if it can)."""
    if version < OLDEST_PYTHON:
        return (f"omteach needs Python {OLDEST_PYTHON[0]}.{OLDEST_PYTHON[1]} or newer, found "
                f"{version[0]}.{version[1]}: run the set-up with a newer python "
                "(e.g. `python3.12 -m omteach setup`)")
    return None


def python_warning(version: tuple[int, int] = sys.version_info[:2]) -> str | None:
    """A caution for a Python newer than the newest tested one (None otherwise)."""
    if version > NEWEST_PYTHON:
        return (f"Python {version[0]}.{version[1]} is newer than the newest tested "
                f"({NEWEST_PYTHON[0]}.{NEWEST_PYTHON[1]}); some dependency may not install yet")
    return None


def venv_python(venv: Path, platform: str = sys.platform) -> Path:
    """The interpreter inside a virtual environment (``Scripts\\python.exe`` on Windows)."""
    if platform.startswith("win"):
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def index_reachable(url: str = CPU_INDEX, timeout: float = 5.0) -> bool:
    """Whether a package index answers (a small HEAD request; no download)."""
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def torch_index_args(platform: str, cpu_index_reachable: bool) -> list[str]:
    """pip options that make the torch step take the CPU build.

    Only Linux needs them: PyPI's Linux torch is the CUDA build, while its macOS and Windows
    wheels are CPU builds already. PyTorch's CPU wheels are tagged ``+cpu``, which pip ranks above
    the plain version, so PyPI as the extra index only serves torch's own small dependencies.
    """
    if platform.startswith("linux") and cpu_index_reachable:
        return ["--index-url", CPU_INDEX, "--extra-index-url", PYPI_INDEX]
    return []


def setup_plan(venv: Path, *, platform: str = sys.platform, cpu_index_reachable: bool,
               dev: bool = False, torch_version: str = TORCH_VERSION,
               root: Path = ROOT) -> list[Step]:
    """The set-up's commands, in order: torch (pinned) strictly before the package."""
    py = str(venv_python(venv, platform))
    package = f"{root}[dev]" if dev else str(root)
    return [
        Step("upgrade pip inside .venv", (py, "-m", "pip", "install", "--upgrade", "pip")),
        Step(f"install PyTorch {torch_version} first (the CPU build where possible)",
             (py, "-m", "pip", "install", f"torch=={torch_version}",
              *torch_index_args(platform, cpu_index_reachable))),
        Step("install omteach and its dependencies" + (" and test tools" if dev else ""),
             (py, "-m", "pip", "install", "-e", package)),
        Step(f"register the Jupyter kernel '{KERNEL_NAME}' inside .venv",
             (py, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
              "--display-name", KERNEL_DISPLAY_NAME)),
        Step("defer an import no Jupyter server uses (a second off every server's start)",
             (py, "-c", "from omteach.deferred import install_pth; print(install_pth())")),
        Step("compile the course's contracts once (kept for every chapter's first run)",
             (py, "-c", "from omteach.chain.compiler import compile_all; compile_all()")),
    ]


def torch_note(platform: str, cpu_index_reachable: bool) -> str:
    """What the torch step will download, in plain words."""
    if torch_index_args(platform, cpu_index_reachable):
        return "PyTorch comes from its CPU index (about 200 MB, no CUDA)."
    if platform.startswith("linux"):
        return ("PyTorch's CPU index is not reachable from here, so torch comes from your default "
                "index; from PyPI that is the CUDA build (several GB) unless a local wheel exists.")
    return "PyTorch comes from PyPI, whose macOS and Windows wheels are CPU builds already."


def run_setup(venv: Path, *, dev: bool = False, torch_version: str = TORCH_VERSION,
              dry_run: bool = False, cpu_index_reachable: bool | None = None,
              out=print) -> int:
    """Create ``venv`` if needed and run the set-up plan; return an exit status."""
    problem = python_problem()
    if problem:
        raise SetupError(problem)
    if not (ROOT / "pyproject.toml").is_file():
        raise SetupError(f"{ROOT} is not a clone of the omteach repository; `python -m omteach "
                         "setup` installs a checkout (clone it, then run it from there)")
    if warning := python_warning():
        out(f"note: {warning}")
    if cpu_index_reachable is None:
        cpu_index_reachable = sys.platform.startswith("linux") and index_reachable()
    out(torch_note(sys.platform, cpu_index_reachable))
    steps = setup_plan(venv, cpu_index_reachable=cpu_index_reachable, dev=dev,
                       torch_version=torch_version)
    if not venv_python(venv).exists():
        steps.insert(0, Step(f"create the virtual environment {venv}",
                             (sys.executable, "-m", "venv", str(venv))))
    for number, step in enumerate(steps, 1):
        out(f"[{number}/{len(steps)}] {step.what}: {shlex.join(step.argv)}")
        if dry_run:
            continue
        if subprocess.run(step.argv, cwd=ROOT).returncode != 0:
            out(f"the step '{step.what}' failed (see pip's message above); fix it and run the "
                "set-up again: finished steps are quick the second time")
            return 1
    if not dry_run:
        out("Ready. Start the course with `python -m omteach lab`; check a machine before class "
            "with `python -m omteach doctor`.")
    return 0


def running_as_root() -> bool:
    """True for the root user on a POSIX system (Jupyter then needs --allow-root)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(venv: Path, *, platform: str = sys.platform, as_root: bool = False,
                root: Path = ROOT) -> list[str]:
    """The command that starts JupyterLab on the notebooks with the set-up's interpreter."""
    argv = [str(venv_python(venv, platform)), "-m", "jupyter", "lab",
            f"--ServerApp.root_dir={root / 'notebooks'}"]
    return argv + (["--allow-root"] if as_root else [])


def run_lab(venv: Path, *, dry_run: bool = False, out=print) -> int:
    """Start JupyterLab on ``notebooks/``; return its exit status."""
    if not venv_python(venv).exists():
        raise SetupError(f"no virtual environment at {venv}: run `python -m omteach setup` first")
    argv = lab_command(venv, as_root=running_as_root())
    out(shlex.join(argv))
    if dry_run:
        return 0
    try:
        return subprocess.run(argv, cwd=ROOT).returncode
    except KeyboardInterrupt:  # Ctrl-C is how a lab session ends
        return 0
