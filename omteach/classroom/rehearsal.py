"""A rehearsal: simulated students as separate processes against one class node.

:func:`rehearse_round` is the live round with N simulated students: the teacher
(:class:`~omteach.classroom.teacher.ClassTeacher`, AI Inc., in this process) and each student
(:class:`~omteach.classroom.owner.ClassOwner`, in its own process with its own key and
its own seat's digits) meet only on the node. ``late`` makes latecomers (they join once a round
is open and take part from the next), ``leave`` dropouts (they post their key shares in a round,
then leave), ``light`` students submit precomputed updates (no torch in their processes: the
benchmark's students).

:func:`rehearse` is the part of a rehearsal that does not depend on the market protocol: a
:class:`~omteach.classroom.node.ClassroomNode` on loopback,
and ``n`` student processes (``multiprocessing``, started fresh: nothing shared with the
teacher's process but the gate's URL and the classroom's address; see :func:`student_context`),
each of which

1. generates its own key, asks the faucet, joins the roster (:class:`Student`),
2. publishes a blob through the node (:class:`ChainBlobStore`): a stand-in for its update,
3. waits for its neighbour (the next seat) to publish, reads that blob and checks it,
4. if it is the cheater (``cheater=True`` makes seat 0 one), also tries anvil's methods through
   the gate and reports the errors it got,

and reports what happened and how long it took. ``late`` and ``leave`` make latecomers and
dropouts at the process level; ``task`` replaces steps 2 and 3.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omteach.classroom.node import CLASS_SIZE, ClassroomNode
from omteach.text import plural, text_table

if TYPE_CHECKING:  # the teacher imports the protocol (and, for accuracy, torch)
    from omteach.classroom.teacher import ClassTeacher, RoundRecord

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


STUDENT_MODULES = ("omteach.classroom.owner", "omteach.classroom.student",
                   "omteach.classroom.rehearsal", "eth_account", "web3")
"""What every simulated student imports (about a second of CPU each): imported once, by the
process the students are forked from."""


def student_context() -> Any:
    """How student processes start: forked from one clean server process (``forkserver``) that
    imported :data:`STUDENT_MODULES` once; ``spawn`` where there is no fork (Windows).

    The server is started by Python fresh, not forked from the teacher's process: a student
    shares nothing with the teacher (no key, no chain object), only library code. Each student
    still makes its own key (``os.urandom``) and its Paillier and masking randomness come from
    ``secrets``, so forking one server does not give students the same random numbers. With
    ``spawn`` each of a notebook's three simulated classmates imported web3 and eth_account
    itself, on a two-core machine where the notebook was busy too.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(STUDENT_MODULES))  # no effect once the server runs
    # Returns at once: the server imports on the other core while this process goes on (call
    # this early; the first student waits for those imports, later ones fork in milliseconds).
    forkserver.ensure_running()
    return ctx


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

A module-level function (the task is pickled by name for the student process). The classroom
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
    node = node or ClassroomNode(per_client=n_students + 1,
                                 class_size=max(CLASS_SIZE, n_students))
    ctx = student_context()
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
        reports = _collect(out, procs, timeout + 60 + max(late.values(), default=0.0))
    finally:
        _end(procs, node, own)
    return sorted(reports, key=lambda r: r.name)


def report_table(reports: list[StudentReport]) -> str:
    """The reports as a plain-text table."""
    rows = [(r.name, f"{r.joined_s:.2f}", f"{r.published_s:.2f}", f"{r.read_s:.2f}",
             r.neighbour, "yes" if r.read_ok else "NO",
             f"{sum(c == -32601 for c in r.refused.values())}/{len(r.refused)}" if r.refused
             else "-", "left after joining" if r.left else r.error[:60]) for r in reports]
    return text_table(["student", "joined s", "published s", "read s", "neighbour", "read ok",
                       "cheats refused", "note"], rows)


# -- the live round with simulated students ----------------------------------------------------


def _wait_for_round(gate_url: str, classroom: str, round_no: int, timeout: float) -> None:
    """Read the chain (no key, no join) until round ``round_no - 1`` of the spec is open."""
    from omteach.chain.evm import Chain

    chain = Chain(gate_url, cast=())
    room = chain.attach("Classroom", classroom)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        market = room.call("market")
        if int(market, 16):
            contract = chain.attach("ModelMarket", market)
            if contract.call("spec_count"):
                spec = contract.call("specs", contract.call("spec_count") - 1)
                rnd, opened = spec[12], spec[13]
                if rnd >= round_no or (rnd == round_no - 1 and opened):
                    return
        time.sleep(0.2)
    raise TimeoutError(f"round {round_no - 1} did not open within {timeout:.0f} s")


def light_update(owner: Any, spec_id: int, round_no: int) -> Any:
    """A precomputed update (seeded noise within the clip): a student process without torch."""
    import numpy as np

    _, weights = owner.inspect(spec_id)
    rng = np.random.default_rng(owner.seed * 1000 + round_no)
    return rng.uniform(-0.05, 0.05, size=weights.shape)


def _round_student(gate_url: str, classroom: str, seat: int, n: int, plan: dict[str, Any],
                   out: Any) -> None:
    """One student's process in the live round: join, audit, accept, take part, withdraw."""
    report = StudentReport(_name(seat))
    start = time.monotonic()
    try:
        from omteach.chain.evm import share_compiled
        from omteach.classroom.owner import ClassOwner
        from omteach.classroom.student import Student
        from omteach.learning.data import Dataset, seat_shard

        for compiled in plan.get("compiled", ()):
            share_compiled(compiled)  # the teacher's process compiled them already
        timeout = plan.get("timeout", 120.0)
        if plan.get("late_round"):
            _wait_for_round(gate_url, classroom, plan["late_round"], timeout)
        me = Student.join(gate_url, classroom, report.name)
        report.address, report.joined_s = me.address, time.monotonic() - start
        if plan.get("light"):
            import numpy as np

            data, update = Dataset(np.zeros((1, 64), np.float32), np.zeros(1, np.int64)), \
                light_update
            owner = ClassOwner(me, data, seed=seat, update=update, leave_at=plan.get("leave_at"),
                               timeout=timeout)
        else:
            from omteach.learning.model import one_thread

            one_thread()  # imports torch now, not in the middle of the first round
            data, _ = seat_shard(seat, n)  # this seat's digits: computed here, never sent
            owner = ClassOwner(me, data, seed=seat, leave_at=plan.get("leave_at"),
                               timeout=timeout)
        spec_id = owner.find_spec(timeout=timeout)
        report.extra["audit_passed"] = owner.audit(spec_id).passed
        owner.accept(spec_id, timeout=timeout)
        line = owner.take_part(spec_id, timeout=timeout, interval=plan.get("interval", 0.2))
        report.left = line == "left"
        report.extra.update(rounds=dict(owner.rounds), submitted_at=dict(owner.submitted_at),
                            withdrawn=owner.withdrawn, balance=owner.balance(),
                            ether=me.chain.balance(me.name))
    except Exception as exc:  # reported to the teacher's process, not lost in a child
        report.error = f"{type(exc).__name__}: {exc}"
    out.put(report)


def spawn_students(node: ClassroomNode, plans: Mapping[int, dict[str, Any]],
                   seats: int) -> tuple[Any, list[Any]]:
    """Start one process per seat in ``plans`` (seat -> its plan); (report queue, processes)."""
    from omteach.chain.evm import compile_contract

    ctx = student_context()
    out = ctx.Queue()
    compiled = [compile_contract(n) for n in ("Classroom", "BlobBoard", "ModelMarket")]
    procs = []
    for seat, plan in plans.items():
        procs.append(ctx.Process(target=_round_student, name=_name(seat), args=(
            node.gate.url, node.classroom.address, seat, seats, {**plan, "compiled": compiled},
            out)))
        procs[-1].start()
    return out, procs


class LocalClass:
    """A class on this machine for a notebook to play along with (no teacher needed).

    The node on loopback, ``simulated`` light student processes, and (``teacher=True``) AI Inc.
    running ``rounds`` rounds in a background thread, each waiting for ``simulated + 1`` owners:
    the notebook's own student is the one more. With ``teacher=False`` the notebook is the
    teacher (:attr:`node` is there to build a :class:`ClassTeacher` on).

    ``progress`` is called with a line before each step of starting the class (one call per
    step: :meth:`steps` of them), e.g. a :class:`~omteach.ui.toolkit.ProgressBar`'s ``step``.
    """

    def __init__(self, simulated: int = 3, *, rounds: int = 2, teacher: bool = True,
                 timeout: float = 120.0, progress: Callable[[str], None] | None = None):
        import threading

        from omteach.classroom.teacher import ClassTeacher

        say = progress or (lambda _line: None)
        student_context()  # the students' server starts importing while the node starts
        say("starting the class's node: anvil, the gate, the faucet, the class's contracts…")
        self.node = ClassroomNode(per_client=simulated + 4)
        self.rounds = rounds
        self.error: BaseException | None = None
        self.records: list[RoundRecord] = []
        self.teacher: ClassTeacher | None = None
        self._procs: list[Any] = []
        try:
            # The classmates start first: their start-up (a process, imports, a key, the faucet,
            # joining) overlaps AI Inc.'s (torch, the key pair, the market); they wait on the
            # chain for the spec.
            plans = {seat: {"light": True, "timeout": timeout, "interval": 0.2}
                     for seat in range(1, simulated + 1)}  # seat 0 is the notebook's
            say(f"starting {plural(simulated, 'simulated classmate')}, each its own process…")
            self._out, self._procs = spawn_students(self.node, plans, simulated + 1)
            if teacher:
                say("AI Inc. makes its key pair, deploys the market and posts the spec…")
                self.teacher = ClassTeacher.from_node(self.node)
                self.teacher.post(rounds=rounds, places=simulated + 1, min_owners=3)
        except BaseException:
            self.stop()
            raise
        self._thread = None
        if teacher:
            self._thread = threading.Thread(target=self._teach, args=(simulated + 1, timeout),
                                            daemon=True)
            self._thread.start()

    @staticmethod
    def steps(teacher: bool = True) -> int:
        """How many times starting a class calls ``progress``."""
        return 3 if teacher else 2

    def _teach(self, expected: int, timeout: float) -> None:
        try:
            for _ in range(self.rounds):
                self.records.append(self.teacher.run_round(wait_for=expected, grace=5.0,
                                                           timeout=timeout))
        except BaseException as exc:  # shown by the notebook, not lost in a thread
            self.error = exc

    @property
    def url(self) -> str:
        """The gate's URL: what a student types."""
        return self.node.gate.url

    @property
    def classroom(self) -> str:
        """The Classroom contract's address: what a student types too."""
        return self.node.classroom.address

    def wait(self, timeout: float = 120.0) -> None:
        """Wait for the background teacher to finish its rounds."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Stop the student processes and the node."""
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        self.node.stop()


@dataclass
class RoundRehearsal:
    """What a rehearsed round did: the teacher's records and each student's report."""

    records: list[RoundRecord]
    reports: list[StudentReport]
    teacher: ClassTeacher
    initial_accuracy: float | None = None


def rehearse_round(n_students: int = 8, *, rounds: int = 3, late: Mapping[int, int] | None = None,
                   leave: Mapping[int, int] | None = None, light: bool = False,
                   min_owners: int = 3, grace: float = 5.0, timeout: float = 120.0,
                   interval: float = 0.2,
                   node: ClassroomNode | None = None, keys: Any = None,
                   progress: Callable[[str], None] | None = None,
                   on_teacher: Callable[[ClassTeacher], None] | None = None) -> RoundRehearsal:
    """The live round: a teacher here, ``n_students`` student processes, ``rounds`` rounds.

    ``late``: seat -> the round it takes part from (it joins once the round before is open);
    ``leave``: seat -> the round in which it posts its key shares and then leaves (a dropout).
    ``grace``: seconds without a new submission after which the teacher declares the dropouts.
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
        teacher.post(rounds=rounds, places=n_students - len(late), min_owners=min_owners)
        if on_teacher is not None:
            on_teacher(teacher)
        plans = {seat: {"late_round": late.get(seat, 0), "leave_at": leave.get(seat),
                        "light": light, "timeout": timeout, "interval": interval}
                 for seat in range(n_students)}
        out, procs = spawn_students(node, plans, n_students)
        records = []
        for rnd in range(rounds):
            expected = sum(late.get(seat, 0) <= rnd for seat in range(n_students))
            records.append(teacher.run_round(wait_for=expected, grace=grace, timeout=timeout,
                                             progress=progress))
        reports = _collect(out, procs, timeout + 60)
    finally:
        _end(procs, node, own)
    return RoundRehearsal(records, sorted(reports, key=lambda r: r.name), teacher,
                          teacher.initial_accuracy)


def round_table(rehearsal: RoundRehearsal) -> str:
    """The rounds of a rehearsal as a plain-text table."""
    rows = [(r.round, len(r.participants), len(r.submitted), ", ".join(r.dropped) or "-",
             "-" if r.accuracy is None else f"{r.accuracy:.1%}",
             f"{sum(r.timings.values()):.2f}") for r in rehearsal.records]
    return text_table(["round", "participants", "submitted", "dropped", "accuracy",
                       "AI Inc. s"], rows)


def main(argv: list[str] | None = None) -> None:
    """``python -m omteach.classroom.rehearsal --students N [--rounds R] [--skeleton]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cheater", action="store_true", help="seat 0 also tries anvil's methods "
                        "(with --skeleton)")
    parser.add_argument("--skeleton", action="store_true",
                        help="only join and exchange blobs (no market round)")
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
    result = rehearse_round(n, rounds=args.rounds, late=late, leave=leave, progress=print)
    print(round_table(result))
    errors = [f"{r.name}: {r.error}" for r in result.reports if r.error]
    print("\n".join(errors) or "every student finished")
    last = result.records[-1].accuracy if result.records else None
    print(f"students={n} rounds={len(result.records)} accuracy="
          f"{'-' if last is None else f'{last:.3f}'} wall_s={time.monotonic() - start:.1f}")


if __name__ == "__main__":
    main()


def _collect(out: Any, procs: list, wait: float) -> list:
    """Each student process's report (waiting at most ``wait`` s for each), then join them."""
    reports = [out.get(timeout=wait) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return reports


def _end(procs: list, node: Any, own: bool) -> None:
    """Stop the student processes still running, and the node if this rehearsal started it."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    if own:
        node.stop()
