"""The SKELETON of a rehearsal: simulated students as separate processes against one class node.

This is not the classroom round yet. It is the part of a rehearsal that does not depend on the
market protocol (being rewritten): a :class:`~omteach.classroom.node.ClassroomNode` on loopback,
and ``n`` student processes (``multiprocessing``, spawned: nothing shared with the teacher's
process but the gate's URL and the classroom's address), each of which

1. generates its own key, asks the faucet, joins the roster (:class:`Student`),
2. publishes a blob through the node (:class:`ChainBlobStore`): a stand-in for its update,
3. waits for its neighbour (the next seat) to publish, reads that blob and checks it,
4. if it is the cheater (``cheater=True`` makes seat 0 one), also tries anvil's methods through
   the gate and reports the errors it got,

and reports what happened and how long it took. ``late`` and ``leave`` make latecomers and
dropouts at the process level. The full round (the spec, audit, accept, local training, packed
masked encrypted submissions, 3 rounds, accuracy, payouts) replaces steps 2 and 3 once the
hardened protocol lands: it is a ``task`` (:data:`StudentTask`) passed to :func:`rehearse`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from omteach.classroom.node import ClassroomNode
from omteach.text import text_table

CHEATS = (("anvil_setStorageAt", ["0x" + "00" * 20, "0x0", "0x" + "00" * 32]),
          ("anvil_impersonateAccount", ["0x" + "00" * 20]),
          ("eth_sendTransaction", [{"to": "0x" + "00" * 20}]))


@dataclass
class StudentReport:
    """What one simulated student did (times in seconds from the start of its joining)."""

    name: str
    address: str = ""
    joined_s: float = 0.0
    published_s: float = 0.0
    read_s: float = 0.0
    neighbour: str = ""
    read_ok: bool = False
    refused: dict[str, int] = field(default_factory=dict)
    left: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    """Whatever the task reports besides (the round: accuracy, payouts, ...)."""
    error: str = ""


def _name(seat: int) -> str:
    return f"student-{seat:02d}"


def exchange_blobs(me: Any, seat: int, n: int, report: StudentReport, timeout: float) -> None:
    """The stand-in task: publish a blob, then read the next seat's blob and check it."""
    started = time.monotonic() - report.joined_s
    me.blobs.put_json({"kind": "omteach.RehearsalBlob", "seat": seat, "from": me.name})
    report.published_s = time.monotonic() - started
    report.neighbour = _name((seat + 1) % n)
    deadline = time.monotonic() + timeout
    while True:
        address = me.roster().get(report.neighbour)
        ids = me.blobs.posted_by(address) if address else []
        if ids:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{report.neighbour} published nothing within {timeout} s")
        time.sleep(0.2)
    doc = me.blobs.get_json(ids[0])
    report.read_ok = doc.get("seat") == (seat + 1) % n
    report.read_s = time.monotonic() - started


StudentTask = Callable[[Any, int, int, StudentReport, float], None]
"""What a student process does after joining: (student, seat, class size, report, timeout).

A module-level function (processes are spawned: the task is pickled by name). The classroom
round will pass its own: audit, accept, train, submit, for each round.
"""


def _student(gate_url: str, classroom: str, seat: int, n: int, cheater: bool, late_s: float,
             leave: bool, timeout: float, task: StudentTask, out: Any) -> None:
    """One student's process: (arrive late), join, (cheat), (leave, or) do the task, report."""
    time.sleep(late_s)
    start = time.monotonic()
    report = StudentReport(_name(seat))
    try:
        from omteach.classroom.student import Student

        me = Student.join(gate_url, classroom, report.name)
        report.address, report.joined_s = me.address, time.monotonic() - start
        if cheater:
            report.refused = {m: me.rpc(m, p).get("error", {}).get("code", 0) for m, p in CHEATS}
        if leave:
            report.left = True  # joined, then closed the laptop: the dropout case
        else:
            task(me, seat, n, report, timeout)
    except Exception as exc:  # reported to the teacher's process, not lost in a child
        report.error = f"{type(exc).__name__}: {exc}"
    out.put(report)


def rehearse(n_students: int = 8, *, node: ClassroomNode | None = None, cheater: bool = False,
             late: Mapping[int, float] | None = None, leave: Collection[int] = (),
             timeout: float = 120.0, task: StudentTask = exchange_blobs) -> list[StudentReport]:
    """Run ``n_students`` student processes against ``node`` (default: a fresh one on loopback).

    ``late`` delays seats' arrival (seconds; the latecomers), ``leave`` lists seats that leave
    right after joining (the dropouts), ``cheater`` makes seat 0 try anvil's methods. Returns one
    report per student, by seat.
    """
    late = dict(late or {})
    own = node is None
    # Every simulated student comes from 127.0.0.1: let the faucet fund them all at once.
    node = node or ClassroomNode(per_client=n_students + 1)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_student,
                         args=(node.gate.url, node.classroom.address, seat, n_students,
                               cheater and seat == 0, late.get(seat, 0.0), seat in leave,
                               timeout, task, out),
                         name=_name(seat))
             for seat in range(n_students)]
    try:
        for p in procs:
            p.start()
        wait = timeout + 60 + max(late.values(), default=0.0)
        reports = [out.get(timeout=wait) for _ in procs]
        for p in procs:
            p.join(timeout=10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        if own:
            node.stop()
    return sorted(reports, key=lambda r: r.name)


def report_table(reports: list[StudentReport]) -> str:
    """The reports as a plain-text table."""
    rows = [(r.name, f"{r.joined_s:.2f}", f"{r.published_s:.2f}", f"{r.read_s:.2f}",
             r.neighbour, "yes" if r.read_ok else "NO",
             f"{sum(c == -32601 for c in r.refused.values())}/{len(r.refused)}" if r.refused
             else "-", "left after joining" if r.left else r.error[:60]) for r in reports]
    return text_table(["student", "joined s", "published s", "read s", "neighbour", "read ok",
                       "cheats refused", "note"], rows)


def main(argv: list[str] | None = None) -> None:
    """``python -m omteach.classroom.rehearsal --students N``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--cheater", action="store_true", help="seat 0 also tries anvil's methods")
    args = parser.parse_args(argv)
    start = time.monotonic()
    reports = rehearse(args.students, cheater=args.cheater)
    print(report_table(reports))
    ok = sum(r.read_ok for r in reports)
    print(f"students={args.students} read_ok={ok} wall_s={time.monotonic() - start:.1f}")


if __name__ == "__main__":
    main()
