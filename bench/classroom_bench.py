"""The live round with N simulated students, 10% of whom leave after posting their key shares.

    .venv/bin/python bench/classroom_bench.py               # 30 students, then 100
    .venv/bin/python bench/classroom_bench.py --students 30 --submit-seconds 30

Each student is its own process (forked from a server that imported the students' modules
once: ``student_context``), with its own key, joining through the gate, accepting the spec,
advertising its round keys, dealing its key shares to its SecAgg+ neighbours and submitting a
packed, double-masked, encrypted update (a precomputed one: "light" students import no torch,
since a torch process takes ~300 MB). The teacher (AI Inc.) runs in this process on loopback,
as ``make classroom`` does.

In round 0, ``dropout`` of the class (10%) accept, advertise, deal their shares and leave: they
miss the submit deadline, and the round must close without them, with the exact mean of the
others. Round 1 runs without them (no dropout). For round 0 the line reports:

- ``round_close_s``: from the submit deadline (chain time; anvil stamps blocks with the wall
  clock) to the round closed on chain (the teacher's clock after ``close_round``): AI Inc.
  noticing the deadline, ``end_submissions``, every survivor noticing it and revealing (students
  poll the chain every ``interval`` s), fetching and checking every blob, the homomorphic sum,
  one decryption, unmasking, the next model, the close transaction;
- ``recovery_s``: the reveal phase plus AI Inc.'s unmasking (part of ``round_close_s``);
  AI Inc. closes as soon as the reveals in hold ``t`` shares of every secret it needs
  (``revealed_at_close``: how many survivors had revealed by then);
- ``shares_bytes_per_student``: the mean size of a student's key shares blob (one sealed pair
  of shares per neighbour: it grows with k, not with N).

The mean AI Inc. applied is checked against the mean of the survivors' updates (recomputed here
from their seeds); a mismatch beyond the packing's rounding stops the benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from collections import Counter
from typing import Any

import numpy as np

from omteach.classroom.classmates import light_values
from omteach.classroom.drill import rehearse_round
from omteach.classroom.node import CLASS_SIZE, ClassroomNode
from omteach.learning import tasks


def one_class(n: int, *, dropout: float, submit_seconds: int) -> dict[str, float]:
    """Two rounds with ``n`` light students, ``dropout`` of them leaving in round 0."""
    dropouts = int(n * dropout + 1e-9)
    leave = {seat: 0 for seat in range(n - dropouts, n)}
    t0 = time.monotonic()
    # class_size: the roster holds 64 students unless the teacher says more (node.CLASS_SIZE)
    with ClassroomNode(per_client=n + 1, class_size=max(n, CLASS_SIZE)) as node:  # read after
        # Every simulated student connects from 127.0.0.1: the gate's per-address cap (64,
        # for a class of laptops) would turn the 65th away, so this one-host class lifts it.
        node.gate.max_open_per_client = max(node.gate.max_open_per_client, 2 * n)
        trace = _trace_gate(node.gate)
        result = rehearse_round(n, rounds=2, light=True, min_owners=3, leave=leave,
                                timeout=900.0, interval=0.5 if n <= 30 else 1.0, node=node,
                                phase_seconds={"share_seconds": 300,
                                               "submit_seconds": submit_seconds,
                                               "reveal_seconds": 60})
        figures = _figures(result, n, leave, time.monotonic() - t0)
        first = result.records[0]
        info = result.teacher.market.round_info(result.teacher.spec_id, 0)
        figures["requests"] = _requests_between(trace, info.submit_deadline, first.closed_at)
        return figures


def _trace_gate(gate: Any) -> list[tuple[float, str]]:
    """(time, method) of every request the gate answers from now on (the bench's count of
    what a phase asks of the one door; the node runs in this process)."""
    trace: list[tuple[float, str]] = []
    lock = threading.Lock()
    answer = gate.answer

    def counted(request: Any, client: str = "?", budget: Any = None) -> Any:
        method = request.get("method") if isinstance(request, dict) else None
        with lock:
            trace.append((time.time(), str(method)))
        return answer(request, client, budget)
    gate.answer = counted
    return trace


def _requests_between(trace: list[tuple[float, str]], start: float, end: float) -> str:
    """The gate's requests in [start, end] (wall clock), by method, most first."""
    counts = Counter(m for t, m in trace if start <= t <= end)
    return f"{sum(counts.values())} (" + ", ".join(
        f"{m.removeprefix('eth_')} {c}" for m, c in counts.most_common()) + ")"


def _figures(result, n: int, leave: dict[int, int], wall: float) -> dict[str, Any]:
    """The dropout round's figures, after checking the class's aggregate is exact."""
    errors = [f"{r.name}: {r.error}" for r in result.reports if r.error]
    if errors:
        raise SystemExit("students failed:\n" + "\n".join(errors[:5]))
    teacher = result.teacher
    spec_id = teacher.spec_id
    first = result.records[0]
    info = teacher.market.round_info(spec_id, 0)
    # Exactness: the model moved by the survivors' mean in round 0, then everyone's in round 1.
    size = teacher.company.weights.size
    survivors = [s for s in range(n) if s not in leave]
    expected = sum(np.mean([light_values(s, r, size) for s in survivors], axis=0)
                   for r in (0, 1))
    moved = teacher.company.weights - tasks.initial_weights(teacher.model, 0)
    error = float(np.max(np.abs(moved - expected)))
    bound = 2 * teacher.codec.error_bound(len(survivors)) / len(survivors)
    if len(first.submitted) != len(survivors) or error > bound + 1e-12:
        raise SystemExit(f"round 0 summed {len(first.submitted)} updates with error {error:.2e} "
                         f"(bound {bound:.2e}): the recovered mean is not the survivors'")
    participants = teacher.market.participants(spec_id, 0)
    share_bytes = [teacher.blobs.size(teacher.market.shares_blob(spec_id, 0, p))
                   for p in participants]
    for rec in result.records:
        print(f"  round {rec.round}: {len(rec.participants)} participants, "
              f"{len(rec.submitted)} submissions, {len(rec.dropped)} dropped; AI Inc.'s steps "
              + ", ".join(f"{k} {v:.2f}" for k, v in rec.timings.items()), flush=True)
    if first.abandoned:
        raise SystemExit(f"round 0 was abandoned: {first.abandoned}")
    state = teacher.market.round_state(spec_id, 0)
    return {"dropouts": len(first.dropped), "round_close_s": first.closed_at - info.submit_deadline,
            "revealed": f"{state.reveal_count}/{state.submission_count}",
            "recovery_s": first.timings.get("reveals", 0.0) + first.timings.get("recovery", 0.0),
            "shares_bytes": float(np.mean(share_bytes)), "k": info.k, "t": info.threshold,
            "error": error, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--submit-seconds", type=int, default=60,
                        help="the submit phase (long enough for N processes on this machine)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    lines = []
    for n in args.students:
        print(f"{n} students (separate processes):", flush=True)
        r = one_class(n, dropout=args.dropout, submit_seconds=args.submit_seconds)
        lines.append(f"students={n} dropouts={r['dropouts']} "
                     f"round_close_s={r['round_close_s']:.2f} recovery_s={r['recovery_s']:.2f} "
                     f"shares_bytes_per_student={r['shares_bytes']:.0f}")
        print(f"  {lines[-1]} k={r['k']} t={r['t']} revealed_at_close={r['revealed']} "
              f"max_error={r['error']:.1e} "
              f"wall_s={r['wall_s']:.0f}", flush=True)
        print(f"  gate requests from the submit deadline to the close: {r['requests']}",
              flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
