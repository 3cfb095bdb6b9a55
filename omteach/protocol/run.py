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
from omteach.protocol.market import Market
from omteach.protocol.parties import AICompany, DataOwner, timed
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
    """

    def __init__(self, *, owners: Sequence[str] = OWNERS, split: str = "even", rounds: int = 3,
                 encrypted: bool = True, model: tasks.Model | None = None, bounty: int = 1_000,
                 keys: KeyPair | None = None, workers: int | None = None, seed: int = 0,
                 chain: Chain | None = None, accept: bool = True,
                 data: tuple[dict[str, Dataset], Dataset] | None = None,
                 min_owners: int | None = None, blobs: BlobStore | None = None,
                 progress: Callable[[int, int, str], None] | None = None):
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
        self.spec_id = self.company.post(rounds=rounds, min_owners=t, places=len(owners),
                                         bounty=bounty)
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

    def _owner_at(self, address: str) -> DataOwner:
        return next(o for o in self.owners.values() if o.address == address)

    def open_round(self, timings: dict[str, float] | None = None) -> list[str]:
        """AI Inc. fixes the round's participants (every owner who accepted) on chain; each posts
        its key shares. Returns the participants' names. Does nothing if the round is open."""
        timings = {} if timings is None else timings
        spec = self.market.spec(self.spec_id)
        if spec.finished:
            raise InvalidValueError(f"all {spec.rounds} rounds are done: the spec is finished")
        with timed(timings, "chain"):
            if not spec.opened:
                self.company.open_round(self.spec_id)
            participants = self.market.participants(self.spec_id, spec.round)
        with timed(timings, "shares"):
            for address in participants:
                if self.market.shares_blob(self.spec_id, spec.round, address) is None:
                    self._owner_at(address).post_shares(self.spec_id, spec.round,
                                                        masked=self.encrypted)
        return [self._owner_at(a).name for a in participants]

    def run_round(self, *, drop: Iterable[str] = (),
                  progress: Callable[[int, int, str], None] | None = None) -> RoundReport:
        """Every participant not in ``drop`` trains and submits; then AI Inc. closes the round.

        Owners in ``drop`` drop out *after* the masks are fixed (they posted their key shares,
        then never submit). If at least ``min_owners`` submitted, AI Inc. declares the dropouts,
        the survivors reveal their shares of the dropped owners' seeds, and the round completes
        without them. With fewer, the report says why and the round stays open (run it again
        without dropping anyone to finish it). ``progress`` is called with (steps done, steps in
        all, what was done) after each owner and at the end.
        """
        drop = set(drop)
        unknown = drop - set(self.owners)
        if unknown:
            raise InvalidValueError(f"unknown owner(s) {sorted(unknown)}; the owners are "
                                    f"{', '.join(self.owners)}")
        timings: dict[str, float] = {}
        names = self.open_round(timings)
        spec = self.market.spec(self.spec_id)
        rnd = spec.round
        sizes: dict[str, int] = {}
        todo = [name for name in names if name not in drop and not spec.recovering
                and self.market.submission(self.spec_id, rnd, self.owners[name].address) is None]
        steps = len(todo) + 1
        for name in names:
            owner = self.owners[name]
            if name not in todo:
                continue
            if progress:
                progress(todo.index(name), steps, f"{name} trains, encrypts and submits…")
            with timed(timings, "training"):
                update = owner.train(self.spec_id, rnd)
            blob, _ = owner.submit(self.spec_id, rnd, update, encrypted=self.encrypted,
                                   encryptor=self._encryptor, timings=timings)
            sizes[name] = self.market.blobs.size(blob)
            if progress:
                progress(todo.index(name) + 1, steps, f"{name} submitted")
        submitted = self.market.submissions(self.spec_id, rnd)
        contributors = sorted(self._owner_at(a).name for a in submitted)
        dropped = sorted(n for n in names if self.owners[n].address not in submitted)
        n_ct = 0
        if self.encrypted:
            n_ct = self.company.codec.n_ciphertexts(tasks.n_params(self.model),
                                                    self.company.keys.public)
        report = RoundReport(rnd, contributors, False, self._accuracy(), timings, n_ct, sizes,
                             dropped=dropped)
        if dropped and len(contributors) < spec.min_owners:
            report.refusal = (
                f"only {len(contributors)} of {len(names)} participants submitted, and "
                f"removing the masks of {', '.join(dropped)} needs the shares of at least "
                f"{spec.min_owners} (min_owners): the round stays open until more submit")
            self.history.append(report)
            if progress:
                progress(steps, steps, "the contract refused to close the round")
            return report
        if progress:
            progress(steps - 1, steps, "AI Inc. decrypts the sum and closes the round…")
        if dropped:
            with timed(timings, "recovery"):
                if not spec.recovering:
                    self.company.declare_dropouts(self.spec_id)
                for name in contributors:
                    owner = self.owners[name]
                    if self.market.reveal(self.spec_id, rnd, owner.address) is None:
                        owner.reveal_shares(self.spec_id, rnd, masked=self.encrypted)
        mean, _ = self.company.aggregate(self.spec_id, rnd, encrypted=self.encrypted,
                                         timings=timings)
        with timed(timings, "chain"):
            self.company.close_round(self.spec_id, mean)
        report.closed = True
        report.accuracy = self._accuracy()
        self.history.append(report)
        if progress:
            progress(steps, steps, f"round {rnd} closed")
        return report

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
