"""The cryptography layer: Paillier, packing, secure-aggregation masks, cost measurement.

:mod:`omteach.crypto.paillier` is the only module of omteach that imports ``phe`` or ``gmpy2``
(the key's JSON form included); every other module goes through it, so the backend (or a faster
key mode) changes in one place.
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
