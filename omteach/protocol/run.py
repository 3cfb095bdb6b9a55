"""A whole federated training run: AI Inc. and the owners on one chain and blob store.

:class:`TrainingRun` wires the parties together for the notebook, the tests and the benchmark;
with ``encrypted=False`` it runs the same round with plain updates, for comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from omteach.chain import Chain
from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import KeyPair, generate_keypair
from omteach.crypto.parallel import ParallelEncryptor
from omteach.errors import InvalidValueError
from omteach.learning import tasks
from omteach.learning.data import Dataset, split_digits
from omteach.learning.model import ModelSpec, accuracy, build_model, get_weights, train_locally
from omteach.protocol.blobs import BlobStore
from omteach.protocol.market import MAX_PHASE, Market
from omteach.protocol.parties import AICompany, DataOwner, timed
from omteach.protocol.round import Action, Phase, RoundState, next_action
from omteach.story import OWNERS


@dataclass
class RoundReport:
    """What one round did: who contributed, who dropped, how long each step took, the result.

    ``accuracy`` is the model's score on the held-out data (accuracy for the digits, R² for a
    regression task).
    """

    round: int
    contributors: list[str]
    closed: bool
    accuracy: float
    timings: dict[str, float] = field(default_factory=dict)
    ciphertexts_per_owner: int = 0
    blob_bytes: dict[str, int] = field(default_factory=dict)
    refusal: str = ""
    dropped: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Total time of the round."""
        return sum(self.timings.values())


def _steps(progress: Callable[[int, int, str], None] | None,
           total: int) -> Callable[[int | None, str], None]:
    """``progress`` for a round of ``total`` steps; a step of None means all of them."""
    def say(done: int | None, message: str) -> None:
        if progress:
            progress(total if done is None else done, total, message)
    return say


def default_threshold(n_owners: int) -> int:
    """The default ``min_owners`` (t) for n owners: a majority, so one owner may drop out."""
    return n_owners // 2 + 1


class TrainingRun:
    """AI Inc. and the owners on one chain and blob store, running rounds of federated training.

    ``encrypted=False`` runs the same protocol with plain updates (for the comparison in the
    benchmark and the notebook). ``workers`` processes encrypt (default: every core).
    ``model``: the digits :class:`ModelSpec` by default, or any
    :class:`~omteach.learning.tasks.TorchTask` with ``data`` = (owner → Dataset, test Dataset).
    ``owners`` are names of the cast or any addresses of the chain. ``min_owners`` (t): the
    fewest submissions a round closes with (default: a majority of the owners). ``blobs``: where
    blobs go (default: an in-process store; the classroom passes one that posts through the node).
    ``progress`` is called with (steps done, steps in all, what happens now) before each step of
    the set-up (starting the chain takes a few seconds in a fresh kernel) and once at the end.
    ``phase_seconds``: each phase's deadline on chain (default an hour: a notebook may pause
    between cells; one kernel plays the clock itself, moving chain time past the submit
    deadline when owners drop out).
    """

    def __init__(self, *, owners: Sequence[str] = OWNERS, split: str = "even", rounds: int = 3,
                 encrypted: bool = True, model: tasks.Model | None = None, bounty: int = 1_000,
                 keys: KeyPair | None = None, workers: int | None = None, seed: int = 0,
                 chain: Chain | None = None, accept: bool = True,
                 data: tuple[dict[str, Dataset], Dataset] | None = None,
                 min_owners: int | None = None, blobs: BlobStore | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 phase_seconds: int = 3_600):
        if not owners:
            raise InvalidValueError("a training run needs at least one data owner")
        total = 6 if accept else 5
        steps = iter(range(total))

        def step(message: str) -> None:
            if progress:
                progress(next(steps), total, message)

        self.model = model or ModelSpec(local_epochs=3)
        self.encrypted = encrypted
        self.rounds = rounds
        step("starting the chain…" if chain is None else "connecting to the chain…")
        self.chain = chain or Chain()
        step("AI Inc. deploys the ModelMarket contract…")
        self.market = Market.create(self.chain, blobs)
        if data is None:
            self.shares, self.test = split_digits(owners, mode=split, seed=seed)
        else:
            self.shares, self.test = data
            if set(self.shares) != set(owners):
                raise InvalidValueError("data must give one dataset to each owner")
        codec = PackingCodec(clip=self.model.update_clip, bits=16,
                             max_contributions=max(3, len(owners)))
        # A fast (DJN) key by default: every owner's encryption then costs ~0.5 ms, not ~8 ms.
        step("AI Inc. generates its 2048-bit Paillier key and builds the model…")
        keys = keys if keys is not None else generate_keypair(2048, fast=True)
        self.company = AICompany(self.market, self.model, keys=keys, codec=codec, seed=seed)
        task = self.model if isinstance(self.model, tasks.TorchTask) else None
        self.owners = {name: DataOwner(name, self.market, self.shares[name], seed=seed + i,
                                       task=task)
                       for i, name in enumerate(owners)}
        self._encryptor = (ParallelEncryptor(self.company.keys.public, workers)
                           if encrypted else None)
        t = default_threshold(len(owners)) if min_owners is None else min_owners
        step("AI Inc. posts the spec, with the bounty in escrow…")
        if not 1 <= phase_seconds <= MAX_PHASE:
            raise InvalidValueError(f"phase_seconds must be from 1 to {MAX_PHASE:,} (a day), "
                                    f"got {phase_seconds!r}")
        self.spec_id = self.company.post(rounds=rounds, min_owners=t, places=len(owners),
                                         bounty=bounty, share_seconds=phase_seconds,
                                         submit_seconds=phase_seconds,
                                         reveal_seconds=phase_seconds)
        if accept:  # accept=False leaves browsing, checking and accepting to the notebook
            step("the owners check the model and accept…")
            for owner in self.owners.values():
                owner.accept(self.spec_id)
        self.history: list[RoundReport] = []
        step("scoring the untrained model…")
        self.initial_accuracy = self._accuracy()
        if progress:
            progress(total, total, "ready")

    @property
    def round_no(self) -> int:
        """The round open on chain."""
        return self.market.spec(self.spec_id).round

    def round_state(self) -> RoundState:
        """The open round as the contract holds it now."""
        return self.market.round_state(self.spec_id)

    def _owner_at(self, address: str) -> DataOwner:
        return next(o for o in self.owners.values() if o.address == address)

    def _names(self, addresses: Iterable[str]) -> list[str]:
        return sorted(self._owner_at(a).name for a in addresses)

    def open_round(self, timings: dict[str, float] | None = None) -> list[str]:
        """AI Inc. fixes the round's participants (every owner who accepted) on chain; each
        advertises its round keys, then posts its key shares. Returns the participants' names.
        Opens nothing if the round is open (and only completes what is missing)."""
        timings = {} if timings is None else timings
        state = self.round_state()
        if state.phase is Phase.FINISHED:
            raise InvalidValueError(f"all {state.spec.rounds} rounds are done: the spec is "
                                    "finished")
        with timed(timings, "chain"):
            if state.phase is Phase.ACCEPTING:
                self.company.open_round(self.spec_id)
                state = self.round_state()
        with timed(timings, "shares"):
            if state.phase is Phase.SHARING:
                for address in state.participants:
                    if not state.has_advertised(address):
                        self._owner_at(address).advertise_keys(self.spec_id, state.round)
                state = self.round_state()
            for address in state.missing_shares():
                self._owner_at(address).post_shares(self.spec_id, state.round,
                                                    masked=self.encrypted)
        return [self._owner_at(a).name for a in state.participants]

    def run_round(self, *, drop: Iterable[str] = (),
                  progress: Callable[[int, int, str], None] | None = None) -> RoundReport:
        """Every participant not in ``drop`` trains and submits; then AI Inc. closes the round.

        Owners in ``drop`` drop out *after* the masks are fixed (they posted their key shares,
        then never submit). If at least ``min_owners`` submitted, the kernel moves chain time
        past the submit deadline (nobody else is coming), AI Inc. ends the submissions, every
        survivor reveals its shares (of the survivors' self-mask seeds, of the dropouts' mask
        keys) and AI Inc. unmasks the sum without the dropouts. With fewer, the report says why
        and the round stays open (run it again without dropping anyone to finish it, before the
        submit deadline). ``progress`` is called with (steps done, steps in all, what was done)
        after each owner and at the end. What AI Inc. does after the submissions is
        :func:`~omteach.protocol.round.next_action`'s.
        """
        drop = set(drop)
        unknown = drop - set(self.owners)
        if unknown:
            raise InvalidValueError(f"unknown owner(s) {sorted(unknown)}; the owners are "
                                    f"{', '.join(self.owners)}")
        timings: dict[str, float] = {}
        names = self.open_round(timings)
        state = self.round_state()
        todo = [name for name in names if name not in drop and not state.submissions_over
                and self.owners[name].address not in state.submitted]
        say = _steps(progress, len(todo) + 1)
        sizes = self._submit(todo, state.round, timings, say)
        state = self.round_state()
        report = RoundReport(state.round, self._names(state.submitted), False, self._accuracy(),
                             timings, self._ciphertexts_per_owner(), sizes,
                             dropped=self._names(state.not_submitted()))
        self.history.append(report)
        if state.phase is Phase.SUBMITTING:
            t = state.spec.min_owners
            if state.submission_count < t:
                report.refusal = (
                    f"only {state.submission_count} of {len(state.participants)} participants "
                    f"submitted, and a round closes with at least {t} (min_owners): the round "
                    "stays open until more submit")
                say(None, "the contract refused to close the round")
                return report
            if next_action(state).action is Action.WAIT:  # someone dropped: play the clock
                self.chain.advance_time(max(0, state.info.submit_deadline - self.chain.now()))
            with timed(timings, "chain"):
                self.company.end_submissions(self.spec_id)
            state = self.round_state()
        say(len(todo), "the survivors reveal; AI Inc. decrypts and unmasks the sum…")
        with timed(timings, "recovery"):
            self._reveal(state)
        state = self.round_state()
        step = next_action(state, now=self.chain.now())
        if step.action is not Action.CLOSE_ROUND:
            report.refusal = step.why
            say(None, "the contract refused to close the round")
            return report
        mean, _ = self.company.aggregate(self.spec_id, state.round, encrypted=self.encrypted,
                                         timings=timings)
        with timed(timings, "chain"):
            self.company.close_round(self.spec_id, mean)
        report.closed = True
        report.accuracy = self._accuracy()
        say(None, f"round {state.round} closed")
        return report

    def _submit(self, names: list[str], round_no: int, timings: dict[str, float],
                say: Callable[[int | None, str], None]) -> dict[str, int]:
        """Each named owner trains, encrypts and submits; the size of each one's blob."""
        sizes: dict[str, int] = {}
        for i, name in enumerate(names):
            owner = self.owners[name]
            say(i, f"{name} trains, encrypts and submits…")
            with timed(timings, "training"):
                update = owner.train(self.spec_id, round_no)
            blob, _ = owner.submit(self.spec_id, round_no, update, encrypted=self.encrypted,
                                   encryptor=self._encryptor, timings=timings)
            sizes[name] = self.market.blobs.size(blob)
            say(i + 1, f"{name} submitted")
        return sizes

    def _reveal(self, state: RoundState) -> None:
        """Every survivor who has not revealed its shares does."""
        for address in state.submitted:
            if address not in state.revealed:
                self._owner_at(address).reveal_shares(self.spec_id, state.round,
                                                      masked=self.encrypted)

    def _ciphertexts_per_owner(self) -> int:
        if not self.encrypted:
            return 0
        return self.company.codec.n_ciphertexts(tasks.n_params(self.model),
                                                self.company.keys.public)

    def _accuracy(self) -> float:
        return tasks.score(self.model, self.company.weights, self.test)

    def close(self) -> None:
        """Stop the encryption worker processes."""
        if self._encryptor is not None:
            self._encryptor.close()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def baseline_curves(model: ModelSpec, shares: dict[str, Dataset], test: Dataset, rounds: int,
                    seed: int = 0) -> dict[str, list[float]]:
    """Accuracy per round of the same model trained centrally on all data, and on each share.

    Each "round" is one call of the same local training (same epochs), so the curves compare
    with the federated one round for round. Index 0 is the untrained model.
    """
    start = get_weights(build_model(model, seed=seed))
    all_x = np.concatenate([d.x for d in shares.values()])
    all_y = np.concatenate([d.y for d in shares.values()])
    datasets = {"all data, central": Dataset(all_x, all_y), **{f"{k} alone": v
                                                              for k, v in shares.items()}}
    curves = {}
    for label, data in datasets.items():
        w = start.copy()
        acc = [accuracy(model, w, test)]
        for r in range(rounds):
            w = w + train_locally(model, w, data, seed=seed * 1000 + r)
            acc.append(accuracy(model, w, test))
        curves[label] = acc
    return curves
