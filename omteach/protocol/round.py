"""The round, in one place: its state as the contract holds it, and what AI Inc. may do next.

:meth:`~omteach.protocol.market.Market.round_state` reads a round from the contract once and
returns a frozen :class:`RoundState`. Every driver of a round (the single-kernel
:class:`~omteach.protocol.run.TrainingRun`, the classroom's teacher and students, the rehearsal)
reads the round through it and decides with :func:`next_action` (AI Inc.) or
:meth:`RoundState.seat` (an owner); none of them compares the contract's flags or strings itself.

A round's life, as :class:`Phase`, each phase after ACCEPTING with its own deadline on chain::

    ACCEPTING ──open_round──▶ SHARING ──every share in──▶ SUBMITTING
        ▲       (seed, k, t)   │  ▲   (advertise keys,      │ all in, or the submit deadline
        │                      └──┘    deal shares)         │ passed: end_submissions
        │            reopen without who                     ▼
        │            missed the sharing deadline        RECOVERING (survivors reveal: seeds of
        │                                                   │  survivors, keys of dropouts)
        └─────────── close_round: the next round ◀──────────┘ the reveals in rebuild every
                     (after the last one: FINISHED;            secret AI Inc. needs (at least t)
                      every earlier round reads CLOSED)

A round that cannot close does not stay stuck: once no more work can arrive (the submit deadline
passed with fewer than min_owners submissions, or the reveals are over without every secret's t
shares), AI Inc. abandons it (``abandon_round``): the submitters are credited as on a close, the
round counts as one of the spec's rounds, and the next one starts from the same model. It then
reads CLOSED, with ``abandoned`` set.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from omteach.crypto.neighbours import neighbour_graph

if TYPE_CHECKING:  # market.py builds RoundStates: it imports this module, not the reverse
    from omteach.protocol.market import MarketSpec


@dataclass(frozen=True)
class RoundInfo:
    """What the contract fixed for one round: its public seed (drawn at ``open_round``, it
    draws the neighbour graph), ``k`` neighbours per participant, the share ``threshold`` t,
    the phases' deadlines (chain time; 0: the phase has not started), how many participants
    advertised their round keys, and whether the round was abandoned (ended without a sum:
    ``abandon_round``). All zeros before the round opens."""

    seed: bytes = bytes(32)
    k: int = 0
    threshold: int = 0
    share_deadline: int = 0
    submit_deadline: int = 0
    reveal_deadline: int = 0
    advertised: int = 0
    abandoned: bool = False


class Phase(enum.Enum):
    """Where a round is in its life (see the module's diagram)."""

    ACCEPTING = "accepting"
    """The round is not opened yet: owners accept the spec, AI Inc. opens the round."""
    SHARING = "sharing"
    """Participants are fixed; they advertise their round keys, then post their sealed key
    shares, before the sharing deadline; nobody has submitted."""
    SUBMITTING = "submitting"
    """Participants train and submit, before the submit deadline (the contract takes updates
    once every share is in)."""
    RECOVERING = "recovering"
    """AI Inc. ended the submissions (who did not submit dropped); the survivors reveal their
    shares of the survivors' self-mask seeds and of the dropouts' mask keys."""
    CLOSED = "closed"
    """A round before the current one: final, the contract takes nothing more for it."""
    FINISHED = "finished"
    """Every round is done, or the escrow was reclaimed: the spec takes nothing more."""


class Seat(enum.StrEnum):
    """One participant's state in a round (a string enum: the dashboard shows its value)."""

    PARTICIPANT = "participant"
    """Chosen for the round; no key shares yet."""
    SHARES = "shares"
    """Posted its key shares."""
    SUBMITTED = "submitted"
    """Posted its update."""
    REVEALED = "revealed"
    """Submitted, then revealed its shares (survivors' seeds, dropouts' keys)."""
    DROPPED = "dropped"
    """Submissions are over and it never submitted (missed the submit deadline)."""
    LEFT = "left"
    """Left the class after posting its shares (a rehearsal's dropout, as the student sees it)."""


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class RoundState:
    """One round of one spec, as the contract held it at one read.

    ``spec`` has the spec's terms as named fields (``min_owners``, ``bounty``, ``deadline``,
    ...). ``owners`` accepted the spec; ``participants`` were fixed for this round. The counts
    are the contract's and always complete. ``shared``, ``submitted`` and ``revealed`` map a
    participant's address to the blob id it posted; they hold every participant unless the read
    was asked for some only (``Market.round_state(..., of=[me])``; one read either way).
    :attr:`dropped`, :attr:`recovered` and :attr:`paid` follow
    from them: who never submitted, whose masks were removed, who was credited the bounty.
    ``info`` is what the contract fixed for the round (seed, k, t, the phases' deadlines);
    ``advertised`` who advertised round keys (read in the SHARING phase only: afterwards every
    participant has).
    """

    spec: MarketSpec
    round: int
    phase: Phase
    owners: tuple[str, ...] = ()
    participants: tuple[str, ...] = ()
    shares_count: int = 0
    submission_count: int = 0
    reveal_count: int = 0
    shared: Mapping[str, str] = field(default_factory=_frozen)
    submitted: Mapping[str, str] = field(default_factory=_frozen)
    revealed: Mapping[str, str] = field(default_factory=_frozen)
    info: RoundInfo = field(default_factory=RoundInfo)
    advertised: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A read is a snapshot: its mappings are read-only views of copies, so no driver can
        # change the round it was handed (the dataclass alone freezes only the attributes).
        for name in ("shared", "submitted", "revealed"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def spec_id(self) -> int:
        """The spec's id."""
        return self.spec.spec_id

    @property
    def deadline(self) -> int:
        """Chain time after which the contract takes no acceptance, submission or close."""
        return self.spec.deadline

    @property
    def k(self) -> int:
        """Neighbours per participant (SecAgg+), fixed at open_round."""
        return self.info.k

    @property
    def threshold(self) -> int:
        """Shares that rebuild a participant's secret (Shamir's t), fixed at open_round."""
        return self.info.threshold

    @property
    def phase_deadline(self) -> int | None:
        """Chain time from which the current phase's work is refused (None: no deadline runs)."""
        return {Phase.SHARING: self.info.share_deadline,
                Phase.SUBMITTING: self.info.submit_deadline,
                Phase.RECOVERING: self.info.reveal_deadline}.get(self.phase)

    def deadline_passed(self, now: int) -> bool:
        """Chain time ``now`` has reached the current phase's deadline: the contract refuses that
        phase's work from that second on, and AI Inc. may act without the late."""
        deadline = self.phase_deadline
        return bool(deadline) and now >= deadline

    @property
    def all_shares_in(self) -> bool:
        """Every participant posted its key shares (the contract then takes updates)."""
        return bool(self.participants) and self.shares_count == len(self.participants)

    @property
    def submissions_over(self) -> bool:
        """No participant can submit any more in this round."""
        return self.phase in (Phase.RECOVERING, Phase.CLOSED, Phase.FINISHED)

    @property
    def dropped(self) -> tuple[str, ...]:
        """Participants who never submitted, once submissions are over (else none)."""
        if not self.submissions_over:
            return ()
        return self.not_submitted()

    @property
    def abandoned(self) -> bool:
        """AI Inc. gave the round up without a sum (``abandon_round``): its submitters were
        credited, the model stayed as it was."""
        return self.info.abandoned

    @property
    def recovered(self) -> tuple[str, ...]:
        """Dropouts whose masks the survivors' reveals removed from the sum: every dropout of a
        closed round (the contract closes a round only after at least t reveals, and AI Inc.
        closes only with a sum), none of an abandoned one."""
        return self.dropped if self.phase is Phase.CLOSED and not self.abandoned else ()

    def short_of_shares(self) -> tuple[str, ...] | None:
        """Participants whose secret the reveals in cannot rebuild yet, in the round's order
        (empty: every secret AI Inc. needs has t revealed shares); None when this read cannot
        tell (it was asked for some participants only).

        Counted from who revealed and the neighbour graph (drawn from the round's seed, as every
        participant draws it): a survivor's self-mask seed is held by itself and its ``k``
        neighbours, a dropout's mask key by its neighbours; an honest survivor's reveal holds
        its share of each. Needs the submissions over. A reveal that turns out unusable is
        found only when AI Inc. unmasks (it then waits for the others, or abandons the round).
        """
        if len(self.revealed) < self.reveal_count or len(self.submitted) < self.submission_count:
            return None
        n = len(self.participants)
        if n < 2:
            return ()  # a lone participant adds no masks
        graph = _graph(n, self.k, self.info.seed)
        index = {p: i for i, p in enumerate(self.participants)}
        short = []
        for p, i in index.items():
            holders = [self.participants[j] for j in graph[i]]
            if p in self.submitted:
                holders.append(p)  # a survivor keeps a share of its own seed
            if sum(1 for h in holders if h in self.revealed) < self.threshold:
                short.append(p)
        return tuple(short)

    @property
    def survivors(self) -> int:
        """How many participants submitted (those who can reveal shares when some dropped)."""
        return self.submission_count

    @property
    def paid(self) -> tuple[str, ...]:
        """Participants credited the bounty for this round: its submitters, once closed."""
        if self.phase is not Phase.CLOSED:
            return ()
        return tuple(p for p in self.participants if p in self.submitted)

    def seat(self, address: str) -> Seat | None:
        """``address``'s state in this round (None: not a participant)."""
        if address not in self.participants:
            return None
        if address in self.revealed:
            return Seat.REVEALED
        if address in self.submitted:
            return Seat.SUBMITTED
        if self.submissions_over:
            return Seat.DROPPED
        return Seat.SHARES if address in self.shared else Seat.PARTICIPANT

    def has_advertised(self, address: str) -> bool:
        """``address`` advertised its round keys (every participant has, after SHARING)."""
        return self.phase is not Phase.SHARING or address in self.advertised

    def late_in_sharing(self) -> tuple[str, ...]:
        """Who holds the sharing phase up: those without round keys while some are missing
        (nobody can deal shares before every key is in), else those without key shares.
        Needs a full read (``advertised`` is read only then)."""
        if self.info.advertised < len(self.participants):
            return tuple(p for p in self.participants if p not in self.advertised)
        return self.missing_shares()

    def missing_shares(self) -> tuple[str, ...]:
        """Participants who have not posted their key shares."""
        return tuple(p for p in self.participants if p not in self.shared)

    def not_submitted(self) -> tuple[str, ...]:
        """Participants who have not submitted (the dropouts, if AI Inc. declares them now)."""
        return tuple(p for p in self.participants if p not in self.submitted)


@functools.lru_cache(maxsize=8)
def _graph(n: int, k: int, seed: bytes) -> tuple[tuple[int, ...], ...]:
    """The round's neighbour graph (a few ms for a class; the teacher asks at every poll)."""
    return neighbour_graph(n, k, seed)


def phase_of(spec: MarketSpec, round_no: int, *, shares_count: int, submission_count: int,
             participants: int) -> Phase:
    """The phase of round ``round_no`` of ``spec``, from the contract's flags and counts."""
    if round_no < spec.round:
        return Phase.CLOSED
    if spec.finished:
        return Phase.FINISHED
    if not spec.opened:
        return Phase.ACCEPTING
    if spec.recovering:
        return Phase.RECOVERING
    if shares_count < participants and submission_count == 0:
        return Phase.SHARING
    return Phase.SUBMITTING


# -- what AI Inc. may do next -----------------------------------------------------------------


class Action(enum.Enum):
    """What AI Inc. does next in a round (:func:`next_action`)."""

    WAIT = "wait"
    """Nothing yet: the owners have something to do (accept, post shares, submit, reveal)."""
    OPEN_ROUND = "open_round"
    """Fix the round's participants on chain."""
    REOPEN_ROUND = "reopen_round"
    """Open the round again without the participants who posted no key shares."""
    END_SUBMISSIONS = "end_submissions"
    """End the submissions: who has not submitted is a dropout; survivors then reveal."""
    CLOSE_ROUND = "close_round"
    """Sum, decrypt, unmask, post the next model, close the round (bounties are credited)."""
    ABANDON_ROUND = "abandon_round"
    """Give the round up without a sum: no more work can arrive and it cannot close (too few
    submissions by the submit deadline, or the reveals are over without t shares of some
    secret). Its submitters are credited; the next round starts from the same model."""
    STUCK = "stuck"
    """Nothing AI Inc. may do completes the round: too few owners (the reason says which)."""
    DONE = "done"
    """The round is closed, or the spec finished: nothing more to do in it."""


@dataclass(frozen=True)
class Next:
    """:func:`next_action`'s answer: the action and why, in a sentence."""

    action: Action
    why: str


def next_action(state: RoundState, *, waited: bool = False, now: int | None = None,
                exclude: Collection[str] = ()) -> Next:
    """The one rule for what AI Inc. may do next in ``state``'s round.

    ``now``: chain time; once it is past the current phase's deadline the wait for the late is
    over (the contract refuses their work from then on). ``waited``: the wait is over anyway
    (the accepting phase has no deadline on chain; a single-kernel run plays the clock itself).
    ``exclude``: owners AI Inc. leaves out of a round it opens (they dropped out of an earlier
    one). The contract enforces the same thresholds and deadlines; this rule says in advance
    which call it would accept.
    """
    t = state.spec.min_owners
    phase = state.phase
    waited = waited or (now is not None and state.deadline_passed(now))
    if phase in (Phase.CLOSED, Phase.FINISHED):
        return Next(Action.DONE, f"round {state.round} is {phase.value}")
    if phase is Phase.ACCEPTING:
        eligible = [o for o in state.owners if o not in set(exclude)]
        if len(eligible) >= t:
            return Next(Action.OPEN_ROUND if waited else Action.WAIT,
                        f"{len(eligible)} owner(s) can take part, {t} needed")
        return Next(Action.STUCK if waited else Action.WAIT,
                    f"{len(eligible)} owner(s) accepted the spec, a round needs {t} "
                    "(min_owners): wait for more to accept")
    if phase is Phase.SHARING:
        if not waited:
            return Next(Action.WAIT, "waiting for every participant's round keys and key shares")
        # Shares wait for every key: while keys are missing, those who advertised are ready.
        n = len(state.participants)
        ready, what = ((state.shares_count, "posted their key shares")
                       if state.info.advertised >= n else
                       (state.info.advertised, "advertised their round keys"))
        if ready >= t:
            return Next(Action.REOPEN_ROUND, f"{n - ready} participant(s) missed the sharing "
                        "deadline: open the round again without them")
        return Next(Action.STUCK, f"only {ready} participant(s) {what}, a round needs {t}: "
                    "open the round again when more are back")
    if phase is Phase.SUBMITTING:
        n, count = len(state.participants), state.submission_count
        if count == n:
            return Next(Action.END_SUBMISSIONS, "every participant submitted")
        if not waited:
            return Next(Action.WAIT, f"{count} of {n} participant(s) submitted")
        if count >= t:
            return Next(Action.END_SUBMISSIONS, f"{n - count} participant(s) missed the submit "
                        f"deadline; {count} survivors reveal the shares that unmask the sum")
        return Next(Action.ABANDON_ROUND, f"only {count} of {n} participants submitted before "
                    f"the deadline, a round closes with at least {t} (min_owners): abandon it "
                    "(the submitters are paid, the next round starts from the same model)")
    # RECOVERING: close once the reveals in rebuild every secret AI Inc. needs; once no more
    # reveals can come (all in, or the reveal deadline passed) without them, abandon.
    count, survivors = state.reveal_count, state.submission_count
    over = count >= survivors or waited
    short = state.short_of_shares()
    if short is None:  # a partial read: count, as the contract does
        if count >= state.threshold and over:
            return Next(Action.CLOSE_ROUND, f"{count} of {survivors} survivor(s) revealed")
    elif count >= state.threshold and not short:
        return Next(Action.CLOSE_ROUND, f"{count} of {survivors} survivor(s) revealed: every "
                    "secret has its t shares")
    if not over:
        gaps = "" if not short else f"; {len(short)} secret(s) still short of t shares"
        return Next(Action.WAIT, f"{count} of {survivors} survivor(s) revealed their shares{gaps}")
    gaps = (f"fewer than t = {state.threshold} reveals in all" if count < state.threshold or
            not short else f"{len(short)} participant(s)' secrets lack t = {state.threshold} "
            "revealed shares")
    return Next(Action.ABANDON_ROUND, f"the reveals are over ({count} of {survivors} survivor(s) "
                f"revealed) with {gaps}: abandon the round (the submitters are paid, the next "
                "round starts from the same model)")
