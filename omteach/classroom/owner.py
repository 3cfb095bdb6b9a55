"""A student as a data owner in the live round: their data never leaves their process.

::

    me = Student.join(url, classroom, "Ana")               # own key, faucet, roster
    owner = ClassOwner(me, data)                            # a seat's shard, or DigitPad drawings
    spec = owner.find_spec()                                # the spec AI Inc. posted
    print(owner.audit(spec).summary())                      # chapter 5's audit, before consenting
    owner.accept(spec)
    owner.take_part(spec)                                   # every round: shares, train, submit…

The student reacts to the chain: :meth:`ClassOwner.step` reads the spec and the round on chain
and does whatever is due now (advertise fresh keys for the round, deal its key shares to its
neighbours once everyone advertised, train and submit once every participant's shares are in,
reveal its shares once AI Inc. ends the submissions: of its surviving neighbours' self-mask
seeds and its dropped neighbours' mask keys, never both for one), then returns a line saying
what it did or waits for. Between rounds the line counts down to the next one, as the teacher
announced it on the classroom contract (``next_round_at``, ``pause``); a latecomer mid-round
hears which round it joins and when. Each phase has a deadline on chain; work that misses it
is refused, and the student says so. :meth:`ClassOwner.take_part` calls it until the spec is
finished, with a timeout; the notebook's panel calls it from a button or a loop. Nothing
but the chain connects the student to AI Inc.: no second server.

Masks, shares and sums are keyed by **address** (names are only labels, and differ nowhere: the
roster names everyone alike on every machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from omteach.classroom.student import Student
from omteach.errors import (
    ContractRevertError,
    RevealRefusedError,
    RoundTimeoutError,
    WaitTimeoutError,
)
from omteach.learning.data import Dataset
from omteach.learning.defences import AuditReport
from omteach.protocol.market import Market, MarketSpec
from omteach.protocol.parties import DataOwner
from omteach.protocol.round import Phase, RoundState, Seat
from omteach.waiting import countdown, wait_until

DUE_POLL = 0.1
"""Seconds between two polls while AI Inc. is due to act (:meth:`ClassOwner.nap`)."""
DUE_WINDOW = 5.0
"""Seconds after the submit deadline during which a survivor keeps polling every
:data:`DUE_POLL` s for AI Inc. to end the submissions (then back to the usual interval: a
teacher who is late is waited for at the usual pace)."""

UpdateFn = Callable[[DataOwner, int, int], np.ndarray]
"""How an owner computes its update: (owner, spec id, round) -> update. Default: local training."""

FINISHED = Phase.FINISHED.value
"""The line :meth:`ClassOwner.step` returns once the spec takes nothing more."""
LEFT = Seat.LEFT.value
"""The line :meth:`ClassOwner.step` returns when this student leaves (``leave_at``)."""


def _train(owner: DataOwner, spec_id: int, round_no: int) -> np.ndarray:
    return owner.train(spec_id, round_no)


class ClassOwner:
    """A student (:class:`Student`, own key) as a :class:`DataOwner` of the class's market.

    ``data`` stays in this process. ``update``: how the update is computed (default: train the
    spec's model on ``data``; the benchmark passes precomputed updates so its students need no
    torch). ``leave_at``: a round in which this student posts its key shares and then leaves
    (the rehearsal's dropout). ``clock``: this machine's clock (the countdowns; tests pass
    their own); ``sleep``: how it waits between two polls (tests pass their own).
    """

    def __init__(self, student: Student, data: Dataset, *, seed: int = 0,
                 update: UpdateFn = _train, leave_at: int | None = None,
                 timeout: float = 60.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.student = student
        address = wait_until(lambda: _nonzero(student.classroom.call("market")),
                             what="the teacher to open the market", timeout=timeout,
                             interval=0.3, error=RoundTimeoutError, hint="wait, then try again")
        self.market = Market(student.chain, student.blobs,
                             student.chain.attach("ModelMarket", address))
        self.owner = DataOwner(student.name, self.market, data, seed=seed)
        self.address = self.owner.address
        self.update_fn = update
        self.leave_at = leave_at
        self.log: list[tuple[float, str]] = []
        """(time, what happened), oldest first."""
        self._said: str | None = None  # what the last line logged said (a countdown's wait)
        self.rounds: dict[int, Seat] = {}
        """Round -> this student's state in it (a :class:`Seat`: "shares", "submitted", ...)."""
        self.submitted_at: dict[int, float] = {}
        self.withdrawn = 0
        self.clock = clock
        self.sleep = sleep
        self.due: int | None = None
        """Chain time at which AI Inc. is due to act on what this student waits for (the submit
        deadline, after submitting), or None: :meth:`nap` polls quickly around it."""
        self._skew = 0.0  # seconds the chain's clock is ahead of this machine's
        self.ticking: Callable[[], str] | None = None
        """Redraws the last line of :meth:`step` when it counts down (None: it does not):
        a countdown moves without a new block."""
        self._parked: tuple[int, bool, bool, bool] | None = None
        """Set when the last step waits for AI Inc. alone: the spec's (round, opened, recovering,
        finished) then; nothing is due until AI Inc. changes one of them."""

    @property
    def name(self) -> str:
        """The student's display name."""
        return self.student.name

    def _say(self, line: str, *, key: str | None = None) -> str:
        """Log ``line`` unless the last line logged was the same (``key``: the same wait, for a
        line that counts down); return it."""
        key = key or line
        if key != self._said:
            self.log.append((time.time(), line))
            self._said = key
        return line

    def _tick(self, line: Callable[[], str], *, key: str) -> str:
        """A line that counts down: said (and logged) once, redrawn by :attr:`ticking`."""
        self.ticking = line
        return self._say(line(), key=key)

    def _now(self) -> float:
        """Chain time now, as well as this machine knows it (its clock, or the chain's when that
        is ahead: the deadlines are the chain's)."""
        return self.clock() + self._skew

    def _read_clock(self) -> None:
        self._skew = max(0.0, self.student.chain.now() - self.clock())

    # -- before the rounds ------------------------------------------------------------------------

    def find_spec(self, *, timeout: float = 60.0) -> int:
        """The id of the open spec the class's teacher posted (waiting up to ``timeout`` s)."""
        teacher = self.student.classroom.call("teacher").lower()

        def open_spec() -> Any:
            specs = [s for s in self.market.open_specs()
                     if s.company_address.lower() == teacher]
            return specs[-1] if specs else None
        try:
            return wait_until(open_spec, what="the teacher's spec", timeout=timeout,
                              interval=0.3, error=RoundTimeoutError).spec_id
        except RoundTimeoutError as exc:
            # Say what the chain shows at the end of the wait: no spec, or one that finished
            # its rounds before this student arrived (rounds back to back leave no gap)
            raise RoundTimeoutError(f"no open spec after {timeout:g} s: "
                                    f"{self._no_spec_why(teacher)}", what=exc.what,
                                    waited=exc.waited) from None

    def _no_spec_why(self, teacher: str) -> str:
        """Why no spec of the teacher is open, as the chain tells it (a latecomer's truth)."""
        mine = [s for s in self.market.specs() if s.company_address.lower() == teacher]
        if not mine:
            return "the teacher has not posted a spec yet: wait for the teacher, then run again"
        last = mine[-1]
        if last.finished:
            return (f"the teacher's spec {last.spec_id} ran all its {last.rounds} round(s) "
                    "before you arrived: ask the teacher to post the next one, then run again")
        return (f"the teacher's spec {last.spec_id} passed its deadline: ask the teacher to "
                "post a new one")

    def audit(self, spec_id: int) -> AuditReport:
        """Chapter 5's audit of the spec: its terms on chain and the model blob."""
        return self.owner.audit(spec_id)

    def accept(self, spec_id: int, *, timeout: float = 60.0) -> str:
        """Consent on chain; waits for a place if all are taken."""
        if self.address in self.market.owners(spec_id):
            return self._say("already accepted")
        refusals: list[ContractRevertError] = []

        def accepted() -> bool:
            try:
                self.owner.accept(spec_id)
                return True
            except ContractRevertError as exc:
                if "every place" not in exc.reason:
                    raise
                refusals.append(exc)  # the teacher adds places for the class as it grows
                return False
        try:
            wait_until(accepted, what="a place in the spec", timeout=timeout, interval=0.3)
        except WaitTimeoutError:
            raise refusals[-1] from None  # the contract's own reason says why
        return self._say("accepted: I take part from the next round AI Inc. opens")

    # -- the rounds -------------------------------------------------------------------------------

    @staticmethod
    def _phase_key(spec: MarketSpec) -> tuple[int, bool, bool, bool]:
        return spec.round, spec.opened, spec.recovering, spec.finished

    def _park(self, state: RoundState, said: str) -> str:
        """``said`` (a line already said) waits for AI Inc. alone (to open, end the
        submissions, close the round): nothing is due until AI Inc. acts."""
        self._parked = self._phase_key(state.spec)
        return said

    def parked(self, spec_id: int) -> bool:
        """The last step waits for AI Inc. alone, and AI Inc. has not acted on the spec since
        (one read: the spec). Classmates' blocks (shares, submissions, reveals) change nothing
        for this student then, so :meth:`take_part` does not step on them: with 100 students,
        every reveal's block made each of the others re-read the round (8 reads each)."""
        return self._parked is not None and self._phase_key(
            self.market.spec(spec_id)) == self._parked

    def step(self, spec_id: int) -> str:
        """Do what is due now in the open round; a line saying what was done or awaited."""
        me = self.address
        self.ticking = None
        self._parked = None
        self.due = None
        # The whole round: one read either way (round_view), and a reveal then needs no second
        # read of who submitted.
        state = self.market.round_state(spec_id)
        if state.phase is Phase.FINISHED:
            return self._say(FINISHED)
        round_no = state.round
        if state.phase is Phase.ACCEPTING:
            return self._park(state, self._before(round_no))
        if me not in state.participants:
            return self._park(state, self._under_way(state))
        if me not in state.shared:
            if state.phase is not Phase.SHARING:  # submissions began without my shares
                return self._dropped(round_no)
            try:
                if not state.has_advertised(me):
                    self.owner.advertise_keys(spec_id, round_no)
                    return self._say(f"round {round_no}: advertised my keys for this round")
                if state.info.advertised < len(state.participants):
                    return self._say(f"round {round_no}: waiting for every participant's keys")
                self.owner.post_shares(spec_id, round_no)
            except ContractRevertError as exc:
                if "sharing deadline has passed" not in exc.reason:
                    raise
                return self._say(f"round {round_no}: too late for the sharing deadline; "
                                 "AI Inc. opens the round again without me")
            self.rounds[round_no] = Seat.SHARES
            return self._say(f"round {round_no}: dealt my key shares to my {state.k} "
                             "neighbours")
        if self.leave_at == round_no:
            self.rounds[round_no] = Seat.LEFT
            return self._say(LEFT)
        if state.seat(me) is Seat.DROPPED:
            return self._dropped(round_no)
        if me not in state.submitted:
            if not state.all_shares_in:
                return self._say(f"round {round_no}: waiting for every participant's key shares")
            update = self.update_fn(self.owner, spec_id, round_no)
            try:
                self.owner.submit(spec_id, round_no, update)
            except ContractRevertError as exc:
                if ("submissions are closed" not in exc.reason
                        and "submit deadline has passed" not in exc.reason):
                    raise
                # The submit deadline passed while we trained: the id was refused, so the
                # update was never published (its pairwise masks are about to be removed)
                return self._dropped(round_no)
            self.submitted_at[round_no] = time.time()
            self.rounds[round_no] = Seat.SUBMITTED
            self.due = state.info.submit_deadline  # AI Inc. ends the submissions then at last
            self._read_clock()  # the chain's clock may be ahead of this machine's
            return self._park(state, self._say(
                f"round {round_no}: trained, masked, encrypted and submitted"))
        if state.phase is Phase.RECOVERING and me not in state.revealed:
            try:
                self.owner.reveal_shares(spec_id, round_no, state=state)
            except RevealRefusedError as exc:  # the honest student's rule: nothing revealed
                self.rounds[round_no] = Seat.SUBMITTED
                return self._say(f"round {round_no}: I refuse to reveal: {exc}")
            except ContractRevertError as exc:
                if exc.reason in ("this round is not open", "this spec is finished"):
                    # AI Inc. closes once the reveals hold t shares of every secret: a slower
                    # survivor's reveal is then not needed (its update is paid all the same).
                    self.rounds[round_no] = Seat.SUBMITTED
                    return self._say(f"round {round_no}: closed before my reveal was needed "
                                     "(enough classmates revealed; my update counts and is paid)")
                if "reveal deadline has passed" not in exc.reason:
                    raise
                return self._say(f"round {round_no}: too late for the reveal deadline")
            self.rounds[round_no] = Seat.REVEALED
            return self._park(state, self._say(
                f"round {round_no}: revealed my shares (survivors' self-mask seeds, dropouts' "
                "mask keys)"))
        if state.phase is Phase.SUBMITTING:  # submitted, and stepped again meanwhile
            self.due = state.info.submit_deadline
        return self._park(state, self._say(
            f"round {round_no}: waiting for AI Inc. to close the round"))

    def _before(self, round_no: int) -> str:
        """The round is not open yet: when it opens, if the teacher announced it."""
        opens_at = int(self.student.classroom.call("next_round_at"))
        self._read_clock()
        if opens_at <= self._now():
            return self._say(f"round {round_no}: waiting for AI Inc. to open it")
        closed = f"round {round_no - 1} closed; " if round_no else ""

        def line() -> str:
            return (f"{closed}round {round_no} opens {countdown(opens_at - self._now())} "
                    "(the teacher's pause between rounds)")
        return self._tick(line, key=f"round {round_no}: the pause")

    def _under_way(self, state: RoundState) -> str:
        """A round runs without this student (it accepted after AI Inc. opened it): which
        round it joins, and when (this phase's deadline, then the teacher's pause)."""
        round_no = state.round
        head = (f"round {round_no} is under way without me (I accepted after AI Inc. opened "
                f"it; {state.submission_count} of {len(state.participants)} submitted): ")
        if round_no + 1 >= state.spec.rounds:
            return self._say(head + "it is the spec's last round, so I wait for it to end")
        pause = int(self.student.classroom.call("pause"))
        self._read_clock()
        then = (f"{pause} s after this one closes (the teacher's pause)" if pause
                else "as soon as this one closes")
        deadline = state.phase_deadline

        def line() -> str:
            left = deadline - self._now() if deadline else 0
            phase = (f"; its {state.phase.value} phase ends {countdown(left)} at the latest"
                     if left > 0 else "")
            return f"{head}I take part in round {round_no + 1}, which AI Inc. opens {then}{phase}"
        return self._tick(line, key=f"round {round_no}: under way, {state.phase.value}, "
                                    f"{state.submission_count} submitted")

    def _dropped(self, round_no: int) -> str:
        self.rounds[round_no] = Seat.DROPPED
        return self._say(f"round {round_no}: too late, the submit deadline passed")

    def nap(self, seconds: float) -> None:
        """Wait ``seconds`` before the next poll, or less when AI Inc. is due to act.

        After submitting, a student waits for AI Inc. to end the submissions, which it does at
        the submit deadline on chain at the latest (:attr:`due`): the nap ends at that moment,
        and for :data:`DUE_WINDOW` s after it the student polls every :data:`DUE_POLL` s. With
        100 students polling once a second, noticing the end took half a second on average and
        a second at worst, and every survivor's reveal waited for it (issue 21); polling that
        often all the time would flood the gate instead.
        """
        if self.due is not None:
            left = self.due - self._now()
            if 0 < left < seconds:
                seconds = left
            elif -DUE_WINDOW < left <= 0:
                seconds = min(seconds, DUE_POLL)
        self.sleep(seconds)

    def take_part(self, spec_id: int, *, timeout: float = 300.0, interval: float = 0.2,
                  on_step: Callable[[str], None] | None = None) -> str:
        """Step until the spec is finished (or this student leaves); then withdraw the bounties.

        ``timeout``: seconds without anything new happening before giving up (a
        :class:`~omteach.errors.RoundTimeoutError`, a ProtocolError). Between two polls the
        chain is asked only for its block number (or, while the student waits for AI Inc. alone,
        for the spec: :meth:`parked`, and once that read says AI Inc. acted, :meth:`step` runs
        at once): nothing a step reads can change without a new block, so :meth:`step` (one read
        of the round, and what is due) runs only after one; a line that counts down (the pause
        before the next round) is redrawn from this machine's clock meanwhile.
        """
        seen = {"block": -1, "line": ""}

        def poll() -> str:
            was_parked = self._parked is not None
            if self.parked(spec_id):  # waiting for AI Inc.: one read, whatever classmates do
                if self.ticking is not None:  # a countdown: redrawn from this machine's clock
                    seen["line"] = self.ticking()
                return seen["line"]
            if was_parked:  # that read says AI Inc. acted: a step is due, whatever the block
                seen["line"] = self.step(spec_id)  # (a survivor's reveal: one request fewer)
                return seen["line"]
            block = self.student.chain.block_number
            if block != seen["block"]:
                seen.update(block=block, line=self.step(spec_id))
            elif self.ticking is not None:  # a countdown: redrawn without reading the chain
                seen["line"] = self.ticking()
            return seen["line"]
        line = wait_until(poll, lambda line, _quiet: line in (FINISHED, LEFT),
                          what="the round to move on", timeout=None, idle=timeout,
                          interval=interval, progress=on_step, error=RoundTimeoutError,
                          hint="is the teacher still running the class?", sleep=self.nap)
        if line == FINISHED:
            self.withdraw()
        return line

    def balance(self) -> int:
        """Bounties credited to this student and not withdrawn yet, in wei."""
        return self.market.balance(self.address)

    def withdraw(self) -> int:
        """Take the credited bounties out of the market (to this student's key); how much."""
        amount = self.balance()
        if amount:
            self.owner.withdraw()
            self.withdrawn += amount
        return amount


def _nonzero(address: str) -> str | None:
    return address if int(address, 16) else None
