"""The cryptography layer: Paillier, packing, secure-aggregation masks, cost measurement.

:mod:`omteach.crypto.paillier` is the only module of omteach that imports ``phe`` or ``gmpy2``
(the key's JSON form included); every other module goes through it, so the backend (or a faster
key mode) changes in one place.
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
