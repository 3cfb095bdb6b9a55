"""Pairwise masks (the first idea of Bonawitz et al., CCS 2017), for chapter 5's encrypted model.

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

This module has no dropout recovery: every owner must submit, which chapter 5's encrypted model
(:mod:`omteach.learning.encrypted_model`, three owners in one kernel) needs and no more. The
training round of chapters 4 and 6 uses :mod:`omteach.crypto.doublemask` over
:mod:`omteach.crypto.neighbours` instead: fresh keys every round, a self-mask beside the
pairwise masks, Shamir shares of one mask key and one seed per owner dealt to ``k`` neighbours,
and reveals that never give both for one owner.

The group is the 2048-bit MODP group 14 of RFC 3526; seeds are SHA-256 of the shared secret,
masks are SHAKE-256 output reduced mod n (with 128 extra bits, so the bias is negligible).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import NamedTuple

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
