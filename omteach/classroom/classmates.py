"""Simulated students, each its own process, against a class node: the rehearsal's classmates.

Each student (:func:`spawn_students` for the live round, :func:`rehearse` for the skeleton)
runs in its own process (``multiprocessing``, started fresh: nothing shared with the teacher's
process but the gate's URL and the classroom's address; see :func:`student_context`), with its
own key and its own seat's digits, and meets the teacher only on the node. It reports what it
did in a :class:`StudentReport`.

:func:`rehearse` is the part of a rehearsal that does not depend on the market protocol: a
:class:`~omteach.classroom.node.ClassroomNode` on loopback and ``n`` student processes, each of
which

1. generates its own key, asks the faucet, joins the roster (:class:`Student`),
2. publishes a blob through the node (:class:`ChainBlobStore`): a stand-in for its update,
3. waits for its neighbour (the next seat) to publish, reads that blob and checks it,
4. if it is the cheater (``cheater=True`` makes seat 0 one), also tries anvil's methods through
   the gate and reports the errors it got,

and reports what happened and how long it took. ``late`` and ``leave`` make latecomers and
dropouts at the process level; ``task`` replaces steps 2 and 3.

The live round's student (:func:`spawn_students`, one plan per seat) audits, accepts and takes
part in every round (:class:`~omteach.classroom.owner.ClassOwner`); ``light`` students submit
precomputed updates (no training: the benchmark's students).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from omteach.classroom.node import CLASS_SIZE, ClassroomNode
from omteach.errors import RoundTimeoutError, SetupError, WaitTimeoutError
from omteach.text import text_table
from omteach.waiting import wait_until

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
                   "omteach.classroom.classmates", "eth_account", "web3", "torch")
"""What every simulated student imports (about a second of CPU each), and torch, which every
student who trains imports (another second): imported once, by the process the students are
forked from. A student who does not train (``light``) gets torch's pages from that process
without importing it; without torch installed (the torch-free Pythons), the server skips it."""


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

    def neighbours_blobs() -> list[str]:
        address = me.roster().get(report.neighbour)
        return me.blobs.posted_by(address) if address else []
    try:
        ids = wait_until(neighbours_blobs, what=f"{report.neighbour}'s blob", timeout=timeout)
    except WaitTimeoutError:
        # The teacher's table shows this line: said in the seat's terms, as a plain timeout.
        raise TimeoutError(f"{report.neighbour} published nothing within {timeout} s") from None
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
        reports = collect_reports(out, procs, timeout + 60 + max(late.values(), default=0.0))
    finally:
        end_students(procs, node, own)
    return sorted(reports, key=lambda r: r.name)


def report_table(reports: list[StudentReport]) -> str:
    """The reports as a plain-text table."""
    rows = [(r.name, f"{r.joined_s:.2f}", f"{r.published_s:.2f}", f"{r.read_s:.2f}",
             r.neighbour, "yes" if r.read_ok else "NO",
             f"{sum(c == -32601 for c in r.refused.values())}/{len(r.refused)}" if r.refused
             else "-", "left after joining" if r.left else r.error[:60]) for r in reports]
    return text_table(["student", "joined s", "published s", "read s", "neighbour", "read ok",
                       "cheats refused", "note"], rows)


def _wait_for_round(gate_url: str, classroom: str, round_no: int, timeout: float) -> None:
    """Read the chain (no key, no join) until round ``round_no - 1`` of the spec is open."""
    from omteach.chain.evm import Chain
    from omteach.protocol.blobs import BlobStore
    from omteach.protocol.market import Market
    from omteach.protocol.round import Phase

    chain = Chain(gate_url, cast=())
    room = chain.attach("Classroom", classroom)
    markets: list[Market] = []  # attached once the teacher has deployed it

    def opened() -> bool:
        if not markets:
            address = room.call("market")
            if not int(address, 16):
                return False
            markets.append(Market(chain, BlobStore(), chain.attach("ModelMarket", address)))
        specs = markets[0].open_specs()
        if not specs:
            return False
        state = markets[0].round_state(specs[-1].spec_id, of=())
        return state.round >= round_no or (state.round == round_no - 1
                                           and state.phase is not Phase.ACCEPTING)
    wait_until(opened, what=f"round {round_no - 1} to open", timeout=timeout,
               error=RoundTimeoutError)


def light_values(seed: int, round_no: int, size: int) -> Any:
    """The update a light student with ``seed`` submits in a round: seeded noise in the clip
    (what a test or the benchmark sums itself to check the class's aggregate)."""
    import numpy as np

    return np.random.default_rng(seed * 1000 + round_no).uniform(-0.05, 0.05, size=size)


def light_update(owner: Any, spec_id: int, round_no: int) -> Any:
    """A precomputed update (seeded noise within the clip): a student process without torch."""
    _, weights = owner.inspect(spec_id)
    return light_values(owner.seed, round_no, weights.size)


NETNS_DIR = "/var/run/netns"
"""Where ``ip netns add NAME`` leaves a handle on the namespace it made."""
CLONE_NEWNET = 0x40000000
"""setns(2)'s flag for a network namespace (<sched.h>)."""


def enter_netns(name: str) -> None:
    """Move this process's network into namespace ``name`` (made by ``ip netns add``; root):
    a rehearsal's student on another host of the test's own network, which reaches the class
    only through the gate's address on that network (the teacher's loopback is not there).

    Call it before opening any connection: sockets opened earlier stay where they were.
    A namespace that is missing or cannot be entered: :class:`SetupError`.
    """
    import ctypes
    import os

    path = os.path.join(NETNS_DIR, name)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SetupError(f"no network namespace {name!r} ({path}: {exc.strerror}): make it with "
                         f"'ip netns add {name}' (as root)") from None
    try:  # os.setns is Python 3.12+: the C library's, through ctypes, on 3.11
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise SetupError(f"cannot enter network namespace {name!r}: {os.strerror(err)} "
                             "(it needs root, or CAP_SYS_ADMIN)")
    finally:
        os.close(fd)


def _round_student(gate_url: str, classroom: str, seat: int, n: int, plan: dict[str, Any],
                   out: Any) -> None:
    """One student's process in the live round: join, audit, accept, take part, withdraw."""
    report = StudentReport(_name(seat))
    start = time.monotonic()
    try:
        if plan.get("netns"):
            enter_netns(plan["netns"])  # first: every connection of this student goes there
        from omteach.chain.evm import share_compiled
        from omteach.classroom.owner import LEFT, ClassOwner
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
        report.left = line == LEFT
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


def collect_reports(out: Any, procs: list, wait: float) -> list:
    """Each student process's report (waiting at most ``wait`` s for each), then join them."""
    reports = [out.get(timeout=wait) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return reports


def end_students(procs: list, node: Any, own: bool) -> None:
    """Stop the student processes still running, and the node if this rehearsal started it."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    if own:
        node.stop()
