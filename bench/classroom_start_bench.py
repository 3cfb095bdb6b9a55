"""Chapter 6's rehearsal: start-up and the cost of a chain read, alternatives side by side.

    .venv/bin/python bench/classroom_start_bench.py            # 3 repetitions of each
    .venv/bin/python bench/classroom_start_bench.py --repeat 5

Each measurement runs in a fresh Python process (what a fresh kernel pays), the alternatives
interleaved (A B A B ...) so that the shared machine's load falls on both alike; medians.

1. **classmates**: ``LocalClass(simulated=3)`` (notebook 06's rehearsal) until all three
   simulated classmates have accepted the spec: student processes started with ``spawn`` (each
   imports web3 and eth_account itself) vs forked from a server that imported them once
   (:func:`omteach.classroom.rehearsal.student_context`). Floor: the same start with no student.
2. **view call**: one contract read against anvil, with web3 asking the node for its chain id
   before each call (its validation) vs that answer cached (:class:`omteach.chain.evm.Chain`):
   requests and milliseconds per call.

The last line is ``classmates_ratio=<spawn/forkserver> requests_per_call=<asked>/<cached>``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def _classmates(method: str) -> dict[str, float]:
    """Seconds from LocalClass() to three classmates' acceptances (``none``: no classmates)."""
    import multiprocessing

    from omteach.classroom import local as local_class
    from omteach.waiting import wait_until

    # LocalClass looks these up in its own module: replaced there, for this process only.
    if method == "spawn":
        local_class.student_context = lambda: multiprocessing.get_context("spawn")
    if method == "none":  # the same class (three places), no classmate process started
        local_class.spawn_students = lambda node, plans, seats: (None, [])
    n = 0 if method == "none" else 3
    t0 = time.perf_counter()
    local = local_class.LocalClass(simulated=3, rounds=1)
    started = time.perf_counter() - t0
    try:
        market, spec = local.teacher.market, local.teacher.spec_id
        wait_until(lambda: len(market.owners(spec)) >= n, what=f"{n} classmates' acceptances",
                   timeout=300, interval=0.02)
        return {"started": started, "accepted": time.perf_counter() - t0}
    finally:
        local.stop()


def _view_calls(method: str, calls: int = 200) -> dict[str, float]:
    """Requests and milliseconds per contract read, chain id asked each time or cached."""
    from omteach.chain.anvil import AnvilNode
    from omteach.chain.evm import Chain
    from omteach.story import COMPANY

    with AnvilNode() as node:
        chain = Chain(node.url)
        board = chain.deploy("BlobBoard", sender=COMPANY)
        provider = chain.w3.provider
        if method == "ask":
            provider.cache_allowed_requests = False
        sent = []
        real = type(provider)._make_request

        def counting(self, method_name, params):  # type: ignore[no-untyped-def]
            sent.append(method_name)
            return real(self, method_name, params)

        type(provider)._make_request = counting
        try:
            t0 = time.perf_counter()
            for _ in range(calls):
                board.call("count")
            elapsed = time.perf_counter() - t0
        finally:
            type(provider)._make_request = real
    return {"requests": len(sent) / calls, "ms": 1000 * elapsed / calls}


MEASURES = {"classmates": (_classmates, ("spawn", "forkserver"), "none"),
            "view_call": (_view_calls, ("ask", "cached"), None)}


def _fresh(measure: str, method: str) -> dict[str, float]:
    """Run one measurement in a fresh Python process; its figures."""
    out = subprocess.run([sys.executable, __file__, "--one", measure, method], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("MEASURE", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure, method = args.one
        print(json.dumps(MEASURES[measure][0](method)))
        return
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          f"python {platform.python_version()}; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    medians: dict[str, dict[str, dict[str, float]]] = {}
    for measure, (_, methods, floor) in MEASURES.items():
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in (*methods, floor) if m}
        for _ in range(args.repeat):
            for method in runs:
                runs[method].append(_fresh(measure, method))
        medians[measure] = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                            for m, rs in runs.items()}
        for method, figures in medians[measure].items():
            print(f"{measure:12} {method:10} " + "  ".join(f"{k} {v:.3f}" for k, v in
                                                            figures.items()), flush=True)
    c, v = medians["classmates"], medians["view_call"]
    print(f"classmates_ratio={c['spawn']['accepted'] / c['forkserver']['accepted']:.2f} "
          f"requests_per_call={v['ask']['requests']:.0f}/{v['cached']['requests']:.0f}")


if __name__ == "__main__":
    main()
