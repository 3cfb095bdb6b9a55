"""Run All of a chapter, before and after a change, interleaved; and the pieces chapter 4 pays.

    .venv/bin/python bench/chapter_bench.py notebooks/04_training_round.ipynb --baseline <rev>
    .venv/bin/python bench/chapter_bench.py --pieces          # only the in-process comparisons
    .venv/bin/python bench/chapter_bench.py --guide           # the teacher's guide's table

Guide (``--guide``): every chapter of the student edition (notebooks/) in a fresh ``omteach``
kernel, ``--runs`` times each, then again with ``--busy`` processes spinning on the cores; it
prints the "Chapters at a glance" table of docs/teaching.md exactly as that page has it, medians
per column: "Run All" is the first cell's start to the last cell's reply (the kernel already
started, as when a student clicks Run All), "fresh kernel" the whole execution with starting and
stopping the kernel, "busy machine" the fresh-kernel time under load; the exercises and their
points are read from the instructor sources' nbgrader metadata.

Run All: the notebook runs in a fresh ``omteach`` kernel (nbclient, as Jupyter's Run All does),
once as git revision ``--baseline`` has it, on that revision's code (exported to a temporary
folder), and once as this checkout has it, taking turns (A, B, A, B, ...) so a busy machine
slows both alike. One unrecorded run of each goes first (Python's bytecode caches); the
compiled-contract cache is a fresh temporary folder, so the checkout's warm-up run is the
cold-cache case and is printed as such.
Per run: wall seconds, CPU seconds of the kernel and its workers (``RUSAGE_CHILDREN``), and each
cell's wall time; medians and the after/before ratio at the end.

Pieces (``--pieces``, also run after Run All): each alternative in this process, interleaved:

  gas estimate   a TrainingRun round on eth-tester with py-evm's bisection vs the quick estimate;
  compile        ModelMarket compiled by Vyper vs read from the compiled-contract cache;
  digits         load the digits in a fresh process: scikit-learn's loader vs the direct read.

The last line is exactly ``before_s=<median wall> after_s=<median wall> after_over_before=<r>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from io import BytesIO
from pathlib import Path

from he_bench import cpu_model

ROOT = Path(__file__).resolve().parent.parent


def export_revision(rev: str, folder: Path) -> Path:
    """The files of git revision ``rev`` in ``folder`` (with the contracts link a checkout has)."""
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    link = folder / "omteach" / "contracts"
    if not link.exists():
        link.symlink_to("../contracts")
    return folder


def run_notebook(path: Path, code: Path, cache: Path) -> tuple[float, float, list[float]]:
    """Execute a notebook in a fresh kernel on the code in ``code``: wall s, CPU s, cell walls."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ["PYTHONPATH"] = str(code)  # the kernel inherits it
    os.environ["OMTEACH_CACHE_DIR"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    NotebookClient(nb, kernel_name="omteach", timeout=600, record_timing=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cells = []
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            a = datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))
            b = datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
            cells.append((b - a).total_seconds())
        else:
            cells.append(0.0)
    return wall, cpu, cells


def cells_span(nb) -> float:
    """Seconds from the first cell's start to the last cell's reply (nbclient's record_timing):
    Run All in a kernel already started."""
    starts, ends = [], []
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            starts.append(datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00")))
            ends.append(datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00")))
    return (max(ends) - min(starts)).total_seconds() if starts else 0.0


GUIDE_ROWS = {
    "01_homomorphic_addition.ipynb": "1 · Homomorphic addition",
    "02_smart_contracts.ipynb": "2 · Smart contracts",
    "03_ledger_immutability.ipynb": "3 · Ledger immutability",
    "04_training_round.ipynb": "4 · A full training round",
    "05_attacks_and_defences.ipynb": "5 · Attacks and defences",
    "06_classroom_round.ipynb": "6 · Classroom round (student, rehearsal)",
    "06_classroom_teacher.ipynb": "6 · Classroom round (teacher, rehearsal)",
}
"""The table's first column: each chapter as the teacher's guide names it."""
EXERCISES = {
    "ch01_ex1_toy_add_check": "toy addition", "ch01_ex2_average_check": "encrypted average",
    "ch01_ex3_slots_check": "slots per ciphertext",
    "ch02_ex1_predictions_check": "predict the contract", "ch02_ex2_rule_check": "add a rule",
    "ch03_ex1_first_broken_check": "first broken block",
    "ch03_ex2_attempts_check": "cost of a rewrite",
    "ch03_ex3_tamper_check": "make the tamper stick",
    "ch04_ex1_ciphertexts_check": "ciphertexts per owner",
    "ch04_ex2_mask_check": "masks that cancel",
    "ch04_ex3_earnings_check": "follow the money",
    "ch05_ex1_invert_check": "gradient inversion", "ch05_ex2_refuse_check": "specs to refuse",
    "ch06_ex2_shares_check": "check the shares", "ch06_ex1_top_up_check": "top up the faucet",
}
"""Each graded cell's short name in the table (a new one falls back to its grade id)."""
GUIDE_HEADER = ("| chapter | Run All | fresh kernel | busy machine | exercises (points) |\n"
                "|---|---|---|---|---|")


def exercises(source: Path) -> str:
    """The table's last column for a chapter: each graded cell's name and points, in order."""
    import nbformat

    out = []
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("points"):
            name = EXERCISES.get(meta["grade_id"], meta["grade_id"])
            out.append(f"{name} ({meta['points']:g})")
    return ", ".join(out)


def spin(count: int) -> list[subprocess.Popen]:
    """``count`` processes spinning on the cores (the guide's "busy machine")."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def guide(runs: int, busy: int, only: list[str] | None = None) -> str:
    """The teacher's guide's table: every chapter's Run All, fresh-kernel and busy medians."""
    import nbformat
    from nbclient import NotebookClient

    books = [ROOT / "notebooks" / name for name in GUIDE_ROWS if not only or name in only]
    times: dict[str, dict[str, list[float]]] = {b.name: {"run": [], "fresh": [], "busy": []}
                                                for b in books}

    def once(book: Path, key: str) -> None:
        nb = nbformat.read(book, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, kernel_name="omteach", timeout=600, record_timing=True,
                       resources={"metadata": {"path": str(book.parent)}}).execute()
        times[book.name][key].append(time.perf_counter() - t0)
        if key == "fresh":
            times[book.name]["run"].append(cells_span(nb))
        print(f"  {book.name} {key}: {times[book.name][key][-1]:.1f} s "
              f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)

    for book in books:  # once unrecorded: the compiled-contract cache, bytecode caches
        NotebookClient(nbformat.read(book, as_version=4), kernel_name="omteach", timeout=600,
                       resources={"metadata": {"path": str(book.parent)}}).execute()
    for _ in range(runs):
        for book in books:
            once(book, "fresh")
    spinners = spin(busy)
    try:
        for _ in range(runs):
            for book in books:
                once(book, "busy")
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    rows = [GUIDE_HEADER]
    for book in books:
        t = {k: statistics.median(v) for k, v in times[book.name].items()}
        rows.append(f"| {GUIDE_ROWS[book.name]} | {t['run']:.1f} s | {t['fresh']:.1f} s | "
                    f"{t['busy']:.1f} s | {exercises(ROOT / 'source' / 'course' / book.name)} |")
    return "\n".join(rows)


def run_all(path: Path, baseline: str, runs: int) -> tuple[float, float]:
    """Interleaved Run All of ``path``, baseline revision vs this checkout; the median walls."""
    import nbformat

    heads = [c.source.splitlines()[0][:60] if c.source else "" for c in
             nbformat.read(path, as_version=4).cells]
    with tempfile.TemporaryDirectory() as tmp:
        base = export_revision(baseline, Path(tmp) / "before")
        codes = {"before": base, "after": ROOT}
        # Each side runs its own revision's notebook (a change may edit cells too).
        books = {k: code / path.relative_to(ROOT) for k, code in codes.items()}
        caches = {k: Path(tmp) / f"cache-{k}" for k in codes}
        for label, code in codes.items():
            wall, cpu, _ = run_notebook(books[label], code, caches[label])
            note = " (cold compiled-contract cache)" if label == "after" else ""
            print(f"warm-up {label:6}: wall {wall:5.1f} s, cpu {cpu:5.1f} s{note}", flush=True)
        results: dict[str, list[tuple[float, float, list[float]]]] = {k: [] for k in codes}
        for i in range(runs):
            for label, code in codes.items():
                wall, cpu, cells = run_notebook(books[label], code, caches[label])
                results[label].append((wall, cpu, cells))
                print(f"run {i + 1} {label:6}: wall {wall:5.1f} s, cpu {cpu:5.1f} s, "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for k, v in results.items()}
    cell_med = {k: [statistics.median(r[2][i] for r in v) for i in range(len(heads))]
                for k, v in results.items()}
    print(f"{path.name}: median wall {med['before'][0]:.1f} s -> {med['after'][0]:.1f} s "
          f"({med['after'][0] / med['before'][0]:.2f}x), median cpu {med['before'][1]:.1f} s -> "
          f"{med['after'][1]:.1f} s ({med['after'][1] / med['before'][1]:.2f}x)")
    print("cells over 0.5 s (median wall, before -> after):")
    for i, head in enumerate(heads):
        b, a = cell_med["before"][i], cell_med["after"][i]
        if max(a, b) >= 0.5:
            print(f"  cell {i:2d}  {b:5.2f} s -> {a:5.2f} s   {head}")
    return med["before"][0], med["after"][0]


def interleave(alternatives: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds of each alternative (a callable), taking turns ``repeats`` times."""
    times: dict[str, list[float]] = {k: [] for k in alternatives}
    for _ in range(repeats):
        for label, fn in alternatives.items():
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    return times


def report(what: str, times: dict[str, list[float]]) -> None:
    """Median and floor of each alternative, and the ratio of the medians (first over last)."""
    (a, ta), (b, tb) = times.items()
    for label, t in times.items():
        print(f"  {what} {label:12}: median {statistics.median(t) * 1000:8.1f} ms, "
              f"floor {min(t) * 1000:8.1f} ms ({len(t)} runs)")
    print(f"  {what}: {a} / {b} = {statistics.median(ta) / statistics.median(tb):.2f}x")


def pieces(repeats: int) -> None:
    """The in-process comparisons: gas estimate, compile, digits."""
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance

    from omteach.chain import Chain
    from omteach.chain.compiler import _compile, _read_cached, compile_contract, contract_source
    from omteach.crypto.paillier import generate_keypair
    from omteach.protocol import TrainingRun

    keys = generate_keypair(2048, fast=True)
    runs = {}
    for label in ("bisection", "quick"):
        chain = Chain()
        if label == "bisection":  # put py-evm's own estimator back on this chain
            tester_chain = chain._provider.ethereum_tester.backend.chain
            type(tester_chain).gas_estimator = staticmethod(binary_gas_search_intrinsic_tolerance)
            tester_chain.gas_estimator = binary_gas_search_intrinsic_tolerance
        runs[label] = TrainingRun(keys=keys, rounds=repeats + 1, chain=chain, workers=1)
        runs[label].run_round()  # warm-up
    times = interleave({k: r.run_round for k, r in runs.items()}, repeats)
    report("round (3 owners, 8 transactions)", times)
    for r in runs.values():
        r.close()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OMTEACH_CACHE_DIR"] = tmp
        compiled = compile_contract("ModelMarket")  # fills the cache
        source = contract_source("ModelMarket")
        times = interleave({
            "vyper": lambda: _compile("ModelMarket", source, compiled.source_hash),
            "cache": lambda: _read_cached("ModelMarket", source, compiled.source_hash)},
            max(2, repeats // 2))
        report("compile ModelMarket", times)

    def fresh(code: str):
        return lambda: subprocess.run([sys.executable, "-c", code], check=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})

    times = interleave({
        "scikit-learn": fresh("from sklearn.datasets import load_digits; load_digits()"),
        "direct": fresh("from omteach.learning.data import load_digits_dataset; "
                        "load_digits_dataset()")}, repeats)
    report("digits in a fresh process", times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", type=Path,
                        default=ROOT / "notebooks" / "04_training_round.ipynb")
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    parser.add_argument("--runs", type=int, default=3, help="recorded Run Alls of each (3)")
    parser.add_argument("--repeats", type=int, default=6, help="turns of each piece (6)")
    parser.add_argument("--pieces", action="store_true", help="only the in-process pieces")
    parser.add_argument("--guide", action="store_true",
                        help="print docs/teaching.md's Run All table (every chapter)")
    parser.add_argument("--busy", type=int, default=4,
                        help="spinning processes for the guide's busy-machine column (4)")
    parser.add_argument("--only", nargs="*", metavar="NOTEBOOK",
                        help="the guide's rows for these notebooks only (file names)")
    args = parser.parse_args(argv)
    machine = (f"{os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}; "
               f"load average {os.getloadavg()[0]:.2f}")
    if args.guide:
        table = guide(args.runs, args.busy, args.only)
        print(f"Measured {datetime.now():%Y-%m-%d} on {machine}; median of {args.runs} runs, "
              f"busy machine: {args.busy} spinning processes.\n")
        print(table)
        return 0
    print(f"machine: {machine}")
    before = after = None
    if not args.pieces:
        before, after = run_all(args.notebook.resolve(), args.baseline, args.runs)
    pieces(args.repeats)
    if before is not None and after is not None:
        print(f"before_s={before:.1f} after_s={after:.1f} after_over_before={after / before:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
