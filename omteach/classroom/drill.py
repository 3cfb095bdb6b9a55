"""The live round with simulated students, driven from here: :func:`rehearse_round`.

The teacher (:class:`~omteach.classroom.teacher.ClassTeacher`, AI Inc., in this process) and
``n`` student processes (:mod:`omteach.classroom.classmates`, each with its own key and its own
seat's digits) meet only on the node. ``late`` makes latecomers (they join once a round is open
and take part from the next), ``leave`` dropouts (they post their key shares in a round, then
leave), ``light`` students submit precomputed updates (no training).

What the command line (``python -m omteach.classroom.rehearsal``), the benchmark
(``bench/classroom_bench.py``) and the classroom tests run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omteach.classroom.classmates import (
    StudentReport,
    collect_reports,
    end_students,
    spawn_students,
    student_context,
)
from omteach.classroom.node import CLASS_SIZE, ClassroomNode
from omteach.text import text_table

if TYPE_CHECKING:  # the teacher imports the protocol (and, for accuracy, torch)
    from omteach.classroom.teacher import ClassTeacher, RoundRecord


@dataclass
class RoundRehearsal:
    """What a rehearsed round did: the teacher's records and each student's report."""

    records: list[RoundRecord]
    reports: list[StudentReport]
    teacher: ClassTeacher
    initial_accuracy: float | None = None


def rehearse_round(n_students: int = 8, *, rounds: int = 3, late: Mapping[int, int] | None = None,
                   leave: Mapping[int, int] | None = None, light: bool = False,
                   netns: Mapping[int, str] | None = None,
                   min_owners: int = 3, phase_seconds: Mapping[str, int] | None = None,
                   timeout: float = 120.0,
                   interval: float = 0.2,
                   node: ClassroomNode | None = None, keys: Any = None,
                   progress: Callable[[str], None] | None = None,
                   on_teacher: Callable[[ClassTeacher], None] | None = None) -> RoundRehearsal:
    """The live round: a teacher here, ``n_students`` student processes, ``rounds`` rounds.

    ``late``: seat -> the round it takes part from (it joins once the round before is open);
    ``leave``: seat -> the round in which it posts its key shares and then leaves (a dropout).
    ``phase_seconds``: the spec's phase durations (``share_seconds``, ``submit_seconds``,
    ``reveal_seconds``; default the market's): a student who has not submitted by the submit
    deadline is a dropout.
    ``netns``: seat -> the network namespace its process runs in (``ip netns``, root only;
    the node must listen on an address that namespace reaches: ``ClassroomNode(host=...)``).
    ``light``: students submit precomputed updates (no torch, no accuracy); ``interval``: seconds
    between a student's polls of the chain. ``on_teacher`` is
    called with the teacher once the spec is posted (the dashboard attaches there).
    """
    from omteach.classroom.teacher import ClassTeacher
    from omteach.learning.data import seat_shard

    late, leave = dict(late or {}), dict(leave or {})
    own = node is None
    student_context()  # the students' server starts importing while the node starts
    node = node or ClassroomNode(per_client=n_students + 1,
                                 class_size=max(CLASS_SIZE, n_students))
    procs: list[Any] = []
    try:
        test = None if light else seat_shard(0, n_students)[1]
        teacher = ClassTeacher.from_node(node, test=test, keys=keys)
        teacher.post(rounds=rounds, places=n_students - len(late), min_owners=min_owners,
                     **dict(phase_seconds or {}))
        if on_teacher is not None:
            on_teacher(teacher)
        plans = {seat: {"late_round": late.get(seat, 0), "leave_at": leave.get(seat),
                        "light": light, "timeout": timeout, "interval": interval,
                        "netns": (netns or {}).get(seat)}
                 for seat in range(n_students)}
        out, procs = spawn_students(node, plans, n_students)
        records = []
        for round_no in range(rounds):
            expected = sum(late.get(seat, 0) <= round_no for seat in range(n_students))
            records.append(teacher.run_round(wait_for=expected, timeout=timeout,
                                             progress=progress))
        reports = collect_reports(out, procs, timeout + 60)
    finally:
        end_students(procs, node, own)
    return RoundRehearsal(records, sorted(reports, key=lambda r: r.name), teacher,
                          teacher.initial_accuracy)


def round_table(rehearsal: RoundRehearsal) -> str:
    """The rounds of a rehearsal as a plain-text table."""
    rows = [(r.round, len(r.participants), len(r.submitted), ", ".join(r.dropped) or "-",
             "-" if r.accuracy is None else f"{r.accuracy:.1%}",
             f"{sum(r.timings.values()):.2f}") for r in rehearsal.records]
    return text_table(["round", "participants", "submitted", "dropped", "accuracy",
                       "AI Inc. s"], rows)
