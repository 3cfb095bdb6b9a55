"""Reach: the make-free route (`python -m omteach setup | lab | doctor`), Binder, Colab links, and
the package on the newest Python the machine has (installed without torch)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from omteach import __main__ as cli
from omteach import doctor, setup_tools
from omteach.errors import SetupError
from omteach.setup_tools import CPU_INDEX, KERNEL_NAME, TORCH_VERSION, setup_plan

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# -- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["teach"], ["setup", "--torch"], ["lab", "extra"],
                                  ["doctor", "--timeout", "soon"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage: python -m omteach" in capsys.readouterr().err


def test_setup_dry_run_prints_torch_before_the_package(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(setup_tools, "index_reachable", lambda *a, **k: False)  # stay offline
    assert cli.main(["setup", "--dry-run", "--venv", str(tmp_path / "v")]) == 0
    out = capsys.readouterr().out.splitlines()
    steps = [line for line in out if line.startswith("[")]
    assert [s.split("]")[0] for s in steps] == [f"[{i}/6" for i in range(1, 7)], out
    assert "-m venv" in steps[0] and f"torch=={TORCH_VERSION}" in steps[2]
    assert "install -e" in steps[3] and "[dev]" not in steps[3]
    assert f"ipykernel install --sys-prefix --name {KERNEL_NAME}" in steps[4]
    assert "compile_all()" in steps[5]  # after the install: it runs omteach's own code
    assert not (tmp_path / "v").exists(), "a dry run creates nothing"


def test_setup_dev_and_torch_version_reach_the_plan(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(setup_tools, "index_reachable", lambda *a, **k: False)
    cli.main(["setup", "--dry-run", "--dev", "--torch-version", "2.6.0", "--venv", str(tmp_path)])
    out = capsys.readouterr().out
    assert "torch==2.6.0" in out and "[dev]" in out


@pytest.mark.parametrize("platform, reachable, cpu", [
    ("linux", True, True), ("linux", False, False), ("darwin", True, False),
    ("win32", True, False),
])
def test_only_linux_takes_the_cpu_index_and_only_when_it_answers(platform, reachable, cpu):
    plan = setup_plan(Path("venv"), platform=platform, cpu_index_reachable=reachable)
    torch_step = plan[1].argv
    assert f"torch=={TORCH_VERSION}" in torch_step
    assert (CPU_INDEX in torch_step) is cpu
    if cpu:
        assert torch_step[-4:] == ("--index-url", CPU_INDEX, "--extra-index-url",
                                   setup_tools.PYPI_INDEX)
    python = plan[0].argv[0]
    assert python.endswith(os.path.join("Scripts", "python.exe") if platform == "win32"
                           else os.path.join("bin", "python"))
    assert "CPU" in setup_tools.torch_note(platform, reachable) or not cpu


def test_python_versions():
    assert setup_tools.python_problem((3, 10)) and "3.11 or newer" in setup_tools.python_problem(
        (3, 10))
    assert setup_tools.python_problem((3, 11)) is None
    assert setup_tools.python_problem((3, 13)) is None
    assert setup_tools.python_warning((3, 13)) is None
    assert "newer than the newest tested" in setup_tools.python_warning((3, 14))


def test_lab_without_a_venv_says_to_run_setup(tmp_path, capsys):
    assert cli.main(["lab", "--venv", str(tmp_path / "nothing")]) == 1
    assert "run `python -m omteach setup` first" in capsys.readouterr().err


def test_lab_command(tmp_path, capsys):
    argv = setup_tools.lab_command(tmp_path, platform="linux", as_root=True, root=ROOT)
    assert argv[:4] == [str(tmp_path / "bin" / "python"), "-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={ROOT / 'notebooks'}" in argv and argv[-1] == "--allow-root"
    assert "--allow-root" not in setup_tools.lab_command(tmp_path, as_root=False)
    python = setup_tools.venv_python(tmp_path)
    python.parent.mkdir(parents=True)
    python.touch()
    assert cli.main(["lab", "--dry-run", "--venv", str(tmp_path)]) == 0
    assert "jupyter lab" in capsys.readouterr().out


def test_setup_refuses_an_old_python(monkeypatch):
    monkeypatch.setattr(setup_tools, "python_problem", lambda: "omteach needs Python 3.11")
    with pytest.raises(SetupError, match="3.11"):
        setup_tools.run_setup(Path("v"), dry_run=True, cpu_index_reachable=False)


def test_the_setup_path_imports_only_the_standard_library():
    """`python -m omteach setup` runs before any dependency is installed."""
    code = ("import sys; import omteach.__main__, omteach.setup_tools; "
            "third = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)"
            " - {'omteach', '__main__'}); print(third)")
    # -I -S: no site-packages at all, as on a machine where nothing is installed yet
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, "
                          f"{str(ROOT)!r}); {code}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


# -- doctor ---------------------------------------------------------------------------------------


def _notebook(path: Path, *cells: tuple[str, str]) -> Path:
    nb = {"cells": [{"cell_type": kind, "source": src, "metadata": {}, "outputs": [],
                     "execution_count": None} for kind, src in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_first_code_cell_is_read_from_the_file(tmp_path):
    nb = _notebook(tmp_path / "01_x.ipynb", ("markdown", "# title"), ("code", ["a = 1\n", "b = 2"]),
                   ("code", "c = 3"))
    assert doctor.first_code_cell(nb) == "a = 1\nb = 2"
    assert doctor.first_code_cell(_notebook(tmp_path / "02_y.ipynb", ("markdown", "x"))) == ""
    for chapter in CHAPTERS:  # the real chapters start with code the doctor can run
        first = doctor.first_code_cell(chapter)
        if chapter.name.startswith("06_"):  # the class's address first: None rehearses alone
            assert first.startswith("CLASS = None"), chapter.name
        else:
            assert "import" in first, chapter.name


def test_missing_modules_are_named_with_what_to_do():
    checks = doctor.check_imports({"json": "json", "omteach_no_such_module": "no-such-package"})
    assert [c.ok for c in checks[:2]] == [True, False]
    line = checks[1].line()
    assert line.startswith("MISSING") and "no-such-package is not installed" in line
    assert "python -m omteach setup" in line


def test_kernel_check(tmp_path):
    missing = doctor.check_kernel({})
    assert not missing.ok and "not registered" in missing.detail and "ipykernel install" in (
        missing.detail)
    spec = tmp_path / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(tmp_path / "gone" / "python")]}))
    stale = doctor.check_kernel({KERNEL_NAME: spec})
    assert not stale.ok and "no longer exists" in stale.detail
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel"]}))
    assert doctor.check_kernel({KERNEL_NAME: spec}).ok


@pytest.mark.slow
def test_chapters_run_on_a_fresh_kernel_and_failures_are_named(tmp_path):
    good = _notebook(tmp_path / "01_good.ipynb",
                     ("code", "import math\n%matplotlib inline\nx = math.sqrt(4)"))
    bad = _notebook(tmp_path / "02_bad.ipynb", ("code", "import omteach_no_such_module"))
    checks = doctor.check_chapters([good, bad], kernel="python3", timeout=120)
    assert [c.ok for c in checks] == [True, False], [c.line() for c in checks]
    assert checks[0].seconds is not None and checks[0].line().startswith("ok      01_good (")
    assert "ModuleNotFoundError" in checks[1].detail
    slow = _notebook(tmp_path / "03_slow.ipynb", ("code", "import time; time.sleep(30)"))
    (late,) = doctor.check_chapters([slow], kernel="python3", timeout=2)
    assert not late.ok and "did not finish within 2 s" in late.detail
    (nokernel,) = doctor.check_chapters([good], kernel="omteach-no-such-kernel", timeout=10)
    assert not nokernel.ok and "did not start" in nokernel.detail


@pytest.mark.slow
def test_doctor_end_to_end(tmp_path, capsys):
    _notebook(tmp_path / "01_tiny.ipynb", ("code", "import numpy as np\nx = np.ones(2)"))
    status = cli.main(["doctor", "--here", "--notebooks", str(tmp_path), "--timeout", "120"])
    out = capsys.readouterr().out
    missing = [line for line in out.splitlines() if line.startswith("MISSING")]
    assert status == (1 if missing else 0), out
    assert "01_tiny (" in out and "omteach modules" in out and "Jupyter kernel" in out
    assert out.rstrip().endswith("every required check passed.") or missing


def test_doctor_without_chapters_is_not_ready(tmp_path, capsys):
    assert cli.main(["doctor", "--here", "--notebooks", str(tmp_path)]) == 1
    assert "no chapter notebooks" in capsys.readouterr().out


def test_doctor_covers_every_dependency():
    import tomllib

    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {Requirement(d).name.lower() for d in deps}
    assert names == set(doctor.REQUIRED_MODULES.values()), "the doctor imports every dependency"


# -- Binder and Colab -----------------------------------------------------------------------------


def test_binder_installs_cpu_torch_then_the_package_and_registers_the_kernel():
    binder = ROOT / "binder"
    requirements = (binder / "requirements.txt").read_text().split()
    assert requirements[requirements.index("--index-url") + 1] == CPU_INDEX
    assert f"torch=={TORCH_VERSION}" in requirements
    post = (binder / "postBuild").read_text()
    assert os.access(binder / "postBuild", os.X_OK), "repo2docker runs postBuild as a program"
    assert "pip install --no-cache-dir -e ." in post
    assert f"ipykernel install --sys-prefix --name {KERNEL_NAME}" in post
    assert re.fullmatch(r"python-3\.1[1-3]\s*", (binder / "runtime.txt").read_text())


def test_readme_has_binder_badge_and_a_colab_link_per_chapter():
    readme = (ROOT / "README.md").read_text()
    binder = re.search(r"https://mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/HEAD\?urlpath=lab/tree/"
                       r"notebooks", readme)
    assert binder and "mybinder.org/badge_logo.svg" in readme
    for chapter in CHAPTERS:
        link = (f"https://colab.research.google.com/github/{binder.group(1)}/blob/main/notebooks/"
                f"{chapter.name}")
        assert link in readme, f"no Colab link for {chapter.name}"
    for route in ("python -m omteach setup", "python -m omteach lab", "python -m omteach doctor",
                  "make doctor"):
        assert route in readme


# -- the newest Python, without torch -------------------------------------------------------------


def _newest_python() -> Path | None:
    """The newest CPython 3.12+ on this machine (pyenv's, or on PATH), or None."""
    found: dict[tuple[int, int], Path] = {}
    for base in {Path.home() / ".pyenv" / "versions", Path("/root/.pyenv/versions")}:
        for exe in base.glob("3.1[2-9]*/bin/python3"):
            match = re.match(r"3\.(\d+)", exe.parent.parent.name)
            if match:
                found.setdefault((3, int(match.group(1))), exe)
    for minor in range(12, 20):
        exe = shutil.which(f"python3.{minor}")
        if exe:
            found.setdefault((3, minor), Path(exe))
    return found[max(found)] if found else None


TORCH_FREE_TESTS = ["test_chain.py", "test_data_use_agreement.py", "test_model_market.py",
                    "test_ledger.py", "test_he.py", "test_packing.py", "test_blobs.py"]


def _copy_of_the_package(dest: Path) -> Path:
    """What a clone holds, without this checkout's build products or local symlinks."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".venv")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "contracts", dest / "contracts", ignore=skip)
    shutil.copytree(ROOT / "omteach", dest / "omteach", ignore=shutil.ignore_patterns(
        "__pycache__", "contracts"))  # omteach/contracts is a local symlink in some checkouts
    return dest


@pytest.mark.slow
def test_torch_free_tests_pass_on_the_newest_python_without_torch(tmp_path):
    """The Colab-style install (the package on a Python newer than 3.11) with torch excluded: a
    constraint no torch release satisfies makes any request for torch fail instead of
    downloading a CUDA build."""
    python = _newest_python()
    if python is None:
        pytest.skip("no Python 3.12 or newer on this machine (pyenv or PATH)")
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=300)
    py = str(setup_tools.venv_python(venv))
    no_torch = tmp_path / "no-torch.txt"
    no_torch.write_text("torch===0+omteach.no.torch.here\n")
    deps = [d for d in _project_dependencies() if not d.startswith("torch")]
    (tmp_path / "src").mkdir()
    src = _copy_of_the_package(tmp_path / "src")
    pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c",
           str(no_torch)]
    for args in ([*deps, "pytest>=8", "hypothesis>=6.100"], ["--no-deps", str(src)]):
        out = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=1500)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    check = subprocess.run([py, "-c", "import importlib.util as u, sys; "
                            "print(sys.version_info[:2], u.find_spec('torch') is None)"],
                           capture_output=True, text=True, timeout=60)
    assert check.stdout.strip().endswith("True"), f"torch got installed: {check.stdout}"
    refused = subprocess.run([*pip, "--dry-run", "torch"], capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode != 0, "the constraint must make any torch request fail"
    run = tmp_path / "run"  # tests only: the installed package is what they import
    shutil.copytree(ROOT / "tests", run / "tests", ignore=shutil.ignore_patterns(
        "__pycache__", "browser_fixtures"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    result = subprocess.run(
        [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not wheel",
         *[f"tests/{t}" for t in TORCH_FREE_TESTS]],
        cwd=run, env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    print(f"{python}: {result.stdout.strip().splitlines()[-1]}")  # shown with pytest -s
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 50, result.stdout[-1500:]


def _project_dependencies() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
