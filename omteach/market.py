"""Chapter 4's protocol: AI Inc. posts a model to the ModelMarket contract; owners train it.

The parties and what each holds:

- **AI Inc.** (:class:`AICompany`): the Paillier private key, the model. Posts a spec on chain
  (ids of the model blob and of its public key blob, training terms, bounty in escrow), then
  each round adds the owners' encrypted updates, decrypts *only the sum*, updates the model.
- **Joe, Jane, Jack** (:class:`DataOwner`): their own digits, never sent anywhere. Each checks the
  model against its id, consents on chain, trains locally, and sends an update that is clipped,
  packed, masked (:mod:`omteach.secagg`) and encrypted under AI Inc.'s key, as a blob whose id
  goes on chain.
- **The contract** (``contracts/ModelMarket.vy``): who accepted, who submitted, when a round may
  close, who gets paid. **The blob store** (:mod:`omteach.blobs`): everything else, by hash.

:class:`TrainingRun` wires them together for the notebook, the tests and the benchmark; with
``encrypted=False`` it runs the same round with plain updates, for comparison.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omteach.blobs import BlobStore
from omteach.chain import Chain, DeployedContract
from omteach.data import OWNERS, Dataset, split_digits
from omteach.errors import (
    BlobError,
    ContractRevertError,
    InvalidValueError,
    OmteachError,
)
from omteach.he import KeyPair, PublicKey, generate_keypair
from omteach.model import ModelSpec, accuracy, build_model, get_weights, train_locally
from omteach.packing import PackedCiphertext, PackingCodec, key_fingerprint
from omteach.secagg import MaskKey, pairwise_mask

COMPANY = "AI Inc."
DAY = 24 * 3600


def to_bytes32(blob: str) -> bytes:
    """A blob id (64 hex digits) as the contract's bytes32."""
    return bytes.fromhex(blob.removeprefix("0x"))


def from_bytes32(value: bytes | str) -> str:
    """The contract's bytes32 (raw or 0x-hex) as a blob id."""
    return value.hex() if isinstance(value, bytes | bytearray) else value.removeprefix("0x")


# -- the market on chain ----------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSpec:
    """A spec as the contract holds it: what every data owner can read before consenting."""

    spec_id: int
    company: str
    model_blob: str
    key_blob: str
    summary: str
    batch_size: int
    rounds: int
    min_owners: int
    noise: float
    bounty: int
    deadline: int
    escrow: int
    round: int
    finished: bool


class Market:
    """The ModelMarket contract, read and written in the course's terms (names, blob ids)."""

    def __init__(self, chain: Chain, blobs: BlobStore, contract: DeployedContract | None = None):
        self.chain = chain
        self.blobs = blobs
        self.contract = contract or chain.deploy("ModelMarket", sender=COMPANY)

    def spec(self, spec_id: int) -> MarketSpec:
        """Read one spec from the chain."""
        if not isinstance(spec_id, int) or not 0 <= spec_id < self.contract.call("spec_count"):
            raise InvalidValueError(f"there is no spec {spec_id!r} on the market")
        (company, model_blob, key_blob, summary, batch, rounds, min_owners, noise_milli, bounty,
         deadline, escrow, rnd, finished) = self.contract.call("specs", spec_id)
        return MarketSpec(spec_id, self.chain.name_of(company), from_bytes32(model_blob),
                          from_bytes32(key_blob), summary, batch, rounds, min_owners,
                          noise_milli / 1000, bounty, deadline, escrow, rnd, finished)

    def open_specs(self) -> list[MarketSpec]:
        """Specs still running (not finished, deadline not passed)."""
        now = self.chain.now()
        specs = [self.spec(i) for i in range(self.contract.call("spec_count"))]
        return [s for s in specs if not s.finished and s.deadline >= now]

    def owners(self, spec_id: int) -> list[str]:
        """Names of the owners who accepted, in order of acceptance."""
        return [self.chain.name_of(a) for a in self.contract.call("owners_of", spec_id)]

    def mask_key_blob(self, spec_id: int, owner: str) -> str:
        """The blob id of ``owner``'s masking public key, as published when accepting."""
        return from_bytes32(self.contract.call("mask_key", spec_id, owner))

    def submission(self, spec_id: int, round_no: int, owner: str) -> str | None:
        """The blob id ``owner`` submitted in a round, or None."""
        value = from_bytes32(self.contract.call("submission", spec_id, round_no, owner))
        return None if int(value, 16) == 0 else value

    def submissions(self, spec_id: int, round_no: int) -> dict[str, str]:
        """Owner name → submitted blob id, for a round."""
        out = {}
        for owner in self.owners(spec_id):
            blob = self.submission(spec_id, round_no, owner)
            if blob is not None:
                out[owner] = blob
        return out


# -- encrypting on several cores --------------------------------------------------------------

_WORKER_KEY: PublicKey | None = None


def _init_worker(public: PublicKey) -> None:
    global _WORKER_KEY
    _WORKER_KEY = public


def _encrypt_chunk(plaintexts: list[int]) -> list[int]:
    assert _WORKER_KEY is not None
    return [_WORKER_KEY.raw_encrypt(m) for m in plaintexts]


class ParallelEncryptor:
    """Encrypts packed plaintexts over ``workers`` processes (each owner's machine has cores).

    Call it with a list of plaintexts; returns their ciphertexts in order. ``workers=1`` encrypts
    in this process. Close it (or use ``with``) to stop the worker processes.
    """

    def __init__(self, public: PublicKey, workers: int | None = None):
        self.public = public
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context(method),
                                             initializer=_init_worker, initargs=(public,))
            list(self._pool.map(_encrypt_chunk, [[1]] * self.workers))  # start them now

    def __call__(self, plaintexts: Sequence[int]) -> list[int]:
        plaintexts = list(plaintexts)
        if self._pool is None or len(plaintexts) < 2:
            return [self.public.raw_encrypt(m) for m in plaintexts]
        k = self.workers
        chunks = [plaintexts[i::k] for i in range(k)]
        parts = list(self._pool.map(_encrypt_chunk, chunks))
        out = [0] * len(plaintexts)
        for i, part in enumerate(parts):
            out[i::k] = part
        return out

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> ParallelEncryptor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the parties ------------------------------------------------------------------------------


def _timed(timings: dict[str, float], step: str):
    class _Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            timings[step] = timings.get(step, 0.0) + time.perf_counter() - self.t0

    return _Timer()


class AICompany:
    """AI Inc.: holds the Paillier private key and the model; sees only sums of updates."""

    name = COMPANY

    def __init__(self, market: Market, model: ModelSpec, *, keys: KeyPair | None = None,
                 codec: PackingCodec | None = None, seed: int = 0):
        self.market = market
        self.model = model
        self.keys = keys or generate_keypair(2048)
        self.codec = codec or PackingCodec(clip=model.update_clip, bits=16, max_contributions=3)
        self.weights = get_weights(build_model(model, seed=seed))
        self.spec_id: int | None = None

    def publish_model(self) -> str:
        """Store the model (spec as JSON + weights as a safe array blob); returns its blob id."""
        blobs = self.market.blobs
        weights_blob = blobs.put_arrays({"weights": self.weights})
        return blobs.put_json({"kind": "omteach.Model", "spec": self.model.to_json(),
                               "weights_blob": weights_blob})

    def publish_key(self) -> str:
        """Store the Paillier public key (n) and the packing terms; returns the blob id."""
        c = self.codec
        return self.market.blobs.put_json({
            "kind": "omteach.PaillierPublicKey", "n": format(self.keys.public.n, "x"),
            "fingerprint": key_fingerprint(self.keys.public),
            "codec": {"clip": c.clip, "bits": c.bits, "max_contributions": c.max_contributions}})

    def post(self, *, rounds: int, min_owners: int, bounty: int, days: int = 30,
             noise: float = 0.0, escrow: int | None = None) -> int:
        """Post the spec on the market with the bounty in escrow; returns the spec id."""
        escrow = bounty * min_owners * rounds if escrow is None else escrow
        result = self.market.contract.transact(
            "post_spec", to_bytes32(self.publish_model()), to_bytes32(self.publish_key()),
            self.model.summary()[:200], self.model.batch_size, rounds, min_owners,
            int(round(noise * 1000)), bounty, self.market.chain.now() + days * DAY,
            sender=self.name, value=escrow)
        self.spec_id = int(result.events[0].args["spec_id"])
        return self.spec_id

    def fetch_submissions(self, spec_id: int, round_no: int) -> dict[str, PackedCiphertext]:
        """Each submitted encrypted update, fetched by the id on chain (hash-checked)."""
        out = {}
        for owner, blob in self.market.submissions(spec_id, round_no).items():
            out[owner] = PackedCiphertext.from_json(self.market.blobs.get_json(blob),
                                                    self.keys.public)
        return out

    def decrypt_one(self, packed: PackedCiphertext) -> np.ndarray:
        """Decrypt a single submission: with masks in it, what comes out is noise."""
        return self.codec.decrypt(self.keys.private, packed)

    def aggregate(self, spec_id: int, round_no: int, *, encrypted: bool = True,
                  timings: dict[str, float] | None = None) -> tuple[np.ndarray, int]:
        """Sum the round's updates (homomorphically if encrypted) and decrypt once.

        Returns the mean update and the number of contributions.
        """
        timings = {} if timings is None else timings
        blobs = self.market.blobs
        with _timed(timings, "chain"):
            subs = self.market.submissions(spec_id, round_no)
        if not subs:
            raise InvalidValueError("no owner has submitted in this round yet")
        if not encrypted:
            with _timed(timings, "blobs"):
                updates = [blobs.get_arrays(b)["update"] for b in subs.values()]
            return np.sum(updates, axis=0) / len(updates), len(updates)
        with _timed(timings, "blobs"):
            packed = [PackedCiphertext.from_json(blobs.get_json(b), self.keys.public)
                      for b in subs.values()]
        with _timed(timings, "aggregation"):
            total = packed[0]
            for p in packed[1:]:
                total = total + p
        with _timed(timings, "decryption"):
            summed = self.codec.decrypt(self.keys.private, total)
        return summed / len(packed), len(packed)

    def close_round(self, spec_id: int, mean_update: np.ndarray) -> Any:
        """Apply the mean update, publish the new model and close the round on chain."""
        self.weights = self.weights + mean_update
        return self.market.contract.transact("close_round", spec_id,
                                             to_bytes32(self.publish_model()), sender=self.name)


class DataOwner:
    """A data owner: their digits never leave; only a masked, encrypted update does."""

    def __init__(self, name: str, market: Market, data: Dataset, *, seed: int = 0):
        self.name = name
        self.market = market
        self.data = data
        self.seed = seed
        self.mask_key = MaskKey.generate()
        self.last_update: np.ndarray | None = None

    def browse(self) -> list[MarketSpec]:
        """The open specs on the market."""
        return self.market.open_specs()

    def inspect(self, spec_id: int) -> tuple[ModelSpec, np.ndarray]:
        """Fetch the model the spec names, checking every blob against its id."""
        spec = self.market.spec(spec_id)
        blobs = self.market.blobs
        doc = blobs.get_json(spec.model_blob)
        if not isinstance(doc, dict) or doc.get("kind") != "omteach.Model":
            raise BlobError(f"blob {spec.model_blob[:12]}… is not a model")
        weights = blobs.get_arrays(doc["weights_blob"])["weights"]
        model = ModelSpec.from_json(doc["spec"])
        if weights.shape != (model.n_params,):
            raise BlobError("the model's weights do not match its architecture")
        return model, weights

    def public_key(self, spec_id: int) -> tuple[PublicKey, PackingCodec]:
        """AI Inc.'s Paillier public key and packing terms, from the blob the spec names."""
        from phe import paillier

        doc = self.market.blobs.get_json(self.market.spec(spec_id).key_blob)
        public = paillier.PaillierPublicKey(int(doc["n"], 16))
        if key_fingerprint(public) != doc["fingerprint"]:
            raise BlobError("the key blob's fingerprint does not match its key")
        return public, PackingCodec(**doc["codec"])

    def accept(self, spec_id: int) -> Any:
        """Check the model, publish the masking key, and consent on chain."""
        self.inspect(spec_id)
        key_blob = self.market.blobs.put_json({"kind": "omteach.MaskKey",
                                               "public": format(self.mask_key.public, "x")})
        return self.market.contract.transact("accept", spec_id, to_bytes32(key_blob),
                                             sender=self.name)

    def _peer_keys(self, spec_id: int) -> dict[str, int]:
        peers = {}
        for other in self.market.owners(spec_id):
            if other != self.name:
                doc = self.market.blobs.get_json(self.market.mask_key_blob(spec_id, other))
                peers[other] = int(doc["public"], 16)
        return peers

    def train(self, spec_id: int, round_no: int) -> np.ndarray:
        """Train the spec's current model on this owner's data; the clipped update."""
        model, weights = self.inspect(spec_id)
        return train_locally(model, weights, self.data, seed=self.seed * 1000 + round_no)

    def submit(self, spec_id: int, round_no: int, update: np.ndarray, *, encrypted: bool = True,
               encryptor: Callable[[list[int]], list[int]] | None = None,
               timings: dict[str, float] | None = None) -> tuple[str, Any]:
        """Pack, mask, encrypt and store the update, and post its id on chain.

        Returns (blob id, transaction result).
        """
        timings = {} if timings is None else timings
        blobs = self.market.blobs
        self.last_update = update  # stays on this owner's machine (the notebook compares)
        if encrypted:
            with _timed(timings, "masking"):
                public, codec = self.public_key(spec_id)
                count = codec.n_ciphertexts(len(update), public)
                mask = pairwise_mask(self.name, self.mask_key, self._peer_keys(spec_id),
                                     round_no, count, public.n)
            with _timed(timings, "encryption"):
                packed = codec.encrypt(public, update, mask=mask, encryptor=encryptor)
            with _timed(timings, "blobs"):
                blob = blobs.put_json(packed.to_json())
        else:
            with _timed(timings, "blobs"):
                blob = blobs.put_arrays({"update": update})
        with _timed(timings, "chain"):
            tx = self.market.contract.transact("submit", spec_id, round_no, to_bytes32(blob),
                                               sender=self.name)
        return blob, tx


# -- a whole training run ---------------------------------------------------------------------


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

    def run_round(self, *, drop: Iterable[str] = ()) -> RoundReport:
        """Every owner not in ``drop`` trains and submits; then AI Inc. tries to close the round.

        If too few owners submitted, the contract refuses to close: the report says why, and the
        round stays open (run it again without dropping anyone to finish it).
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
        for name, owner in self.owners.items():
            if name in drop or self.market.submission(self.spec_id, rnd, name) is not None:
                continue
            with _timed(timings, "training"):
                update = owner.train(self.spec_id, rnd)
            blob, _ = owner.submit(self.spec_id, rnd, update, encrypted=self.encrypted,
                                   encryptor=self._encryptor, timings=timings)
            sizes[name] = self.market.blobs.size(blob)
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
            return report
        mean, _ = self.company.aggregate(self.spec_id, rnd, encrypted=self.encrypted,
                                         timings=timings)
        with _timed(timings, "chain"):
            self.company.close_round(self.spec_id, mean)
        report.closed = True
        report.accuracy = self._accuracy()
        self.history.append(report)
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


__all__ = [
    "AICompany", "DataOwner", "Market", "MarketSpec", "ParallelEncryptor", "RoundReport",
    "TrainingRun", "baseline_curves", "OmteachError",
]
