"""Secure aggregation by pairwise masks, with dropout recovery (Bonawitz et al., CCS 2017).

Each pair of data owners agrees on a secret seed by Diffie-Hellman: each publishes ``g^a mod p``
(the id of that key goes on chain when they accept a spec), and both compute ``g^(ab) mod p``
without anyone else learning it. From the seed each pair expands a mask, one number modulo the
Paillier modulus ``n`` per packed plaintext, fresh for each round. The owner earlier in address
order adds it, the other subtracts it. Every owner adds their masks to their packed update
before encrypting, so:

- one owner's ciphertext decrypts to their update plus masks: uniformly random numbers mod n,
  which tell the key holder nothing about that update;
- in the sum of all owners' ciphertexts every mask appears once with + and once with -, so the
  decrypted sum is exactly the sum of the updates.

Dropouts: if a participant does not submit, its masks no longer cancel. So when the round's set
is fixed, each owner splits each of its round seeds by Shamir's scheme (threshold ``t``, see
:mod:`omteach.crypto.shamir`) and gives one share to each other participant, sealed with the key
it shares with that participant (so the shares blob can be public). If the owner drops, any ``t``
survivors reveal their shares of its seeds; AI Inc. rebuilds them and removes the dropped owner's
masks from the survivors' sum (:func:`dropout_correction`). The round seeds are one-way functions
of the pair seeds, so revealing them exposes this round's masks and nothing else.

What this does not do: Bonawitz's *double masking* (a self-mask per owner, of which the server
may learn either the seed or the dropout shares, never both). Without it, an update that arrives
after its owner's masks were revealed would be readable; here the contract refuses such an update
(``declare_dropouts`` closes submissions before any share is revealed), and owners post the id of
an update on chain before they upload its bytes. Nor does it share *one* key per owner over a
sparse graph: each owner shares all its n - 1 pair seeds with all n - 1 others. Both are in
:mod:`omteach.crypto.doublemask` and :mod:`omteach.crypto.neighbours`, which the round is to use
in place of this module.

The group is the 2048-bit MODP group 14 of RFC 3526; seeds are SHA-256 of the shared secret,
masks are SHAKE-256 output reduced mod n (with 128 extra bits, so the bias is negligible).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from omteach.crypto import shamir
from omteach.errors import InvalidValueError

# RFC 3526, group 14: a 2048-bit safe prime, generator 2.
MODP_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)
MODP_G = 2


class MaskKey(NamedTuple):
    """An owner's Diffie-Hellman key for agreeing masks: ``public`` is shared, ``private`` kept."""

    private: int
    public: int

    @classmethod
    def generate(cls) -> MaskKey:
        """A fresh key from the operating system's random source."""
        a = secrets.randbelow(MODP_P - 3) + 2
        return cls(a, pow(MODP_G, a, MODP_P))

    def shared_seed(self, their_public: int) -> bytes:
        """The secret seed this owner shares with the owner whose public key is given."""
        if not isinstance(their_public, int) or not 1 < their_public < MODP_P - 1:
            raise InvalidValueError("not a valid masking public key (expected 1 < y < p - 1)")
        return _shared_seed(self.private, their_public)


@functools.lru_cache(maxsize=256)
def _shared_seed(private: int, their_public: int) -> bytes:
    # Cached: a pair agrees once per spec, not once per round (a 2048-bit exponentiation).
    return hashlib.sha256(pow(their_public, private, MODP_P).to_bytes(256, "big")).digest()


def round_seed(pair_seed: bytes, spec_id: int, round_no: int) -> bytes:
    """The seed a pair uses in one round of one spec: a one-way function of their pair seed.

    Revealing it (to recover a dropped owner) exposes that round's mask, never the pair seed.
    """
    return hashlib.sha256(b"omteach-round-seed|%d|%d|" % (spec_id, round_no) + pair_seed).digest()


def expand_mask(seed: bytes, count: int, n: int) -> list[int]:
    """``count`` pseudo-random numbers mod ``n`` from a round seed."""
    width = (n.bit_length() + 128 + 7) // 8
    return [int.from_bytes(hashlib.shake_256(seed + b"|%d" % i).digest(width), "big") % n
            for i in range(count)]


def _sign(me: str, other: str) -> int:
    # Addresses compare case-insensitively (checksummed or lower-case hex).
    if me.lower() == other.lower():
        raise InvalidValueError(f"{me} is listed among their own peers")
    return 1 if me.lower() < other.lower() else -1


def mask_from_round_seeds(me: str, round_seeds: Mapping[str, bytes], count: int,
                          n: int) -> list[int]:
    """This owner's total mask: + the mask shared with each later peer, - with each earlier one.

    ``round_seeds`` maps every *other* participant (by address, or any name) to the round seed
    this owner shares with it.
    """
    total = [0] * count
    for other, seed in round_seeds.items():
        sign = _sign(me, other)
        for i, m in enumerate(expand_mask(seed, count, n)):
            total[i] = (total[i] + sign * m) % n
    return total


def pairwise_mask(me: str, key: MaskKey, peers: Mapping[str, int], round_no: int, count: int,
                  n: int, *, spec_id: int = 0) -> list[int]:
    """This owner's total mask for a round, from its key and every other participant's public key.

    ``peers`` maps every *other* owner (address or name) to their masking public key.
    """
    seeds = {other: round_seed(key.shared_seed(public), spec_id, round_no)
             for other, public in peers.items()}
    return mask_from_round_seeds(me, seeds, count, n)


def apply_mask(plaintexts: Sequence[int], mask: Sequence[int], n: int) -> list[int]:
    """Add a mask to packed plaintexts, modulo n."""
    if len(mask) != len(plaintexts):
        raise InvalidValueError(
            f"the mask has {len(mask)} numbers but there are {len(plaintexts)} plaintexts")
    return [(p + m) % n for p, m in zip(plaintexts, mask, strict=True)]


# -- dropout recovery: Shamir shares of the round seeds, sealed to each recipient ---------------

_Y_BYTES = (shamir.PRIME.bit_length() + 7) // 8


def _box_stream(pair_seed: bytes, context: bytes, length: int) -> tuple[bytes, bytes]:
    stream = hashlib.shake_256(b"omteach-share-box|" + pair_seed + context).digest(length)
    mac_key = hashlib.sha256(b"omteach-share-mac|" + pair_seed + context).digest()
    return stream, mac_key


def seal(pair_seed: bytes, context: bytes, plain: bytes) -> str:
    """Encrypt and authenticate ``plain`` for the one peer who shares ``pair_seed`` (hex out).

    A one-time key stream (SHAKE-256 of the pair seed, a context naming spec, round, sender and
    recipient, and a fresh random nonce, so no key stream is ever used twice, even when a round
    is opened again and the shares are dealt anew) and an HMAC-SHA256 tag.
    """
    nonce = secrets.token_bytes(16)
    stream, mac_key = _box_stream(pair_seed, context + nonce, len(plain))
    body = bytes(a ^ b for a, b in zip(plain, stream, strict=True))
    return (nonce + body + hmac.new(mac_key, nonce + body, hashlib.sha256).digest()).hex()


def unseal(pair_seed: bytes, context: bytes, sealed: str) -> bytes:
    """Open :func:`seal`'s output; a wrong key or altered bytes raise :class:`InvalidValueError`."""
    try:
        raw = bytes.fromhex(sealed)
    except (TypeError, ValueError):
        raise InvalidValueError("a sealed share is not hex") from None
    if len(raw) < 48:
        raise InvalidValueError("a sealed share is too short to carry its nonce and tag")
    nonce, body, tag = raw[:16], raw[16:-32], raw[-32:]
    stream, mac_key = _box_stream(pair_seed, context + nonce, len(body))
    if not hmac.compare_digest(tag, hmac.new(mac_key, nonce + body, hashlib.sha256).digest()):
        raise InvalidValueError("a sealed share does not open with this key: it was altered, "
                                "or it is not for this recipient")
    return bytes(a ^ b for a, b in zip(body, stream, strict=True))


def share_context(spec_id: int, round_no: int, sender: str, recipient: str) -> bytes:
    """What a sealed share is bound to: the spec, the round, who sent it and to whom."""
    return f"|{spec_id}|{round_no}|{sender.lower()}|{recipient.lower()}".encode()


def deal_shares(me: str, participants: Sequence[str], round_seeds: Mapping[str, bytes],
                pair_seeds: Mapping[str, bytes], threshold: int, *, spec_id: int,
                round_no: int) -> dict[str, str]:
    """Split each of this owner's round seeds among the other participants, sealed to each.

    ``participants``: the round's set in the chain's order (share x-coordinate = position + 1).
    Returns recipient → sealed share (hex): for each peer in ``participants`` order (without
    ``me``), the recipient's point of the polynomial hiding the seed shared with that peer.
    """
    order = [p for p in participants if p.lower() != me.lower()]
    if {p.lower() for p in order} != {p.lower() for p in round_seeds}:
        raise InvalidValueError("round seeds must be given for exactly the other participants")
    xs = {p: i + 1 for i, p in enumerate(participants)}
    recipients = [p for p in participants if p.lower() != me.lower()]
    if threshold > len(recipients):
        raise InvalidValueError(f"a threshold of {threshold} needs at least {threshold} other "
                                f"participants, there are {len(recipients)}")
    points = {peer: shamir.split(int.from_bytes(round_seeds[peer], "big"),
                                 [xs[r] for r in recipients], threshold) for peer in order}
    out = {}
    for r in recipients:
        plain = b"".join(points[peer][xs[r]].to_bytes(_Y_BYTES, "big") for peer in order)
        out[r] = seal(pair_seeds[r], share_context(spec_id, round_no, me, r), plain)
    return out


def open_shares(sender: str, me: str, participants: Sequence[str], sealed: str,
                pair_seed: bytes, *, spec_id: int, round_no: int) -> dict[str, int]:
    """The shares ``sender`` dealt to ``me``: peer of ``sender`` → y (at ``me``'s x-coordinate)."""
    order = [p for p in participants if p.lower() != sender.lower()]
    plain = unseal(pair_seed, share_context(spec_id, round_no, sender, me), sealed)
    if len(plain) != _Y_BYTES * len(order):
        raise InvalidValueError("a sealed share holds the wrong number of points")
    return {peer: int.from_bytes(plain[i * _Y_BYTES:(i + 1) * _Y_BYTES], "big")
            for i, peer in enumerate(order)}


def recover_round_seeds(revealed: Mapping[int, Mapping[str, int]],
                        threshold: int) -> dict[str, bytes]:
    """A dropped owner's round seeds from survivors' revealed shares (x → {peer: y}).

    Fewer than ``threshold`` revealers, or shares that disagree, raise
    :class:`InvalidValueError`.
    """
    if len(revealed) < threshold:
        raise InvalidValueError(f"{len(revealed)} survivor(s) revealed shares, the threshold is "
                                f"{threshold}: the dropped owner's masks cannot be removed")
    peers = set.intersection(*(set(v) for v in revealed.values()))
    seeds = {}
    for peer in peers:
        secret = shamir.reconstruct({x: v[peer] for x, v in revealed.items()}, threshold)
        if secret >= 2**256:
            raise InvalidValueError("the revealed shares rebuild a number that is not a seed: "
                                    "at least one share is wrong")
        seeds[peer] = secret.to_bytes(32, "big")
    return seeds


def dropout_correction(dropped: Mapping[str, Mapping[str, bytes]], survivors: Sequence[str],
                       count: int, n: int) -> list[int]:
    """What the survivors' sum holds of the dropped owners' masks (subtract it, mod n).

    ``dropped`` maps each dropped owner to its recovered round seeds (peer → seed). Each
    survivor ``v`` added ``sign(v, u) * mask(u, v)`` for each dropped owner ``u``.
    """
    total = [0] * count
    for u, seeds in dropped.items():
        for v in survivors:
            if v not in seeds:
                raise InvalidValueError(f"no recovered seed between {u} and survivor {v}")
            sign = _sign(v, u)
            for i, m in enumerate(expand_mask(seeds[v], count, n)):
                total[i] = (total[i] + sign * m) % n
    return total
