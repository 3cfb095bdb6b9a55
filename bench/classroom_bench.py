"""The live round with N simulated students, 10% of whom leave after posting their key shares.

    .venv/bin/python bench/classroom_bench.py               # 30 students, then 100
    .venv/bin/python bench/classroom_bench.py --students 30 --submit-seconds 30

Each student is its own process (forked from a server that imported the students' modules
once: ``student_context``), with its own key, joining through the gate, accepting the spec,
advertising its round keys, dealing its key shares to its SecAgg+ neighbours and submitting a
packed, double-masked, encrypted update (a precomputed one: "light" students import no torch,
since a torch process takes ~300 MB). The class's node (anvil, the gate, the faucet) runs in a
process of its own and the teacher (AI Inc.) in this one, on loopback, as ``make classroom``
and the teacher's notebook do (``--node-in-process``: both in this process, as this bench ran
them before; the gate's threads then share one interpreter with the teacher's polling).

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

It also counts, by method, the requests the gate answered between the submit deadline and the
close (what the reveal phase asks of the class's one door).

The mean AI Inc. applied is checked against the mean of the survivors' updates (recomputed here
from their seeds); a mismatch beyond the packing's rounding stops the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from omteach.classroom.classmates import light_values
from omteach.classroom.drill import rehearse_round
from omteach.classroom.node import CLASS_SIZE, ClassroomNode, ClassState, teacher_chain
from omteach.errors import ChainError
from omteach.learning import tasks


def one_class(n: int, *, dropout: float, submit_seconds: int,
              node_in_process: bool = False, timeline: bool = False) -> dict[str, float]:
    """Two rounds with ``n`` light students, ``dropout`` of them leaving in round 0."""
    dropouts = int(n * dropout + 1e-9)
    leave = {seat: 0 for seat in range(n - dropouts, n)}
    t0 = time.monotonic()

    def run(node: Any) -> Any:
        return rehearse_round(n, rounds=2, light=True, min_owners=3, leave=leave,
                              timeout=900.0, interval=0.5 if n <= 30 else 1.0, node=node,
                              phase_seconds={"share_seconds": 300,
                                             "submit_seconds": submit_seconds,
                                             "reveal_seconds": 60})
    if node_in_process:
        with _class_node(n) as node:
            trace = _trace_gate(node.gate)
            result = run(node)
            figures = _figures(result, n, leave, time.monotonic() - t0)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "node.json"
            server = subprocess.Popen([sys.executable, __file__, "--serve-node", str(state),
                                       "--students", str(n)])
            try:
                result = run(_node_elsewhere(state, server))
                figures = _figures(result, n, leave, time.monotonic() - t0)
            finally:
                _stop(server)
            trace = [tuple(t) for t in json.loads(state.with_suffix(".trace").read_text())]
    figures["requests"] = _requests_between(trace, figures["deadline"],
                                            result.records[0].closed_at)
    if timeline:
        print(_timeline(trace, figures["deadline"], result.records[0].closed_at), flush=True)
    return figures


def _stop(server: subprocess.Popen) -> None:
    """Stop the node's process (it writes the gate's trace as it leaves)."""
    for _ in range(3):
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue
    server.kill()


def _class_node(n: int, state_file: Path | None = None) -> ClassroomNode:
    """The class's node for ``n`` students on this one host."""
    # class_size: the roster holds 64 students unless the teacher says more (node.CLASS_SIZE)
    node = ClassroomNode(per_client=n + 1, class_size=max(n, CLASS_SIZE), state_file=state_file)
    # Every simulated student connects from 127.0.0.1: the gate's per-address cap (64, for a
    # class of laptops) would turn the 65th away, so this one-host class lifts it.
    node.gate.max_open_per_client = max(node.gate.max_open_per_client, 2 * n)
    return node


def serve_node(state_file: Path, n: int) -> None:
    """The class's node in this process until SIGTERM, as ``make classroom`` runs it; then the
    gate's trace (time, method of every request) is written beside the state file."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    trace: list[tuple[float, str]] = []
    with _class_node(n, state_file) as node:
        trace = _trace_gate(node.gate)
        try:
            while True:
                time.sleep(3600)
        finally:
            state_file.with_suffix(".trace").write_text(json.dumps(trace))


def _node_elsewhere(state_file: Path, server: subprocess.Popen) -> Any:
    """What the rehearsal needs of a node another process runs: the teacher's chain (on
    loopback, the teacher's key), the class's contracts and the gate's URL."""
    deadline = time.monotonic() + 120
    while True:  # written once the node is up
        try:
            state = ClassState.load(state_file)
            break
        except ChainError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the class's node did not start") from None
            time.sleep(0.1)
    chain, classroom, board = teacher_chain(state_file)
    return SimpleNamespace(chain=chain, classroom=classroom, board=board,
                           gate=SimpleNamespace(url=state.gate_url))


def _trace_gate(gate: Any) -> list[tuple[float, str]]:
    """(time, method) of every request the gate answers from now on (the bench's count of
    what a phase asks of the one door; the node runs in this process)."""
    trace: list[tuple[float, str]] = []
    lock = threading.Lock()
    answer = gate.answer

    names = _selectors()

    def counted(request: Any, client: str = "?", budget: Any = None) -> Any:
        method = str(request.get("method")) if isinstance(request, dict) else "?"
        if method == "eth_call":  # which function: a poll of the spec, a read of the round…
            try:
                call = request["params"][0]
                data = str(call.get("data") or call.get("input") or "")
                method = "call " + names.get(data[2:10], "?")
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        with lock:
            trace.append((time.time(), method))
        return answer(request, client, budget)
    gate.answer = counted
    return trace


def _selectors() -> dict[str, str]:
    """4-byte selector (hex) -> function name, for the class's contracts."""
    from eth_utils import function_abi_to_4byte_selector

    from omteach.chain.compiler import compile_contract

    return {function_abi_to_4byte_selector(f).hex(): f["name"]
            for name in ("ModelMarket", "BlobBoard", "Classroom")
            for f in compile_contract(name).abi if f.get("type") == "function"}


def _requests_between(trace: list[tuple[float, str]], start: float, end: float) -> str:
    """The gate's requests in [start, end] (wall clock), by method, most first, and when the
    students' transactions went through it (seconds after ``start``)."""
    window = sorted((t, m) for t, m in trace if start <= t <= end)
    counts = Counter(m for _, m in window)
    sends = [t - start for t, m in window
             if m in ("eth_sendRawTransaction", "eth_sendRawTransactionSync")]
    when = (f"; transactions sent from +{sends[0]:.2f} s to +{sends[-1]:.2f} s, close at "
            f"+{end - start:.2f} s" if sends else "")
    return f"{len(window)} (" + ", ".join(
        f"{m.removeprefix('eth_')} {c}" for m, c in counts.most_common()) + ")" + when


def _timeline(trace: list[tuple[float, str]], start: float, end: float,
              step: float = 0.25) -> str:
    """The gate's requests from ``start`` to ``end`` in slices of ``step`` s, by method: where
    the reveal phase's time goes (who waits for whom)."""
    lines = []
    t = start
    while t < end:
        counts = Counter(m.removeprefix("eth_").removeprefix("call ")
                         for when, m in trace if t <= when < t + step)
        lines.append(f"    +{t - start:4.2f} " + " ".join(
            f"{m} {c}" for m, c in sorted(counts.items())))
        t += step
    return "\n".join(lines)


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
            "deadline": info.submit_deadline,
            "seen_s": first.last_submission_at - info.submit_deadline,
            "ended_s": first.ended_at - info.submit_deadline,
            "error": error, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--submit-seconds", type=int, default=60,
                        help="the submit phase (long enough for N processes on this machine)")
    parser.add_argument("--node-in-process", action="store_true",
                        help="run the class's node (anvil, gate) in this process, beside the "
                        "teacher (default: a process of its own, as make classroom does)")
    parser.add_argument("--timeline", action="store_true",
                        help="print the gate's requests after the submit deadline, by 0.25 s")
    parser.add_argument("--serve-node", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_node is not None:
        return serve_node(args.serve_node, args.students[0])
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; the node "
          + ("in this process" if args.node_in_process else "in a process of its own"))
    lines = []
    for n in args.students:
        print(f"{n} students (separate processes):", flush=True)
        r = one_class(n, dropout=args.dropout, submit_seconds=args.submit_seconds,
                      node_in_process=args.node_in_process, timeline=args.timeline)
        lines.append(f"students={n} dropouts={r['dropouts']} "
                     f"round_close_s={r['round_close_s']:.2f} recovery_s={r['recovery_s']:.2f} "
                     f"shares_bytes_per_student={r['shares_bytes']:.0f}")
        print(f"  {lines[-1]} k={r['k']} t={r['t']} revealed_at_close={r['revealed']} "
              f"max_error={r['error']:.1e} "
              f"wall_s={r['wall_s']:.0f}", flush=True)
        print(f"  AI Inc. saw the submit deadline at +{r['seen_s']:.2f} s, its end_submissions "
              f"was mined at +{r['ended_s']:.2f} s; gate requests from "
              f"the deadline to the close: {r['requests']}", flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
