"""The encrypted linear model's round vs the same round in plaintext, side by side.

    .venv/bin/python bench/encrypted_model_bench.py

Both train chapter 5's even/odd logistic regression (Taylor-approximated sigmoid) on the three
owners' digits with the same learning rate and rounds. Encrypted: AI Inc. encrypts the 65 weights,
each owner computes a masked encrypted gradient from encrypted weights and plain pixels, AI Inc.
decrypts the sum. Plain: the same arithmetic on floats. Times are medians over the rounds.

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
from omteach.learning.data import split_digits
from omteach.learning.encrypted_model import EncryptedModelRun, linear_accuracy, train_plain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    shares, test = split_digits(seed=0)
    keys = generate_keypair(2048)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}")

    run = EncryptedModelRun.create(keys, shares)
    enc_times = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        run.run_round(r)
        enc_times.append(time.perf_counter() - t0)
    plain_times = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        plain = train_plain(list(shares.values()), r + 1)
        plain_times.append((time.perf_counter() - t0) / (r + 1))
    enc_s, plain_s = statistics.median(enc_times), statistics.median(plain_times)
    steps = {k: statistics.median(t[k] for t in run.timings) for k in run.timings[0]}
    print(f"encrypted: median {enc_s:.3f} s per round; "
          + ", ".join(f"{k} {v:.3f} s" for k, v in steps.items()))
    print(f"plain    : median {plain_s * 1e3:.3f} ms per round")
    enc_acc, plain_acc = linear_accuracy(run.weights, test), linear_accuracy(plain[-1], test)
    print(f"accuracy after {args.rounds} rounds: encrypted {enc_acc:.3f}, plain {plain_acc:.3f}")
    print(f"encrypted_over_plain={enc_s / plain_s:.0f} encrypted_round_s={enc_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
