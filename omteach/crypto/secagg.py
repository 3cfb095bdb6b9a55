"""Secure aggregation by pairwise masks (Bonawitz et al., CCS 2017, without the dropout recovery).

Each pair of data owners agrees on a secret seed by Diffie-Hellman: each publishes ``g^a mod p``
(the id of that key goes on chain when they accept a spec), and both compute ``g^(ab) mod p``
without anyone else learning it. From the seed each pair expands a mask, one number modulo the
Paillier modulus ``n`` per packed plaintext. The owner earlier in name order adds it, the other
subtracts it. Every owner adds their masks to their packed update before encrypting, so:

- one owner's ciphertext decrypts to their update plus masks: uniformly random numbers mod n,
  which tell the key holder nothing about that update;
- in the sum of all owners' ciphertexts every mask appears once with + and once with -, so the
  decrypted sum is exactly the sum of the updates.

The price: if an owner who accepted does not submit, the masks no longer cancel and the round
cannot be decrypted. Real protocols secret-share the seeds so the others can remove a missing
owner's masks; this course requires every owner who accepted (the contract's ``min_owners``).

The group is the 2048-bit MODP group 14 of RFC 3526; seeds are SHA-256 of the shared secret,
masks are SHAKE-256 output reduced mod n (with 128 extra bits, so the bias is negligible).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MaskKey:
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


def expand_mask(seed: bytes, round_no: int, count: int, n: int) -> list[int]:
    """``count`` pseudo-random numbers mod ``n`` from a pair's seed, fresh for each round."""
    width = (n.bit_length() + 128 + 7) // 8
    return [
        int.from_bytes(hashlib.shake_256(seed + b"|%d|%d" % (round_no, i)).digest(width), "big")
        % n for i in range(count)
    ]


def pairwise_mask(me: str, key: MaskKey, peers: Mapping[str, int], round_no: int, count: int,
                  n: int) -> list[int]:
    """This owner's total mask: + the mask shared with each later name, - with each earlier one.

    ``peers`` maps every *other* owner's name to their masking public key.
    """
    if me in peers:
        raise InvalidValueError(f"{me} is listed among their own peers")
    total = [0] * count
    for other, public in sorted(peers.items()):
        sign = 1 if me < other else -1
        for i, m in enumerate(expand_mask(key.shared_seed(public), round_no, count, n)):
            total[i] = (total[i] + sign * m) % n
    return total


def apply_mask(plaintexts: Sequence[int], mask: Sequence[int], n: int) -> list[int]:
    """Add a mask to packed plaintexts, modulo n."""
    if len(mask) != len(plaintexts):
        raise InvalidValueError(
            f"the mask has {len(mask)} numbers but there are {len(plaintexts)} plaintexts")
    return [(p + m) % n for p, m in zip(plaintexts, mask, strict=True)]
