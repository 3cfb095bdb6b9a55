"""The parties of chapter 4's round: AI Inc. and the data owners.

- **AI Inc.** (:class:`AICompany`): the Paillier private key, the model. Posts a spec on chain
  (ids of the model blob and of its public key blob, training terms, bounty in escrow), opens each
  round with a fixed set of participants, adds the owners' encrypted updates, decrypts *only the
  sum* (after checking every blob against the spec on chain), updates the model.
- **Data owners** (:class:`DataOwner`): Joe, Jane, Jack, or any address. Their data is never sent
  anywhere. Each checks the model against its id, consents on chain, deals Shamir shares of its
  round's mask seeds to the other participants, trains locally, and sends an update that is
  clipped, packed, masked (:mod:`omteach.crypto.secagg`) and encrypted under AI Inc.'s key. If
  someone drops out, the survivors reveal their shares of the dropped owner's seeds.

Parties are keyed by **address** in everything the protocol computes (masks, shares, sums);
names are only for display.

Why one module of some 540 lines: AI Inc. and the data owner are the two ends of the same
blob formats (what one writes the other parses and checks: models, keys, shares, updates,
reveals), so each format's writer and reader sit side by side. The secure-aggregation rewrite
(the next issue) changes both ends together; split the two classes after it, not before.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from omteach.chain import TxResult
from omteach.crypto import secagg
from omteach.crypto.packing import PackedCiphertext, PackingCodec
from omteach.crypto.paillier import (
    KeyPair,
    PublicKey,
    generate_keypair,
    key_fingerprint,
    public_key_from_json,
    public_key_to_json,
)
from omteach.crypto.secagg import MaskKey
from omteach.errors import (
    AggregationError,
    BlobError,
    DropoutRecoveryError,
    InvalidValueError,
    OmteachError,
    ProtocolError,
)
from omteach.learning import tasks
from omteach.learning.data import Dataset
from omteach.learning.defences import AuditPolicy, AuditReport, audit_spec
from omteach.learning.model import ModelSpec
from omteach.protocol.blobs import blob_id
from omteach.protocol.market import Market, MarketSpec
from omteach.story import COMPANY
from omteach.text import canonical_json


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Add the time the ``with`` block takes to ``timings[step]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - t0


def _same_json(a: Any, b: Any) -> bool:
    # Compare as JSON text: True is not 1, and 0.5 from a blob equals 0.5 here.
    return canonical_json(a) == canonical_json(b)


def _codec_json(codec: PackingCodec) -> dict[str, Any]:
    return {"clip": codec.clip, "bits": codec.bits, "max_contributions": codec.max_contributions}


class AICompany:
    """AI Inc.: holds the Paillier private key and the model; sees only sums of updates.

    ``model``: the digits :class:`ModelSpec` (default story) or any
    :class:`~omteach.learning.tasks.TorchTask`.
    """

    def __init__(self, market: Market, model: tasks.Model, *, keys: KeyPair | None = None,
                 codec: PackingCodec | None = None, seed: int = 0, name: str = COMPANY):
        self.market = market
        self.model = model
        self.name = name
        self.address = market.address(name)
        self.keys = keys or generate_keypair(2048)
        self.codec = codec or PackingCodec(clip=model.update_clip, bits=16, max_contributions=3)
        self.weights = tasks.initial_weights(model, seed)
        self.spec_id: int | None = None

    # -- posting ---------------------------------------------------------------------------------

    def publish_model(self) -> str:
        """Store the model (its description as JSON + weights as a safe array blob); its id."""
        blobs = self.market.blobs
        weights_blob = blobs.put_arrays({"weights": self.weights})
        if isinstance(self.model, ModelSpec):
            return blobs.put_json({"kind": "omteach.Model", "spec": self.model.to_json(),
                                   "weights_blob": weights_blob})
        return blobs.put_json({"kind": "omteach.TorchModel", "description": self.model.describe(),
                               "weights_blob": weights_blob})

    def publish_key(self) -> str:
        """Store the Paillier public key (n, and h_s for a fast key) and the packing terms;
        returns the blob id."""
        return self.market.blobs.put_json({**public_key_to_json(self.keys.public),
                                           "codec": _codec_json(self.codec)})

    def post(self, *, rounds: int, min_owners: int, bounty: int, places: int | None = None,
             days: int = 30, noise: float = 0.0, escrow: int | None = None) -> int:
        """Post the spec with the bounty for every place in every round in escrow; its id.

        ``min_owners`` (t): the fewest submissions a round closes with, and the threshold of the
        dropout shares. ``places``: how many owners may accept (default ``min_owners``).
        """
        self.spec_id = self.market.post(
            model_blob=self.publish_model(), key_blob=self.publish_key(),
            summary=tasks.summary(self.model), batch_size=self.model.batch_size, rounds=rounds,
            min_owners=min_owners, places=places, noise=noise, bounty=bounty, days=days,
            escrow=escrow, sender=self.address)
        return self.spec_id

    # -- running a round -------------------------------------------------------------------------

    def open_round(self, spec_id: int, participants: list[str] | None = None) -> TxResult:
        """Fix the current round's participants on chain (default: every owner who accepted)."""
        chosen = self.market.owners(spec_id) if participants is None else participants
        return self.market.open_round(spec_id, chosen, sender=self.address)

    def declare_dropouts(self, spec_id: int) -> TxResult:
        """End the round's submissions: whoever has not submitted is dropped from it."""
        return self.market.declare_dropouts(spec_id, sender=self.address)

    def _round_terms(self, spec: MarketSpec) -> tuple[int, dict[str, Any], str]:
        """What every update of the round must say, read from the blobs the chain names."""
        blobs = self.market.blobs
        key_doc = blobs.get_json(spec.key_blob)
        model_doc = blobs.get_json(spec.model_blob)
        if not isinstance(key_doc, dict) or not isinstance(model_doc, dict):
            raise AggregationError("the spec's key or model blob is not what AI Inc. posted")
        if key_doc.get("fingerprint") != key_fingerprint(self.keys.public):
            raise AggregationError("the key blob on chain is not this company's key")
        length = int(blobs.get_arrays(model_doc["weights_blob"])["weights"].size)
        return length, key_doc["codec"], key_doc["fingerprint"]

    def _load_update(self, owner: str, blob: str, length: int, codec: dict[str, Any],
                     fingerprint: str) -> PackedCiphertext:
        """One participant's encrypted update, every field checked against the spec on chain."""
        who = self.market.name(owner)
        doc = self.market.blobs.get_json(blob)  # a blob that does not match its id: BlobError
        if not isinstance(doc, dict) or doc.get("kind") != "omteach.PackedCiphertext":
            raise AggregationError(f"{who}'s update blob is not a packed ciphertext")
        expected = {"contributions": 1, "length": length, "codec": codec,
                    "key_fingerprint": fingerprint}
        for field, want in expected.items():
            if not _same_json(doc.get(field), want):
                raise AggregationError(
                    f"{who}'s update says {field} = {doc.get(field)!r}, but the spec on chain "
                    f"says {want!r}: the round's sum would not add up, so it is not decrypted")
        n_ct = PackingCodec(**codec).n_ciphertexts(length, self.keys.public)
        cts = doc.get("ciphertexts")
        if not isinstance(cts, list) or len(cts) != n_ct:
            raise AggregationError(f"{who}'s update has {len(cts) if isinstance(cts, list) else 0}"
                                   f" ciphertexts; {length} values pack into {n_ct}")
        try:
            return PackedCiphertext.from_json(doc, self.keys.public)
        except OmteachError as exc:
            raise AggregationError(f"{who}'s update is malformed: {exc}") from None

    def load_update(self, spec_id: int, owner: str, blob: str) -> PackedCiphertext:
        """An encrypted update blob, every field checked against the spec on chain.

        Anything that disagrees (contributions, length, codec, key, number or range of the
        ciphertexts) raises :class:`AggregationError` naming the owner.
        """
        length, codec, fingerprint = self._round_terms(self.market.spec(spec_id))
        return self._load_update(owner, blob, length, codec, fingerprint)

    def fetch_submissions(self, spec_id: int, round_no: int) -> dict[str, PackedCiphertext]:
        """Each participant's encrypted update (address → ciphertexts), fetched and checked."""
        spec = self.market.spec(spec_id)
        length, codec, fingerprint = self._round_terms(spec)
        return {owner: self._load_update(owner, blob, length, codec, fingerprint)
                for owner, blob in self.market.submissions(spec_id, round_no).items()}

    def decrypt_one(self, packed: PackedCiphertext) -> np.ndarray:
        """Decrypt a single submission: with masks in it, what comes out is noise."""
        return self.codec.decrypt(self.keys.private, packed)

    def aggregate(self, spec_id: int, round_no: int, *, encrypted: bool = True,
                  timings: dict[str, float] | None = None) -> tuple[np.ndarray, int]:
        """Sum the round's updates (homomorphically if encrypted) and decrypt once.

        Refuses (:class:`AggregationError`) a round whose submissions are not exactly its
        participants' (unless the dropouts were declared and enough survivors revealed their
        shares), a blob that disagrees with the spec on chain, or a sum that does not decode.
        Returns the mean update and the number of contributions.
        """
        timings = {} if timings is None else timings
        market = self.market
        with timed(timings, "chain"):
            spec = market.spec(spec_id)
            if round_no != spec.round or not spec.opened or spec.finished:
                raise AggregationError(f"round {round_no} is not the open round of spec "
                                       f"{spec_id} (the open round is {spec.round})")
            participants = market.participants(spec_id, round_no)
            subs = market.submissions(spec_id, round_no)
        if not subs:
            raise AggregationError("no participant has submitted in this round yet")
        missing = [p for p in participants if p not in subs]
        if missing and not spec.recovering:
            raise AggregationError(
                f"{', '.join(market.name(p) for p in missing)} did not submit: their masks do "
                "not cancel, so the sum would be noise. Wait for them, or declare the dropouts "
                "and let the survivors reveal their shares")
        if not encrypted:
            with timed(timings, "blobs"):
                updates = [self._load_plain(owner, blob) for owner, blob in subs.items()]
            return np.sum(updates, axis=0) / len(updates), len(updates)
        with timed(timings, "blobs"):
            length, codec_json, fingerprint = self._round_terms(spec)
            packed = [self._load_update(o, b, length, codec_json, fingerprint)
                      for o, b in subs.items()]
        codec = packed[0].codec
        public = self.keys.public
        with timed(timings, "aggregation"):
            total = packed[0]
            for p in packed[1:]:
                total = total + p
        correction = [0] * len(total.ciphertexts)
        if missing:
            with timed(timings, "recovery"):
                correction = self._dropout_correction(spec, participants, list(subs), missing,
                                                      len(total.ciphertexts))
        with timed(timings, "decryption"):
            plain = [(self.keys.private.raw_decrypt(c) - r) % public.n
                     for c, r in zip(total.ciphertexts, correction, strict=True)]
            summed = self._decode(codec, plain, length, len(packed), bool(missing))
        return summed / len(packed), len(packed)

    def _load_plain(self, owner: str, blob: str) -> np.ndarray:
        who = self.market.name(owner)
        update = self.market.blobs.get_arrays(blob).get("update")
        n = tasks.n_params(self.model)
        if (not isinstance(update, np.ndarray) or update.shape != (n,)
                or update.dtype.kind != "f" or not np.isfinite(update).all()):
            raise AggregationError(f"{who}'s plain update is not {n} finite numbers")
        return update

    def _decode(self, codec: PackingCodec, plain: list[int], length: int, contributions: int,
                recovered: bool) -> np.ndarray:
        """Unpack and dequantize, refusing plaintexts that cannot be a sum of packed updates."""
        public = self.keys.public
        per = codec.slots_per_ciphertext(public)
        # An honest sum fills only the slots of its values: every higher bit is zero. Leftover
        # masks make uniformly random numbers mod n, whose high bits are not.
        used = [min(per, length - i * per) * codec.slot_bits for i in range(len(plain))]
        fits = all(p >> bits == 0 for p, bits in zip(plain, used, strict=True))
        q = codec.unpack(plain, length, public) if fits else None
        if q is None or q.max(initial=0) > contributions * codec.levels:
            why = ("the dropped owners' masks were not all removed (a wrong revealed share?)"
                   if recovered else "some masks did not cancel, or an update was not packed "
                   "with this codec")
            raise AggregationError(f"the decrypted sum does not decode: {why}. Nothing was used")
        return codec.dequantize(q, contributions)

    def _dropout_correction(self, spec: MarketSpec, participants: list[str],
                            survivors: list[str], dropped: list[str], count: int) -> list[int]:
        """Rebuild the dropped owners' round seeds from the revealed shares; their masks' sum."""
        market = self.market
        reveals = market.reveals(spec.spec_id, spec.round)
        if len(reveals) < spec.min_owners:
            raise DropoutRecoveryError(
                f"{len(reveals)} survivor(s) revealed their shares, {spec.min_owners} are needed "
                f"to remove the masks of {', '.join(market.name(d) for d in dropped)}")
        xs = {p: i + 1 for i, p in enumerate(participants)}
        revealed: dict[str, dict[int, dict[str, int]]] = {d: {} for d in dropped}
        for survivor, blob in reveals.items():
            try:
                doc = market.blobs.get_json(blob)
                if (not isinstance(doc, dict) or doc.get("kind") != "omteach.RevealedShares"
                        or doc.get("x") != xs[survivor]):
                    raise InvalidValueError("not a reveal of this survivor's shares")
                for d in dropped:
                    revealed[d][xs[survivor]] = {
                        peer: int(y, 16) for peer, y in doc["dropped"][d].items()}
            except (OmteachError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise DropoutRecoveryError(
                    f"{market.name(survivor)}'s revealed shares are unusable: {exc}") from None
        seeds = {}
        for d in dropped:
            try:
                seeds[d] = secagg.recover_round_seeds(revealed[d], spec.min_owners)
            except InvalidValueError as exc:
                raise DropoutRecoveryError(
                    f"the masks of {market.name(d)} cannot be removed: {exc}") from None
        return secagg.dropout_correction(seeds, survivors, count, self.keys.public.n)

    def close_round(self, spec_id: int, mean_update: np.ndarray) -> TxResult:
        """Apply the mean update, publish the new model and close the round on chain.

        An update that is not one finite number per weight (a scalar numpy would broadcast to
        every weight, a vector of another length, text) is refused before anything is published
        or any gas spent.
        """
        update = np.asarray(mean_update)
        if update.shape != self.weights.shape or update.dtype.kind not in "iuf" or not bool(
                np.isfinite(update).all()):
            raise InvalidValueError(
                f"the mean update must be {self.weights.size:,} finite numbers, one per weight; "
                f"got {update.dtype.name} of shape {update.shape}. The round stays open")
        self.weights = self.weights + update
        return self.market.close_round(spec_id, self.publish_model(), sender=self.address)


class DataOwner:
    """A data owner: their data never leaves; only a masked, encrypted update does.

    ``name``: a cast member ("Joe") or any address on the chain. ``task``: the model code this
    owner runs when the spec posts a :class:`~omteach.learning.tasks.TorchTask` (the digits MLP
    is rebuilt from its blob).
    """

    def __init__(self, name: str, market: Market, data: Dataset, *, seed: int = 0,
                 task: tasks.TorchTask | None = None):
        self.name = name
        self.market = market
        self.address = market.address(name)
        self.data = data
        self.seed = seed
        self.task = task
        self.mask_key = MaskKey.generate()
        self.last_update: np.ndarray | None = None

    def browse(self) -> list[MarketSpec]:
        """The open specs on the market."""
        return self.market.open_specs()

    def inspect(self, spec_id: int) -> tuple[tasks.Model, np.ndarray]:
        """Fetch the model the spec names, checking every blob against its id."""
        spec = self.market.spec(spec_id)
        blobs = self.market.blobs
        doc = blobs.get_json(spec.model_blob)
        if not isinstance(doc, dict) or doc.get("kind") not in ("omteach.Model",
                                                                "omteach.TorchModel"):
            raise BlobError(f"blob {spec.model_blob[:12]}… is not a model")
        model: tasks.Model
        if doc["kind"] == "omteach.Model":
            model = ModelSpec.from_json(doc.get("spec"))
        elif self.task is None:
            raise BlobError("the spec posts a torch model: give this owner the model's code "
                            "(DataOwner(..., task=...)) to run it")
        elif not _same_json(doc.get("description"), self.task.describe()):
            raise BlobError("the posted model is not the one this owner's code builds "
                            "(its shapes or terms differ)")
        else:
            model = self.task
        weights = blobs.get_arrays(doc.get("weights_blob"))["weights"]
        if weights.shape != (tasks.n_params(model),):
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
                          noise=spec.noise, model=model if isinstance(model, ModelSpec) else None,
                          weights=weights, model_matches_id=model is not None, policy=policy)

    def public_key(self, spec_id: int) -> tuple[PublicKey, PackingCodec]:
        """AI Inc.'s Paillier public key and packing terms, from the blob the spec names."""
        return self._key_from(self.market.spec(spec_id))

    def _key_from(self, spec: MarketSpec) -> tuple[PublicKey, PackingCodec]:
        doc = self.market.blobs.get_json(spec.key_blob)
        public = public_key_from_json(doc)  # checks every field of the key
        try:
            codec = PackingCodec(**doc["codec"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BlobError(f"the spec's key blob has no valid packing terms ({exc})") from None
        return public, codec

    def accept(self, spec_id: int) -> TxResult:
        """Check the model (and that this owner's data fits it), publish the masking key, and
        consent on chain."""
        model, _ = self.inspect(spec_id)
        tasks.check_data(model, self.data)  # before any gas: data that cannot train is refused
        key_blob = self.market.blobs.put_json({"kind": "omteach.MaskKey",
                                               "public": format(self.mask_key.public, "x")})
        return self.market.accept(spec_id, key_blob, sender=self.address)

    # -- the round's keys and shares -------------------------------------------------------------

    def _participants(self, spec_id: int, round_no: int) -> tuple[MarketSpec, list[str]]:
        spec = self.market.spec(spec_id)
        if spec.finished or round_no != spec.round or not spec.opened:
            raise ProtocolError(f"round {round_no} of spec {spec_id} is not open (the company "
                                "opens a round with open_round)")
        participants = self.market.participants(spec_id, round_no)
        if self.address not in participants:
            raise ProtocolError(f"{self.name} is not a participant of round {round_no}")
        return spec, participants

    def _pair_seeds(self, spec_id: int, peers: list[str]) -> dict[str, bytes]:
        """The Diffie-Hellman seed this owner shares with each peer (from keys named on chain)."""
        seeds = {}
        for peer in peers:
            blob = self.market.mask_key_blob(spec_id, peer)
            doc = self.market.blobs.get_json(blob) if blob else None
            try:
                public = int(doc["public"], 16)
            except (KeyError, TypeError, ValueError):
                raise BlobError(f"{self.market.name(peer)}'s masking key blob is not a key"
                                ) from None
            seeds[peer] = self.mask_key.shared_seed(public)
        return seeds

    def _round_seeds(self, spec_id: int, round_no: int,
                     participants: list[str]) -> tuple[dict[str, bytes], dict[str, bytes]]:
        peers = [p for p in participants if p != self.address]
        pair = self._pair_seeds(spec_id, peers)
        return pair, {p: secagg.round_seed(pair[p], spec_id, round_no) for p in peers}

    def post_shares(self, spec_id: int, round_no: int, *,
                    masked: bool = True) -> tuple[str, TxResult]:
        """Deal Shamir shares of this round's mask seeds to the other participants, sealed.

        ``masked=False`` (the plain comparison run, no masks), or a round in which no dropout can
        be recovered (fewer than ``min_owners`` others): an empty shares blob.
        """
        spec, participants = self._participants(spec_id, round_no)
        sealed: dict[str, str] = {}
        if masked and len(participants) - 1 >= spec.min_owners:
            pair, seeds = self._round_seeds(spec_id, round_no, participants)
            sealed = secagg.deal_shares(self.address, participants, seeds, pair,
                                        spec.min_owners, spec_id=spec_id, round_no=round_no)
        blob = self.market.blobs.put_json({
            "kind": "omteach.KeyShares", "spec_id": spec_id, "round": round_no,
            "owner": self.address, "threshold": spec.min_owners, "shares": sealed})
        return blob, self.market.post_shares(spec_id, round_no, blob, sender=self.address)

    def _share_from(self, spec_id: int, round_no: int, participants: list[str], sender: str,
                    pair_seed: bytes) -> dict[str, int]:
        """The share ``sender`` dealt to this owner, opened; a clear error if there is none."""
        who = self.market.name(sender)
        try:
            blob = self.market.shares_blob(spec_id, round_no, sender)
            doc = self.market.blobs.get_json(blob) if blob else None
            return secagg.open_shares(sender, self.address, participants,
                                      doc["shares"][self.address], pair_seed, spec_id=spec_id,
                                      round_no=round_no)
        except (OmteachError, KeyError, TypeError) as exc:
            raise ProtocolError(
                f"{who}'s key shares hold no usable share for {self.name} ({exc}): if {who} "
                f"dropped out, its masks could not be removed. Ask the company to open the round "
                f"again without {who}") from None

    def check_shares(self, spec_id: int, round_no: int) -> None:
        """Open the share every other participant dealt this owner, before masking anything.

        An owner whose shares are missing or do not open could drop out and leave the round
        unrecoverable; the time to refuse is before submitting (the company may then open the
        round again without it).
        """
        spec, participants = self._participants(spec_id, round_no)
        if len(participants) - 1 < spec.min_owners:
            return  # nobody can drop out and leave min_owners survivors: no shares were dealt
        peers = [p for p in participants if p != self.address]
        self._check_shares(spec, round_no, participants, self._pair_seeds(spec_id, peers))

    def _check_shares(self, spec: MarketSpec, round_no: int, participants: list[str],
                      pair: dict[str, bytes]) -> None:
        if len(participants) - 1 < spec.min_owners:
            return
        for peer, seed in pair.items():
            self._share_from(spec.spec_id, round_no, participants, peer, seed)

    def train(self, spec_id: int, round_no: int) -> np.ndarray:
        """Train the spec's current model on this owner's data; the clipped update."""
        model, weights = self.inspect(spec_id)
        return tasks.train(model, weights, self.data, seed=self.seed * 1000 + round_no)

    def submit(self, spec_id: int, round_no: int, update: np.ndarray, *, encrypted: bool = True,
               encryptor: Callable[[list[int]], list[int]] | None = None,
               timings: dict[str, float] | None = None) -> tuple[str, TxResult]:
        """Pack, mask for exactly the round's participants, encrypt; post the id, then the blob.

        The id goes on chain *before* the bytes are uploaded: if the contract refuses (the
        round's dropouts were declared, so this owner's masks may be revealed), the update is
        never published. Returns (blob id, transaction result).
        """
        timings = {} if timings is None else timings
        self.last_update = update  # stays on this owner's machine (the notebook compares)
        if encrypted:
            with timed(timings, "masking"):
                # check_shares, with the round's terms read from chain once for all the steps
                spec, participants = self._participants(spec_id, round_no)
                pair, seeds = self._round_seeds(spec_id, round_no, participants)
                self._check_shares(spec, round_no, participants, pair)
                public, codec = self._key_from(spec)
                count = codec.n_ciphertexts(len(update), public)
                mask = secagg.mask_from_round_seeds(self.address, seeds, count, public.n)
            with timed(timings, "encryption"):
                packed = codec.encrypt(public, update, mask=mask, encryptor=encryptor)
            data = canonical_json(packed.to_json(), ensure_ascii=True)
        else:
            buf = io.BytesIO()
            np.savez(buf, update=np.asarray(update, dtype=np.float64))
            data = buf.getvalue()
        blob = blob_id(data)
        with timed(timings, "chain"):
            tx = self.market.submit(spec_id, round_no, blob, sender=self.address)
        with timed(timings, "blobs"):
            self.market.blobs.put(data)
        return blob, tx

    def reveal_shares(self, spec_id: int, round_no: int, *,
                      masked: bool = True) -> tuple[str, TxResult]:
        """Reveal the shares this owner holds of the round's dropped owners' seeds.

        Only for owners who did not submit (read from chain, after the company declared the
        dropouts): revealing the shares of an owner who submitted would unmask its update.
        ``masked=False`` (the plain comparison run): nothing to reveal, an empty blob.
        """
        spec, participants = self._participants(spec_id, round_no)
        if not spec.recovering:
            raise ProtocolError("the company has not declared any dropouts in this round")
        subs = self.market.submissions(spec_id, round_no)
        dropped = [p for p in participants if p not in subs] if masked else []
        pair = self._pair_seeds(spec_id, dropped)
        out = {}
        for d in dropped:
            points = self._share_from(spec_id, round_no, participants, d, pair[d])
            out[d] = {peer: format(y, "x") for peer, y in points.items()}
        blob = self.market.blobs.put_json({
            "kind": "omteach.RevealedShares", "spec_id": spec_id, "round": round_no,
            "owner": self.address, "x": participants.index(self.address) + 1, "dropped": out})
        return blob, self.market.reveal_shares(spec_id, round_no, blob, sender=self.address)

    def withdraw(self) -> TxResult:
        """Take this owner's credited bounties out of the market."""
        return self.market.withdraw(sender=self.address)
