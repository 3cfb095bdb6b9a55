"""The parties of chapter 4's round: AI Inc. and the data owners.

- **AI Inc.** (:class:`AICompany`): the Paillier private key, the model. Posts a spec on chain
  (ids of the model blob and of its public key blob, training terms, bounty in escrow), opens each
  round with a fixed set of participants, adds the owners' encrypted updates, decrypts *only the
  sum* (after checking every blob against the spec on chain), updates the model.
- **Data owners** (:class:`DataOwner`): Joe, Jane, Jack, or any address. Their data is never sent
  anywhere. Each checks the model against its id and consents on chain. In every round it
  advertises fresh keys, deals Shamir shares of its mask key and self-mask seed to its
  neighbours, trains locally, and sends an update that is clipped, packed, double-masked
  (:mod:`omteach.crypto.doublemask` over SecAgg+ neighbourhoods) and encrypted under AI Inc.'s
  key. After the submissions end, each survivor reveals its shares of the survivors' self-mask
  seeds and of the dropouts' mask keys, never both kinds for one owner.

Parties are keyed by **address** in everything the protocol computes (masks, shares, sums);
names are only for display.

Why one module of some 540 lines: AI Inc. and the data owner are the two ends of the same
blob formats (what one writes the other parses and checks: models, keys, shares, updates,
reveals), so each format's writer and reader sit side by side.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from omteach.chain import TxResult
from omteach.crypto.doublemask import (
    Participant,
    PublicKeys,
    Reveal,
    RoundSetup,
    sealed_from_json,
    sealed_to_json,
    unmask,
)
from omteach.crypto.neighbours import DEFAULT_CORRUPTION, DEFAULT_DROPOUT, choose_parameters
from omteach.crypto.packing import PackedCiphertext, PackingCodec, add_all
from omteach.crypto.paillier import (
    KeyPair,
    PublicKey,
    generate_keypair,
    key_fingerprint,
    public_key_from_json,
    public_key_to_json,
)
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
from omteach.protocol.blobs import blob_id, parse_json
from omteach.protocol.market import MAX_REVEAL, Market, MarketSpec
from omteach.protocol.round import RoundState
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


REVEAL_KIND = "omteach.RevealedShares"


def secagg_parameters(n: int, dropout: float = DEFAULT_DROPOUT,
                      corruption: float = DEFAULT_CORRUPTION) -> tuple[int, int]:
    """``(k, t)`` for a round of ``n`` participants: SecAgg+'s neighbours and threshold.

    From :func:`~omteach.crypto.neighbours.choose_parameters` for 3 or more. Two participants
    neighbour each other and both shares are needed (neither can be recovered if the other
    drops: with two, each would learn the other's update from the sum anyway). One participant
    has nobody to mask with: ``(0, 1)``, and the round adds no masks.
    """
    if n >= 3:
        chosen = choose_parameters(n, dropout, corruption)
        return chosen.k, chosen.threshold
    return (1, 2) if n == 2 else (0, 1)


def round_context(market: Market, spec_id: int, round_no: int) -> bytes:
    """Names one round of one market: nothing sealed or derived for it opens in another."""
    return f"ModelMarket {market.contract.address.lower()} spec {spec_id} round {round_no}".encode()


def round_setup(market: Market, state: RoundState, modulus: int, length: int) -> RoundSetup | None:
    """The round's secure-aggregation terms, all read from the chain (None: one participant,
    nothing to mask). Every participant and AI Inc. build the same, or no share opens."""
    if len(state.participants) < 2:
        return None
    return RoundSetup(tuple(state.participants), state.info.seed, modulus, length, state.k,
                      state.threshold, context=round_context(market, state.spec_id, state.round))


def _codec_key(codec: Any) -> bytes:
    """The codec a spec's key blob names, as bytes to key checked updates by."""
    try:
        return canonical_json(codec)
    except (TypeError, ValueError):  # NaN in a hostile key blob: the update check refuses it
        return repr(codec).encode()


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
        # Updates already read and checked, by blob id and the terms they were checked against
        # (a blob id is the SHA-256 of its bytes: the same id is the same update). Filled while
        # the class is still submitting (check_arrivals), so the close after the deadline only
        # sums; emptied when a round closes.
        self._checked: dict[tuple[str, int, bytes, str], PackedCiphertext] = {}

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
             days: int = 30, noise: float = 0.0, escrow: int | None = None,
             **phase_seconds: int) -> int:
        """Post the spec with the bounty for every place in every round in escrow; its id.

        ``min_owners``: the fewest submissions a round closes with (the share threshold t is
        chosen per round from the participants, see :func:`secagg_parameters`). ``places``:
        how many owners may accept (default ``min_owners``). ``share_seconds``,
        ``submit_seconds``, ``reveal_seconds``: the phases' durations (:meth:`Market.post`).
        """
        self.spec_id = self.market.post(
            model_blob=self.publish_model(), key_blob=self.publish_key(),
            summary=tasks.summary(self.model), batch_size=self.model.batch_size, rounds=rounds,
            min_owners=min_owners, places=places, noise=noise, bounty=bounty, days=days,
            escrow=escrow, sender=self.address, **phase_seconds)
        return self.spec_id

    # -- running a round -------------------------------------------------------------------------

    def open_round(self, spec_id: int, participants: Sequence[str] | None = None, *,
                   dropout: float = DEFAULT_DROPOUT,
                   corruption: float = DEFAULT_CORRUPTION) -> TxResult:
        """Fix the current round's participants on chain (default: every owner who accepted),
        with SecAgg+'s ``k`` and ``t`` for that many (tolerating the ``dropout`` and
        ``corruption`` fractions); the contract draws the round's seed."""
        chosen = list(self.market.owners(spec_id) if participants is None else participants)
        k, t = secagg_parameters(len(chosen), dropout, corruption)
        return self.market.open_round(spec_id, chosen, k, t, sender=self.address)

    def end_submissions(self, spec_id: int) -> TxResult:
        """End the round's submissions: whoever has not submitted is a dropout of it."""
        return self.market.end_submissions(spec_id, sender=self.address)

    def abandon_round(self, spec_id: int) -> TxResult:
        """Give up a round that cannot close (too few submissions by the submit deadline, or
        the reveals over without the shares the sum needs): its submitters are credited, the
        model stays as it is (the contract's ``abandon_round``)."""
        result = self.market.abandon_round(spec_id, sender=self.address)
        self._checked.clear()  # the next round's updates are new blobs
        return result

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
        """One participant's encrypted update, every field checked against the spec on chain
        (once per blob and terms: a blob checked before is not read again)."""
        key = (blob, length, _codec_key(codec), fingerprint)
        checked = self._checked.get(key)
        if checked is None:
            checked = self._read_update(owner, blob, length, codec, fingerprint)
            self._checked[key] = checked
        return checked

    def _read_update(self, owner: str, blob: str, length: int, codec: dict[str, Any],
                     fingerprint: str) -> PackedCiphertext:
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

    def check_arrivals(self, spec_id: int, round_no: int) -> int:
        """Read and check the updates submitted so far in a round, while the others are still
        training: the close after the deadline then only sums. Returns how many of the round's
        submissions are checked.

        Nothing is refused here: an update whose bytes are not on the board yet is read at a
        later call, and one that fails its checks is read again at the close, which refuses it
        naming its owner (:meth:`aggregate`).
        """
        subs = self.market.submissions(spec_id, round_no)
        if not subs:
            return 0
        length, codec, fingerprint = self._round_terms(self.market.spec(spec_id))
        terms = (length, _codec_key(codec), fingerprint)
        new = {o: b for o, b in subs.items() if (b, *terms) not in self._checked}
        prefetch = getattr(self.market.blobs, "prefetch", None)
        if new and prefetch is not None:  # one eth_getLogs for them all, not two reads each
            prefetch(list(new.values()))
        for owner, blob in new.items():
            try:
                self._load_update(owner, blob, length, codec, fingerprint)
            except OmteachError:
                pass  # not on the board (or the node) yet, or refused: the close reads it again
        return len(subs) - sum((b, *terms) not in self._checked for b in subs.values())

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
        """Sum the round's updates (homomorphically if encrypted), decrypt once, unmask.

        Only after the submissions ended (the survivors then revealed the shares that remove
        their self-masks and the dropouts' pairwise masks). Refuses (:class:`AggregationError`)
        a blob that disagrees with the spec on chain, too few usable reveals
        (:class:`DropoutRecoveryError`), or a sum that does not decode: never a wrong mean.
        Returns the mean update and the number of contributions.
        """
        timings = {} if timings is None else timings
        market = self.market
        with timed(timings, "chain"):
            state = market.round_state(spec_id)
            spec = state.spec
            if round_no != spec.round or not spec.opened or spec.finished:
                raise AggregationError(f"round {round_no} is not the open round of spec "
                                       f"{spec_id} (the open round is {spec.round})")
            subs = dict(state.submitted)
        if not subs:
            raise AggregationError("no participant has submitted in this round yet")
        if not spec.recovering:
            raise AggregationError(
                "the submissions of this round have not ended: every update is still hidden by "
                "its self-mask. End them (end_submissions) and let the survivors reveal")
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
            total = add_all(packed)
        with timed(timings, "decryption"):
            masked = [self.keys.private.raw_decrypt(c) % public.n for c in total.ciphertexts]
        with timed(timings, "recovery"):
            plain = self._unmask(state, masked)
        with timed(timings, "decryption"):
            summed = self._decode(codec, plain, length, len(packed),
                                  bool(state.not_submitted()))
        return summed / len(packed), len(packed)

    def unmasked_mean(self, spec_id: int, round_no: int) -> tuple[np.ndarray, int]:
        """The mean of a round's encrypted submissions, unmasked with its survivors' reveals:
        for any round whose submissions ended (the open one or a closed one), without the
        checks and the state change of :meth:`aggregate` (chapter 4's "what AI Inc. sees")."""
        state = self.market.round_state(spec_id, round_no)
        if not state.submissions_over or not state.revealed:
            raise AggregationError(
                "every update also carries its owner's self-mask, which no other mask cancels: "
                "the sum stays noise until the submissions end and the survivors reveal")
        length, codec_json, fingerprint = self._round_terms(state.spec)
        packed = [self._load_update(o, b, length, codec_json, fingerprint)
                  for o, b in state.submitted.items()]
        total = add_all(packed)
        masked = [self.keys.private.raw_decrypt(c) % self.keys.public.n
                  for c in total.ciphertexts]
        plain = self._unmask(state, masked)
        summed = self._decode(packed[0].codec, plain, length, len(packed),
                              bool(state.not_submitted()))
        return summed / len(packed), len(packed)

    def _reveals(self, state: RoundState) -> tuple[dict[str, Reveal], list[str]]:
        """The survivors' reveals (their bytes from the market's events, one read), each checked
        against its id, kind, round and sender; the unusable ones are left out (others may hold
        the same shares) and named."""
        reveals, unusable = {}, []
        revealed = self.market.revealed(state.spec_id, state.round, state.revealed)
        for survivor in state.revealed:
            try:
                if survivor not in revealed:
                    raise BlobError("the node returned no revealed shares for this survivor")
                doc = parse_json(revealed[survivor], what="revealed shares",
                                 max_bytes=MAX_REVEAL)
                if (not isinstance(doc, dict) or doc.get("kind") != REVEAL_KIND
                        or doc.get("spec_id") != state.spec_id or doc.get("round") != state.round
                        or str(doc.get("sender", "")).lower() != survivor.lower()):
                    raise InvalidValueError("not this survivor's reveal for this round")
                reveals[survivor] = Reveal.from_json(doc)
            except OmteachError:
                unusable.append(self.market.name(survivor))
        return reveals, unusable

    def _unmask(self, state: RoundState, masked: list[int]) -> list[int]:
        """Remove every mask from the decrypted sum: Bonawitz's Unmasking, server side."""
        setup = round_setup(self.market, state, self.keys.public.n, len(masked))
        if setup is None:
            return masked  # one participant: no masks were added
        reveals, unusable = self._reveals(state)
        try:
            return unmask(setup, self.market.round_keys(state.spec_id, state.round),
                          state.participants, tuple(state.submitted), masked, reveals)
        except (DropoutRecoveryError, InvalidValueError) as exc:
            left_out = (f" (unusable reveals left out: {', '.join(unusable)})" if unusable
                        else "")
            raise DropoutRecoveryError(f"the sum cannot be unmasked: {exc}{left_out}. Nothing "
                                       "was used") from None

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
            why = ("some masks were not removed (a wrong share or key?)" if recovered else
                   "some masks did not cancel, or an update was not packed with this codec")
            raise AggregationError(f"the decrypted sum does not decode: {why}. Nothing was used")
        return codec.dequantize(q, contributions)

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
        result = self.market.close_round(spec_id, self.publish_model(), sender=self.address)
        self._checked.clear()  # the next round's updates are new blobs
        return result


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
        self.last_update: np.ndarray | None = None
        # (spec, round) -> (the round's seed, this owner's secrets for it). Fresh in every round
        # and after every reopening (a new seed): a dropout's revealed mask key must never
        # unmask another round. They live in this process only, as the data does.
        self._secrets: dict[tuple[int, int], tuple[bytes, Participant | None]] = {}
        self._opened: set[tuple[int, int, bytes]] = set()  # rounds whose shares this owner holds

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
        """Check the model (and that this owner's data fits it), then consent on chain."""
        model, _ = self.inspect(spec_id)
        tasks.check_data(model, self.data)  # before any gas: data that cannot train is refused
        return self.market.accept(spec_id, sender=self.address)

    # -- the round's keys and shares -------------------------------------------------------------

    def _round(self, spec_id: int, round_no: int) -> RoundState:
        state = self.market.round_state(spec_id, of=[self.address])
        spec = state.spec
        if spec.finished or round_no != spec.round or not spec.opened:
            raise ProtocolError(f"round {round_no} of spec {spec_id} is not open (the company "
                                "opens a round with open_round)")
        if self.address not in state.participants:
            raise ProtocolError(f"{self.name} is not a participant of round {round_no}")
        return state

    def _setup(self, state: RoundState) -> RoundSetup | None:
        public, codec = self._key_from(state.spec)
        model, _ = self.inspect(state.spec_id)
        return round_setup(self.market, state, public.n,
                           codec.n_ciphertexts(tasks.n_params(model), public))

    def _secret(self, state: RoundState) -> Participant | None:
        """This owner's secrets for the round (None: a lone participant, no masks)."""
        held = self._secrets.get((state.spec_id, state.round))
        if held is None or held[0] != state.info.seed:
            raise ProtocolError(f"{self.name} has no keys for this opening of round "
                                f"{state.round}: advertise them first (advertise_keys)")
        return held[1]

    def advertise_keys(self, spec_id: int, round_no: int) -> TxResult:
        """Fresh keys for this round (Bonawitz's AdvertiseKeys): two X25519 public keys and a
        commitment to a fresh self-mask seed go on chain; the secrets stay here."""
        state = self._round(spec_id, round_no)
        setup = self._setup(state)
        me = None if setup is None else Participant(self.address, setup)
        self._secrets[spec_id, round_no] = (state.info.seed, me)
        keys = (me.public_keys() if me is not None else  # nobody to mask with: any keys
                PublicKeys(*(secrets.token_bytes(32) for _ in range(3))))
        return self.market.advertise_keys(spec_id, round_no, keys, sender=self.address)

    def post_shares(self, spec_id: int, round_no: int, *,
                    masked: bool = True) -> tuple[str, TxResult]:
        """Deal Shamir shares of this round's mask key and self-mask seed to the neighbours,
        each pair sealed to its recipient (Bonawitz's ShareKeys over SecAgg+'s graph).

        Needs every participant's advertised keys (the contract waits for them).
        ``masked=False`` (the plain comparison run, no masks) or a lone participant: an empty
        shares blob.
        """
        state = self._round(spec_id, round_no)
        me = self._secret(state)
        sealed: dict[str, bytes] = {}
        if masked and me is not None:
            sealed = me.deal_shares(self.market.round_keys(spec_id, round_no))
        blob = self.market.blobs.put_json({**sealed_to_json(self.address, sealed),
                                           "spec_id": spec_id, "round": round_no})
        return blob, self.market.post_shares(spec_id, round_no, blob, sender=self.address)

    def check_shares(self, spec_id: int, round_no: int) -> None:
        """Open the shares each neighbour dealt this owner, before masking anything.

        A neighbour whose shares are missing or do not open could drop out and leave the round
        unrecoverable: the time to refuse is before submitting (:class:`ProtocolError` naming
        it; the company may then open the round again without it).
        """
        self._open_shares(self._round(spec_id, round_no))

    def _open_shares(self, state: RoundState) -> Participant | None:
        me = self._secret(state)
        key = (state.spec_id, state.round, state.info.seed)
        if me is None or key in self._opened:
            return me
        for peer in me.setup.neighbours(self.address):
            who = self.market.name(peer)
            try:
                blob = self.market.shares_blob(state.spec_id, state.round, peer)
                if blob is None:
                    raise BlobError("no shares on chain")
                sealed = sealed_from_json(self.market.blobs.get_json(blob), self.address)
                me.receive_shares({peer: sealed})  # opens, or refuses, this neighbour's share
            except OmteachError as exc:
                raise ProtocolError(
                    f"{who}'s key shares hold no usable share for {self.name}: if {who} "
                    f"dropped out, its masks could not be removed. Ask the company to open the "
                    f"round again without {who} ({exc})") from None
        self._opened.add(key)
        return me

    def train(self, spec_id: int, round_no: int) -> np.ndarray:
        """Train the spec's current model on this owner's data; the clipped update."""
        model, weights = self.inspect(spec_id)
        return tasks.train(model, weights, self.data, seed=self.seed * 1000 + round_no)

    def submit(self, spec_id: int, round_no: int, update: np.ndarray, *, encrypted: bool = True,
               encryptor: Callable[[list[int]], list[int]] | None = None,
               timings: dict[str, float] | None = None) -> tuple[str, TxResult]:
        """Pack, double-mask, encrypt; post the id, then the blob.

        The mask is this owner's self-mask plus its pairwise masks with its neighbours (the
        masked input of a zero vector is exactly the mask, added to the packed plaintexts mod
        n). The id goes on chain *before* the bytes are uploaded: if the contract refuses (the
        submit deadline passed, so this owner's pairwise masks may be revealed), the update is
        never published. Returns (blob id, transaction result).
        """
        timings = {} if timings is None else timings
        self.last_update = update  # stays on this owner's machine (the notebook compares)
        if encrypted:
            with timed(timings, "masking"):
                state = self._round(spec_id, round_no)
                me = self._open_shares(state)
                public, codec = self._key_from(state.spec)
                mask = (None if me is None else
                        me.masked_input([0] * me.setup.length, state.participants))
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

    def reveal_shares(self, spec_id: int, round_no: int, *, masked: bool = True,
                      state: RoundState | None = None) -> tuple[str, TxResult]:
        """Reveal the shares this owner holds: of each surviving neighbour's (and its own)
        self-mask seed, and of each dropped neighbour's mask key; never both for one owner.

        Survivors and dropouts are read from chain after the submissions ended, never taken
        from the company; the rule is enforced by :meth:`Participant.reveal`, which raises
        :class:`~omteach.errors.RevealRefusedError` (nothing revealed) for a request that
        would unmask anyone. ``masked=False`` (the plain comparison run): an empty reveal.
        ``state``: the round as the caller just read it (a student's step), spared a read.
        """
        if state is None or (state.spec_id, state.round) != (spec_id, round_no):
            state = self._round(spec_id, round_no)
        if not state.spec.recovering:
            raise ProtocolError("the company has not ended this round's submissions")
        # Who submitted, from chain: the caller's read when it holds every submission (a
        # student's step reads the whole round), else one more read; never the company's word.
        survivors = (list(state.submitted) if len(state.submitted) == state.submission_count
                     else self.market.submitters(spec_id, round_no))
        if self.address not in survivors:
            raise ProtocolError(f"{self.name} did not submit in round {round_no}: it reveals "
                                "nothing")
        me = self._open_shares(state) if masked else None
        if me is None:
            reveal = Reveal(self.address, {}, {})
        else:
            reveal = me.reveal(survivors, [p for p in state.participants if p not in survivors])
        # The bytes travel in the reveal's transaction (no blob first: issue 21); the contract
        # keeps their sha256 id, which this returns.
        data = canonical_json({**reveal.to_json(), "kind": REVEAL_KIND, "spec_id": spec_id,
                               "round": round_no}, ensure_ascii=True)
        return blob_id(data), self.market.reveal_shares(spec_id, round_no, data,
                                                        sender=self.address)

    def withdraw(self) -> TxResult:
        """Take this owner's credited bounties out of the market."""
        return self.market.withdraw(sender=self.address)
