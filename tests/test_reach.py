"""Reach: the make-free route (`python -m omteach setup | lab | doctor`), Binder, Colab links, and
the package on every Python 3.12+ the machine has (installed without torch)."""

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
from omteach import doctor, links, setup_tools
from omteach.errors import RepositoryAddressError, SetupError
from omteach.setup_tools import CPU_INDEX, KERNEL_NAME, TORCH_VERSION, setup_plan

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# -- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["teach"], ["setup", "--torch"], ["lab", "extra"],
                                  ["doctor", "--timeout", "soon"], ["links", "a/b", "c/d"]])
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
    assert [s.split("]")[0] for s in steps] == [f"[{i}/7" for i in range(1, 8)], out
    assert "-m venv" in steps[0] and f"torch=={TORCH_VERSION}" in steps[2]
    assert "install -e" in steps[3] and "[dev]" not in steps[3]
    assert f"ipykernel install --sys-prefix --name {KERNEL_NAME}" in steps[4]
    assert "install_pth()" in steps[5]  # after the install: both run omteach's own code
    assert "compile_all()" in steps[6]
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
    assert binder.group(1) == links.recorded_slug(ROOT), "run python -m omteach links"
    for chapter in CHAPTERS:
        link = (f"https://colab.research.google.com/github/{binder.group(1)}/blob/main/notebooks/"
                f"{chapter.name}")
        assert link in readme, f"no Colab link for {chapter.name}"
    for route in ("python -m omteach setup", "python -m omteach lab", "python -m omteach doctor",
                  "make doctor"):
        assert route in readme


# -- the repository's address and the launch links ----------------------------------------------

LINK = re.compile(r"(?:https://github\.com/|https://mybinder\.org/v2/gh/|"
                  r"https://colab\.research\.google\.com/github/)([\w-]+/[\w.-]+?)(?:\.git)?"
                  r"(?=[/\"')\s\\]|$)")


def _all_links(root: Path) -> dict[str, list[str]]:
    """Every GitHub, Binder and Colab link's OWNER/NAME, per file that has any."""
    found = {}
    for path in links.linked_files(root):
        names = LINK.findall(path.read_text(encoding="utf-8"))
        if names:
            found[path.relative_to(root).as_posix()] = names
    return found


def test_every_link_names_the_recorded_repository():
    """One fact: pyproject's [project.urls] Repository; every launch link is made from it."""
    slug = links.recorded_slug(ROOT)
    found = _all_links(ROOT)
    assert {"pyproject.toml", "README.md"} <= set(found), found
    assert sum(map(len, found.values())) >= 2 + len(CHAPTERS), found  # badge, pip, chapters
    wrong = {f: n for f, n in found.items() if set(n) != {slug}}
    assert not wrong, f"links not made from {slug}: {wrong} (run python -m omteach links)"


def _checkout_copy(dest: Path, first_cell: str) -> Path:
    """The files the command rewrites, copied, with one notebook whose first cell installs from
    the repository (as a Colab first cell would), next to a fork's address that must stay."""
    for pattern in links.LINKED_FILES:
        for path in ROOT.glob(pattern):
            if path.is_file():
                target = dest / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    nb = json.loads((dest / CHAPTERS[0].relative_to(ROOT)).read_text())
    nb["cells"][0:0] = [{"cell_type": "code", "id": "colab-install", "metadata": {},
                         "execution_count": None, "outputs": [], "source": first_cell}]
    (dest / CHAPTERS[0].relative_to(ROOT)).write_text(json.dumps(nb, indent=1))
    return dest


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_links_rewrites_every_link_and_nothing_else(tmp_path):
    old = links.recorded_slug(ROOT)
    fork = f"https://github.com/{old}-fork"
    first = f'%pip install "omteach @ git+https://github.com/{old}.git"  # see {fork}\n'
    root = _checkout_copy(tmp_path, first)
    before = _snapshot(root)
    before_links = _all_links(root)
    counts = {f: len(n) for f, n in before_links.items()}
    lines = []
    assert links.run_links("ada-l/omteach.course", root, out=lines.append) == 0

    assert links.recorded_slug(root) == "ada-l/omteach.course"
    after = _all_links(root)
    fork_name = fork.split("github.com/")[1]
    assert {f: len(n) for f, n in after.items()} == counts
    for f, names in after.items():
        assert set(names) <= {"ada-l/omteach.course", fork_name}, (f, names)
    assert sum(n.count(fork_name) for n in after.values()) == 1, "a longer name is not the repo"
    nb_path = CHAPTERS[0].relative_to(ROOT).as_posix()
    cell = json.loads((root / nb_path).read_text())["cells"][0]["source"]
    assert cell == first.replace(f"/{old}.git", "/ada-l/omteach.course.git")
    report = "\n".join(lines)
    assert f"{nb_path}: 1 link (cells: colab-install)" in report, report
    assert "README.md: " in report and "pyproject.toml: 1 link" in report
    changed = {f for f, data in _snapshot(root).items() if data != before[f]}
    assert changed == {f for f, names in before_links.items() if old in names}
    assert {"pyproject.toml", "README.md", nb_path} <= changed

    # idempotent: the same address again changes nothing, byte for byte
    again = _snapshot(root)
    lines.clear()
    assert links.run_links("https://github.com/ada-l/omteach.course.git", root,
                           out=lines.append) == 0
    assert _snapshot(root) == again and "nothing to change" in lines[0]
    # and back: every file is as it was, so nothing but the links was touched
    assert links.rewrite_links(old, root)
    assert _snapshot(root) == before


def test_an_interrupted_rewrite_can_be_repeated(tmp_path, monkeypatch):
    """The address is recorded last: if writing a file fails, the links left behind still name
    the recorded address, so the same command run again completes the rewrite."""
    root = _checkout_copy(tmp_path, "import omteach\n")
    old = links.recorded_slug(root)
    write = Path.write_bytes

    def failing(path, data):
        if path.name == "README.md":
            raise OSError("disk full")
        return write(path, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        links.rewrite_links("ada/omteach", root)
    assert links.recorded_slug(root) == old
    monkeypatch.setattr(Path, "write_bytes", write)
    links.rewrite_links("ada/omteach", root)
    assert {n for names in _all_links(root).values() for n in names} == {"ada/omteach"}


@pytest.mark.parametrize("given, slug", [
    ("ada/omteach", "ada/omteach"), (" ada/omteach\n", "ada/omteach"),
    ("https://github.com/ada/omteach", "ada/omteach"),
    ("https://github.com/ada/omteach.git", "ada/omteach"),
    ("git@github.com:Ada-L/om_teach.git", "Ada-L/om_teach"),
    ("ssh://git@github.com/ada/omteach.v2", "ada/omteach.v2"),
])
def test_addresses_are_read_in_every_form_git_gives(given, slug):
    assert links.parse_slug(given) == slug


@pytest.mark.parametrize("bad", [
    "", "ada", "ada/", "/omteach", "ada/omteach/extra", "-ada/omteach", "ada-/omteach",
    "a--da/omteach", "ada/..", "ada/om teach", "ada/om$", "a" * 40 + "/omteach",
    "ada/" + "o" * 101, "https://gitlab.com/ada/omteach", "git@gitlab.com:ada/omteach.git",
    "https://github.com/ada/omteach/tree/main", "github.com/ada",
])
def test_links_refuses_a_bad_address_and_touches_nothing(bad, tmp_path):
    root = _checkout_copy(tmp_path, "import omteach\n")
    before = _snapshot(root)
    with pytest.raises(RepositoryAddressError, match="OWNER/NAME"):
        links.rewrite_links(bad, root)
    assert _snapshot(root) == before


def test_links_command(tmp_path, capsys):
    readme = (ROOT / "README.md").read_bytes()
    assert cli.main(["links", "ada/not a repo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("omteach: ") and "OWNER/NAME" in err and "Traceback" not in err
    assert cli.main(["links", "--dry-run", "ada/omteach"]) == 0
    out = capsys.readouterr().out
    assert "would point at github.com/ada/omteach" in out and "README.md: " in out
    assert (ROOT / "README.md").read_bytes() == readme, "a dry run writes nothing"


def test_links_reads_the_origin_remote(tmp_path):
    root = _checkout_copy(tmp_path, "import omteach\n")
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    with pytest.raises(RepositoryAddressError, match="no 'origin' remote"):
        links.run_links(None, root)
    subprocess.run([*git, "remote", "add", "origin", "git@github.com:ada/omteach.git"],
                   check=True)
    assert links.run_links(None, root, out=lambda line: None) == 0
    assert links.recorded_slug(root) == "ada/omteach"
    subprocess.run([*git, "remote", "set-url", "origin", "https://gitlab.com/ada/omteach"],
                   check=True)
    with pytest.raises(RepositoryAddressError, match="not the address of a GitHub"):
        links.run_links(None, root)


# -- every Python 3.12+ the machine has, without torch ------------------------------------------


PYENV_DIRS = (Path.home() / ".pyenv" / "versions", Path("/root/.pyenv/versions"))


def _newer_pythons(pyenv_dirs=PYENV_DIRS, which=shutil.which) -> dict[str, Path]:
    """Every CPython 3.12 or newer on this machine (pyenv's released versions, or python3.N on
    PATH), one per minor version, in order: "3.12" -> its python3."""
    found: dict[int, Path] = {}
    for base in dict.fromkeys(pyenv_dirs):
        for exe in sorted(base.glob("3.*/bin/python3")):
            match = re.fullmatch(r"3\.(\d+)\.\d+", exe.parent.parent.name)  # no -dev, no 3.13t
            if match and int(match.group(1)) >= 12:
                found.setdefault(int(match.group(1)), exe)
    for minor in range(12, 20):
        exe = which(f"python3.{minor}")
        if exe:
            found.setdefault(minor, Path(exe))
    return {f"3.{minor}": found[minor] for minor in sorted(found)}


def test_every_python_from_3_12_is_found_once(tmp_path):
    for name in ("3.11.7", "3.12.1", "3.13.0", "3.13.0t", "3.14-dev", "3.12.0", "2.7.18"):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "python3").touch()
    on_path = {"python3.15": "/usr/bin/python3.15", "python3.13": "/usr/bin/python3.13"}
    found = _newer_pythons([tmp_path], which=on_path.get)
    assert found == {"3.12": tmp_path / "3.12.0" / "bin" / "python3",
                     "3.13": tmp_path / "3.13.0" / "bin" / "python3",
                     "3.15": Path("/usr/bin/python3.15")}
    assert _newer_pythons([tmp_path / "none"], which=lambda name: None) == {}


NEWER_PYTHONS = _newer_pythons()
TORCH_FREE_TESTS = ["test_chain.py", "test_market_client.py", "test_ledger.py", "test_he.py",
                    "test_packing.py", "test_blobs.py"]
"""What a newer Python must run: the package's Python side (compiling and deploying contracts,
web3 and eth-tester, the market's client verbs through a round, Paillier, packing, blobs).
The contracts' rules (test_model_market's 300-odd, test_data_use_agreement's) are not repeated
here: the EVM gives the same answer under any Python, and the main run checks each rule on both
chains (they were 25 of every newer Python's 40 seconds)."""

MAIN_PYTHON_ONLY = [
    "test_chain.py::test_a_compiled_contract_is_kept_on_disk_for_the_next_session",
    "test_chain.py::test_an_edited_contract_file_is_compiled_again",
    "test_chain.py::test_a_damaged_cache_file_is_compiled_again_and_repaired",
    "test_chain.py::test_only_the_course_files_go_to_disk_and_a_cache_we_cannot_write_is_no_error",
    "test_chain.py::test_an_exported_cache_serves_another_account_without_compiling",
]
"""The compile cache's bookkeeping (files, hashes, permissions, another account): each compiles
the contracts again, 12 s of a newer Python's run, for file handling no Python version changes.
A newer Python still compiles (test_the_set_up_compiles_every_contract_into_the_cache) and reads
the cache (test_compile_is_cached_by_source_hash)."""


def _copy_of_the_package(dest: Path) -> Path:
    """What a clone holds, without this checkout's build products or local symlinks."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".venv")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "contracts", dest / "contracts", ignore=skip)
    shutil.copytree(ROOT / "omteach", dest / "omteach", ignore=shutil.ignore_patterns(
        "__pycache__", "contracts"))  # omteach/contracts is a local symlink in some checkouts
    return dest


class _TorchFree:
    """The Colab-style install (the package on a Python newer than 3.11) with torch excluded: a
    constraint no torch release satisfies makes any request for torch fail instead of
    downloading a CUDA build. The venv is made and filled by uv (a dev dependency), not pip: the
    same packages from the same index, resolved and installed in parallel, into a cache both
    versions share (a cold install took 7 s against pip's 40 to 60 s, a warm one about 1 s;
    uv never compiles bytecode unless asked, most of which the tests never import)."""

    version = ""  # "3.12", "3.13", ...: set per class below

    @pytest.mark.slow
    def test_torch_free_tests_pass_without_torch(self, tmp_path):
        if self.version not in NEWER_PYTHONS:
            pytest.skip("no Python 3.12 or newer on this machine (pyenv or PATH)")
        python = NEWER_PYTHONS[self.version]
        venv = tmp_path / "venv"
        uv = [sys.executable, "-m", "uv"]
        subprocess.run([*uv, "venv", "--quiet", "--python", str(python), str(venv)], check=True,
                       timeout=300)
        py = str(setup_tools.venv_python(venv))
        no_torch = tmp_path / "no-torch.txt"
        no_torch.write_text("torch===0+omteach.no.torch.here\n")
        deps = [d for d in _project_dependencies() if not d.startswith("torch")]
        (tmp_path / "src").mkdir()
        src = _copy_of_the_package(tmp_path / "src")
        pip = [*uv, "pip", "install", "--quiet", "--python", py, "-c", str(no_torch)]
        for args in ([*deps, "pytest>=8", "hypothesis>=6.100"], ["--no-deps", str(src)]):
            out = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=1500)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        check = subprocess.run([py, "-c", "import importlib.util as u, sys; "
                                "print(sys.version_info[:2], u.find_spec('torch') is None)"],
                               capture_output=True, text=True, timeout=60)
        major, minor = self.version.split(".")
        assert check.stdout.strip() == f"({major}, {minor}) True", (
            f"wrong Python, or torch got installed: {check.stdout}{check.stderr}")
        refused = subprocess.run([*pip, "--dry-run", "torch"], capture_output=True, text=True,
                                 timeout=300)
        assert refused.returncode != 0, "the constraint must make any torch request fail"
        run = tmp_path / "run"  # tests only: the installed package is what they import
        shutil.copytree(ROOT / "tests", run / "tests", ignore=shutil.ignore_patterns(
            "__pycache__", "browser_fixtures"))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
        result = subprocess.run(
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not wheel",
             *[f"--deselect=tests/{t}" for t in MAIN_PYTHON_ONLY],
             *[f"tests/{t}" for t in TORCH_FREE_TESTS]],
            cwd=run, env=env, capture_output=True, text=True, timeout=1500)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        print(f"{python}: {result.stdout.strip().splitlines()[-1]}")  # shown with pytest -s
        passed = re.search(r"(\d+) passed", result.stdout)
        assert passed and int(passed.group(1)) >= 50, result.stdout[-1500:]
        left = re.search(r"(\d+) deselected", result.stdout)
        assert left and int(left.group(1)) > len(MAIN_PYTHON_ONLY), result.stdout[-1500:]


def test_what_only_the_main_python_runs_names_tests_that_exist():
    """A renamed test would silently run under the newer Pythons again: not wrong, but slow."""
    for test_id in MAIN_PYTHON_ONLY:
        module, name = test_id.split("::")
        assert f"\ndef {name}(" in (ROOT / "tests" / module).read_text(), test_id


# One class per Python rather than one parametrised function: `make test` distributes with
# `--dist loadscope`, which would keep every version in this module's worker, one after another.
# With none found, one class remains and skips with the reason.
for _version in NEWER_PYTHONS or {"3.12": None}:
    _name = f"TestTorchFreePython{_version.replace('.', '')}"
    globals()[_name] = type(_name, (_TorchFree,), {"version": _version})


def _project_dependencies() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
