"""The encrypted linear model's round, with and without re-randomization, vs the plain round.

    .venv/bin/python bench/encrypted_model_bench.py              # 5 rounds (about half a minute)
    .venv/bin/python bench/encrypted_model_bench.py --rounds 3

All three train chapter 5's even/odd logistic regression (Taylor-approximated sigmoid) on the three
owners' digits with the same learning rate and rounds, interleaved round by round:
  rerandomized  the protocol as it is: AI Inc. encrypts the 65 weights, each owner computes a
                masked encrypted gradient from encrypted weights and plain pixels and
                rerandomizes all 65 ciphertexts it sends (one exponentiation each), AI Inc.
                decrypts the sum;
  bare          the same without re-randomization (the old, leaking owner), to show its cost;
  plain         the same arithmetic on floats.
floor: one bare ``gmpy2.powmod(s, n, n^2)``, timed between rounds: the cost a rerandomization
cannot go below without a faster method (e.g. fixed-base tables). Times are medians over rounds.
The owners run one after another here; on their own machines they would run side by side, so
the per-owner figures are what one owner adds to a round's wall time.

The last line is exactly
``encrypted_over_plain=<x> encrypted_round_s=<t> bare_round_s=<t> rerandomize_ms=<t>``.
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
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}")

    rerand = EncryptedModelRun.create(keys, shares)
    bare = EncryptedModelRun.create(keys, shares, rerandomize=False)
    times: dict[str, list[float]] = {"rerandomized": [], "bare": [], "plain": []}
    floors = []
    for r in range(args.rounds):
        for name, run in (("rerandomized", rerand), ("bare", bare)):
            t0 = time.perf_counter()
            run.run_round(r)
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain = train_plain(list(shares.values()), r + 1)
        times["plain"].append((time.perf_counter() - t0) / (r + 1))
        floors.append(_floor_ms(keys.public))
    med = {k: statistics.median(v) for k, v in times.items()}
    owners = len(rerand.owners)
    sent = owners * len(rerand.weights)
    for name, run in (("rerandomized", rerand), ("bare", bare)):
        steps = {k: statistics.median(t[k] for t in run.timings) for k in run.timings[0]}
        print(f"{name:12}: median {med[name]:.3f} s per round; "
              + ", ".join(f"{k} {v:.3f} s" for k, v in steps.items()))
    print(f"{'plain':12}: median {med['plain'] * 1e3:.3f} ms per round")
    rr_s = statistics.median(t[RERANDOMIZE] for t in rerand.timings)
    per_ct_ms = rr_s / sent * 1e3
    floor_ms = statistics.median(floors)
    print(f"re-randomization: {rr_s:.3f} s per round for {sent} ciphertexts ({owners} owners x "
          f"{sent // owners}), {rr_s / owners:.3f} s per owner, {per_ct_ms:.2f} ms per ciphertext "
          f"(floor: powmod(s, n, n^2) {floor_ms:.2f} ms, ratio {per_ct_ms / floor_ms:.2f})")
    print(f"rerandomized / bare round: {med['rerandomized'] / med['bare']:.2f}x "
          f"(+{med['rerandomized'] - med['bare']:.3f} s)")
    accs = [linear_accuracy(w, test) for w in (rerand.weights, bare.weights, plain[-1])]
    print(f"accuracy after {args.rounds} rounds: rerandomized {accs[0]:.3f}, bare {accs[1]:.3f}, "
          f"plain {accs[2]:.3f}")
    print(f"encrypted_over_plain={med['rerandomized'] / med['plain']:.0f} "
          f"encrypted_round_s={med['rerandomized']:.3f} bare_round_s={med['bare']:.3f} "
          f"rerandomize_ms={per_ct_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
