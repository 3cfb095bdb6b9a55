"""An encrypted, masked training round vs the same round with plain updates, side by side.

    .venv/bin/python bench/round_bench.py            # 3 owners, digits MLP, 2048-bit key
    .venv/bin/python bench/round_bench.py --rounds 5 --workers 1

Both runs use the same chain (eth-tester), blob store, model, data split, local training and
contract calls; the only difference is what an owner sends: a clipped update packed, masked and
encrypted under AI Inc.'s key (and summed and decrypted by AI Inc.), or the clipped update in
the clear. Each round is timed end to end; the first round of each run is a warm-up (imports,
torch's first call) and is not counted. Times are medians over the counted rounds. A third run
drops one owner in every counted round (after the masks are fixed) and reports what the dropout
recovery costs.

The last line is exactly ``encrypted_over_plain=<x> encrypted_round_s=<t>``.
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


def time_rounds(run: TrainingRun, rounds: int) -> tuple[list[float], list[dict[str, float]]]:
    """Seconds per round, and the per-step timings of each round."""
    seconds, steps = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        report = run.run_round()
        seconds.append(time.perf_counter() - t0)
        steps.append(report.timings)
        assert report.closed, report.refusal
    return seconds, steps


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
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes that encrypt (default: 2, or 1 on a 1-core machine)")
    args = parser.parse_args(argv)

    keys = generate_keypair(2048)
    total = args.rounds + 1
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}")
    results = {}
    for label, encrypted in (("encrypted", True), ("plain", False)):
        with TrainingRun(keys=keys, rounds=total, encrypted=encrypted,
                         workers=args.workers) as run:
            seconds, steps = time_rounds(run, total)
            results[label] = (seconds[1:], steps[1:], run)
    enc_s = statistics.median(results["encrypted"][0])
    plain_s = statistics.median(results["plain"][0])
    run = results["encrypted"][2]
    print(f"round: 3 owners, model {run.model.summary()}")
    print(f"encrypted: {run.model.n_params} values -> {run.history[-1].ciphertexts_per_owner} "
          f"ciphertexts per owner, 2048-bit key, {args.workers} encryption process(es)")
    for label, (secs, steps, r) in results.items():
        keys_seen = sorted({k for s in steps for k in s})
        med = {k: statistics.median(s.get(k, 0.0) for s in steps) for k in keys_seen}
        parts = ", ".join(f"{k} {v:.3f}" for k, v in med.items())
        print(f"{label:9}: median {statistics.median(secs):.3f} s per round "
              f"(rounds: {', '.join(f'{s:.3f}' for s in secs)}); steps: {parts}; "
              f"accuracy after {len(r.history)} rounds {r.history[-1].accuracy:.3f}")
    drop_s, recovery_s = time_dropout_rounds(keys, args.rounds, args.workers)
    print(f"one owner dropped: median {statistics.median(drop_s):.3f} s per round "
          f"({statistics.median(drop_s) / enc_s:.2f}x the full round), of which recovery "
          f"{statistics.median(recovery_s):.3f} s (declare, reveal shares, rebuild seeds, "
          "remove masks)")
    ratio = enc_s / plain_s
    print(f"target: encrypted <= 3x plain: {'met' if ratio <= 3 else 'MISSED'}")
    print(f"encrypted_over_plain={ratio:.2f} encrypted_round_s={enc_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
