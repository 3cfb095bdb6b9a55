"""The live round with N simulated students, each a separate process, against one class node.

    .venv/bin/python bench/classroom_bench.py               # 30 students, then 100
    .venv/bin/python bench/classroom_bench.py --students 30

Each student is its own process (forked from a server that imported the students' modules
once: ``student_context``), with its own key, joining through the gate, accepting the spec,
posting its key shares and submitting a packed, masked, encrypted update (a precomputed one:
"light" students import no torch, since a torch process takes ~300 MB). The teacher (AI Inc.)
runs in this process on loopback, as ``make classroom`` does.

``round_close_s`` is the time from the LAST student's submission (the wall clock the student
process records once its transaction is mined) to the next model being posted and the round
closed (the teacher's clock after its ``close_round`` transaction): what the class waits for
between rounds. It holds AI Inc.'s whole cost: noticing the last submission (polling every
0.1 s), fetching and checking every blob (one ``eth_getLogs`` per 100), the homomorphic sum, one
decryption, publishing the model and the close transaction. ``per_student_ms`` divides it by N.

Dropout recovery (Bonawitz et al.) deals each participant's mask seeds to every other: a key
shares blob grows as N² (51 kB at 20 students, 80 kB at 25, 115 kB at 30), and the board takes
blobs of 64 KiB at most. Classes above :data:`SHARES_FIT` students therefore run here with
``min_owners = N`` (no shares dealt, no dropout tolerated), and the line says so; a sparse
masking graph (each owner masks with O(log N) neighbours, Bell et al. CCS 2020) is the known
way past this, not built yet.

The last line is ``students=<N> round_close_s=<t> per_student_ms=<m>`` for the first N given.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from omteach.classroom.drill import rehearse_round

SHARES_FIT = 20
"""Largest class whose key shares blobs fit the board (64 KiB) at t = 3."""


def one_class(n: int, *, rounds: int) -> dict[str, float]:
    """Run ``rounds`` rounds with ``n`` light students; the last round's figures."""
    min_owners = 3 if n <= SHARES_FIT else n
    t0 = time.monotonic()
    result = rehearse_round(n, rounds=rounds, light=True, min_owners=min_owners, grace=60.0,
                            timeout=900.0, interval=0.5 if n <= SHARES_FIT else 1.5)
    wall = time.monotonic() - t0
    errors = [f"{r.name}: {r.error}" for r in result.reports if r.error]
    if errors:
        raise SystemExit("students failed:\n" + "\n".join(errors[:5]))
    out = {}
    for rec in result.records:
        last = max(r.extra["submitted_at"][rec.round] for r in result.reports)
        close = rec.closed_at - last
        out = {"round": rec.round, "round_close_s": close, "ai_inc_s": sum(rec.timings.values()),
               "submitted": len(rec.submitted), "open_gas": result.teacher.open_gas[rec.round]}
        print(f"  round {rec.round}: {len(rec.submitted)} submissions, close {close:.2f} s "
              f"(AI Inc.'s steps {out['ai_inc_s']:.2f} s: "
              + ", ".join(f"{k} {v:.2f}" for k, v in rec.timings.items())
              + f"), open_round {out['open_gas']:,} gas", flush=True)
    out["min_owners"] = min_owners
    out["wall_s"] = wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds per class; the last is reported (the first warms up)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    lines = []
    for n in args.students:
        print(f"{n} students (separate processes):", flush=True)
        r = one_class(n, rounds=args.rounds)
        note = "" if r["min_owners"] == 3 else f" (min_owners={n}: no dropout recovery)"
        lines.append(f"students={n} round_close_s={r['round_close_s']:.2f} "
                     f"per_student_ms={1000 * r['round_close_s'] / n:.1f}")
        print(f"  {lines[-1]} ai_inc_s={r['ai_inc_s']:.2f} open_round_gas={r['open_gas']:,} "
              f"wall_s={r['wall_s']:.0f}{note}", flush=True)
    print(lines[0])


if __name__ == "__main__":
    main()
