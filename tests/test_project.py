"""Guards on the project itself: dependency lists agree, every notebook is really checked."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from omteach.setup_tools import CPU_INDEX, TORCH_VERSION, setup_plan

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(specs: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(s) for s in specs]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def _env_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)


def test_environment_yml_mirrors_pyproject():
    """The same requirements, except torch: a range in the package, the set-up's pin here."""
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    declared = project["dependencies"] + extras["dev"] + extras["hub"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = _env_pip()
    conda_pkgs = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(p.startswith("python=3.11") for p in conda_pkgs), conda_pkgs
    assert "-e .[dev,hub]" in pip_section, "environment.yml must install the project itself"
    mirrored = [s for s in pip_section if not s.startswith("-")]
    want, have = _requirements(declared), _requirements(mirrored)
    assert sorted(want) == sorted(have), (
        f"only in pyproject: {sorted(set(want) - set(have))}; "
        f"only in environment.yml: {sorted(set(have) - set(want))}"
    )
    for name, req in want.items():
        if name == "torch":
            assert str(have[name]) == f"torch=={TORCH_VERSION}", have[name]
            assert req.specifier.contains(TORCH_VERSION), f"{req} refuses the set-up's pin"
            continue
        assert str(req) == str(have[name]), (
            f"{name}: pyproject {req} vs environment.yml {have[name]}"
        )


def test_torch_is_a_range_in_the_package_and_a_pin_installed_first_by_every_set_up():
    """Colab keeps its own torch (a range in the package); every set-up installs the exact pin
    before anything that could ask for an unpinned torch (on Linux: the multi-GB CUDA build)."""
    torch_req = _requirements(_pyproject()["project"]["dependencies"])["torch"]
    assert all(spec.operator != "==" for spec in torch_req.specifier), torch_req
    for colab_torch in ("2.5.1", "2.6.0", "2.8.0", TORCH_VERSION):
        assert torch_req.specifier.contains(colab_torch), f"{torch_req} refuses torch {colab_torch}"
    makefile = (ROOT / "Makefile").read_text()
    assert f"TORCH_VERSION := {TORCH_VERSION}" in makefile
    recipe = makefile[makefile.index("$(STAMP):"):].split("\n\n")[0]
    assert "-m omteach setup" in recipe and "--torch-version $(TORCH_VERSION)" in recipe, recipe
    for platform in ("linux", "darwin", "win32"):
        for reachable in (True, False):
            plan = [s.argv for s in setup_plan(Path("v"), platform=platform, dev=True,
                                               cpu_index_reachable=reachable)]
            torch_step = next(i for i, a in enumerate(plan) if f"torch=={TORCH_VERSION}" in a)
            package_step = next(i for i, a in enumerate(plan) if "-e" in a)
            assert torch_step < package_step, plan
            cpu = "--index-url" in plan[torch_step]
            assert cpu == (platform == "linux" and reachable), (platform, reachable, plan)
    env_pip = _env_pip()
    assert [r for r in env_pip if not r.startswith("-")][0] == f"torch=={TORCH_VERSION}", (
        "torch comes first in environment.yml")
    assert f"--extra-index-url {CPU_INDEX}" in env_pip, "conda on Linux takes the CPU build too"
    binder = (ROOT / "binder" / "requirements.txt").read_text().split()
    assert f"torch=={TORCH_VERSION}" in binder and CPU_INDEX in binder, binder


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands[-1] == "make test", commands


def test_every_notebook_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for nb in NOTEBOOKS:
        assert nb.name in readme, f"{nb.name} is missing from the README's chapter map"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_ready_for_nbval(path: Path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "omteach", "notebooks run on the omteach kernel"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code cells teaches nothing here"
    unexecuted = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not unexecuted, (
        f"code cells {unexecuted} have no execution count, so nbval never compares them: "
        "run the notebook top to bottom and save it with its outputs"
    )
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        "save the notebook from a fresh top-to-bottom run"
    )
    checked = [
        c for c in code
        if c["outputs"] and "nbval-ignore-output" not in c.get("metadata", {}).get("tags", [])
    ]
    assert len(checked) >= 5, "too few cells with compared outputs: nbval would check little"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, "a committed notebook shows an error output"
    assert re.match(r"\d\d_[a-z0-9_]+\.ipynb$", path.name), "chapters are named NN_topic.ipynb"


def test_nbval_waits_for_outputs_long_enough_for_a_loaded_machine():
    """The repository's conftest.py gives every notebook cell nbval runs a patient wait for its
    outputs (nbval's own is 5 s), whether pytest was given tests/ or a notebook alone."""
    from nbval.plugin import IPyNbCell

    import conftest

    assert getattr(IPyNbCell.__init__, "_omteach_patient", False)
    assert conftest.NBVAL_OUTPUT_TIMEOUT_S >= 30
