"""The teacher's side of the live round: AI Inc. on the class's node, with the teacher's own key.

::

    teacher = ClassTeacher.from_node(node)          # or ClassTeacher.from_state() in notebook 06
    teacher.post(rounds=3, places=30)               # the spec: model, key, terms, bounty in escrow
    teacher.run_rounds(wait_for=8, pause=30)        # each round: open, shares, submissions,
                                                    # reveals, close; a pause between two

Everything goes through the node: the market contract (``ModelMarket``) decides who takes part
and who is paid; the blobs (model, public key, shares, updates) are posted to the ``BlobBoard``
(:class:`~omteach.protocol.chainblobs.ChainBlobStore`). The teacher never talks to a student's
process: students react to the chain by polling it, and so does the teacher.

A round, as the teacher runs it (:meth:`ClassTeacher.run_round`):

1. **open**: the owners who accepted so far (latecomers join at the next round; owners who
   dropped out of an earlier round are left out) are fixed on chain (``open_round``) with
   SecAgg+'s ``k`` and ``t`` for that many; the contract draws the round's seed;
2. **shares**: every participant advertises fresh round keys, then deals its sealed key shares
   to its neighbours; one who has not by the sharing deadline is left out and the round is
   opened again without it (allowed until someone submits);
3. **submissions**: wait until every participant submitted, or until the submit deadline passed:
   the others are the round's **dropouts** (``end_submissions``);
4. **reveals**: every survivor reveals its shares of its surviving neighbours' self-mask seeds
   and of its dropped neighbours' mask keys; AI Inc. goes on as soon as the reveals in hold
   ``t`` shares of every secret it needs (counted from the neighbour graph), not after the last
   survivor's;
5. **close**: every update of the round is fetched in one request (``prefetch``), the reveals in
   another (they came in the ``reveal_shares`` transactions), each checked against the spec;
   the sum is decrypted once and unmasked, the new model is posted and the round closed: each
   contributor is credited the bounty (students withdraw it themselves).

A round that cannot close is **abandoned** (``abandon_round``), never left stuck: when the submit
deadline passed with fewer than ``min_owners`` submissions, or the reveals are over (all in, or
the reveal deadline passed) without ``t`` shares of some secret, or a revealed share turned out
unusable. Its submitters are credited as on a close (they did their work), the round counts as
one of the spec's rounds (the escrow pays for that many), the model stays as it was, and
``run_rounds`` goes on with the next round; survivors who never revealed are left out of later
rounds, as dropouts are. The record's ``abandoned`` says why, and the dashboard shows it.

Every wait ends at the phase's deadline on chain (the spec's ``share_seconds``,
``submit_seconds``, ``reveal_seconds``): a student who closes the laptop costs the class at most
that phase.

:meth:`ClassTeacher.status` is what the dashboard shows: each student's state per round, what
AI Inc. sees of one update (noise) and of the sum, accuracy per round, balances.

Why some 350 lines: the teacher is one driver with one state (the spec, the rounds' records,
who dropped out); its steps are short because the round's rules live in
:mod:`omteach.protocol.round`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omteach.chain.evm import Chain, DeployedContract
from omteach.classroom.node import DEFAULT_STATE, ClassroomNode, teacher_chain
from omteach.classroom.roster import read_roster
from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import KeyPair, generate_keypair
from omteach.errors import (
    AggregationError,
    ContractRevertError,
    DropoutRecoveryError,
    InvalidValueError,
    OmteachError,
    ProtocolError,
    RoundTimeoutError,
    WaitTimeoutError,
)
from omteach.learning import tasks
from omteach.learning.data import Dataset
from omteach.learning.model import ModelSpec
from omteach.protocol.chainblobs import ChainBlobStore
from omteach.protocol.market import (
    MAX_OWNERS,
    REVEAL_SECONDS,
    SHARE_SECONDS,
    SUBMIT_SECONDS,
    Market,
)
from omteach.protocol.parties import AICompany, timed
from omteach.protocol.round import Action, Next, Phase, RoundState, Seat, next_action
from omteach.story import COMPANY
from omteach.waiting import wait_until

FINNEY = 10**15
BOUNTY = 10 * FINNEY
"""Wei per contribution (0.01 of the class's play ether)."""
CLASS_MODEL = ModelSpec(local_epochs=5)
"""The model the class trains: chapter 4's digits MLP, five local epochs a round."""
ROUND_PAUSE = 30.0
"""Seconds between two rounds in class: a latecomer who accepts then takes part in the next
round (the teacher changes it: ``run_rounds(pause=...)``)."""

Progress = Callable[[str], None]


@dataclass
class RoundRecord:
    """What one round did, for the dashboard."""

    round: int
    participants: list[str]
    submitted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Reopened without them: they posted no key shares in time."""
    accuracy: float | None = None
    one_update: list[float] = field(default_factory=list)
    """What AI Inc. decrypts from ONE update at :attr:`shown`: update + masks, decoded as if
    it were an update (noise over the packing slot's whole range, not weights)."""
    mean_update: list[float] = field(default_factory=list)
    """The decrypted mean of all updates at :attr:`shown` (the masks cancel): the signal."""
    shown: list[int] = field(default_factory=list)
    """Which weights :attr:`one_update` and :attr:`mean_update` show: the six the mean moved
    most."""
    one_range: tuple[float, float] = (0.0, 0.0)
    """The smallest and largest value decrypted from the one update (every weight)."""
    timings: dict[str, float] = field(default_factory=dict)
    closed_at: float = 0.0
    last_submission_at: float = 0.0
    ended_at: float = 0.0
    """When AI Inc.'s ``end_submissions`` was mined (this machine's clock; 0: not sent)."""
    spec_id: int | None = None
    """The spec this round belongs to: a teacher who posts a second spec keeps the first's
    records in ``history``, and the dashboard shows only the current spec's."""
    abandoned: str = ""
    """Why AI Inc. abandoned the round (empty: it closed with a sum). An abandoned round paid
    its submitters and kept the model."""


class ClassTeacher:
    """AI Inc. for a class: the market, the spec, the rounds, and the dashboard's state.

    ``chain`` has the teacher's key under :data:`~omteach.story.COMPANY`; ``classroom`` and
    ``board`` are the class's contracts. The market is deployed (and the classroom pointed at it)
    unless ``market`` gives the address of one already there. ``test``: the held-out digits the
    accuracy is measured on (None: no accuracy, no torch in this process).
    """

    def __init__(self, chain: Chain, classroom: DeployedContract, board: DeployedContract, *,
                 model: ModelSpec = CLASS_MODEL, keys: KeyPair | None = None,
                 market: str | None = None, test: Dataset | None = None, seed: int = 0):
        self.chain = chain
        self.classroom = classroom
        self.blobs = ChainBlobStore(chain, board, sender=COMPANY)
        contract = (chain.attach("ModelMarket", market) if market
                    else chain.deploy("ModelMarket", sender=COMPANY))
        self.market = Market(chain, self.blobs, contract)
        if classroom.call("market").lower() != contract.address.lower():
            classroom.transact("set_market", contract.address, sender=COMPANY)
        self.model = model
        self.keys = keys if keys is not None else generate_keypair(2048, fast=True)
        self.codec = PackingCodec(clip=model.update_clip, bits=16, max_contributions=MAX_OWNERS)
        self.company = AICompany(self.market, model, keys=self.keys, codec=self.codec, seed=seed)
        self.test = test
        self.spec_id: int | None = None
        self.history: list[RoundRecord] = []
        self.dropped_out: set[str] = set()
        self.open_gas: list[int] = []
        """Gas of each open_round (it grows with the participants: the cost table's figure)."""
        self._closed_states: dict[tuple[int, int], dict[str, Seat]] = {}
        """(spec, round) -> each participant's state in a closed round: final, read once."""
        self.ended_at = 0.0
        """When the last :meth:`recover` had ``end_submissions`` mined (0: it sent none)."""
        self.next_round_at: float | None = None
        """Wall-clock time the pause ends and the next round opens (None: not pausing)."""
        self.initial_accuracy = self.accuracy()

    @classmethod
    def from_node(cls, node: ClassroomNode, **kwargs: Any) -> ClassTeacher:
        """The teacher of a node started in this process (a rehearsal, a test)."""
        return cls(node.chain, node.classroom, node.board, **kwargs)

    @classmethod
    def from_state(cls, state_file: Path = DEFAULT_STATE, **kwargs: Any) -> ClassTeacher:
        """The teacher of the class ``make classroom`` runs (reads its state file)."""
        chain, classroom, board = teacher_chain(state_file)
        return cls(chain, classroom, board, **kwargs)

    # -- the spec ---------------------------------------------------------------------------------

    def post(self, *, rounds: int = 3, places: int = 8, min_owners: int = 3,
             bounty: int = BOUNTY, share_seconds: int = SHARE_SECONDS,
             submit_seconds: int = SUBMIT_SECONDS, reveal_seconds: int = REVEAL_SECONDS) -> int:
        """Post the spec for the class: ``places`` owners may accept (more are added later);
        each round's phases last ``share_seconds``, ``submit_seconds``, ``reveal_seconds``."""
        self.spec_id = self.company.post(rounds=rounds, min_owners=min_owners, bounty=bounty,
                                         places=places, share_seconds=share_seconds,
                                         submit_seconds=submit_seconds,
                                         reveal_seconds=reveal_seconds)
        return self.spec_id

    def _spec_id(self) -> int:
        if self.spec_id is None:
            raise ProtocolError("post the spec first (teacher.post())")
        return self.spec_id

    def make_room(self) -> int:
        """Add places when the class outgrew the spec (latecomers can then accept); how many."""
        spec = self.market.spec(self._spec_id())
        taken = len(self.market.owners(spec.spec_id))
        joined = int(self.classroom.call("class_size"))
        extra = min(joined, MAX_OWNERS) - spec.places
        if taken >= spec.places and extra > 0 and not spec.finished:
            self.market.add_places(spec.spec_id, extra, sender=COMPANY)
            return extra
        return 0

    # -- a round, step by step ----------------------------------------------------------------
    # Each step reads the round (Market.round_state), asks the rule (next_action) and acts
    # through the market's verbs; a step that waits for students goes through wait_until.

    def _round(self, *, full: bool = False) -> RoundState:
        """The open round; without ``full``, only its counts (seven reads, not three a student)."""
        return self.market.round_state(self._spec_id(), of=None if full else ())

    def now(self) -> int:
        """Chain time as the next block will have it: anvil stamps a block with the wall clock,
        and the latest block may be seconds old on a quiet chain."""
        return max(self.chain.now(), int(time.time()))

    def _phase_over(self, state: RoundState, phase: Phase) -> bool:
        """The round left ``phase``, or its deadline passed (the contract then refuses the late)."""
        return state.phase is not phase or state.deadline_passed(self.now())

    def open_round(self, *, wait_for: int = 0, timeout: float = 60.0) -> list[str]:
        """Fix the round's participants: every owner who accepted (waiting up to ``timeout`` s
        for ``wait_for`` of them), except those who dropped out of an earlier round."""
        spec_id = self._spec_id()

        def accepted() -> int:  # latecomers may be waiting for a place: make room meanwhile
            self.make_room()
            return len(self.market.owners(spec_id))
        try:
            wait_until(accepted, lambda n, _quiet: n >= wait_for, timeout=timeout,
                       what=f"{wait_for} owner(s) to accept", error=RoundTimeoutError)
        except RoundTimeoutError:
            pass  # open with those who did, if they are enough (the rule below says)
        # After the wait: labels every student's address with their display name, those who
        # joined while AI Inc. waited included (each owner joined before accepting).
        read_roster(self.classroom)
        state = self._round()
        step = next_action(state, waited=True, exclude=self.dropped_out)
        if step.action is not Action.OPEN_ROUND:
            raise ProtocolError(f"round {state.round} cannot be opened now: {step.why}")
        chosen = [o for o in state.owners if o not in self.dropped_out]
        self.open_gas.append(self.company.open_round(spec_id, chosen).gas_used)
        return chosen

    def wait_for_shares(self, *, timeout: float = 60.0) -> list[str]:
        """Wait for every participant's round keys and key shares; if some posted none by the
        sharing deadline (or within ``timeout`` s), open the round again without them (the
        others advertise and share again, with a new seed and deadline).

        Returns who was left out (empty: every share is in). They are not chosen again.
        """
        try:
            state = wait_until(self._round,
                               lambda state, _quiet: self._phase_over(state, Phase.SHARING),
                               what="every participant's key shares", timeout=timeout,
                               interval=0.1, error=RoundTimeoutError)
            if state.phase is not Phase.SHARING:
                return []
        except RoundTimeoutError:
            pass
        state = self._round(full=True)
        missing = list(state.late_in_sharing())
        self.dropped_out.update(missing)
        if state.phase is not Phase.SHARING:
            return []  # someone submitted: too late to reopen, they are dropouts of this round
        step = next_action(state, waited=True)
        if step.action is not Action.REOPEN_ROUND:
            raise ProtocolError(step.why)
        self.company.open_round(state.spec_id, [p for p in state.participants
                                                if p not in missing])
        return missing

    def wait_for_submissions(self, *, timeout: float = 300.0) -> list[str]:
        """Wait until every participant submitted or the submit deadline passed (or
        ``timeout`` s). Returns the participants who have not submitted: the round's dropouts
        once the deadline passed."""
        checked, seen, when = 0, 0, 0.0

        def done(state: RoundState, _quiet: bool) -> bool:
            nonlocal checked, seen, when
            count = state.submission_count
            # Check the updates that came while the others train, not all at the close: at each
            # new submission, and each second while some update's bytes are not on the board.
            if count > checked and (count > seen or time.monotonic() - when > 1.0):
                seen, when = count, time.monotonic()
                try:
                    checked = self.company.check_arrivals(state.spec_id, state.round)
                except OmteachError:
                    pass  # a read that failed: the close reads every update again if need be
            return (state.submission_count == len(state.participants)
                    or self._phase_over(state, Phase.SUBMITTING))
        try:
            wait_until(self._round, done, what="the participants' updates", timeout=timeout,
                       interval=0.1, error=RoundTimeoutError)
        except RoundTimeoutError:
            pass  # the ones who have not submitted by now are the dropouts
        return list(self._round(full=True).not_submitted())

    def recover(self, dropped: Collection[str] = (), *, timeout: float = 60.0) -> Next:
        """End the submissions (who has not submitted is a dropout, ``dropped`` as the teacher
        saw them), or see that they cannot end; wait for the survivors' reveals until they hold
        ``t`` shares of every secret AI Inc. needs, or until no more can come (all in, or the
        reveal deadline passed), or ``timeout`` s.

        Returns the rule's answer: :attr:`Action.CLOSE_ROUND`, or :attr:`Action.ABANDON_ROUND`
        (the round cannot close: its reason says why). Still waiting after ``timeout`` s:
        :class:`ProtocolError` (call again to wait more).
        """
        self.dropped_out.update(dropped)
        self.ended_at = 0.0
        state = self._round()
        if state.phase is not Phase.RECOVERING:
            step = next_action(state, now=self.now())
            if step.action is Action.ABANDON_ROUND:
                return step
            if step.action is not Action.END_SUBMISSIONS:
                raise ProtocolError(f"the submissions cannot end now: {step.why}")
            self._when_due(self.company.end_submissions)
            self.ended_at = time.time()
        ends = (Action.CLOSE_ROUND, Action.ABANDON_ROUND, Action.STUCK)
        try:
            wait_until(lambda: self._round(full=True), lambda state, _quiet: next_action(
                state, now=self.now()).action in ends,
                what="the survivors' revealed shares", timeout=timeout, interval=0.1,
                error=RoundTimeoutError)
        except RoundTimeoutError:
            pass
        step = next_action(self._round(full=True), now=self.now())
        if step.action not in (Action.CLOSE_ROUND, Action.ABANDON_ROUND):
            raise ProtocolError(f"{step.why} (waited up to {timeout:.0f} s; "
                                "teacher.recover waits again)")
        return step

    def _when_due(self, send: Callable[[int], Any], *, patience: float = 2.0) -> None:
        """Send AI Inc.'s ``send(spec_id)`` that the market allows only once a deadline passed
        (end_submissions, abandon_round): one transaction, checked at the next block's clock (the
        wall clock), so no block needs stamping past the deadline first. Refused for a deadline
        although this machine's clock has reached it (seen once in a rehearsal of five, the
        node's next block a second behind), it is sent again every 0.25 s for up to
        ``patience`` s, then the refusal is raised; any other refusal at once."""
        deadline = time.monotonic() + patience
        while True:
            try:
                send(self._spec_id())
                return
            except ContractRevertError as exc:
                if "deadline" not in exc.reason or time.monotonic() > deadline:
                    raise
            time.sleep(0.25)

    def _reveals_over(self, *, timeout: float) -> RoundState:
        """Wait until no more reveals can come: every survivor revealed, or the reveal deadline
        passed (or ``timeout`` s). The round as read then."""
        def over(state: RoundState, _quiet: bool) -> bool:
            return (state.phase is not Phase.RECOVERING
                    or state.reveal_count >= state.submission_count
                    or state.deadline_passed(self.now()))
        try:
            return wait_until(self._round, over, what="the rest of the revealed shares",
                              timeout=timeout, interval=0.1, error=RoundTimeoutError)
        except RoundTimeoutError:
            return self._round()

    def abandon(self, record: RoundRecord, why: str) -> RoundRecord:
        """Give the round up without a sum (it cannot close, ``why``): the contract credits its
        submitters and keeps the model; survivors who never revealed are left out of later
        rounds, as dropouts are. The record says why (the dashboard shows it)."""
        state = self._round(full=True)
        if state.phase is Phase.RECOVERING:
            # Only after the reveal deadline may the company abandon without them (checked at
            # the next block's clock, as ending the submissions is).
            self.dropped_out.update(p for p in state.submitted if p not in state.revealed)
        with timed(record.timings, "close"):
            self._when_due(self.company.abandon_round)
        record.abandoned = why
        record.closed_at = time.time()
        record.spec_id = state.spec_id
        record.submitted = sorted(self.name(a) for a in state.submitted)
        record.accuracy = self.accuracy()
        return record

    def finish(self, record: RoundRecord, step: Next, *, timeout: float = 60.0) -> RoundRecord:
        """Close the round (``step`` says CLOSE_ROUND) or abandon it (ABANDON_ROUND).

        A close whose revealed shares turn out unusable (a survivor revealed a wrong share) waits
        for the rest of the reveals and tries once more; if the sum still cannot be unmasked,
        the round is abandoned: its submitters are paid, nothing of the sum is used."""
        if step.action is Action.ABANDON_ROUND:
            return self.abandon(record, step.why)
        try:
            return self.close(record)
        except DropoutRecoveryError:
            state = self._reveals_over(timeout=timeout)
            if state.phase is not Phase.RECOVERING:
                raise
        try:
            return self.close(record)
        except DropoutRecoveryError as exc:
            return self.abandon(record, str(exc))

    def close(self, record: RoundRecord, *, blob_timeout: float = 10.0) -> RoundRecord:
        """Fetch the round's blobs at once, check and sum them, decrypt once, post the model."""
        state = self._round(full=True)
        with timed(record.timings, "blobs"):
            # The updates (the reveals' bytes came in their transactions: aggregate reads them
            # from the market's events). A student posts the id, then the bytes (so a refused
            # id never publishes an update): give the last bytes a moment to land before
            # reading them. One eth_getLogs per 100 ids.
            named = list(state.submitted.items())
            blobs = [b for _, b in named]
            try:
                wait_until(lambda: self.blobs.still_missing(blobs),
                           lambda missing, _quiet: not missing, timeout=blob_timeout,
                           interval=0.1, what="the round's blobs on the board")
            except WaitTimeoutError:
                missing = set(self.blobs.still_missing(blobs))
                late = sorted({self.name(o) for o, b in named if b in missing})
                raise AggregationError(
                    f"{', '.join(late)} named a blob on chain that is not on the board after "
                    f"{blob_timeout:.0f} s: the round cannot be summed without it") from None
        mean, _ = self.company.aggregate(state.spec_id, state.round, timings=record.timings)
        with timed(record.timings, "close"):
            self.company.close_round(state.spec_id, mean)
        record.closed_at = time.time()
        # What the dashboard shows, once the class is no longer waiting for it (decrypting one
        # update is a second decryption, as long as the sum's).
        first = next(iter(state.submitted.items()))
        one = self.company.decrypt_one(self.company.load_update(state.spec_id, *first))
        # The six weights the round moved most (the first six connect pixel 0, blank in every
        # digit: their mean is exactly 0, which taught nothing), and the same six of one update.
        shown = np.sort(np.argsort(-np.abs(np.asarray(mean)), kind="stable")[:6])
        record.shown = [int(i) for i in shown]
        record.one_update = [float(one[i]) for i in shown]
        record.mean_update = [float(mean[i]) for i in shown]
        record.one_range = (float(np.min(one)), float(np.max(one)))
        record.spec_id = state.spec_id  # which spec's table it belongs to
        record.submitted = sorted(self.name(a) for a in state.submitted)
        record.accuracy = self.accuracy()
        return record

    def run_round(self, *, wait_for: int = 0, timeout: float = 300.0,
                  progress: Progress | None = None) -> RoundRecord:
        """One whole round: open, shares, submissions, reveals, close. Its record.

        Each wait ends at its phase's deadline on chain (or ``timeout`` s at most)."""
        say = progress or (lambda _msg: None)
        round_no = self._round().round
        say(f"round {round_no}: waiting for {wait_for} owner(s) to accept…" if wait_for
            else f"round {round_no}: opening…")
        parts = self.open_round(wait_for=wait_for, timeout=timeout)
        state = self._round()
        say(f"round {round_no}: {len(parts)} participant(s), {state.k} neighbours each, "
            f"threshold {state.threshold}; waiting for their keys and key shares…")
        left_out: list[str] = []
        while missing := self.wait_for_shares(timeout=timeout):
            left_out += missing
            say(f"round {round_no}: opened again without {len(missing)} who posted no shares…")
        parts = list(self._round().participants)
        record = RoundRecord(round_no, [self.name(p) for p in parts],
                             left_out=[self.name(p) for p in left_out], spec_id=self.spec_id)
        self.history.append(record)
        say(f"round {round_no}: waiting for {len(parts)} submission(s)…")
        dropped = self.wait_for_submissions(timeout=timeout)
        record.last_submission_at = time.time()
        record.dropped = [self.name(p) for p in dropped]
        say(f"round {round_no}: {len(dropped)} dropout(s); the survivors reveal their shares…")
        with timed(record.timings, "reveals"):
            step = self.recover(dropped, timeout=timeout)
        record.ended_at = self.ended_at
        if step.action is Action.CLOSE_ROUND:
            say(f"round {round_no}: AI Inc. sums, decrypts and posts the next model…")
        self.finish(record, step, timeout=timeout)
        if record.abandoned:
            say(f"round {round_no} abandoned: {record.abandoned}")
        else:
            say(f"round {round_no} closed" + (f": accuracy {record.accuracy:.0%}"
                                              if record.accuracy is not None else ""))
        return record

    def pause(self, seconds: float, *, early: bool = True, progress: Progress | None = None,
              sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait ``seconds`` before the next round, making room for latecomers meanwhile.

        Rounds back to back (a few seconds apart) leave a latecomer no round to join: one who
        accepts during the pause takes part in the next round. ``early``: end the pause as soon
        as everyone on the roster has accepted (nobody is left to wait for). ``progress`` hears
        a countdown every second or so (the dashboard shows it too, from
        :attr:`next_round_at`); the students' kernels read it on chain (:meth:`announce`).
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not \
                0 <= seconds <= 3600:
            raise InvalidValueError(f"the pause between rounds must be 0 to 3600 seconds, not "
                                    f"{seconds!r}")
        say = progress or (lambda _msg: None)
        self.next_round_at = time.time() + seconds
        if seconds:
            self.announce(seconds, seconds)
        try:
            while (left := self.next_round_at - time.time()) > 0:
                self.make_room()
                state = self._round()
                if early and set(read_roster(self.classroom).values()) <= set(state.owners):
                    say(f"pause over: everyone on the roster accepted; round {state.round} opens")
                    return
                round_no = state.round
                say(f"pause: round {round_no} opens in {left:.0f} s (latecomers: accept now)")
                sleep(min(1.0, left))
        finally:
            if self.next_round_at - time.time() >= 1:  # over early (or stopped): say so on chain
                self.announce(0, seconds)
            self.next_round_at = None

    def announce(self, opens_in: float, pause: float) -> None:
        """Say on chain (the classroom's ``next_round_at``) that the next round opens in
        ``opens_in`` s, and that ``pause`` s separate two rounds: a student's kernel reads only
        the chain, and counts down to it while it waits
        (:meth:`~omteach.classroom.owner.ClassOwner.step`). One transaction."""
        self.classroom.transact("announce_round", math.ceil(opens_in), math.ceil(pause),
                                sender=COMPANY)

    def run_rounds(self, rounds: int | None = None, *, wait_for: int = 0,
                   pause: float = ROUND_PAUSE,
                   pause_early: bool = True, timeout: float = 300.0,
                   progress: Progress | None = None) -> list[RoundRecord]:
        """The spec's remaining rounds (or ``rounds`` of them), with ``pause`` s between two
        (``pause_early``: shorter once everyone on the roster accepted, :meth:`pause`).

        ``wait_for`` owners are awaited before the first round only: later rounds open with
        whoever accepted by then (latecomers included). Returns the rounds' records.
        """
        if isinstance(pause, bool) or not isinstance(pause, int | float) or not \
                0 <= pause <= 3600:
            raise InvalidValueError(f"pause must be a number of seconds from 0 to 3600, not "
                                    f"{pause!r}")
        spec = self.market.spec(self._spec_id())
        left = spec.rounds - spec.round if not spec.finished else 0
        count = left if rounds is None else min(rounds, left)
        records: list[RoundRecord] = []
        if count:  # a latecomer who accepts mid-round learns when its first round opens
            self.announce(0, pause)
        for i in range(count):
            if i:
                self.pause(pause, early=pause_early, progress=progress)
            records.append(self.run_round(wait_for=wait_for, timeout=timeout,
                                          progress=progress))
        return records

    def records(self) -> list[RoundRecord]:
        """This spec's rounds, oldest first (``history`` keeps every spec's)."""
        return [r for r in self.history if r.spec_id == self.spec_id]

    # -- what the dashboard shows ---------------------------------------------------------------

    def name(self, address: str) -> str:
        """A student's display name (from the roster) for an address."""
        return self.chain.name_of(address)

    def accuracy(self) -> float | None:
        """The current model's accuracy on the held-out digits (None without a test set)."""
        if self.test is None:
            return None
        return tasks.score(self.model, self.company.weights, self.test)

    def status(self) -> dict[str, Any]:
        """The class as the chain says it is now: students, rounds, balances (for the dashboard).

        ``students``: name → {"address", "accepted", "rounds": {round: state}, "credited",
        "balance"}, where a round's state is a :class:`~omteach.protocol.round.Seat`
        ("participant", "shares", "submitted", "revealed", "dropped": a string enum),
        ``credited`` the wei of bounties this spec credited them (one per closed round they
        contributed to) and ``balance`` what they may withdraw now (0 once withdrawn).
        ``state``: the open round's :class:`RoundState` (None before a spec or after its last
        round; between two rounds the next one, not opened yet); ``round``: the current round's
        state as read (its phase, ``k``, ``threshold``, ``phase_deadline`` in chain time,
        ``info`` with every deadline); ``rounds``: this spec's records; ``now``: chain time
        (what the deadlines count against); ``next_round_at``: the end of the pause.
        """
        roster = read_roster(self.classroom)
        out: dict[str, Any] = {"spec": None, "students": {}, "rounds": self.records(),
                               "state": None, "round": None, "closed": set(),
                               "now": self.now(), "next_round_at": self.next_round_at}
        spec = self.market.spec(self.spec_id) if self.spec_id is not None else None
        owners = set(self.market.owners(spec.spec_id)) if spec is not None else set()
        out["spec"] = spec
        per_round: dict[int, dict[str, Seat]] = {}
        if spec is not None:
            last = spec.round if spec.opened else spec.round - 1
            for round_no in range(max(0, last + 1)):
                if (spec.spec_id, round_no) in self._closed_states:
                    per_round[round_no] = self._closed_states[spec.spec_id, round_no]
                    continue
                state = self.market.round_state(spec.spec_id, round_no)
                if round_no == spec.round:
                    out["round"] = state
                seats = {p: seat for p in state.participants if (seat := state.seat(p))}
                per_round[round_no] = seats
                if state.phase is Phase.CLOSED:  # the contract takes nothing more for it
                    self._closed_states[spec.spec_id, round_no] = seats
                else:
                    out["state"] = state
            if out["state"] is None and not spec.finished:  # between rounds: not opened yet
                out["state"] = self.market.round_state(spec.spec_id, of=())
            out["closed"] = {r for (sid, r) in self._closed_states if sid == spec.spec_id}
        paid_seats = (Seat.SUBMITTED, Seat.REVEALED)
        for name, address in roster.items():
            rounds = {r: s[address] for r, s in per_round.items() if address in s}
            paid = sum(1 for r, seat in rounds.items() if r in out["closed"] and seat in paid_seats)
            out["students"][name] = {
                "address": address, "accepted": address in owners, "rounds": rounds,
                "credited": paid * spec.bounty if spec is not None else 0,
                "balance": self.market.balance(address) if spec is not None else 0}
        return out


def mean_abs(values: list[float]) -> float:
    """Mean absolute value (the dashboard's one-number summary of an update)."""
    return float(np.mean(np.abs(values))) if values else 0.0
