"""A whole live round while one client floods the gate and another holds slow connections.

    .venv/bin/python bench/hostile_round_bench.py              # under attack, then without
    .venv/bin/python bench/hostile_round_bench.py --students 8

The rehearsal of ``make rehearsal`` (student processes, 2 rounds, one latecomer, one dropout)
runs against a class node whose gate is flooded by :data:`gate_bench.FLOODER` (16 threads from
127.0.0.66) and held by a slow-loris client (64 connections from 127.0.0.77 that send headers and
one byte of body, then nothing, renewed every 3 s). Then the same round without the attackers.
Prints the round tables and ``attacked_wall_s=... quiet_wall_s=... finished=yes|no``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gate_bench  # noqa: E402  (the flooder, written once)


def _hold_slots(host: str, port: int, stop: threading.Event) -> None:
    """Keep 64 connections open with a request that never finishes, renewed every 3 s."""
    while not stop.is_set():
        held = []
        for _ in range(64):
            try:
                s = socket.create_connection((host, port), timeout=5,
                                             source_address=("127.0.0.77", 0))
                s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
                held.append(s)
            except OSError:
                pass
        stop.wait(3)
        for s in held:
            s.close()


def _round(students: int, attacked: bool) -> tuple[float, bool]:
    from omteach.classroom.node import ClassroomNode
    from omteach.classroom.rehearsal import rehearse_round, round_table

    node = ClassroomNode(per_client=students + 1)
    parts = urlsplit(node.gate.url)
    stop = threading.Event()
    flood, holder = None, None
    if attacked:
        flood = subprocess.Popen(
            [sys.executable, "-c", gate_bench.FLOODER, parts.hostname, str(parts.port),
             node.classroom.address, "16", "600"], stdout=subprocess.DEVNULL)
        holder = threading.Thread(target=_hold_slots, args=(parts.hostname, parts.port, stop))
        holder.start()
    start = time.monotonic()
    try:
        result = rehearse_round(students, rounds=2, late={students - 1: 1}, leave={1: 1},
                                node=node)
        wall = time.monotonic() - start
        print(("under attack" if attacked else "without attackers") + f": {wall:.1f} s")
        print(round_table(result))
        errors = [f"{r.name}: {r.error}" for r in result.reports if r.error]
        print("\n".join(errors) or "every student finished", flush=True)
        return wall, not errors and node.anvil._proc.poll() is None
    finally:
        stop.set()
        if holder is not None:
            holder.join()
        if flood is not None:
            flood.terminate()
            flood.wait()
        node.stop()


def main() -> None:
    """Run the round under attack, then without; print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=5)
    args = parser.parse_args()
    attacked, ok_attacked = _round(args.students, True)
    quiet, ok_quiet = _round(args.students, False)
    print(f"attacked_wall_s={attacked:.1f} quiet_wall_s={quiet:.1f} "
          f"finished={'yes' if ok_attacked and ok_quiet else 'no'}")


if __name__ == "__main__":
    main()
