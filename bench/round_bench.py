"""Encrypted, masked training rounds vs plain rounds, interleaved, for both key modes.

    .venv/bin/python bench/round_bench.py            # 3 owners, digits MLP, 2048-bit key
    .venv/bin/python bench/round_bench.py --rounds 6

Five runs side by side, each on its own chain (eth-tester) and blob store, with the same model,
data split, local training and contract calls:

  plain                  owners send their clipped update in the clear;
  standard, 1 process    packed, masked, encrypted under an ordinary key (phe's r^n);
  standard, 2 processes  the same, encrypted over two processes (ParallelEncryptor);
  fast, 1 process        the same key pair in its fast form (DJN h_s, fixed-base table);
  fast, 2 processes.

The runs take turns round by round (round 1 of every run, then round 2, ...), so a busy
machine slows them alike. The first round of each run is a warm-up (imports, torch's first call,
the fast key's table) and is not counted; times are medians over the counted rounds.

A sixth run (fast keys, one process) drops one owner in every counted round after the masks
are fixed and reports what the dropout recovery costs; it runs after the interleaved five.

The last line is exactly ``encrypted_over_plain=<x> encrypted_round_s=<t>`` for fast keys on
one encryption process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from he_bench import cpu_model

from omteach.crypto.paillier import generate_keypair
from omteach.protocol import TrainingRun


def time_dropout_rounds(keys, rounds: int, workers: int) -> tuple[list[float], list[float]]:
    """Seconds per encrypted round with the last owner dropped after the masks are fixed, and
    the recovery step's seconds (declare, reveal shares, rebuild seeds, remove masks)."""
    seconds, recovery = [], []
    with TrainingRun(keys=keys, rounds=rounds + 1, workers=workers) as run:
        run.run_round()  # warm-up, nobody dropped
        last = list(run.owners)[-1]
        for _ in range(rounds):
            t0 = time.perf_counter()
            report = run.run_round(drop=[last])
            seconds.append(time.perf_counter() - t0)
            assert report.closed and report.dropped == [last], report.refusal
            recovery.append(report.timings["recovery"])
    return seconds, recovery


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="counted rounds per run (4)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (1: on a shared 2-core machine, two threads "
                             "made local training several times slower and noisier)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.torch_threads)

    fast = generate_keypair(2048, fast=True)
    standard = fast.to_ordinary()  # the same key pair without h_s
    total = args.rounds + 1
    configs = {"plain": (standard, False, 1),
               "standard, 1 process": (standard, True, 1),
               "standard, 2 processes": (standard, True, 2),
               "fast, 1 process": (fast, True, 1),
               "fast, 2 processes": (fast, True, 2)}
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.2f}; torch threads {args.torch_threads}")
    runs = {label: TrainingRun(keys=keys, rounds=total, encrypted=enc, workers=workers)
            for label, (keys, enc, workers) in configs.items()}
    seconds: dict[str, list[float]] = {label: [] for label in runs}
    steps: dict[str, list[dict[str, float]]] = {label: [] for label in runs}
    try:
        for _ in range(total):
            for label, run in runs.items():
                t0 = time.perf_counter()
                report = run.run_round()
                seconds[label].append(time.perf_counter() - t0)
                steps[label].append(report.timings)
                assert report.closed, report.refusal
    finally:
        for run in runs.values():
            run.close()

    run = runs["fast, 1 process"]
    print(f"round: {len(run.owners)} owners, model {run.model.summary()}")
    print(f"encrypted: {run.model.n_params} values -> {run.history[-1].ciphertexts_per_owner} "
          "ciphertexts per owner, 2048-bit key; medians of rounds 2..")
    medians = {}
    for label in runs:
        secs, st = seconds[label][1:], steps[label][1:]
        medians[label] = statistics.median(secs)
        names = sorted({k for s in st for k in s})
        parts = ", ".join(f"{k} {statistics.median(s.get(k, 0.0) for s in st):.3f}"
                          for k in names)
        print(f"{label:22}: median {medians[label]:.3f} s per round "
              f"({medians[label] / medians['plain']:.2f}x plain; rounds: "
              f"{', '.join(f'{s:.3f}' for s in secs)}); steps: {parts}; accuracy after "
              f"{len(runs[label].history)} rounds {runs[label].history[-1].accuracy:.3f}")
    drop_s, recovery_s = time_dropout_rounds(fast, args.rounds, 1)
    full = medians["fast, 1 process"]
    print(f"fast, 1 process, one owner dropped: median {statistics.median(drop_s):.3f} s per round "
          f"({statistics.median(drop_s) / full:.2f}x the full round), of which recovery "
          f"{statistics.median(recovery_s):.3f} s (declare, reveal shares, rebuild seeds, "
          "remove masks)")
    ratio = medians["fast, 1 process"] / medians["plain"]
    print(f"target: fast keys on one process <= 1.5x plain: {'met' if ratio <= 1.5 else 'MISSED'}")
    print(f"encrypted_over_plain={ratio:.2f} encrypted_round_s={medians['fast, 1 process']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
