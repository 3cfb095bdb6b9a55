"""The cryptography layer: Paillier, packing, encrypted linear algebra, secure-aggregation masks,
cost measurement.

:mod:`omteach.crypto.paillier` (keys, ciphertext objects, the key's JSON form) and
:mod:`omteach.crypto.linear` (arithmetic and re-randomization on raw ciphertext integers) are the
only modules of omteach that import ``phe`` or ``gmpy2``; every other module goes through them, so
the backend (or a faster key mode) changes in one place.
"""

from omteach.crypto.packing import PackedCiphertext, PackingCodec
from omteach.crypto.paillier import (
    Ciphertext,
    EncryptedVector,
    FastPublicKey,
    KeyPair,
    PrivateKey,
    PublicKey,
    decrypt,
    encrypt,
    generate_keypair,
    is_fast,
    key_fingerprint,
    public_key_from_json,
    public_key_to_json,
    rerandomize,
)

__all__ = [
    "Ciphertext", "EncryptedVector", "FastPublicKey", "KeyPair", "PackedCiphertext",
    "PackingCodec", "PrivateKey", "PublicKey", "decrypt", "encrypt", "generate_keypair",
    "is_fast", "key_fingerprint", "public_key_from_json", "public_key_to_json", "rerandomize",
]
