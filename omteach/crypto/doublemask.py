"""Secure aggregation with double masks (Bonawitz et al., CCS 2017) over SecAgg+ neighbourhoods.

The company must learn the sum of the survivors' updates and nothing else, even about an update
that arrives after its owner was declared dropped. Each participant ``u`` of a round holds:

- a key pair ``(c_u, C_u)`` (X25519) to encrypt the key shares it deals to its neighbours;
- a key pair ``(s_u, S_u)`` (X25519) to agree a pairwise mask with each neighbour ``v``: both
  compute the same X25519 secret, HKDF turns it into a seed, SHAKE-256 stretches the seed into a
  mask; the one earlier in the round's order adds it, the other subtracts it, so the pair's masks
  cancel in the sum;
- a random self-mask seed ``b_u``: its mask is added too, so that even when ``u``'s pairwise masks
  are removed (because ``u`` was declared dropped) its input stays hidden.

``u`` submits ``y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv) (mod R)``. Before that it Shamir-shares
(threshold ``t``) its mask key ``s_u`` and its seed ``b_u`` among its ``k`` neighbours and itself,
each neighbour's pair of shares encrypted and authenticated (ChaCha20-Poly1305) under a key only
``u`` and that neighbour can agree. After the submit deadline the survivors reveal, for each
neighbour who dealt shares but did not submit, its share of ``s_u`` (so the company can remove the
dropout's pairwise masks from the survivors' sum), and for each neighbour who submitted, its share
of ``b_u`` (so the company can remove the self-masks): **never both for one participant**. Every
honest participant enforces that in :meth:`Participant.reveal`, so an update that reaches the
company late, after its owner's pairwise masks were revealed, still hides behind its self-mask.

The neighbourhoods are SecAgg+'s (Bell et al., CCS 2020; :mod:`omteach.crypto.neighbours`): masks
and shares only between neighbours of a random ``k``-regular graph drawn from the round's seed.

The protocol's rounds, named as in Bonawitz et al., and what the course's round does with each
(their ConsistencyCheck round, which makes every honest participant see the same survivor set,
is the chain itself: everyone reads who submitted from the contract):

0. *AdvertiseKeys*: :meth:`Participant.public_keys` (96 bytes: ``C_u``, ``S_u`` and, added here,
   a hash commitment to ``b_u`` so the company can check a rebuilt seed). Small enough for the
   chain; the chain's signed transaction authenticates them.
1. *ShareKeys*: :meth:`Participant.deal_shares` gives one sealed ciphertext per neighbour
   (94 bytes each): an off-chain blob (:func:`sealed_to_json`) whose id goes on chain.
2. *MaskedInputCollection*: :meth:`Participant.receive_shares` opens the shares dealt to it
   (:func:`sealed_from_json` picks each out of its sender's blob; altered or mis-addressed ones
   are refused), then :meth:`Participant.masked_input`.
4. *Unmasking*: :meth:`Participant.reveal`, given the sets the chain holds (who dealt shares, who
   submitted), returns a :class:`Reveal`; the company calls :func:`unmask` on the sum of the
   survivors' masked inputs.

Every participant uses fresh keys and a fresh seed in every round (a new :class:`Participant`):
a dropout's revealed mask key must never unmask a later round.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from omteach.crypto import shamir
from omteach.crypto.neighbours import components, neighbour_graph
from omteach.errors import (
    DropoutRecoveryError,
    InvalidValueError,
    RevealRefusedError,
    ShareRejectedError,
)

SHARE_PRIME = 2**256 + 297
"""The Shamir field: the smallest prime above 2^256, so a 32-byte key or seed fits in one share."""

_Y_BYTES = 33  # one share of SHARE_PRIME
_NONCE_BYTES = 12
SEALED_SHARE_BYTES = _NONCE_BYTES + 2 * _Y_BYTES + 16
"""Bytes of one sealed pair of shares: nonce, two field elements, Poly1305 tag."""

KEY_SHARE, SEED_SHARE = "key", "seed"


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _commit(seed: bytes) -> bytes:
    # A hash of a 32-byte random seed hides it; it lets the company check a rebuilt seed.
    return hashlib.sha256(b"omteach-self-mask-commitment|" + seed).digest()


def _hkdf(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def expand(seed: bytes, length: int, modulus: int) -> list[int]:
    """The PRG: ``length`` uniform numbers mod ``modulus`` from a 32-byte seed (SHAKE-256).

    For a power of two each number takes exactly its bits (uniform); otherwise 128 extra bits are
    drawn and reduced, so the bias is below 2^-128.
    """
    exact = modulus & (modulus - 1) == 0
    bits = modulus.bit_length() - 1 if exact else modulus.bit_length() + 128
    width = (bits + 7) // 8
    stream = hashlib.shake_256(b"omteach-mask-prg|" + seed).digest(width * length)
    if exact:
        top = modulus - 1
        return [int.from_bytes(stream[i * width:(i + 1) * width], "big") & top
                for i in range(length)]
    return [int.from_bytes(stream[i * width:(i + 1) * width], "big") % modulus
            for i in range(length)]


@dataclass(frozen=True)
class RoundSetup:
    """What every participant and the company fix before any key is shared: read from the chain.

    ``participants``: the round's set in the chain's order (a participant's share x-coordinate is
    its position + 1, and the earlier of a pair adds their mask). ``seed``: the round's public
    seed (e.g. the hash of the block that opened the round), from which the neighbour graph is
    drawn. ``modulus``: the masks' group, ``Z_modulus`` (the Paillier ``n`` for packed plaintexts,
    or ``2**bits``). ``length``: numbers per input. ``k``, ``threshold``: from
    :func:`omteach.crypto.neighbours.choose_parameters`. ``context``: names the round (spec id,
    round number), so that nothing sealed or derived for one round opens in another.
    """

    participants: tuple[str, ...]
    seed: bytes
    modulus: int
    length: int
    k: int
    threshold: int
    context: bytes = b""
    graph: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    tag: bytes = field(init=False, repr=False, compare=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = tuple(self.participants)
        index = {p.lower(): i for i, p in enumerate(parts)}
        if len(index) != len(parts) or not all(isinstance(p, str) and p for p in parts):
            raise InvalidValueError("participants must be distinct, non-empty names")
        if not isinstance(self.modulus, int) or self.modulus < 2:
            raise InvalidValueError(f"the mask modulus must be a whole number >= 2, "
                                    f"got {self.modulus!r}")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise InvalidValueError(f"an input needs at least one number, got {self.length!r}")
        k = min(self.k, len(parts) - 1)
        if not isinstance(self.threshold, int) or not 2 <= self.threshold <= k + 1:
            raise InvalidValueError(f"the threshold must be from 2 to k + 1 = {k + 1} (the "
                                    f"neighbours and the owner hold one share each), "
                                    f"got {self.threshold!r}")
        object.__setattr__(self, "participants", parts)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "graph", neighbour_graph(len(parts), self.k, self.seed))
        # Everything the round agreed, hashed: keys derived from it differ if anyone disagrees.
        agreed = "|".join([*(p.lower() for p in parts), str(self.modulus), str(self.length),
                           str(self.k), str(self.threshold)]).encode()
        object.__setattr__(self, "tag", hashlib.sha256(
            b"omteach-round|" + self.context + b"|" + self.seed + b"|" + agreed).digest())

    def index(self, name: str) -> int:
        """A participant's position in the round (its share x-coordinate is this + 1)."""
        try:
            return self._index[name.lower()]
        except (KeyError, AttributeError):
            raise InvalidValueError(f"{name!r} is not a participant of this round") from None

    def name(self, index: int) -> str:
        """The participant at a position."""
        return self.participants[index]

    def neighbours(self, name: str) -> tuple[str, ...]:
        """The participants ``name`` masks with and deals shares to (SecAgg+'s graph)."""
        return tuple(self.participants[j] for j in self.graph[self.index(name)])

    def sign(self, me: str, other: str) -> int:
        """+1 if ``me`` adds the pair's mask (earlier in the round's order), -1 if it subtracts."""
        return 1 if self.index(me) < self.index(other) else -1


@dataclass(frozen=True)
class PublicKeys:
    """What a participant advertises (AdvertiseKeys): share-encryption key, mask-agreement key,
    and a commitment to its self-mask seed (so a rebuilt seed can be checked)."""

    cipher: bytes
    mask: bytes
    commitment: bytes

    def __post_init__(self) -> None:
        for part in (self.cipher, self.mask, self.commitment):
            if not isinstance(part, bytes) or len(part) != 32:
                raise InvalidValueError("advertised keys are three 32-byte values")

    def to_json(self) -> dict[str, str]:
        """Hex fields, for a blob or a contract call."""
        return {"cipher": self.cipher.hex(), "mask": self.mask.hex(),
                "commitment": self.commitment.hex()}

    @classmethod
    def from_json(cls, doc: Any) -> PublicKeys:
        """Read :meth:`to_json`'s form; anything else raises :class:`InvalidValueError`."""
        try:
            return cls(bytes.fromhex(doc["cipher"]), bytes.fromhex(doc["mask"]),
                       bytes.fromhex(doc["commitment"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InvalidValueError("not a participant's advertised keys") from None


@dataclass(frozen=True)
class Reveal:
    """One survivor's answer in the Unmasking phase: share y-values, by the owner of the secret.

    ``keys``: shares of dropped owners' mask keys. ``seeds``: shares of survivors' self-mask
    seeds. An owner never appears in both (an honest participant refuses to answer otherwise).
    """

    sender: str
    keys: Mapping[str, int]
    seeds: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        """Hex y-values, for a blob."""
        return {"sender": self.sender, "keys": {u: f"{y:x}" for u, y in self.keys.items()},
                "seeds": {u: f"{y:x}" for u, y in self.seeds.items()}}

    @classmethod
    def from_json(cls, doc: Any) -> Reveal:
        """Read :meth:`to_json`'s form; anything else raises :class:`InvalidValueError`."""
        try:
            keys = {str(u): int(y, 16) for u, y in doc["keys"].items()}
            seeds = {str(u): int(y, 16) for u, y in doc["seeds"].items()}
            return cls(str(doc["sender"]), keys, seeds)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InvalidValueError("not a reveal of key shares") from None


SHARES_KIND = "omteach.SealedKeyShares"


def sealed_to_json(sender: str, sealed: Mapping[str, bytes]) -> dict[str, Any]:
    """The blob a participant publishes in ShareKeys: recipient -> hex ciphertext.

    Public on purpose: each ciphertext opens only for its recipient, so the blob can travel
    through the chain (or any store) and its id go on chain.
    """
    return {"kind": SHARES_KIND, "sender": sender,
            "shares": {v: c.hex() for v, c in sealed.items()}}


def sealed_from_json(doc: Any, recipient: str) -> bytes:
    """The ciphertext a ShareKeys blob holds for ``recipient`` (then :meth:`receive_shares`).

    A blob of another kind, or with no well-formed ciphertext for ``recipient``, raises
    :class:`ShareRejectedError`: the recipient cannot hold that sender's share.
    """
    try:
        if doc["kind"] != SHARES_KIND:
            raise TypeError(doc["kind"])
        shares = {str(v).lower(): c for v, c in doc["shares"].items()}
        return bytes.fromhex(shares[recipient.lower()])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ShareRejectedError(f"the key shares blob holds no share for {recipient}") from None


def _share_context(setup: RoundSetup, sender: str, recipient: str) -> bytes:
    # Direction matters: u -> v and v -> u agree the same X25519 secret but use different keys.
    return (b"omteach-share|" + setup.tag + b"|" + sender.lower().encode() + b"|"
            + recipient.lower().encode())


def _pair_context(setup: RoundSetup, a: str, b: str) -> bytes:
    lo, hi = sorted((a.lower(), b.lower()))
    return b"omteach-pairwise-mask|" + setup.tag + b"|" + lo.encode() + b"|" + hi.encode()


def pairwise_seed(setup: RoundSetup, private: X25519PrivateKey, mine: str, other: str,
                  their_mask_key: bytes) -> bytes:
    """The seed ``mine`` and ``other`` share for their pairwise mask (Bonawitz: s_{u,v}).

    X25519 agreement, then HKDF bound to the round: the company computes the same from a dropped
    participant's rebuilt mask key and a survivor's public one.
    """
    try:
        agreed = private.exchange(X25519PublicKey.from_public_bytes(their_mask_key))
    except ValueError:
        raise InvalidValueError(f"{other}'s mask key is not a usable X25519 key") from None
    return _hkdf(agreed, setup.seed, _pair_context(setup, mine, other))


class Participant:
    """One participant's side of a round: its secrets, the shares it holds, its reveal rules.

    Make a new one for every round (fresh keys and seed). Nothing secret leaves it except through
    :meth:`deal_shares` (encrypted to each neighbour) and :meth:`reveal` (one kind of share per
    participant, after the submit deadline).
    """

    def __init__(self, name: str, setup: RoundSetup):
        self.name = setup.name(setup.index(name))
        self.setup = setup
        self._cipher = X25519PrivateKey.generate()
        self._mask = X25519PrivateKey.generate()
        self._seed = secrets.token_bytes(32)
        # owner -> (share of its mask key, share of its seed) at this participant's x-coordinate
        self._held: dict[str, tuple[int, int]] = {}
        self._peer_keys: dict[str, PublicKeys] = {}
        self._revealed: dict[str, str] = {}  # owner -> KEY_SHARE or SEED_SHARE, once given

    @property
    def x(self) -> int:
        """This participant's Shamir x-coordinate."""
        return self.setup.index(self.name) + 1

    # -- phase 0: AdvertiseKeys --------------------------------------------------------------

    def public_keys(self) -> PublicKeys:
        """Bonawitz's AdvertiseKeys: ``(C_u, S_u)`` and a commitment to ``b_u``."""
        return PublicKeys(_raw_public(self._cipher.public_key()),
                          _raw_public(self._mask.public_key()), _commit(self._seed))

    # -- phase 1: ShareKeys ------------------------------------------------------------------

    def _share_key(self, sender: str, recipient: str, their_cipher_key: bytes) -> bytes:
        other = recipient if sender == self.name else sender
        try:
            agreed = self._cipher.exchange(X25519PublicKey.from_public_bytes(their_cipher_key))
        except ValueError:
            raise InvalidValueError(f"{other}'s share key is not a usable X25519 key") from None
        return _hkdf(agreed, self.setup.seed, _share_context(self.setup, sender, recipient))

    def deal_shares(self, advertised: Mapping[str, PublicKeys]) -> dict[str, bytes]:
        """Bonawitz's ShareKeys over SecAgg+'s graph: a sealed share pair per neighbour.

        ``advertised``: the keys the chain holds, by participant (neighbours who advertised none
        get no share and are left out of the round's masks). Splits the mask key ``s_u`` and the
        seed ``b_u`` into ``t``-of-``(k + 1)`` Shamir shares at the neighbours' x-coordinates and
        its own (kept), and encrypts each neighbour's two shares to it, bound to sender,
        recipient and round. Returns recipient -> ciphertext.
        """
        setup = self.setup
        if self.name in self._held:
            # Once per round: neighbours keep the first shares, new ones would not match them.
            raise InvalidValueError(f"{self.name} already dealt its shares this round")
        advertised = {setup.name(setup.index(u)): keys for u, keys in advertised.items()}
        peers = [v for v in setup.neighbours(self.name) if v in advertised]
        if len(peers) + 1 < setup.threshold:
            raise InvalidValueError(
                f"only {len(peers)} of {self.name}'s neighbours advertised keys: a threshold of "
                f"{setup.threshold} needs {setup.threshold - 1}. The round cannot go on")
        self._peer_keys = {v: advertised[v] for v in peers}
        xs = [self.x] + [setup.index(v) + 1 for v in peers]
        key_int = int.from_bytes(self._mask.private_bytes_raw(), "big")
        key_points = shamir.split(key_int, xs, setup.threshold, prime=SHARE_PRIME)
        seed_points = shamir.split(int.from_bytes(self._seed, "big"), xs, setup.threshold,
                                   prime=SHARE_PRIME)
        self._held[self.name] = (key_points[self.x], seed_points[self.x])
        sealed = {}
        for v, x in zip(peers, xs[1:], strict=True):
            plain = (key_points[x].to_bytes(_Y_BYTES, "big")
                     + seed_points[x].to_bytes(_Y_BYTES, "big"))
            context = _share_context(setup, self.name, v)
            nonce = secrets.token_bytes(_NONCE_BYTES)
            aead = ChaCha20Poly1305(self._share_key(self.name, v, advertised[v].cipher))
            sealed[v] = nonce + aead.encrypt(nonce, plain, context)
        return sealed

    # -- phase 2: MaskedInputCollection --------------------------------------------------------

    def receive_shares(self, sealed: Mapping[str, bytes]) -> None:
        """Open the shares each neighbour dealt to this participant (sender -> ciphertext).

        Each must open under the key this participant agrees with its sender, for this round,
        from that sender, to this recipient: an altered, replayed or mis-addressed ciphertext
        raises :class:`ShareRejectedError` (and nothing of it is kept).
        """
        opened = {}
        for sender, blob in sealed.items():
            if sender not in self._peer_keys:
                raise ShareRejectedError(f"{sender} is not a neighbour of {self.name} who "
                                         "advertised keys: its share is refused")
            if not isinstance(blob, bytes) or len(blob) != SEALED_SHARE_BYTES:
                raise ShareRejectedError(f"the share {sender} dealt to {self.name} is not "
                                         f"{SEALED_SHARE_BYTES} bytes: refused")
            aead = ChaCha20Poly1305(
                self._share_key(sender, self.name, self._peer_keys[sender].cipher))
            try:
                plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:],
                                     _share_context(self.setup, sender, self.name))
            except InvalidTag:
                raise ShareRejectedError(
                    f"the share from {sender} does not open for {self.name}: it was altered, "
                    "or it is addressed to someone else or another round. Refused") from None
            opened[sender] = (int.from_bytes(plain[:_Y_BYTES], "big"),
                              int.from_bytes(plain[_Y_BYTES:], "big"))
        self._held.update(opened)

    def masked_input(self, x: Sequence[int], sharers: Collection[str]) -> list[int]:
        """Bonawitz's masked input: ``x + PRG(b_u) + Σ_v ±PRG(s_uv) (mod R)``.

        ``sharers``: who dealt shares (the chain's record, Bonawitz's U2); the pairwise masks are
        with the neighbours among them, each of whose shares this participant must hold (else a
        dropout among them could not be recovered, so it refuses before masking anything).
        """
        setup = self.setup
        if len(x) != setup.length or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < setup.modulus
                for v in x):
            raise InvalidValueError(f"an input is {setup.length} whole numbers from 0 to "
                                    f"modulus - 1; got {len(x)} values")
        sharing = {s.lower() for s in sharers}
        if self.name.lower() not in sharing or self.name not in self._held:
            raise InvalidValueError(f"{self.name} did not deal shares this round: it cannot "
                                    "submit a masked input")
        total = list(x)
        for i, m in enumerate(expand(self._seed, setup.length, setup.modulus)):
            total[i] = (total[i] + m) % setup.modulus
        for v in setup.neighbours(self.name):
            if v.lower() not in sharing:
                continue
            if v not in self._held or v not in self._peer_keys:
                raise ShareRejectedError(f"{self.name} holds no share from {v}, who dealt "
                                         f"shares: if {v} dropped, its masks could not be "
                                         "removed. Refused before masking")
            seed = pairwise_seed(setup, self._mask, self.name, v, self._peer_keys[v].mask)
            sign = setup.sign(self.name, v)
            for i, m in enumerate(expand(seed, setup.length, setup.modulus)):
                total[i] = (total[i] + sign * m) % setup.modulus
        return total

    # -- phase 3: Unmasking ----------------------------------------------------------------------

    def reveal(self, survivors: Collection[str], dropped: Collection[str]) -> Reveal:
        """Bonawitz's Unmasking, with its rule enforced here: one kind of share per participant.

        ``survivors``: who submitted a masked input (U3); ``dropped``: who dealt shares but did
        not submit (U2 minus U3), both as the chain records them, never as the company says.
        Returns this participant's shares of each dropped neighbour's mask key and of each
        surviving neighbour's (and its own) self-mask seed.

        Refused whole (:class:`RevealRefusedError`, nothing revealed), if the request names a
        participant in both sets, asks now for the other kind of share of a participant it
        answered for before, does not list this participant as a survivor, lists fewer than
        ``t`` survivors, or leaves the survivors' graph in pieces (the company could then read
        each piece's sum).
        """
        setup = self.setup
        alive = {setup.name(setup.index(u)) for u in survivors}
        gone = {setup.name(setup.index(u)) for u in dropped}
        both = alive & gone
        if both:
            raise RevealRefusedError(
                f"{', '.join(sorted(both))} listed as dropped and as submitted: revealing both "
                "kinds of share would unmask an update, so neither is revealed")
        if self.name not in alive:
            raise RevealRefusedError(f"{self.name} is not listed as having submitted: it "
                                     "reveals nothing")
        if len(alive) < setup.threshold:
            raise RevealRefusedError(f"only {len(alive)} survivor(s), fewer than the threshold "
                                     f"{setup.threshold}: the sum would say too much about them")
        pieces = components(setup.graph, (setup.index(u) for u in alive))
        if len(pieces) > 1:
            raise RevealRefusedError(
                f"the survivors' graph falls into {len(pieces)} pieces: the company could read "
                "each piece's sum, so nothing is revealed")
        wanted = {u: KEY_SHARE for u in gone if u in self._held and u != self.name}
        wanted.update({u: SEED_SHARE for u in alive if u in self._held})
        clash = sorted(u for u, kind in wanted.items() if self._revealed.get(u, kind) != kind)
        if clash:
            raise RevealRefusedError(
                f"{self.name} already revealed the other kind of share of {', '.join(clash)}: "
                "both kinds would unmask an update, so this request gets nothing")
        self._revealed.update(wanted)
        return Reveal(self.name,
                      {u: self._held[u][0] for u, kind in wanted.items() if kind == KEY_SHARE},
                      {u: self._held[u][1] for u, kind in wanted.items() if kind == SEED_SHARE})


# -- the company's side ------------------------------------------------------------------------


def add_inputs(inputs: Iterable[Sequence[int]], modulus: int) -> list[int]:
    """The sum of masked inputs, mod ``modulus`` (what adding the Paillier ciphertexts gives)."""
    total: list[int] | None = None
    for y in inputs:
        if total is not None and len(y) != len(total):
            raise InvalidValueError(f"a masked input of {len(y)} numbers among inputs of "
                                    f"{len(total)}: refused before adding")
        total = list(y) if total is None else [
            (a + b) % modulus for a, b in zip(total, y, strict=True)]
    if total is None:
        raise InvalidValueError("no inputs to add")
    return [v % modulus for v in total]


def _rebuild(setup: RoundSetup, owner: str, kind: str, reveals: Mapping[str, Reveal],
             holders: Iterable[str]) -> int:
    """A secret of ``owner`` from the revealed shares of its holders (at least ``t``)."""
    points = {}
    for h in holders:
        r = reveals.get(h)
        shares = None if r is None else (r.keys if kind == KEY_SHARE else r.seeds)
        if shares is not None and owner in shares:
            points[setup.index(h) + 1] = shares[owner]
    what = "mask key" if kind == KEY_SHARE else "self-mask seed"
    if len(points) < setup.threshold:
        raise DropoutRecoveryError(
            f"{len(points)} share(s) of {owner}'s {what} were revealed, the threshold is "
            f"{setup.threshold}: its masks cannot be removed")
    try:
        secret = shamir.reconstruct(points, setup.threshold, prime=SHARE_PRIME)
    except InvalidValueError as exc:
        raise DropoutRecoveryError(f"the shares of {owner}'s {what} disagree: {exc}") from None
    if secret >= 2**256:
        raise DropoutRecoveryError(f"the shares of {owner}'s {what} rebuild no 32-byte secret: "
                                   "at least one is wrong")
    return secret


def unmask(setup: RoundSetup, advertised: Mapping[str, PublicKeys], sharers: Collection[str],
           survivors: Collection[str], masked_sum: Sequence[int],
           reveals: Mapping[str, Reveal]) -> list[int]:
    """The company's last step (Bonawitz's Unmasking, server side): the survivors' plain sum.

    ``masked_sum``: the sum mod R of the survivors' masked inputs. ``sharers``: who dealt shares
    (U2); ``survivors``: who submitted (U3, within U2); ``reveals``: survivor -> its
    :class:`Reveal`. Rebuilds each survivor's self-mask seed (checked against its commitment) and
    removes its self-mask; rebuilds each dropout's mask key (checked against its advertised key)
    and removes the pairwise masks it shared with surviving neighbours. Too few or inconsistent
    shares raise :class:`~omteach.errors.DropoutRecoveryError`: never a wrong sum.
    """
    modulus, length = setup.modulus, setup.length
    if len(masked_sum) != length:
        raise InvalidValueError(f"the masked sum has {len(masked_sum)} numbers, not {length}")
    u2 = {setup.name(setup.index(u)) for u in sharers}
    u3 = {setup.name(setup.index(u)) for u in survivors}
    if not u3 <= u2:
        raise InvalidValueError("every survivor must have dealt shares")
    advertised = {setup.name(setup.index(u)): keys for u, keys in advertised.items()}
    unknown = sorted(u for u in u2 if u not in advertised)
    if unknown:
        raise InvalidValueError(f"no advertised keys for {', '.join(unknown)}")
    # Only survivors answer; a reveal filed under someone else's name is not theirs.
    by_survivor: dict[str, Reveal] = {}
    for sender, r in reveals.items():
        name = setup.name(setup.index(sender))
        if name in u3 and r.sender.lower() == name.lower():
            by_survivor[name] = r
    reveals = by_survivor
    total = [v % modulus for v in masked_sum]
    for u in sorted(u3, key=setup.index):
        seed = _rebuild(setup, u, SEED_SHARE, reveals, (u, *setup.neighbours(u))).to_bytes(
            32, "big")
        if _commit(seed) != advertised[u].commitment:
            raise DropoutRecoveryError(f"the rebuilt self-mask seed of {u} does not match its "
                                       "commitment: at least one revealed share is wrong")
        for i, m in enumerate(expand(seed, length, modulus)):
            total[i] = (total[i] - m) % modulus
    for u in sorted(u2 - u3, key=setup.index):
        raw = _rebuild(setup, u, KEY_SHARE, reveals, setup.neighbours(u)).to_bytes(32, "big")
        key = X25519PrivateKey.from_private_bytes(raw)
        if _raw_public(key.public_key()) != advertised[u].mask:
            raise DropoutRecoveryError(f"the rebuilt mask key of {u} does not match the key it "
                                       "advertised: at least one revealed share is wrong")
        for v in setup.neighbours(u):
            if v not in u3:
                continue  # masks between two dropouts were never added to anything
            seed = pairwise_seed(setup, key, u, v, advertised[v].mask)
            sign = setup.sign(v, u)  # what v added
            for i, m in enumerate(expand(seed, length, modulus)):
                total[i] = (total[i] - sign * m) % modulus
    return total
