"""The teacher's side of the live round: AI Inc. on the class's node, with the teacher's own key.

::

    teacher = ClassTeacher.from_node(node)          # or ClassTeacher.from_state() in notebook 06
    teacher.post(rounds=3, places=30)               # the spec: model, key, terms, bounty in escrow
    for _ in range(3):
        teacher.run_round(wait_for=8)               # open, wait, recover dropouts, aggregate, close

Everything goes through the node: the market contract (``ModelMarket``) decides who takes part
and who is paid; the blobs (model, public key, shares, updates) are posted to the ``BlobBoard``
(:class:`~omteach.protocol.chainblobs.ChainBlobStore`). The teacher never talks to a student's
process: students react to the chain by polling it, and so does the teacher.

A round, as the teacher runs it (:meth:`ClassTeacher.run_round`):

1. **open**: the owners who accepted so far (latecomers join at the next round; owners who
   dropped out of an earlier round are left out) are fixed on chain (``open_round``);
2. **shares**: every participant posts its sealed key shares; one who does not within the
   deadline is left out and the round is opened again without it (allowed until someone submits);
3. **submissions**: wait until every participant submitted, or until no new submission came for
   ``grace`` seconds: the others are the round's **dropouts** (``declare_dropouts``), and the
   survivors reveal their shares of the dropouts' mask seeds;
4. **close**: every blob of the round is fetched in one request (``prefetch``) and checked against
   the spec, the sum is decrypted once, the new model is posted and the round closed: each
   contributor is credited the bounty (students withdraw it themselves).

:meth:`ClassTeacher.status` is what the dashboard shows: each student's state per round, what
AI Inc. sees of one update (noise) and of the sum, accuracy per round, balances.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omteach.chain.evm import Chain, DeployedContract
from omteach.classroom.node import DEFAULT_STATE, ClassroomNode, teacher_chain
from omteach.classroom.roster import read_roster
from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import KeyPair, generate_keypair
from omteach.errors import AggregationError, ProtocolError
from omteach.learning import tasks
from omteach.learning.data import Dataset
from omteach.learning.model import ModelSpec
from omteach.protocol.chainblobs import ChainBlobStore
from omteach.protocol.market import MAX_OWNERS, Market
from omteach.protocol.parties import AICompany, timed
from omteach.story import COMPANY

FINNEY = 10**15
BOUNTY = 10 * FINNEY
"""Wei per contribution (0.01 of the class's play ether)."""
CLASS_MODEL = ModelSpec(local_epochs=5)
"""The model the class trains: chapter 4's digits MLP, five local epochs a round."""

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
    """The first values AI Inc. decrypts from ONE masked update: noise."""
    mean_update: list[float] = field(default_factory=list)
    """The first values of the decrypted mean of all updates: the signal."""
    timings: dict[str, float] = field(default_factory=dict)
    closed_at: float = 0.0
    last_submission_at: float = 0.0


def _poll(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Call ``check`` until it returns True or ``timeout`` seconds pass; whether it did."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


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
        self._closed_states: dict[tuple[int, int], dict[str, str]] = {}
        """(spec, round) -> each participant's state in a closed round: final, read once."""
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
             bounty: int = BOUNTY) -> int:
        """Post the spec for the class: ``places`` owners may accept (more are added later)."""
        self.spec_id = self.company.post(rounds=rounds, min_owners=min_owners, bounty=bounty,
                                         places=places)
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

    def open_round(self, *, wait_for: int = 0, timeout: float = 60.0) -> list[str]:
        """Fix the round's participants: every owner who accepted (waiting up to ``timeout`` s
        for ``wait_for`` of them), except those who dropped out of an earlier round."""
        sid = self._spec_id()
        # Latecomers may be waiting for a place: make room while waiting for them.
        _poll(lambda: self.make_room() >= 0 and len(self.market.owners(sid)) >= wait_for,
              timeout, 0.2)
        # After the wait: labels every student's address with their display name, those who
        # joined while AI Inc. waited included (each owner joined before accepting).
        read_roster(self.classroom)
        chosen = [o for o in self.market.owners(sid) if o not in self.dropped_out]
        need = self.market.spec(sid).min_owners
        if len(chosen) < need:
            raise ProtocolError(f"{len(chosen)} owner(s) accepted the spec, a round needs "
                                f"{need} (min_owners): wait for more students to accept")
        self.open_gas.append(self.company.open_round(sid, chosen).gas_used)
        return chosen

    def wait_for_shares(self, *, timeout: float = 60.0) -> list[str]:
        """Wait for every participant's key shares; if some posted none within ``timeout`` s,
        open the round again without them (the others post their shares again).

        Returns who was left out (empty: every share is in). They are not chosen again.
        """
        sid = self._spec_id()
        spec = self.market.spec(sid)
        parts = self.market.participants(sid, spec.round)
        if _poll(self._all_shares_in(sid, spec.round, len(parts)), timeout):
            return []
        missing = [p for p in parts if self.market.shares_blob(sid, spec.round, p) is None]
        self.dropped_out.update(missing)
        if self.market.contract.call("submission_count", sid, spec.round):
            return []  # too late to reopen: they are dropouts of this round
        rest = [p for p in parts if p not in missing]
        if len(rest) < spec.min_owners:
            raise ProtocolError(f"only {len(rest)} participant(s) posted their key shares, a "
                                f"round needs {spec.min_owners}: wait longer, or open the round "
                                "again when more students are back")
        self.company.open_round(sid, rest)
        return missing

    def _all_shares_in(self, sid: int, rnd: int, size: int) -> Callable[[], bool]:
        return lambda: self.market.contract.call("shares_count", sid, rnd) == size

    def wait_for_submissions(self, *, grace: float = 10.0, timeout: float = 300.0) -> list[str]:
        """Wait until every participant submitted, or, once ``min_owners`` have (enough to
        recover the others), until no new submission came for ``grace`` s.

        Returns the participants who have not submitted (the round's dropouts).
        """
        sid = self._spec_id()
        spec = self.market.spec(sid)
        rnd = spec.round
        parts = self.market.participants(sid, rnd)
        deadline = time.monotonic() + timeout
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = int(self.market.contract.call("submission_count", sid, rnd))
            if count == len(parts):
                return []
            if count != seen:
                seen, quiet_since = count, time.monotonic()
            elif count >= spec.min_owners and time.monotonic() - quiet_since > grace:
                break
            time.sleep(0.1)
        subs = self.market.submissions(sid, rnd)
        return [p for p in parts if p not in subs]

    def recover(self, dropped: list[str], *, timeout: float = 60.0) -> None:
        """Declare the dropouts; wait for the survivors' reveals (all of them, or t at least)."""
        sid = self._spec_id()
        spec = self.market.spec(sid)
        self.dropped_out.update(dropped)
        if not spec.recovering:
            self.company.declare_dropouts(sid)
        survivors = len(self.market.participants(sid, spec.round)) - len(dropped)
        count = lambda: int(self.market.contract.call("reveal_count", sid, spec.round))  # noqa: E731
        if not _poll(lambda: count() >= survivors, timeout) and count() < spec.min_owners:
            raise ProtocolError(f"only {count()} survivor(s) revealed their shares within "
                                f"{timeout:.0f} s; {spec.min_owners} are needed to remove the "
                                "dropouts' masks. Wait longer (teacher.recover again)")

    def close(self, record: RoundRecord, *, blob_timeout: float = 10.0) -> RoundRecord:
        """Fetch the round's blobs at once, check and sum them, decrypt once, post the model."""
        sid = self._spec_id()
        spec = self.market.spec(sid)
        rnd = spec.round
        with timed(record.timings, "blobs"):
            subs = self.market.submissions(sid, rnd)
            reveals = self.market.reveals(sid, rnd) if spec.recovering else {}
            # A student posts the id, then the bytes (so a refused id never publishes an
            # update): give the last bytes a moment to land before reading them.
            named = [*subs.items(), *reveals.items()]

            def missing() -> list[str]:
                self.blobs.prefetch([b for _, b in named])  # one eth_getLogs per 100 ids
                return [o for o, b in named if b not in self.blobs._mem]
            if not _poll(lambda: not missing(), blob_timeout):
                late = sorted({self.name(o) for o in missing()})
                raise AggregationError(
                    f"{', '.join(late)} named a blob on chain that is not on the board after "
                    f"{blob_timeout:.0f} s: the round cannot be summed without it")
        mean, _ = self.company.aggregate(sid, rnd, timings=record.timings)
        first = next(iter(subs.items()))
        one = self.company.decrypt_one(self.company.load_update(sid, *first))
        record.one_update = [float(v) for v in one[:6]]
        record.mean_update = [float(v) for v in mean[:6]]
        with timed(record.timings, "close"):
            self.company.close_round(sid, mean)
        record.closed_at = time.time()
        record.submitted = sorted(self.name(a) for a in subs)
        record.accuracy = self.accuracy()
        return record

    def run_round(self, *, wait_for: int = 0, grace: float = 10.0, timeout: float = 300.0,
                  progress: Progress | None = None) -> RoundRecord:
        """One whole round: open, shares, submissions, dropouts, close. Its record."""
        say = progress or (lambda _msg: None)
        rnd = self.market.spec(self._spec_id()).round
        say(f"round {rnd}: waiting for {wait_for} owner(s) to accept…" if wait_for
            else f"round {rnd}: opening…")
        parts = self.open_round(wait_for=wait_for, timeout=timeout)
        say(f"round {rnd}: {len(parts)} participant(s); waiting for their key shares…")
        left_out: list[str] = []
        while missing := self.wait_for_shares(timeout=timeout):
            left_out += missing
            say(f"round {rnd}: opened again without {len(missing)} who posted no shares…")
        parts = self.market.participants(self._spec_id(), rnd)
        record = RoundRecord(rnd, [self.name(p) for p in parts],
                             left_out=[self.name(p) for p in left_out])
        self.history.append(record)
        say(f"round {rnd}: waiting for {len(parts)} submission(s)…")
        dropped = self.wait_for_submissions(grace=grace, timeout=timeout)
        record.last_submission_at = time.time()
        record.dropped = [self.name(p) for p in dropped]
        if dropped:
            say(f"round {rnd}: {len(dropped)} dropout(s); survivors reveal their shares…")
            self.recover(dropped, timeout=timeout)
        say(f"round {rnd}: AI Inc. sums, decrypts and posts the next model…")
        self.close(record)
        say(f"round {rnd} closed" + (f": accuracy {record.accuracy:.0%}"
                                     if record.accuracy is not None else ""))
        return record

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

        ``students``: name → {"address", "accepted", "rounds": {round: state}, "balance"}, where
        a round's state is one of "participant", "shares", "submitted", "revealed", "dropped".
        """
        roster = read_roster(self.classroom)
        out: dict[str, Any] = {"spec": None, "students": {}, "rounds": self.history}
        owners = set(self.market.owners(self.spec_id)) if self.spec_id is not None else set()
        spec = self.market.spec(self.spec_id) if self.spec_id is not None else None
        out["spec"] = spec
        per_round: dict[int, dict[str, str]] = {}
        if spec is not None:
            last = spec.round if spec.opened else spec.round - 1
            for rnd in range(max(0, last + 1)):
                if (spec.spec_id, rnd) in self._closed_states:
                    per_round[rnd] = self._closed_states[spec.spec_id, rnd]
                    continue
                states = per_round.setdefault(rnd, {})
                over = rnd < spec.round or spec.recovering  # submissions are closed
                for p in self.market.participants(spec.spec_id, rnd):
                    if self.market.reveal(spec.spec_id, rnd, p):
                        states[p] = "revealed"
                    elif self.market.submission(spec.spec_id, rnd, p):
                        states[p] = "submitted"
                    elif over:
                        states[p] = "dropped"
                    elif self.market.shares_blob(spec.spec_id, rnd, p):
                        states[p] = "shares"
                    else:
                        states[p] = "participant"
                if rnd < spec.round:  # closed: the contract takes nothing more for it
                    self._closed_states[spec.spec_id, rnd] = states
        for name, address in roster.items():
            out["students"][name] = {
                "address": address, "accepted": address in owners,
                "rounds": {r: s[address] for r, s in per_round.items() if address in s},
                "balance": self.market.balance(address) if spec is not None else 0}
        return out


def mean_abs(values: list[float]) -> float:
    """Mean absolute value (the dashboard's one-number summary of an update)."""
    return float(np.mean(np.abs(values))) if values else 0.0
