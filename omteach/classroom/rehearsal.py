"""``python -m omteach.classroom.rehearsal`` (``make rehearsal``): a rehearsal from a terminal.

The live round with N simulated students on this machine (:func:`~omteach.classroom.drill.
rehearse_round`), or with ``--skeleton`` only their joining and blob exchange
(:func:`~omteach.classroom.classmates.rehearse`).

The rehearsal's parts live by what they are: the simulated students in
:mod:`omteach.classroom.classmates`, the notebooks' class in :mod:`omteach.classroom.local`, the
round driver in :mod:`omteach.classroom.drill`. Their names stay importable from here, where they
were first (the notebooks import ``LocalClass`` from this module).
"""

from __future__ import annotations

import argparse
import time

from omteach.classroom.classmates import (
    CHEATS,
    STUDENT_MODULES,
    StudentReport,
    exchange_blobs,
    light_update,
    rehearse,
    report_table,
    spawn_students,
    student_context,
)
from omteach.classroom.drill import RoundRehearsal, rehearse_round, round_table
from omteach.classroom.local import LocalClass
from omteach.protocol.market import SUBMIT_SECONDS

__all__ = ["CHEATS", "STUDENT_MODULES", "LocalClass", "RoundRehearsal", "StudentReport",
           "exchange_blobs", "light_update", "main", "rehearse", "rehearse_round",
           "report_table", "round_table", "spawn_students", "student_context"]


def main(argv: list[str] | None = None) -> None:
    """``python -m omteach.classroom.rehearsal --students N [--rounds R] [--skeleton]
    [--submit-seconds S]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cheater", action="store_true", help="seat 0 also tries anvil's methods "
                        "(with --skeleton)")
    parser.add_argument("--skeleton", action="store_true",
                        help="only join and exchange blobs (no market round)")
    parser.add_argument("--submit-seconds", type=int, default=SUBMIT_SECONDS,
                        help="the submit phase: the dropout's round closes this long after "
                        "every share is in")
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.skeleton:
        reports = rehearse(args.students, cheater=args.cheater)
        print(report_table(reports))
        ok = sum(r.read_ok for r in reports)
        print(f"students={args.students} read_ok={ok} wall_s={time.monotonic() - start:.1f}")
        return
    n = args.students
    late = {n - 1: 1} if n >= 5 and args.rounds >= 2 else {}
    leave = {1: 1} if n >= 5 and args.rounds >= 2 else {}
    result = rehearse_round(n, rounds=args.rounds, late=late, leave=leave, progress=print,
                            phase_seconds={"submit_seconds": args.submit_seconds})
    print(round_table(result))
    errors = [f"{r.name}: {r.error}" for r in result.reports if r.error]
    print("\n".join(errors) or "every student finished")
    last = result.records[-1].accuracy if result.records else None
    print(f"students={n} rounds={len(result.records)} accuracy="
          f"{'-' if last is None else f'{last:.3f}'} wall_s={time.monotonic() - start:.1f}")


if __name__ == "__main__":
    main()
