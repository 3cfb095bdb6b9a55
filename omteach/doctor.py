"""A pre-class check: ``python -m omteach doctor`` (or ``make doctor``).

Imports everything the course needs, runs each chapter's first code cell (read from the notebook
file) on the ``omteach`` kernel, times each, and says in plain words what is missing and how to
get it. Exit status 0 means ready for class.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from omteach.setup_tools import (
    KERNEL_DISPLAY_NAME,
    KERNEL_NAME,
    ROOT,
    TORCH_VERSION,
    python_problem,
    python_warning,
)

#: What the notebooks import, by import name, with the name pip installs it under.
REQUIRED_MODULES = {
    "numpy": "numpy", "torch": "torch", "phe": "phe", "gmpy2": "gmpy2", "web3": "web3",
    "eth_tester": "eth-tester", "eth": "py-evm", "vyper": "vyper", "sklearn": "scikit-learn",
    "ipywidgets": "ipywidgets", "jupyterlab": "jupyterlab", "ipykernel": "ipykernel",
    "matplotlib": "matplotlib", "ipycanvas": "ipycanvas", "dp_accounting": "dp-accounting",
    "cryptography": "cryptography", "coincurve": "coincurve",
}
SETUP_HINT = "run `python -m omteach setup` (or `make setup`)"


@dataclass
class Check:
    """One line of the report: what was checked, whether it passed, and what to do if not."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    seconds: float | None = None

    def line(self) -> str:
        """The check as one plain-text line."""
        mark = "ok" if self.ok else ("MISSING" if self.required else "note")
        took = f" ({self.seconds:.1f} s)" if self.seconds is not None else ""
        return f"{mark:8}{self.name}{took}: {self.detail}"


def check_python() -> Check:
    """The interpreter's version against the supported range."""
    version = ".".join(map(str, sys.version_info[:3]))
    problem = python_problem()
    detail = problem or " ".join(filter(None, [f"Python {version} at {sys.executable}",
                                               python_warning()]))
    return Check("Python", problem is None, detail)


def check_imports(modules: dict[str, str] = REQUIRED_MODULES) -> list[Check]:
    """Import each module, timing it; a missing one names the package to install."""
    checks = []
    for name, pip_name in modules.items():
        start = time.perf_counter()
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 (a broken install raises anything at import)
            checks.append(Check(name, False, f"{pip_name} is not installed or broken "
                                f"({type(exc).__name__}: {exc}); {SETUP_HINT}"))
            continue
        version = getattr(module, "__version__", "")
        checks.append(Check(name, True, f"{pip_name} {version}".strip(),
                            seconds=time.perf_counter() - start))
    torch = sys.modules.get("torch")
    if torch is not None and torch.__version__.split("+")[0] != TORCH_VERSION:
        checks.append(Check("torch version", False, required=False, detail=(
            f"torch {torch.__version__} is installed; the course is tested with {TORCH_VERSION} "
            "(a different torch, e.g. Colab's own, usually works)")))
    return checks


def check_omteach_modules() -> list[Check]:
    """Import every omteach module: a broken install or a missing file shows up here."""
    import omteach

    failed = []
    for info in pkgutil.walk_packages(omteach.__path__, "omteach."):
        if info.name == "omteach.__main__":
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # noqa: BLE001 (report every module, not only the first)
            failed.append(f"{info.name} ({type(exc).__name__}: {exc})")
    if failed:
        return [Check("omteach modules", False, "cannot import " + "; ".join(failed))]
    return [Check("omteach modules", True, "every module imports")]


def registered_kernels() -> dict[str, Path]:
    """Jupyter kernels this interpreter's Jupyter can find, by name."""
    from jupyter_client.kernelspec import KernelSpecManager

    return {name: Path(path) for name, path in KernelSpecManager().find_kernel_specs().items()}


def check_kernel(kernels: dict[str, Path] | None = None) -> Check:
    """The ``omteach`` kernel every notebook asks for, and whether its Python exists."""
    kernels = registered_kernels() if kernels is None else kernels
    if KERNEL_NAME not in kernels:
        return Check("Jupyter kernel", False, (
            f"the kernel '{KERNEL_NAME}' that every notebook asks for is not registered: "
            f"{SETUP_HINT}, or `python -m ipykernel install --sys-prefix --name {KERNEL_NAME} "
            f"--display-name \"{KERNEL_DISPLAY_NAME}\"`"))
    spec = json.loads((kernels[KERNEL_NAME] / "kernel.json").read_text())
    python = spec["argv"][0]
    if python != "python" and not Path(python).exists():
        return Check("Jupyter kernel", False, f"the kernel '{KERNEL_NAME}' points to {python}, "
                     f"which no longer exists: {SETUP_HINT} again")
    return Check("Jupyter kernel", True, f"'{KERNEL_NAME}' runs {python}")


def check_tools() -> list[Check]:
    """Optional tools: anvil (contract tests on a real node) and Chromium (the browser test)."""
    from omteach.chain.anvil import find_anvil

    anvil = find_anvil()
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                   "google-chrome", "chrome"))), None)
    return [
        Check("anvil", anvil is not None, required=False, detail=str(anvil) if anvil else (
            "not found: the notebooks do not need it; the contract tests on a real node are "
            "skipped (install with `make setup-anvil`, which needs Node.js and npm)")),
        Check("Chromium", browser is not None, required=False, detail=browser or (
            "not found: only the browser test needs it (`sudo apt-get install chromium`)")),
    ]


def first_code_cell(notebook: Path) -> str:
    """The source of a notebook's first code cell, read from the file."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            source = cell["source"]
            return source if isinstance(source, str) else "".join(source)
    return ""


def run_cell(source: str, *, kernel: str, cwd: Path, timeout: float) -> tuple[float, str | None]:
    """Run code on a fresh kernel, as opening the notebook would; (seconds, error or None)."""
    from jupyter_client.manager import start_new_kernel

    # The kernel's own chatter (e.g. ipykernel's warning about local TCP) goes to a file, read
    # only when the kernel dies before answering.
    log = tempfile.TemporaryFile()
    try:
        manager, client = start_new_kernel(kernel_name=kernel, cwd=str(cwd), stderr=log,
                                           startup_timeout=120)
    except RuntimeError as exc:
        log.seek(0)
        tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
        log.close()
        raise RuntimeError(" / ".join([str(exc), *tail])) from exc
    errors: list[str] = []

    def collect(msg: dict) -> None:
        if msg["msg_type"] == "error":
            errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

    try:
        start = time.perf_counter()
        try:
            reply = client.execute_interactive(source, timeout=timeout, output_hook=collect)
        except TimeoutError:
            return time.perf_counter() - start, f"did not finish within {timeout:.0f} s"
        seconds = time.perf_counter() - start
        if reply["content"]["status"] != "ok" and not errors:
            errors.append(reply["content"].get("evalue", "the kernel refused the cell"))
        return seconds, (errors[0] if errors else None)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        log.close()


def check_chapters(notebooks: Iterable[Path], *, kernel: str, timeout: float) -> list[Check]:
    """Run each chapter's first code cell on a fresh kernel and time it."""
    checks = []
    for notebook in notebooks:
        source = first_code_cell(notebook)
        try:
            seconds, error = run_cell(source, kernel=kernel, cwd=notebook.parent, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 (a kernel that cannot start is a finding too)
            seconds, error = None, f"the kernel '{kernel}' did not start ({exc})"
        detail = "first cell runs" if error is None else f"first cell fails: {error}"
        checks.append(Check(notebook.stem, error is None, detail, seconds=seconds))
    return checks


def run_doctor(notebooks: Path = ROOT / "notebooks", *, timeout: float = 300.0,
               out: Callable[[str], None] = print) -> int:
    """Run every check, print the report, and return 0 when ready for class (1 otherwise)."""
    checks = [check_python(), *check_imports()]
    out("\n".join(c.line() for c in checks))
    kernel_check = check_kernel()
    later = [*check_omteach_modules(), kernel_check, *check_tools()]
    out("\n".join(c.line() for c in later))
    checks += later
    # Without the course's kernel, still try the cells on this Python's own kernel.
    kernel = KERNEL_NAME if kernel_check.ok else "python3"
    chapters = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        checks.append(Check("chapters", False, f"no chapter notebooks in {notebooks}"))
        out(checks[-1].line())
    for check in check_chapters(chapters, kernel=kernel, timeout=timeout):
        out(check.line())
        checks.append(check)
    problems = [c for c in checks if c.required and not c.ok]
    if problems:
        out(f"Not ready: {len(problems)} problem(s) marked MISSING above; each says what to do.")
        return 1
    out("Ready for class: every required check passed.")
    return 0
