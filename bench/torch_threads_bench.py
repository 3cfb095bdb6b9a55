"""Local training of the course's model on one torch thread vs torch's default, interleaved.

    .venv/bin/python bench/torch_threads_bench.py            # 15 pairs
    .venv/bin/python bench/torch_threads_bench.py --pairs 30

One owner's local training (chapter 4's 64 → 32 → 10 MLP, 3 local epochs on Joe's digits) is
timed with 1 intra-op thread and with torch's default count, alternating so that the load of the
machine falls on both alike. The floor is the same training's fastest run on one thread. Run it
with the other cores busy too (e.g. beside a notebook): that is where the difference shows.

The last line is exactly ``default_over_one=<x> one_thread_ms=<t>`` (medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
from he_bench import cpu_model

from omteach.learning.data import split_digits
from omteach.learning.model import ModelSpec, build_model, get_weights, train_locally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15, help="interleaved pairs of runs (15)")
    args = parser.parse_args(argv)
    default_threads = torch.get_num_threads()
    shares, _ = split_digits(seed=0)
    spec = ModelSpec(local_epochs=3)
    # build_model sets one thread once per process; each run below sets its own count after.
    weights = get_weights(build_model(spec, seed=0))
    times: dict[int, list[float]] = {1: [], default_threads: []}
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; python {sys.version.split()[0]}; "
          f"torch {torch.__version__}, default {default_threads} threads")
    for k in range(args.pairs + 1):
        for threads in (1, default_threads) if k % 2 else (default_threads, 1):
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            train_locally(spec, weights, shares["Joe"], seed=k)
            if k:  # the first pair warms up
                times[threads].append(time.perf_counter() - t0)
    one, many = statistics.median(times[1]), statistics.median(times[default_threads])
    print(f"one thread: median {one * 1e3:.1f} ms, floor {min(times[1]) * 1e3:.1f} ms")
    print(f"{default_threads} threads: median {many * 1e3:.1f} ms, "
          f"floor {min(times[default_threads]) * 1e3:.1f} ms")
    print(f"default_over_one={many / one:.2f} one_thread_ms={one * 1e3:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
