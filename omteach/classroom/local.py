"""A class on this machine for a notebook to play along with: :class:`LocalClass`.

Notebook 06 (both editions) runs it when there is no teacher (the student's notebook) or no class
(the teacher's): the node on loopback, simulated classmates as processes
(:mod:`omteach.classroom.classmates`) and, for the student's notebook, AI Inc. in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from omteach.classroom.classmates import spawn_students, student_context
from omteach.classroom.node import ClassroomNode
from omteach.text import plural

if TYPE_CHECKING:  # the teacher imports the protocol (and, for accuracy, torch)
    from omteach.classroom.teacher import ClassTeacher, RoundRecord


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
                self.records.append(self.teacher.run_round(wait_for=expected, timeout=timeout))
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
