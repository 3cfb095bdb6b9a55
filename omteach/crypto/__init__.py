"""The cryptography layer: Paillier, packing, encrypted linear algebra, secure-aggregation masks,
cost measurement.

:mod:`omteach.crypto.paillier` (keys, ciphertext objects, the key's JSON form) and
:mod:`omteach.crypto.linear` (arithmetic and re-randomization on raw ciphertext integers) are the
only modules of omteach that import ``phe`` or ``gmpy2``; every other module goes through them, so
the backend (or a faster key mode) changes in one place.
"""

from omteach.crypto.packing import PackedCiphertext, PackingCodec, key_fingerprint
from omteach.crypto.paillier import (
    Ciphertext,
    EncryptedVector,
    KeyPair,
    PrivateKey,
    PublicKey,
    decrypt,
    encrypt,
    generate_keypair,
)

__all__ = [
    "Ciphertext", "EncryptedVector", "KeyPair", "PackedCiphertext", "PackingCodec", "PrivateKey",
    "PublicKey", "decrypt", "encrypt", "generate_keypair", "key_fingerprint",
]
