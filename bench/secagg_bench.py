"""Secure aggregation's own cost at class scale: double masks over SecAgg+ neighbourhoods.

    .venv/bin/python bench/secagg_bench.py                  # 30 students, then 100
    .venv/bin/python bench/secagg_bench.py --students 100 --dropout 0.1

The crypto layer alone (:mod:`omteach.crypto.doublemask`), no chain and no Paillier: every
student of a class advertises keys, deals sealed key shares to its neighbours, opens the shares
dealt to it and masks an update shaped like the round's (the digits MLP's 2,410 weights packed
into 22 plaintexts modulo a 2048-bit Paillier modulus); 10% of the class then drops out after
dealing, the survivors reveal, and AI Inc. removes the masks from the survivors' sum.

- ``recovery_s``: AI Inc.'s unmasking (rebuilding every survivor's self-mask seed and every
  dropout's mask key from the revealed shares, checking them, removing their masks): the step
  that follows the survivors' reveals after the submit deadline. Median of 3.
- ``reveal_ms_per_student``: what one survivor spends answering (on its own machine, in parallel
  with the others); ``reveals_total_s`` adds them all (one machine playing the whole class).
- ``shares_bytes_per_student``: the key shares blob a student publishes (canonical JSON:
  recipient -> hex ciphertext). The all-pairs scheme the round used before (every pairwise seed
  shared with every other participant: 115 kB a student at 30) is retired; its figures stay in
  ``bench/RESULTS.md``.

The check: the recovered sum equals the plain sum of the survivors' updates, exactly.
The last line is ``students=<N> dropouts=<D> recovery_s=<r> shares_bytes_per_student=<b>``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import time

from omteach.crypto import doublemask, neighbours
from omteach.crypto.doublemask import Participant, RoundSetup

PLAINTEXTS = 22
"""Packed plaintexts per update in the round (2,410 weights, 2048-bit key)."""


def _blob_bytes(obj: object) -> int:
    # The form blobs are stored in (protocol.parties.canonical_json).
    return len(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def one_class(n: int, dropout: float, corruption: float,
              rng: random.Random) -> dict[str, float]:
    """One round of the crypto layer for n students; its figures."""
    params = neighbours.choose_parameters(n, dropout, corruption)
    modulus = secrets.randbits(2048) | (1 << 2047) | 1  # stands for the Paillier n
    names = tuple(f"0x{secrets.token_hex(20)}" for _ in range(n))
    t0 = time.perf_counter()
    setup = RoundSetup(names, secrets.token_bytes(32), modulus, PLAINTEXTS, params.k,
                       params.threshold, b"bench|spec 1|round 0")
    graph_s = time.perf_counter() - t0
    students = {u: Participant(u, setup) for u in names}
    advertised = {u: s.public_keys() for u, s in students.items()}
    t0 = time.perf_counter()
    sealed = {u: s.deal_shares(advertised) for u, s in students.items()}
    deal_s = (time.perf_counter() - t0) / n
    share_bytes = statistics.mean(
        _blob_bytes(doublemask.sealed_to_json(u, sealed[u])) for u in names)
    updates = {u: [rng.randrange(modulus) for _ in range(PLAINTEXTS)] for u in names}
    t0 = time.perf_counter()
    masked = {}
    blobs = {u: json.loads(json.dumps(doublemask.sealed_to_json(u, sealed[u]))) for u in names}
    for v, s in students.items():
        s.receive_shares({u: doublemask.sealed_from_json(blobs[u], v) for u in setup.neighbours(v)})
        masked[v] = s.masked_input(updates[v], names)
    mask_s = (time.perf_counter() - t0) / n
    dropped = set(rng.sample(names, round(dropout * n)))  # after dealing, before submitting
    survivors = [u for u in names if u not in dropped]
    masked_sum = doublemask.add_inputs((masked[u] for u in survivors), modulus)
    t0 = time.perf_counter()
    reveals = {u: students[u].reveal(survivors, dropped) for u in survivors}
    reveals_total = time.perf_counter() - t0
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        total = doublemask.unmask(setup, advertised, names, survivors, masked_sum, reveals)
        runs.append(time.perf_counter() - t0)
    exact = total == doublemask.add_inputs((updates[u] for u in survivors), modulus)
    return {"n": n, "dropouts": len(dropped), "k": params.k, "t": params.threshold,
            "p_recovery": params.p_recovery_fails, "p_privacy": params.p_privacy_fails,
            "graph_s": graph_s, "deal_ms": deal_s * 1e3, "mask_ms": mask_s * 1e3,
            "reveal_ms": reveals_total / len(survivors) * 1e3, "reveals_total_s": reveals_total,
            "recovery_s": statistics.median(runs), "bytes": share_bytes, "exact": exact}


def main() -> None:
    """Run the classes asked for and print their figures, the goals and the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="*", default=[30, 100])
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="fraction that drops after dealing (and that k, t tolerate)")
    parser.add_argument("--corruption", type=float, default=neighbours.DEFAULT_CORRUPTION,
                        help="fraction of colluders with AI Inc. that k, t tolerate")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}")
    print(f"update: {PLAINTEXTS} numbers mod a 2048-bit modulus; {args.dropout:.0%} of the class "
          f"drops out after dealing its shares; k and t tolerate {args.dropout:.0%} dropouts and "
          f"{args.corruption:.0%} colluders")
    results = []
    for n in args.students:
        r = one_class(n, args.dropout, args.corruption, rng)
        results.append(r)
        print(f"  {n} students: k={r['k']} neighbours, t={r['t']} (recovery fails p <= "
              f"{r['p_recovery']:.1e}, privacy fails p <= {r['p_privacy']:.1e}); graph "
              f"{r['graph_s'] * 1e3:.1f} ms; per student: deal {r['deal_ms']:.1f} ms, open + "
              f"mask {r['mask_ms']:.1f} ms, reveal {r['reveal_ms']:.2f} ms "
              f"(all {r['reveals_total_s']:.2f} s); shares blob {r['bytes']:.0f} B; "
              f"recovered sum exact: "
              f"{'yes' if r['exact'] else 'NO'}")
    growth = {n: neighbours.choose_parameters(n, args.dropout, args.corruption).k
              for n in (30, 100, 300, 1000, 3000)}
    print("k for larger classes (same tolerances): "
          + ", ".join(f"{n}: {k}" for n, k in growth.items()))
    if not all(r["exact"] for r in results):
        raise SystemExit("a recovered sum is not the survivors' plain sum")
    by_n = {r["n"]: r for r in results}
    if 30 in by_n and 100 in by_n:
        ratio = by_n[100]["bytes"] / by_n[30]["bytes"]
        print(f"goal: shares bytes at 100 <= 2x at 30: {ratio:.2f}x, "
              f"{'met' if ratio <= 2 else 'NOT met'}")
        rec = by_n[100]["recovery_s"]
        print(f"goal: recovery for 100 well under 3 s: {rec:.3f} s, "
              f"{'met' if rec < 3 else 'NOT met'}")
    for r in results:
        print(f"students={r['n']} dropouts={r['dropouts']} recovery_s={r['recovery_s']:.3f} "
              f"shares_bytes_per_student={r['bytes']:.0f}")


if __name__ == "__main__":
    main()
