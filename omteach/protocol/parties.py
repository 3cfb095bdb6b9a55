"""The parties of chapter 4's round: AI Inc. and the data owners.

- **AI Inc.** (:class:`AICompany`): the Paillier private key, the model. Posts a spec on chain
  (ids of the model blob and of its public key blob, training terms, bounty in escrow), then
  each round adds the owners' encrypted updates, decrypts *only the sum*, updates the model.
- **Joe, Jane, Jack** (:class:`DataOwner`): their own digits, never sent anywhere. Each checks the
  model against its id, consents on chain, trains locally, and sends an update that is clipped,
  packed, masked (:mod:`omteach.crypto.secagg`) and encrypted under AI Inc.'s key, as a blob whose
  id goes on chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from omteach.crypto.packing import PackedCiphertext, PackingCodec
from omteach.crypto.paillier import (
    KeyPair,
    PublicKey,
    generate_keypair,
    public_key_from_json,
    public_key_to_json,
)
from omteach.crypto.secagg import MaskKey, pairwise_mask
from omteach.errors import BlobError, InvalidValueError
from omteach.learning.data import Dataset
from omteach.learning.defences import AuditPolicy, AuditReport, audit_spec
from omteach.learning.model import ModelSpec, build_model, get_weights, train_locally
from omteach.protocol.market import Market, MarketSpec, to_bytes32
from omteach.story import COMPANY, DAY


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Add the time the ``with`` block takes to ``timings[step]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - t0


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
        """Store the Paillier public key (n, and h_s for a fast key) and the packing terms;
        returns the blob id."""
        c = self.codec
        return self.market.blobs.put_json({
            **public_key_to_json(self.keys.public),
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
        with timed(timings, "chain"):
            subs = self.market.submissions(spec_id, round_no)
        if not subs:
            raise InvalidValueError("no owner has submitted in this round yet")
        if not encrypted:
            with timed(timings, "blobs"):
                updates = [blobs.get_arrays(b)["update"] for b in subs.values()]
            return np.sum(updates, axis=0) / len(updates), len(updates)
        with timed(timings, "blobs"):
            packed = [PackedCiphertext.from_json(blobs.get_json(b), self.keys.public)
                      for b in subs.values()]
        with timed(timings, "aggregation"):
            total = packed[0]
            for p in packed[1:]:
                total = total + p
        with timed(timings, "decryption"):
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

    def audit(self, spec_id: int, policy: AuditPolicy | None = None) -> AuditReport:
        """Chapter 5's audit of a spec before consenting: the terms on chain and the model blob.

        A model blob that does not match its id (or is not a model) fails the audit rather than
        raising: the owner's answer to it is "do not consent".
        """
        spec = self.market.spec(spec_id)
        try:
            model, weights = self.inspect(spec_id)
        except BlobError:
            model, weights = None, None
        return audit_spec(batch_size=spec.batch_size, min_owners=spec.min_owners,
                          noise=spec.noise, model=model, weights=weights,
                          model_matches_id=model is not None, policy=policy)

    def public_key(self, spec_id: int) -> tuple[PublicKey, PackingCodec]:
        """AI Inc.'s Paillier public key and packing terms, from the blob the spec names."""
        doc = self.market.blobs.get_json(self.market.spec(spec_id).key_blob)
        public = public_key_from_json(doc)  # checks every field of the key
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
            with timed(timings, "masking"):
                public, codec = self.public_key(spec_id)
                count = codec.n_ciphertexts(len(update), public)
                mask = pairwise_mask(self.name, self.mask_key, self._peer_keys(spec_id),
                                     round_no, count, public.n)
            with timed(timings, "encryption"):
                packed = codec.encrypt(public, update, mask=mask, encryptor=encryptor)
            with timed(timings, "blobs"):
                blob = blobs.put_json(packed.to_json())
        else:
            with timed(timings, "blobs"):
                blob = blobs.put_arrays({"update": update})
        with timed(timings, "chain"):
            tx = self.market.contract.transact("submit", spec_id, round_no, to_bytes32(blob),
                                               sender=self.name)
        return blob, tx
