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
from omteach.errors import ContractRevertError, InvalidValueError
from omteach.learning.data import Dataset, split_digits
from omteach.learning.model import ModelSpec, accuracy, build_model, get_weights, train_locally
from omteach.protocol.blobs import BlobStore
from omteach.protocol.market import Market, to_bytes32
from omteach.protocol.parties import AICompany, DataOwner, timed
from omteach.story import COMPANY, OWNERS


@dataclass
class RoundReport:
    """What one round did: who contributed, how long each step took, what it cost, the result."""

    round: int
    contributors: list[str]
    closed: bool
    accuracy: float
    timings: dict[str, float] = field(default_factory=dict)
    ciphertexts_per_owner: int = 0
    blob_bytes: dict[str, int] = field(default_factory=dict)
    refusal: str = ""

    @property
    def seconds(self) -> float:
        """Total time of the round."""
        return sum(self.timings.values())


class TrainingRun:
    """AI Inc. and the owners on one chain and blob store, running rounds of federated training.

    ``encrypted=False`` runs the same protocol with plain updates (for the comparison in the
    benchmark and the notebook). ``workers`` processes encrypt (default: every core).
    """

    def __init__(self, *, owners: Sequence[str] = OWNERS, split: str = "even", rounds: int = 3,
                 encrypted: bool = True, model: ModelSpec | None = None, bounty: int = 1_000,
                 keys: KeyPair | None = None, workers: int | None = None, seed: int = 0,
                 chain: Chain | None = None, accept: bool = True):
        if not owners:
            raise InvalidValueError("a training run needs at least one data owner")
        self.model = model or ModelSpec(local_epochs=3)
        self.encrypted = encrypted
        self.rounds = rounds
        self.chain = chain or Chain()
        self.market = Market(self.chain, BlobStore())
        self.shares, self.test = split_digits(owners, mode=split, seed=seed)
        codec = PackingCodec(clip=self.model.update_clip, bits=16,
                             max_contributions=max(3, len(owners)))
        # A fast (DJN) key by default: every owner's encryption then costs ~0.5 ms, not ~8 ms.
        keys = keys if keys is not None else generate_keypair(2048, fast=True)
        self.company = AICompany(self.market, self.model, keys=keys, codec=codec, seed=seed)
        self.owners = {name: DataOwner(name, self.market, self.shares[name], seed=seed + i)
                       for i, name in enumerate(owners)}
        self._encryptor = (ParallelEncryptor(self.company.keys.public, workers)
                           if encrypted else None)
        self.spec_id = self.company.post(rounds=rounds, min_owners=len(owners), bounty=bounty)
        if accept:  # accept=False leaves browsing, checking and accepting to the notebook
            for owner in self.owners.values():
                owner.accept(self.spec_id)
        self.history: list[RoundReport] = []
        self.initial_accuracy = accuracy(self.model, self.company.weights, self.test)

    @property
    def round_no(self) -> int:
        """The round open on chain."""
        return self.market.spec(self.spec_id).round

    def run_round(self, *, drop: Iterable[str] = (),
                  progress: Callable[[int, int, str], None] | None = None) -> RoundReport:
        """Every owner not in ``drop`` trains and submits; then AI Inc. tries to close the round.

        If too few owners submitted, the contract refuses to close: the report says why, and the
        round stays open (run it again without dropping anyone to finish it). ``progress`` is
        called with (steps done, steps in all, what was done) after each owner and at the end.
        """
        drop = set(drop)
        unknown = drop - set(self.owners)
        if unknown:
            raise InvalidValueError(f"unknown owner(s) {sorted(unknown)}; the owners are "
                                    f"{', '.join(self.owners)}")
        spec = self.market.spec(self.spec_id)
        if spec.finished:
            raise InvalidValueError(f"all {spec.rounds} rounds are done: the spec is finished")
        rnd = spec.round
        timings: dict[str, float] = {}
        sizes: dict[str, int] = {}
        todo = [name for name in self.owners if name not in drop
                and self.market.submission(self.spec_id, rnd, name) is None]
        steps = len(todo) + 1
        for name, owner in self.owners.items():
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
        contributors = sorted(self.market.submissions(self.spec_id, rnd))
        n_ct = 0
        if self.encrypted:
            public = self.company.keys.public
            n_ct = self.company.codec.n_ciphertexts(self.model.n_params, public)
        report = RoundReport(rnd, contributors, False, self._accuracy(), timings, n_ct, sizes)
        if len(contributors) < spec.min_owners:
            report.refusal = (f"only {len(contributors)} of {spec.min_owners} owners submitted: "
                              "the contract will not close the round, and the masks of the "
                              "missing owners would not cancel in the sum")
            try:
                self.company.market.contract.transact("close_round", self.spec_id,
                                                      to_bytes32("11" * 32), sender=COMPANY)
            except ContractRevertError as exc:
                report.refusal = f"{exc.reason}: {report.refusal}"
            self.history.append(report)
            if progress:
                progress(steps, steps, "the contract refused to close the round")
            return report
        if progress:
            progress(steps - 1, steps, "AI Inc. decrypts the sum and closes the round…")
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
        return accuracy(self.model, self.company.weights, self.test)

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
