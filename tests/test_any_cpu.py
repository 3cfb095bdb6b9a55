"""The numerically sensitive notebooks and tests print the same on another CPU.

PyTorch and the BLAS choose their float kernels by CPU at run time (AVX-512, AVX2, plain SSE,
ARM), so the order in which they sum differs from machine to machine. A committed output that
depends on that order passes on the developer's laptop and fails on the next CPU (a student's Mac,
Binder, CI). This test runs the notebooks and tests that compute with floats again, in a fresh
process whose libraries are forced onto other kernels, and compares against the same committed
outputs: a developer on any CPU sees the failure a user on another CPU would.

- ``ATEN_CPU_CAPABILITY``: PyTorch's own vectorized kernels (``default`` = no vector units);
- ``MKL_ENABLE_INSTRUCTIONS`` / ``ONEDNN_MAX_CPU_ISA``: the BLAS and oneDNN this torch build uses
  for matrix products (``torch.__config__.show()`` names MKL and MKL-DNN);
- ``OPENBLAS_CORETYPE``: numpy's BLAS (the wheels ship OpenBLAS).

The notebooks are chapter 5 (attacks that divide and difference gradients, DP sweeps) on every
kernel set and chapter 4 (training rounds, accuracies) on the plainest; the tests are chapter
5's attacks and defences. Each kernel set is a class of its own, so ``make test`` runs them on
different workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SENSITIVE = ["notebooks/05_attacks_and_defences.ipynb", "tests/test_attacks.py",
             "tests/test_defences.py"]
"""Run on every kernel set: the attacks divide and difference gradients (round-off amplified)."""
TRAINING = ["notebooks/04_training_round.ipynb"]
"""Run on the set furthest from any laptop only: chapter 4 prints accuracies of float32
training, which round-off moves less than the three decimals shown (20 s of suite time each)."""

KERNELS = {
    # no vector units at all: the summation order furthest from any laptop's
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                "ONEDNN_MAX_CPU_ISA": "SSE41", "OPENBLAS_CORETYPE": "Prescott"},
    # what an AMD EPYC or an older Intel laptop without AVX-512 runs
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell"},
}


def forced_run(kernels: dict[str, str], paths: list[str]) -> subprocess.CompletedProcess:
    """pytest (nbval included, as the project configures it) on ``paths`` in a fresh process
    with ``kernels`` in its environment; notebook kernels inherit it."""
    env = {**os.environ, **kernels}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "addopts=", "--nbval", "--nbval-kernel-name=omteach",
         "--nbval-sanitize-with=tests/nbval_sanitize.cfg", *paths],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_the_forced_kernels_reach_torch():
    """Not a vacuous pass: the variable really moves PyTorch off its usual kernel."""
    probe = ("import torch; print(torch.backends.cpu.get_cpu_capability())")
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **KERNELS["default"]},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "DEFAULT", out.stdout


class _ForcedKernels:
    """One kernel set: every sensitive notebook and test passes against the committed outputs."""

    kernels = ""

    @pytest.mark.slow
    def test_sensitive_notebooks_and_tests_pass(self):
        paths = SENSITIVE + (TRAINING if self.kernels == "default" else [])
        result = forced_run(KERNELS[self.kernels], paths)
        tail = (result.stdout[-6000:] + result.stderr[-2000:])
        assert result.returncode == 0, (
            f"with {KERNELS[self.kernels]} (another CPU's float kernels) these outputs differ "
            f"from the committed ones; make the computation robust (float64, thresholds far "
            f"from the data), do not loosen the comparison:\n{tail}")
        assert " passed" in result.stdout and " failed" not in result.stdout, tail


for _name_of_set in KERNELS:
    _cls = f"TestKernels{_name_of_set.capitalize()}"
    globals()[_cls] = type(_cls, (_ForcedKernels,), {"kernels": _name_of_set})
