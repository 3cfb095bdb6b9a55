"""Paillier homomorphic encryption for the course, built on ``phe`` (with ``gmpy2`` for speed).

What it adds to ``phe``: key pairs of a chosen size with a warning below the safe size, vectors
(numpy arrays and torch tensors), readable ciphertext objects, and errors that say what to do
(:mod:`omteach.errors`) instead of ``phe``'s bare ``ValueError``/``NotImplementedError``.

Paillier is *additively* homomorphic: ``Enc(a) + Enc(b)`` decrypts to ``a + b``,
``Enc(a) + b`` to ``a + b`` and ``Enc(a) * k`` to ``a * k`` for a plain ``k``.
``Enc(a) * Enc(b)`` is impossible, and raises :class:`UnsupportedOperationError`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from phe import paillier
from phe.util import getprimeover

from omteach.errors import (
    InvalidValueError,
    KeyMismatchError,
    PlaintextOverflowError,
    UnsupportedOperationError,
    WeakKeyWarning,
)

DEFAULT_KEY_BITS = 2048
"""Key size used when none is given: the smallest size NIST still accepts (to 2030)."""

MIN_KEY_BITS = 64
"""Smallest key size accepted at all; sizes below :data:`DEFAULT_KEY_BITS` warn."""

PublicKey = paillier.PaillierPublicKey
PrivateKey = paillier.PaillierPrivateKey


@dataclass(frozen=True)
class KeyPair:
    """A Paillier public key (to share) and its private key (to keep)."""

    public: PublicKey
    private: PrivateKey

    @property
    def bits(self) -> int:
        """Size of the modulus n in bits."""
        return self.public.n.bit_length()


def generate_keypair(
    bits: int = DEFAULT_KEY_BITS, *, progress: Callable[[str], None] | None = None
) -> KeyPair:
    """Generate a Paillier key pair whose modulus n has exactly ``bits`` bits.

    Sizes below 2048 bits are allowed for teaching (they are fast) and warn with
    :class:`WeakKeyWarning`. ``progress`` is called with a short message at each step, because
    finding the two primes takes seconds at 3072 bits and more.
    """
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise InvalidValueError(f"key size must be a whole number of bits, got {bits!r}")
    bits = int(bits)
    if bits < MIN_KEY_BITS or bits % 2:
        raise InvalidValueError(
            f"key size {bits} is not usable: choose an even number of bits, at least "
            f"{MIN_KEY_BITS} (2048 or more to protect real data)"
        )
    if bits < DEFAULT_KEY_BITS:
        warnings.warn(
            f"a {bits}-bit Paillier key is for teaching only; it can be factored. "
            f"Use {DEFAULT_KEY_BITS} bits or more for real data.",
            WeakKeyWarning,
            stacklevel=2,
        )
    # The same search phe's generate_paillier_keypair does, with progress reports.
    n_len = 0
    attempt = 0
    while n_len != bits:
        attempt += 1
        if progress:
            progress(f"attempt {attempt}: searching for prime p ({bits // 2} bits)")
        p = getprimeover(bits // 2)
        if progress:
            progress(f"attempt {attempt}: searching for prime q ({bits // 2} bits)")
        q = p
        while q == p:
            q = getprimeover(bits // 2)
        n = p * q
        n_len = n.bit_length()
    public = paillier.PaillierPublicKey(n)
    private = paillier.PaillierPrivateKey(public, p, q)
    if progress:
        progress(f"done: {bits}-bit key pair")
    return KeyPair(public, private)


def _check_finite(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(f"only real numbers can be encrypted, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise InvalidValueError(
            f"cannot encrypt {value}: NaN and infinity have no Paillier encoding; "
            "clean or clip the data first"
        )
    return value


def _phe_encrypt(public: PublicKey, value: Any) -> paillier.EncryptedNumber:
    value = _check_finite(value)
    try:
        return public.encrypt(value)
    except ValueError as exc:  # phe: "Integer needs to be within +/- max_int"
        raise PlaintextOverflowError(
            f"{value!r} is too large for a {public.n.bit_length()}-bit key "
            f"(limit about +/-{public.max_int:.3g}); use a larger key or scale the value down"
        ) from exc


def _phe_op(fn: Callable[[], Any], what: str) -> Any:
    """Run a phe operation, turning its bare ValueError into an error that says what to do."""
    try:
        return fn()
    except ValueError as exc:  # phe: "Integer needs to be within +/- max_int" when aligning
        raise PlaintextOverflowError(
            f"cannot {what}: the numbers' scales are too far apart for this key (phe must align "
            "their exponents and the result no longer fits). Round very small values to 0 or "
            "use a fixed scale, e.g. the packing codec"
        ) from exc


def _same_key(a: PublicKey, b: PublicKey, what: str) -> None:
    if a != b:
        raise KeyMismatchError(
            f"{what} were encrypted under different public keys; Paillier can only combine "
            "ciphertexts of the same key pair. Encrypt both with the same public key."
        )


def _plain_scalar(value: Any, op: str) -> float | int:
    if isinstance(value, Ciphertext | EncryptedVector):
        raise UnsupportedOperationError(
            f"Paillier cannot {op} two ciphertexts: it is only additively homomorphic. "
            "Multiply a ciphertext by a plain number instead, or decrypt first."
        )
    if isinstance(value, np.generic):
        value = value.item()
    return _check_finite(value)


class Ciphertext:
    """One Paillier-encrypted number.

    Supports ``c + c``, ``c + plain``, ``c - c``, ``c * plain``, ``c / plain`` and ``-c``.
    """

    __slots__ = ("_enc",)

    def __init__(self, enc: paillier.EncryptedNumber):
        self._enc = enc

    @property
    def public_key(self) -> PublicKey:
        """The public key this number was encrypted under."""
        return self._enc.public_key

    @property
    def raw(self) -> int:
        """The ciphertext as an integer modulo n² (what travels over the wire)."""
        return self._enc.ciphertext(be_secure=True)

    @property
    def exponent(self) -> int:
        """phe's base-16 exponent, sent *in the clear*: it reveals a float's magnitude."""
        return self._enc.exponent

    def __add__(self, other: Any) -> Ciphertext:
        if isinstance(other, Ciphertext):
            _same_key(self.public_key, other.public_key, "the two numbers")
            return Ciphertext(_phe_op(lambda: self._enc + other._enc, "add"))
        if isinstance(other, EncryptedVector):
            return other + self
        k = _plain_scalar(other, "add")
        return Ciphertext(_phe_op(lambda: self._enc + k, "add"))

    __radd__ = __add__

    def __neg__(self) -> Ciphertext:
        return Ciphertext(self._enc * -1)

    def __sub__(self, other: Any) -> Ciphertext:
        return self + (-other)

    def __rsub__(self, other: Any) -> Ciphertext:
        return (-self) + other

    def __mul__(self, other: Any) -> Ciphertext:
        k = _plain_scalar(other, "multiply")
        return Ciphertext(_phe_op(lambda: self._enc * k, "multiply"))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Ciphertext:
        k = _plain_scalar(other, "divide")
        if k == 0:
            raise InvalidValueError("cannot divide an encrypted number by zero")
        return Ciphertext(_phe_op(lambda: self._enc * (1 / k), "divide"))

    def __repr__(self) -> str:
        digits = str(self.raw)
        return f"Ciphertext({digits[:8]}…{digits[-8:]}, {self.public_key.n.bit_length() * 2} bits)"


class EncryptedVector:
    """A vector of Paillier ciphertexts, one per value; decrypts to numpy or torch like its input.

    Supports the same arithmetic as :class:`Ciphertext`, element by element; a plain operand may
    be a scalar or a vector of the same length.
    """

    __slots__ = ("_items", "public_key", "_like")

    def __init__(self, items: list[paillier.EncryptedNumber], public_key: PublicKey, like: str):
        self._items = items
        self.public_key = public_key
        self._like = like

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Ciphertext:
        return Ciphertext(self._items[i])

    def __iter__(self):
        return (Ciphertext(e) for e in self._items)

    def _plain_operand(self, other: Any, op: str) -> list:
        if isinstance(other, Ciphertext | EncryptedVector):
            _plain_scalar(other, op)
        arr = _to_numpy(other)
        if arr.ndim == 0:
            return [_plain_scalar(arr.item(), op)] * len(self)
        if arr.shape != (len(self),):
            raise InvalidValueError(
                f"cannot {op} a vector of shape {arr.shape} and an encrypted vector of length "
                f"{len(self)}; give a scalar or a vector of the same length"
            )
        return [_plain_scalar(v, op) for v in arr.tolist()]

    def __add__(self, other: Any) -> EncryptedVector:
        if isinstance(other, Ciphertext):
            _same_key(self.public_key, other.public_key, "the vector and the number")
            items = _phe_op(lambda: [a + other._enc for a in self._items], "add")
        elif isinstance(other, EncryptedVector):
            _same_key(self.public_key, other.public_key, "the two vectors")
            if len(other) != len(self):
                raise InvalidValueError(
                    f"cannot add encrypted vectors of lengths {len(self)} and {len(other)}"
                )
            items = _phe_op(lambda: [a + b for a, b in zip(self._items, other._items,
                                                            strict=True)], "add")
        else:
            ks = self._plain_operand(other, "add")
            items = _phe_op(lambda: [a + b for a, b in zip(self._items, ks, strict=True)], "add")
        return EncryptedVector(items, self.public_key, self._like)

    __radd__ = __add__

    def __neg__(self) -> EncryptedVector:
        return self * -1

    def __sub__(self, other: Any) -> EncryptedVector:
        return self + (-other)

    def __rsub__(self, other: Any) -> EncryptedVector:
        return (-self) + other

    def __mul__(self, other: Any) -> EncryptedVector:
        ks = self._plain_operand(other, "multiply")
        items = _phe_op(lambda: [a * k for a, k in zip(self._items, ks, strict=True)], "multiply")
        return EncryptedVector(items, self.public_key, self._like)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> EncryptedVector:
        ks = self._plain_operand(other, "divide")
        if any(k == 0 for k in ks):
            raise InvalidValueError("cannot divide an encrypted vector by zero")
        return self * [1 / k for k in ks]

    def sum(self) -> Ciphertext:
        """The encrypted sum of the elements."""
        if not self._items:
            raise InvalidValueError("cannot sum an empty encrypted vector")
        def add_all() -> paillier.EncryptedNumber:
            total = self._items[0]
            for e in self._items[1:]:
                total = total + e
            return total

        return Ciphertext(_phe_op(add_all, "sum"))

    def __repr__(self) -> str:
        return f"EncryptedVector(len={len(self)}, {self.public_key.n.bit_length()}-bit key)"


def _to_numpy(value: Any) -> np.ndarray:
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"expected a number or a vector of numbers, got {value!r}") from exc


def _encrypt_values(public: PublicKey, values: Iterable[Any]) -> list[paillier.EncryptedNumber]:
    return [_phe_encrypt(public, v) for v in values]


def encrypt(public: PublicKey, value: Any) -> Ciphertext | EncryptedVector:
    """Encrypt a number, or each value of a 1-D numpy array, torch tensor or list.

    One ciphertext per value: simple but slow (~10 ms per value at 2048 bits); see
    :mod:`omteach.crypto.packing` for many values per ciphertext.
    """
    if not isinstance(public, PublicKey):
        raise InvalidValueError(
            f"encrypt needs a Paillier public key (keys.public), got {type(public).__name__}"
        )
    if isinstance(value, numbers.Number) or isinstance(value, np.generic):
        return Ciphertext(_phe_encrypt(public, value.item() if isinstance(value, np.generic)
                                       else value))
    like = "torch" if type(value).__module__.startswith("torch") else "numpy"
    arr = _to_numpy(value)
    if arr.ndim == 0:
        return Ciphertext(_phe_encrypt(public, arr.item()))
    if arr.ndim != 1:
        raise InvalidValueError(
            f"encrypt takes a number or a 1-D vector, got shape {arr.shape}; flatten it first "
            "(x.reshape(-1)) and reshape after decrypting"
        )
    return EncryptedVector(_encrypt_values(public, arr.tolist()), public, like)


def _phe_decrypt(private: PrivateKey, enc: paillier.EncryptedNumber) -> float | int:
    try:
        return private.decrypt(enc)
    except OverflowError as exc:
        raise PlaintextOverflowError(
            "the decrypted value overflowed: the result grew beyond what the key can hold "
            "(about n/3). Use a larger key or smaller values."
        ) from exc


def decrypt(private: PrivateKey, value: Ciphertext | EncryptedVector) -> Any:
    """Decrypt a :class:`Ciphertext` (to a number) or an :class:`EncryptedVector`.

    A vector decrypts to a numpy array, or to a torch tensor if a tensor was encrypted.
    """
    if not isinstance(private, PrivateKey):
        raise InvalidValueError(
            f"decrypt needs a Paillier private key (keys.private), got {type(private).__name__}"
        )
    if not isinstance(value, Ciphertext | EncryptedVector):
        raise InvalidValueError(
            f"decrypt takes a Ciphertext or EncryptedVector, got {type(value).__name__}; "
            "packed ciphertexts are decrypted with their codec (PackingCodec.decrypt)"
        )
    if value.public_key != private.public_key:
        raise KeyMismatchError(
            "this ciphertext was encrypted under a different public key than this private key's; "
            "decrypt it with the private key of the key pair that encrypted it"
        )
    if isinstance(value, Ciphertext):
        return _phe_decrypt(private, value._enc)
    out = np.array([_phe_decrypt(private, e) for e in value._items])
    if value._like == "torch":
        import torch

        return torch.from_numpy(out)
    return out


def rerandomize(public: PublicKey, c: int) -> int:
    """Multiply the raw ciphertext ``c`` by a fresh encryption of 0: same plaintext, new randomness.

    Send re-randomized ciphertexts whenever what you computed from someone else's ciphertexts
    must not reveal how (chapter 5): the result's randomness is then independent of theirs.
    """
    if not isinstance(public, PublicKey):
        raise InvalidValueError(
            f"rerandomize needs a Paillier public key, got {type(public).__name__}")
    if (isinstance(c, bool) or not isinstance(c, numbers.Integral)
            or not 0 < int(c) < public.nsquare):
        raise InvalidValueError(
            "rerandomize takes a raw ciphertext: a whole number between 0 and n^2 of the key")
    return int(c) * public.raw_encrypt(0) % public.nsquare

