"""The encrypted linear model's round: packed, unpacked, without re-randomization, and plain.

    .venv/bin/python bench/encrypted_model_bench.py              # 5 rounds (about half a minute)
    .venv/bin/python bench/encrypted_model_bench.py --rounds 3

All four train chapter 5's even/odd logistic regression (Taylor-approximated sigmoid) on the
three owners' digits with the same learning rate and rounds, interleaved round by round:
  packed        the protocol as it is: AI Inc. encrypts the 65 weights, each owner computes a
                masked encrypted gradient from encrypted weights and plain pixels, packs its 65
                gradient ciphertexts into two (Horner's rule in slots of a width AI Inc. sets),
                masks and rerandomizes the two, AI Inc. decrypts two sums;
  unpacked      the protocol before packing (the baseline): all 65 ciphertexts masked and
                rerandomized (one exponentiation each), 65 decrypted;
  bare          unpacked without re-randomization (the old, leaking owner): the floor for any
                safe variant, which must do at least this much;
  plain         the same arithmetic on floats.
A second floor: one bare ``gmpy2.powmod(s, n, n^2)``, timed between rounds: the cost a
rerandomization cannot go below. Times are medians over rounds. The owners run one after
another here; on their own machines they would run side by side, so the per-owner figures are
what one owner adds to a round's wall time.

The last line is exactly
``packed_speedup=<x> packed_over_bare=<x> encrypted_over_plain=<x> encrypted_round_s=<t>
unpacked_round_s=<t> bare_round_s=<t> rerandomize_ms=<t>`` (on one line).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

import gmpy2
from he_bench import cpu_model

from omteach.crypto.paillier import generate_keypair
from omteach.learning.data import split_digits
from omteach.learning.encrypted_model import EncryptedModelRun, linear_accuracy, train_plain

RERANDOMIZE = "owners' rerandomization"


def _floor_ms(public, count: int = 20) -> float:
    """Median ms of one bare powmod(s, n, n^2), the exponentiation a rerandomization does."""
    n, nsq = gmpy2.mpz(public.n), gmpy2.mpz(public.nsquare)
    times = []
    for _ in range(count):
        s = gmpy2.mpz(random.SystemRandom().randrange(1, public.n))
        t0 = time.perf_counter()
        gmpy2.powmod(s, n, nsq)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    shares, test = split_digits(seed=0)
    keys = generate_keypair(2048)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.1f}")

    runs = {"packed": EncryptedModelRun.create(keys, shares),
            "unpacked": EncryptedModelRun.create(keys, shares, pack=False),
            "bare": EncryptedModelRun.create(keys, shares, rerandomize=False, pack=False)}
    times: dict[str, list[float]] = {name: [] for name in (*runs, "plain")}
    floors = []
    for r in range(args.rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run.run_round(r)
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain = train_plain(list(shares.values()), r + 1)
        times["plain"].append((time.perf_counter() - t0) / (r + 1))
        floors.append(_floor_ms(keys.public))
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, run in runs.items():
        steps = {k: statistics.median(t[k] for t in run.timings) for k in run.timings[0]}
        print(f"{name:9}: median {med[name]:.3f} s per round; "
              + ", ".join(f"{k} {v:.3f} s" for k, v in steps.items()))
    print(f"{'plain':9}: median {med['plain'] * 1e3:.3f} ms per round")
    owners = len(runs["packed"].owners)
    floor_ms = statistics.median(floors)
    for name, sent in (("packed", 2), ("unpacked", 65)):
        rr_s = statistics.median(t[RERANDOMIZE] for t in runs[name].timings)
        per_ct_ms = rr_s / (owners * sent) * 1e3
        print(f"re-randomization, {name}: {rr_s:.3f} s per round for {owners * sent} "
              f"ciphertexts ({owners} owners x {sent}), {per_ct_ms:.2f} ms per ciphertext "
              f"(floor: powmod(s, n, n^2) {floor_ms:.2f} ms, ratio {per_ct_ms / floor_ms:.2f})")
    accs = {name: linear_accuracy(run.weights, test) for name, run in runs.items()}
    accs["plain"] = linear_accuracy(plain[-1], test)
    print(f"accuracy after {args.rounds} rounds: "
          + ", ".join(f"{k} {v:.3f}" for k, v in accs.items()))
    print(f"packed_speedup={med['unpacked'] / med['packed']:.2f} "
          f"packed_over_bare={med['packed'] / med['bare']:.2f} "
          f"encrypted_over_plain={med['packed'] / med['plain']:.0f} "
          f"encrypted_round_s={med['packed']:.3f} unpacked_round_s={med['unpacked']:.3f} "
          f"bare_round_s={med['bare']:.3f} rerandomize_ms={per_ct_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
