"""Paillier homomorphic encryption for the course, built on ``phe`` (with ``gmpy2`` for speed).

What it adds to ``phe``: key pairs of a chosen size with a warning below the safe size, vectors
(numpy arrays and torch tensors), readable ciphertext objects, the public key's JSON form, and
errors that say what to do (:mod:`omteach.errors`) instead of ``phe``'s bare
``ValueError``/``NotImplementedError``.

Paillier is *additively* homomorphic: ``Enc(a) + Enc(b)`` decrypts to ``a + b``,
``Enc(a) + b`` to ``a + b`` and ``Enc(a) * k`` to ``a * k`` for a plain ``k``.
``Enc(a) * Enc(b)`` is impossible, and raises :class:`UnsupportedOperationError`.
``Enc(a) * k`` is computed modulo n, and so is every sum. Where the values were encrypted in
this process, each result carries a bound on its value and one that could pass the key's range
(about n/3, less at a float's precision) raises :class:`PlaintextOverflowError` at once. For a
ciphertext received from elsewhere (:meth:`Ciphertext.from_raw`) nothing is known: a result
that lands in the gap above the range is caught when decrypting, but one that wraps all the
way round n decrypts to a wrong number, and nobody can tell. Keep ``|a * k|`` well below
``public.max_int``.

Two key modes, one private key
------------------------------
*Ordinary* keys encrypt as ``phe`` does: ``c = (1 + n)^m · r^n mod n²`` with ``r`` random below
n, one 2048-bit exponentiation modulo n² per ciphertext (~8-10 ms at 2048 bits). The key's owner,
who knows ``p`` and ``q``, computes ``r^n`` by the Chinese remainder theorem in about half that
(:meth:`KeyPair.raw_encrypt`).

*Fast* keys (``generate_keypair(fast=True)``) follow Damgård, Jurik and Nielsen ("A generalization
of Paillier's public-key system with applications to electronic voting", IJIS 2010, section 4.2):
the public key also publishes ``h_s = h^n mod n²`` for ``h = -x² mod n`` (x random, p and q both
3 mod 4), and encryption is ``c = (1 + n)^m · h_s^a mod n²`` with a *short* random exponent ``a``
of ``n_bits / 2`` bits. Since ``h_s`` is fixed, ``h_s^a`` comes from a precomputed table
(8-bit windows: ``n_bits/16`` rows of 256 powers, 16 MiB and about 0.2 s to build at 2048 bits),
about 0.8 ms per ciphertext at 2048 bits against about 10 ms (``bench/he_bench.py``).
``h_s^a = (h^a)^n`` is an n-th power, so fast ciphertexts decrypt with the ordinary ``phe``
private key and add to ordinary ones.

The assumption fast keys rest on: besides Paillier's decisional composite residuosity (DCR)
assumption, that ``h_s^a`` for a short random ``a`` cannot be told apart from a random n-th power
(DJN's short-exponent assumption; the exponent's ``n_bits / 2`` bits are what the issue measured
with and well above twice the key's security level). It also trusts the key's owner to have made
``h_s`` honestly: anyone can check its range and that it is not ±1 (:func:`public_key_from_json`
does), nobody without the private key can check that it has large order. So a fast key hides data
from everyone who does not hold the private key; to hide *how a ciphertext was computed* from the
key's owner (chapter 5's re-randomization), :func:`rerandomize` uses a full-size ``r^n`` even
under a fast key.

Why one module of some 900 lines: it is the course's whole contact surface with ``phe`` and
``gmpy2`` (keys, fast DJN keys, ciphertexts, encrypted vectors, the key's JSON form), so that
the rule "only here is Paillier implemented" stays checkable by reading one file; its classes
share private helpers (the fixed-base table, the CRT zero) that a split would have to make
public.
"""

from __future__ import annotations

import functools
import hashlib
import math
import numbers
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2
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

WINDOW_BITS = 8
"""Bits of the exponent each row of a fast key's fixed-base table covers (256 powers a row)."""

KEY_KIND = "omteach.PaillierPublicKey"
"""The ``kind`` field of a public key's JSON form."""

MAX_KEY_BITS = 16384
"""Largest modulus accepted from JSON: bigger ones only cost time (a denial of service)."""


class _FixedBaseTable:
    """Powers of one base modulo m, for exponents of ``exponent_bits`` bits, 8 bits per row.

    Row i holds ``base^(j · 2^(8i))`` for j = 0..255, so ``base^a`` is a product of one entry
    per byte of ``a``: about ``exponent_bits / 8`` multiplications instead of a square-and-
    multiply exponentiation (about 1.5 multiplications per bit).
    """

    def __init__(self, base: int, modulus: int, exponent_bits: int):
        self.modulus = gmpy2.mpz(modulus)
        self.exponent_bits = exponent_bits
        rows = -(-exponent_bits // WINDOW_BITS)
        b = gmpy2.mpz(base)
        self.rows: list[list[Any]] = []
        for _ in range(rows):
            row = [gmpy2.mpz(1), b]
            for _ in range((1 << WINDOW_BITS) - 2):
                row.append(row[-1] * b % self.modulus)
            self.rows.append(row)
            b = row[-1] * b % self.modulus  # base^(2^(8(i+1)))

    @property
    def nbytes(self) -> int:
        """Memory the entries take (each about the modulus' size)."""
        return sum(len(row) for row in self.rows) * ((self.modulus.bit_length() + 7) // 8)

    def power(self, a: int) -> Any:
        """``base^a mod modulus`` for ``0 <= a < 2**exponent_bits``."""
        m, acc, mask = self.modulus, gmpy2.mpz(1), (1 << WINDOW_BITS) - 1
        for row in self.rows:
            d = a & mask
            if d:
                acc = acc * row[d] % m
            a >>= WINDOW_BITS
        return acc

    def random_power(self) -> Any:
        """``base^a`` for a fresh random exponent ``a`` of ``exponent_bits`` bits."""
        return self.power(secrets.randbits(self.exponent_bits))


@functools.lru_cache(maxsize=4)  # a 2048-bit key's table takes 16 MiB
def _table(n: int, h_s: int) -> _FixedBaseTable:
    # Cached by value: every copy of the same key (say, re-read from its JSON blob each round)
    # shares one table, built once per process.
    return _FixedBaseTable(h_s, n * n, n.bit_length() // 2)


class FastPublicKey(PublicKey):
    """A Paillier public key that also publishes the DJN element ``h_s = h^n mod n²``.

    Encryption uses ``h_s^a`` for a short random ``a`` from a fixed-base table instead of
    ``r^n`` (see the module docstring for the assumption). It equals the ordinary
    :class:`PublicKey` with the same n: ciphertexts of both add together and decrypt with the
    same private key. Every encryption under it, ``phe``'s own ``encrypt`` and ``raw_encrypt``
    included (so the packing codec and the parallel encryptor too), takes the fast path.
    """

    def __init__(self, n: int, h_s: int):
        super().__init__(n)
        self.h_s = int(h_s)
        self._n, self._nsq = gmpy2.mpz(n), gmpy2.mpz(self.nsquare)  # gmpy2 multiplies faster

    @property
    def table(self) -> _FixedBaseTable:
        """The fixed-base table of ``h_s`` (built on first use, shared by equal keys)."""
        return _table(self.n, self.h_s)

    def raw_encrypt(self, plaintext: int, r_value: int | None = None) -> int:
        """Encrypt an integer plaintext; with ``r_value`` given, exactly as ``phe`` does."""
        if r_value is not None:  # phe's internal r = 1 encodings, and callers who choose r
            return super().raw_encrypt(plaintext, r_value)
        if not isinstance(plaintext, int):
            raise TypeError(f"Expected int type plaintext but got: {type(plaintext)}")
        return int((self._n * plaintext + 1) * self.table.random_power() % self._nsq)

    def encrypt_encoded(self, encoding: Any, r_value: int | None) -> paillier.EncryptedNumber:
        """``phe``'s encryption of an encoded number, randomized by the table."""
        if r_value is not None:
            return super().encrypt_encoded(encoding, r_value)
        enc = paillier.EncryptedNumber(self, self.raw_encrypt(encoding.encoding),
                                       encoding.exponent)
        enc._EncryptedNumber__is_obfuscated = True  # already random: skip phe's slow r^n
        return enc

    def __repr__(self) -> str:
        return f"<FastPublicKey {key_fingerprint(self)}, {self.n.bit_length()} bits>"


def is_fast(public: PublicKey) -> bool:
    """True for a fast (DJN) public key."""
    return isinstance(public, FastPublicKey)


class _CrtZero:
    """Fresh ``r^n mod n²`` for the key's owner: two half-size exponentiations (CRT)."""

    def __init__(self, private: PrivateKey):
        p, q, n = private.p, private.q, private.public_key.n
        self.n = n
        self.psq, self.qsq = gmpy2.mpz(p * p), gmpy2.mpz(q * q)
        # r^n mod p² depends on n only modulo the order of (Z/p²)*, p(p - 1).
        self.ep, self.eq = gmpy2.mpz(n % (p * (p - 1))), gmpy2.mpz(n % (q * (q - 1)))
        self.qsq_inv = gmpy2.invert(self.qsq, self.psq)

    def __call__(self) -> Any:
        r = secrets.randbelow(self.n - 1) + 1
        a = gmpy2.powmod(r, self.ep, self.psq)
        b = gmpy2.powmod(r, self.eq, self.qsq)
        return b + self.qsq * ((a - b) * self.qsq_inv % self.psq)


@dataclass(frozen=True)
class KeyPair:
    """A Paillier public key (to share) and its private key (to keep)."""

    public: PublicKey
    private: PrivateKey

    @property
    def bits(self) -> int:
        """Size of the modulus n in bits."""
        return self.public.n.bit_length()

    @property
    def fast(self) -> bool:
        """True if the public key is a fast (DJN) key."""
        return is_fast(self.public)

    def raw_encrypt(self, plaintext: int) -> int:
        """The owner's encryption of an integer plaintext below n: the fastest correct method.

        A fast key's table, or else ``r^n`` by the Chinese remainder theorem (p and q are known
        here): about half the cost of ``phe``'s public ``raw_encrypt``.
        """
        if is_fast(self.public):
            return self.public.raw_encrypt(plaintext)
        n, nsq = self.public.n, self.public.nsquare
        return int((n * plaintext + 1) * _crt_zero(self.private)() % nsq)

    def encrypt_many(self, plaintexts: Sequence[int]) -> list[int]:
        """:meth:`raw_encrypt` for each plaintext (an ``encryptor`` for the packing codec)."""
        return [self.raw_encrypt(m) for m in plaintexts]

    def rerandomize(self, c: int) -> int:
        """The owner's re-randomization of a raw ciphertext (multiply by a fresh Enc(0))."""
        _check_raw_ciphertext(self.public, c)
        return int(c) * self.raw_encrypt(0) % self.public.nsquare

    def to_fast(self) -> KeyPair:
        """The same key pair with a fast public key (adds ``h_s``; the private key is unchanged).

        ``h_s`` needs nothing secret (n and a random x), but those who encrypt with it trust
        whoever made it: here the key's owner, who publishes it with the key.
        """
        if self.fast:
            return self
        public = FastPublicKey(self.public.n, _djn_element(self.public.n))
        return KeyPair(public, PrivateKey(public, self.private.p, self.private.q))

    def to_ordinary(self) -> KeyPair:
        """The same key pair with an ordinary public key (no ``h_s``)."""
        if not self.fast:
            return self
        public = PublicKey(self.public.n)
        return KeyPair(public, PrivateKey(public, self.private.p, self.private.q))


@functools.lru_cache(maxsize=8)
def _crt_zero(private: PrivateKey) -> _CrtZero:
    return _CrtZero(private)


def _djn_element(n: int) -> int:
    """``h_s = (-x²)^n mod n²`` for a random unit x (DJN)."""
    while True:
        x = secrets.randbelow(n - 2) + 2
        if math.gcd(x, n) == 1:
            return int(gmpy2.powmod(-x * x % n, n, n * n))


def _prime(bits: int, blum: bool) -> int:
    while True:
        p = getprimeover(bits)
        if not blum or p % 4 == 3:
            return p


def generate_keypair(
    bits: int = DEFAULT_KEY_BITS, *, fast: bool = False,
    progress: Callable[[str], None] | None = None,
) -> KeyPair:
    """Generate a Paillier key pair whose modulus n has exactly ``bits`` bits.

    ``fast=True`` makes a fast (DJN) key: p and q are both 3 mod 4 and the public key carries
    ``h_s`` (see the module docstring); decryption is the same. Sizes below 2048 bits are allowed
    for teaching (they are fast) and warn with :class:`WeakKeyWarning`. ``progress`` is called
    with a short message at each step, because finding the two primes takes seconds at 3072 bits
    and more.
    """
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise InvalidValueError(f"key size must be a whole number of bits, got {bits!r}")
    if not isinstance(fast, bool):
        raise InvalidValueError(f"fast must be True or False, got {fast!r}")
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
        p = _prime(bits // 2, fast)
        if progress:
            progress(f"attempt {attempt}: searching for prime q ({bits // 2} bits)")
        q = p
        while q == p:
            q = _prime(bits // 2, fast)
        n = p * q
        n_len = n.bit_length()
    if fast:
        if progress:
            progress("computing the fast key's h_s = h^n mod n^2")
        public: PublicKey = FastPublicKey(n, _djn_element(n))
    else:
        public = paillier.PaillierPublicKey(n)
    private = paillier.PaillierPrivateKey(public, p, q)
    if progress:
        progress(f"done: {bits}-bit {'fast ' if fast else ''}key pair")
    return KeyPair(public, private)


def products_mod(rows: Sequence[Sequence[int]], modulus: int) -> list[int]:
    """Position by position, the product of the rows' integers modulo ``modulus``: the sum of
    many Paillier ciphertext vectors in one pass (gmpy2's integers, about six times Python's on
    4096-bit numbers). Every row has the same length (checked by the caller)."""
    m = gmpy2.mpz(modulus)
    out = []
    for column in zip(*rows, strict=True):
        acc = gmpy2.mpz(1)
        for c in column:
            acc = acc * c % m
        out.append(int(acc))
    return out


def key_fingerprint(public: PublicKey) -> str:
    """A short public name for a Paillier key: SHA-256 of n, first 16 hex digits.

    The same for a key's fast and ordinary forms: it names the key pair that decrypts.
    """
    return hashlib.sha256(format(public.n, "x").encode()).hexdigest()[:16]


def _zero(public: PublicKey) -> Any:
    """A fresh encryption of 0 by the fastest method open to anyone holding ``public``."""
    if is_fast(public):
        return public.table.random_power()
    r = secrets.randbelow(public.n - 1) + 1
    return gmpy2.powmod(r, public.n, public.nsquare)


def _check_finite(value: Any) -> float | int:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, complex):
        raise InvalidValueError(
            f"cannot encrypt the complex number {value!r}: Paillier encrypts real numbers; "
            "encrypt the real and imaginary parts separately")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = (" (a string is not a number: convert it with float() yourself)"
                if isinstance(value, str | bytes) else "")
        raise InvalidValueError(
            f"only real numbers can be encrypted, got {type(value).__name__} {value!r:.60}{hint}")
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise InvalidValueError(
            f"cannot encrypt {value}: NaN and infinity have no Paillier encoding; "
            "clean or clip the data first"
        )
    return value


FLOAT_EXACT_LIMIT = 2**53
"""Beyond this magnitude a float no longer holds every whole number (53-bit mantissa)."""


def float_digits(value: float, keep: int = 28) -> str:
    """The whole number a large float really holds, shortened: ``1000000000000000052504…
    (301 digits)`` for 1e300 (what error messages show instead of the float's short form)."""
    digits = str(int(value))
    size = len(digits.lstrip("-"))
    return digits if len(digits) <= keep else f"{digits[:keep]}… ({size} digits)"


def _check_exact(value: float | int) -> float | int:
    """Refuse a float too large to be the number it looks like.

    ``phe`` encodes a large float exactly as its binary value: 1e300 is the whole number
    1000000000000000052504760255…, and that is what sums and decryptions then show, digit by
    digit, which reads like a broken decryption. An int of the same size is exact.
    """
    if isinstance(value, float) and abs(value) >= FLOAT_EXACT_LIMIT:
        raise InvalidValueError(
            f"{value!r} is a float too large to be exact: beyond 2**53 (about 9.0e15) a float "
            f"keeps only about 16 significant digits, so {value!r} is stored as the whole "
            f"number {float_digits(value)}, and "
            "encrypted results would come back with those digits. Use an int for a whole "
            "number this large (exact at any size the key holds, e.g. 10**300), or scale the "
            "values down below 2**53")
    return value


def _phe_encrypt(public: PublicKey, value: Any) -> paillier.EncryptedNumber:
    value = _check_exact(_check_finite(value))
    try:
        return public.encrypt(value)
    except ValueError as exc:  # phe: "Integer needs to be within +/- max_int"
        raise PlaintextOverflowError(
            f"{value!r} is too large for a {public.n.bit_length()}-bit key "
            f"(limit about +/-{public.max_int:.3g}); use a larger key or scale the value down"
        ) from exc


_WRAP_WARNING = (
    "Products that wrap all the way round n cannot be detected: they decrypt to a wrong "
    "number, so keep |value * k| well below the key's max_int")


def _phe_op(fn: Callable[[], Any], what: str) -> Any:
    """Run a phe operation, turning its bare ValueError into an error that says what to do."""
    try:
        return fn()
    except ValueError as exc:  # phe: "Integer needs to be within +/- max_int" when encoding
        if what in ("multiply", "divide"):
            raise PlaintextOverflowError(
                f"cannot {what}: the plain factor does not fit this key's encoding (its "
                f"integer form must stay within +/-max_int). {_WRAP_WARNING}") from exc
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


def _as_cipher(value: Any) -> Any:
    """A phe EncryptedNumber becomes a Ciphertext (phe interop); anything else is unchanged."""
    return Ciphertext(value) if isinstance(value, paillier.EncryptedNumber) else value


Bound = float | None
"""log2 of an upper bound on the absolute value a ciphertext holds (-inf for 0), or None where
it is not known. Logarithms, so that bounds of huge integers times floats never overflow."""


def _log2_abs(v: float | int) -> float:
    return math.log2(abs(v)) if v else -math.inf


def _add_bounds(a: Bound, b: Bound) -> Bound:
    if a is None or b is None:
        return None
    hi, lo = max(a, b), min(a, b)
    return hi if lo == -math.inf else hi + math.log2(1 + 2.0 ** (lo - hi))


def _scale_bound(a: Bound, k: float | int) -> Bound:
    return None if a is None else a + _log2_abs(k)


def _checked(enc: paillier.EncryptedNumber, bound: Bound, what: str) -> Bound:
    """Refuse a result whose known bound passes the key's range (it would wrap modulo n).

    phe holds ``value / 16**exponent`` as an integer that must stay within ``max_int``; a
    result's bound is known when every ciphertext in it was encrypted here.
    """
    if bound is not None:
        needed = bound - 4 * enc.exponent
        available = math.log2(enc.public_key.max_int)
        if needed > available + 1e-9:
            raise PlaintextOverflowError(
                f"cannot {what}: the result may reach about 2^{bound:.0f}, which at this "
                "precision needs "
                f"about {needed:.0f} bits where the {enc.public_key.n.bit_length()}-bit key holds "
                f"{available:.0f}: it would wrap modulo n and decrypt to a wrong number. Scale "
                "the numbers down, round floats to fewer digits, or use a larger key. "
                "This check needs ciphertexts encrypted here: for a ciphertext received from "
                "elsewhere the value is unknown, so such a wrap cannot be detected.")
    return bound


def _plain_scalar(value: Any, op: str) -> float | int:
    if isinstance(value, Ciphertext | EncryptedVector | paillier.EncryptedNumber):
        raise UnsupportedOperationError(
            f"Paillier cannot {op} two ciphertexts: it is only additively homomorphic. "
            "Multiply a ciphertext by a plain number instead, or decrypt first."
        )
    if isinstance(value, np.ndarray | list | tuple) or type(value).__module__.startswith("torch"):
        raise InvalidValueError(
            f"cannot {op} one encrypted number and a vector; use a plain number, or encrypt "
            "the vector (encrypt(key, values)) and work element by element")
    return _check_exact(_check_finite(value))


def _unsupported(op: str, why: str) -> Callable[..., Any]:
    def refuse(self: Any, *args: Any) -> Any:
        raise UnsupportedOperationError(f"Paillier cannot {op}: {why}")

    refuse.__doc__ = f"Refused: Paillier cannot {op}."
    return refuse


_NOT_ADDITIVE = ("it is only additively homomorphic (add ciphertexts, add or multiply by plain "
                 "numbers). Decrypt first, or compute it in the clear before encrypting")
_NO_ORDER = ("a ciphertext hides its number, so it has no order; decrypt first, or compare in "
             "the clear before encrypting")


class _Unsupported:
    """Operators Paillier cannot do, refused with the project's error (not a bare TypeError)."""

    __slots__ = ()
    # numpy: do not treat us as an element; `array * enc` then calls our __rmul__ with the array.
    __array_ufunc__ = None
    __pow__ = _unsupported("raise a ciphertext to a power (c ** k)", _NOT_ADDITIVE)
    __rpow__ = _unsupported("use a ciphertext as an exponent", _NOT_ADDITIVE)
    __rtruediv__ = _unsupported("divide by a ciphertext", _NOT_ADDITIVE)
    __floordiv__ = __rfloordiv__ = _unsupported("floor-divide a ciphertext", _NOT_ADDITIVE)
    __mod__ = __rmod__ = _unsupported("take a ciphertext modulo a number", _NOT_ADDITIVE)
    __matmul__ = __rmatmul__ = _unsupported("matrix-multiply ciphertexts", _NOT_ADDITIVE)
    __abs__ = _unsupported("take the absolute value of a ciphertext", _NOT_ADDITIVE)
    __lt__ = __le__ = __gt__ = __ge__ = _unsupported("compare ciphertexts", _NO_ORDER)


def _secure_raw(enc: paillier.EncryptedNumber) -> int:
    """The ciphertext integer, re-randomized first if phe has not yet done so.

    phe re-randomizes a sum or product lazily when it is read, with a full ``r^n``; here it uses
    :func:`_zero`, so a fast key's table serves this too. (phe keeps the flag private.)
    """
    if not enc._EncryptedNumber__is_obfuscated:
        pk = enc.public_key
        enc._EncryptedNumber__ciphertext = int(enc.ciphertext(be_secure=False) * _zero(pk)
                                               % pk.nsquare)
        enc._EncryptedNumber__is_obfuscated = True
    return enc.ciphertext(be_secure=False)


class Ciphertext(_Unsupported):
    """One Paillier-encrypted number.

    Supports ``c + c``, ``c + plain``, ``c - c``, ``c * plain``, ``c / plain``, ``-c`` and
    ``sum(...)``; a ``phe.EncryptedNumber`` of the same key counts as a ciphertext. Everything
    else (``c * c``, ``c ** 2``, ``c < 0``) raises :class:`UnsupportedOperationError`.
    A result that would pass the key's range (and wrap modulo n) raises
    :class:`PlaintextOverflowError` when the values are known to this process (encrypted here);
    for a ciphertext received from elsewhere (:meth:`from_raw`) it cannot be detected.
    """

    __slots__ = ("_enc", "_bound")

    def __init__(self, enc: paillier.EncryptedNumber, bound: Bound = None):
        self._enc = enc
        self._bound = bound

    @classmethod
    def from_raw(cls, public: PublicKey, raw: int, exponent: int = 0) -> Ciphertext:
        """A ciphertext as it arrives from someone else: its integer and phe's exponent.

        Nothing is known about the value it holds, so products past the key's range cannot be
        detected on it (see the module docstring).
        """
        _check_raw_ciphertext(public, raw)
        if isinstance(exponent, bool) or not isinstance(exponent, numbers.Integral):
            raise InvalidValueError(f"the exponent must be a whole number, got {exponent!r}")
        return cls(paillier.EncryptedNumber(public, int(raw), int(exponent)))

    @property
    def public_key(self) -> PublicKey:
        """The public key this number was encrypted under."""
        return self._enc.public_key

    @property
    def raw(self) -> int:
        """The ciphertext as an integer modulo n² (what travels over the wire)."""
        return _secure_raw(self._enc)

    @property
    def exponent(self) -> int:
        """phe's base-16 exponent, sent *in the clear*: it reveals a float's magnitude."""
        return self._enc.exponent

    def __add__(self, other: Any) -> Ciphertext:
        other = _as_cipher(other)
        if isinstance(other, Ciphertext):
            _same_key(self.public_key, other.public_key, "the two numbers")
            enc = _phe_op(lambda: self._enc + other._enc, "add")
            return Ciphertext(enc, _checked(enc, _add_bounds(self._bound, other._bound), "add"))
        if isinstance(other, EncryptedVector):
            return other + self
        k = _plain_scalar(other, "add")
        enc = _phe_op(lambda: self._enc + k, "add")
        return Ciphertext(enc, _checked(enc, _add_bounds(self._bound, _log2_abs(k)), "add"))

    def __radd__(self, other: Any) -> Ciphertext:
        if type(other) is int and other == 0:  # sum()'s start: nothing to add
            return self
        return self + other

    def __neg__(self) -> Ciphertext:
        return Ciphertext(self._enc * -1, self._bound)

    def __sub__(self, other: Any) -> Ciphertext:
        other = _as_cipher(other)
        if isinstance(other, Ciphertext | EncryptedVector):
            return self + (-other)
        return self + (-_plain_scalar(other, "subtract"))

    def __rsub__(self, other: Any) -> Ciphertext:
        return (-self) + other

    def __mul__(self, other: Any) -> Ciphertext:
        k = _plain_scalar(other, "multiply")
        enc = _phe_op(lambda: self._enc * k, "multiply")
        return Ciphertext(enc, _checked(enc, _scale_bound(self._bound, k), "multiply"))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Ciphertext:
        k = _plain_scalar(other, "divide")
        if k == 0:
            raise InvalidValueError("cannot divide an encrypted number by zero")
        enc = _phe_op(lambda: self._enc * (1 / k), "divide")
        return Ciphertext(enc, _checked(enc, _scale_bound(self._bound, 1 / k), "divide"))

    def __repr__(self) -> str:
        digits = str(self.raw)
        return f"Ciphertext({digits[:8]}…{digits[-8:]}, {self.public_key.n.bit_length() * 2} bits)"


class EncryptedVector(_Unsupported):
    """A vector of Paillier ciphertexts, one per value; decrypts to numpy or torch like its input.

    Supports the same arithmetic as :class:`Ciphertext`, element by element; a plain operand may
    be a scalar or a vector of the same length (``numpy_array * enc`` included).
    """

    __slots__ = ("_items", "public_key", "_like", "_bounds")

    def __init__(self, items: list[paillier.EncryptedNumber], public_key: PublicKey, like: str,
                 bounds: Sequence[Bound] | None = None):
        self._items = items
        self.public_key = public_key
        self._like = like
        self._bounds: list[Bound] = list(bounds) if bounds is not None else [None] * len(items)

    def _result(self, items: list[paillier.EncryptedNumber], bounds: Iterable[Bound],
                what: str) -> EncryptedVector:
        checked = [_checked(e, b, what) for e, b in zip(items, bounds, strict=True)]
        return EncryptedVector(items, self.public_key, self._like, checked)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Ciphertext:
        return Ciphertext(self._items[i], self._bounds[i])

    def __iter__(self):
        return (Ciphertext(e, b) for e, b in zip(self._items, self._bounds, strict=True))

    def _plain_operand(self, other: Any, op: str) -> list:
        if isinstance(other, Ciphertext | EncryptedVector | paillier.EncryptedNumber):
            _plain_scalar(other, op)
        arr = _to_numpy(other)
        if arr.ndim == 0:
            return [_check_finite(arr.item())] * len(self)
        if arr.shape != (len(self),):
            raise InvalidValueError(
                f"cannot {op} a vector of shape {arr.shape} and an encrypted vector of length "
                f"{len(self)}; give a scalar or a vector of the same length"
            )
        return [_check_finite(v) for v in arr.tolist()]

    def __add__(self, other: Any) -> EncryptedVector:
        other = _as_cipher(other)
        if isinstance(other, Ciphertext):
            _same_key(self.public_key, other.public_key, "the vector and the number")
            items = _phe_op(lambda: [a + other._enc for a in self._items], "add")
            bounds = [_add_bounds(b, other._bound) for b in self._bounds]
        elif isinstance(other, EncryptedVector):
            _same_key(self.public_key, other.public_key, "the two vectors")
            if len(other) != len(self):
                raise InvalidValueError(
                    f"cannot add encrypted vectors of lengths {len(self)} and {len(other)}"
                )
            items = _phe_op(lambda: [a + b for a, b in zip(self._items, other._items,
                                                            strict=True)], "add")
            bounds = [_add_bounds(a, b) for a, b in zip(self._bounds, other._bounds, strict=True)]
        else:
            ks = self._plain_operand(other, "add")
            items = _phe_op(lambda: [a + b for a, b in zip(self._items, ks, strict=True)], "add")
            bounds = [_add_bounds(b, _log2_abs(k)) for b, k in zip(self._bounds, ks, strict=True)]
        return self._result(items, bounds, "add")

    def __radd__(self, other: Any) -> EncryptedVector:
        if type(other) is int and other == 0:  # sum()'s start
            return self
        return self + other

    def __neg__(self) -> EncryptedVector:
        return self * -1

    def __sub__(self, other: Any) -> EncryptedVector:
        other = _as_cipher(other)
        if isinstance(other, Ciphertext | EncryptedVector):
            return self + (-other)
        return self + [-k for k in self._plain_operand(other, "subtract")]

    def __rsub__(self, other: Any) -> EncryptedVector:
        return (-self) + other

    def __mul__(self, other: Any) -> EncryptedVector:
        ks = self._plain_operand(other, "multiply")
        items = _phe_op(lambda: [a * k for a, k in zip(self._items, ks, strict=True)], "multiply")
        bounds = [_scale_bound(b, k) for b, k in zip(self._bounds, ks, strict=True)]
        return self._result(items, bounds, "multiply")

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
        enc = _phe_op(lambda: sum(self._items[1:], self._items[0]), "sum")
        bound = functools.reduce(_add_bounds, self._bounds)
        return Ciphertext(enc, _checked(enc, bound, "sum"))

    def __repr__(self) -> str:
        return f"EncryptedVector(len={len(self)}, {self.public_key.n.bit_length()}-bit key)"


def _to_numpy(value: Any) -> np.ndarray:
    """A numpy array of real numbers, or the project's error for anything else.

    Refused: complex numbers (the imaginary part would be dropped silently), strings (even
    "0.5": convert on purpose), booleans, dicts and other objects, and dtypes numpy cannot hold
    exactly (torch's bfloat16).
    """
    if type(value).__module__.startswith("torch"):
        if getattr(value, "is_complex", lambda: False)():
            raise InvalidValueError("complex tensors cannot be encrypted: Paillier encrypts real "
                                    "numbers; encrypt .real and .imag separately")
        if str(getattr(value, "dtype", "")) in ("torch.bfloat16", "torch.bool") or str(
                getattr(value, "dtype", "")).startswith("torch.float8"):
            raise InvalidValueError(
                f"a tensor of dtype {value.dtype} cannot be encrypted as it is; convert it "
                "first (tensor.float() for numbers)")
        value = value.detach().cpu().numpy()
    if isinstance(value, str | bytes | Mapping | set | frozenset):
        raise InvalidValueError(
            f"expected a number or a vector of numbers, got {type(value).__name__} "
            f"{value!r:.60}; strings are refused even when they look like numbers")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(
            f"expected a number or a vector of numbers, got {value!r:.60}") from exc
    kind = arr.dtype.kind
    if kind in "iuf":
        return arr
    if kind == "c":
        raise InvalidValueError("complex values cannot be encrypted or packed: the imaginary "
                                "part would be lost; handle the real and imaginary parts "
                                "separately")
    if kind == "O":
        for v in arr.reshape(-1).tolist():
            _check_finite(v)
        return arr
    what = {"b": "booleans", "U": "strings", "S": "bytes"}.get(kind, f"dtype {arr.dtype}")
    raise InvalidValueError(
        f"expected numbers, got {what}; convert them to numbers yourself (strings are refused "
        "even when they look like numbers)")


def _encrypt_values(public: PublicKey, values: Iterable[Any]) -> list[paillier.EncryptedNumber]:
    return [_phe_encrypt(public, v) for v in values]


def encrypt(public: PublicKey, value: Any) -> Ciphertext | EncryptedVector:
    """Encrypt a number, or each value of a 1-D numpy array, torch tensor or list.

    One ciphertext per value: simple but slow (~10 ms per value at 2048 bits with an ordinary
    key, under 1 ms with a fast key); see :mod:`omteach.crypto.packing` for many values per
    ciphertext.
    """
    if not isinstance(public, PublicKey):
        raise InvalidValueError(
            f"encrypt needs a Paillier public key (keys.public), got {type(public).__name__}"
        )
    if isinstance(value, numbers.Number | np.generic):
        value = _check_finite(value)
        return Ciphertext(_phe_encrypt(public, value), _log2_abs(value))
    like = "torch" if type(value).__module__.startswith("torch") else "numpy"
    arr = _to_numpy(value)
    if arr.ndim == 0:
        value = _check_finite(arr.item())
        return Ciphertext(_phe_encrypt(public, value), _log2_abs(value))
    if arr.ndim != 1:
        raise InvalidValueError(
            f"encrypt takes a number or a 1-D vector, got shape {arr.shape}; flatten it first "
            "(x.reshape(-1)) and reshape after decrypting"
        )
    values = [_check_finite(v) for v in arr.tolist()]
    return EncryptedVector(_encrypt_values(public, values), public, like,
                           [_log2_abs(v) for v in values])


def _phe_decrypt(private: PrivateKey, enc: paillier.EncryptedNumber) -> float | int:
    try:
        return private.decrypt(enc)
    except OverflowError as exc:
        raise PlaintextOverflowError(
            "the decrypted value overflowed: the result grew beyond what the key can hold "
            f"(about n/3). Use a larger key or smaller values. {_WRAP_WARNING}"
        ) from exc


def decrypt(private: PrivateKey, value: Ciphertext | EncryptedVector) -> Any:
    """Decrypt a :class:`Ciphertext` (to a number) or an :class:`EncryptedVector`.

    A vector decrypts to a numpy array, or to a torch tensor if a tensor was encrypted.
    """
    if not isinstance(private, PrivateKey):
        raise InvalidValueError(
            f"decrypt needs a Paillier private key (keys.private), got {type(private).__name__}"
        )
    value = _as_cipher(value)
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


def _check_raw_ciphertext(public: PublicKey, c: Any) -> None:
    if not isinstance(public, PublicKey):
        raise InvalidValueError(
            f"expected a Paillier public key, got {type(public).__name__}")
    if (isinstance(c, bool) or not isinstance(c, numbers.Integral)
            or not 0 < int(c) < public.nsquare):
        raise InvalidValueError(
            "expected a raw ciphertext: a whole number between 0 and n^2 of the key")


def rerandomize(public: PublicKey, c: int) -> int:
    """Multiply the raw ciphertext ``c`` by a fresh encryption of 0: same plaintext, new randomness.

    Send re-randomized ciphertexts whenever what you computed from someone else's ciphertexts
    must not reveal how (chapter 5): the result's randomness is then independent of theirs,
    *even to the key's owner*. So the fresh encryption of 0 is always a full-size ``r^n`` with
    ``r`` uniform below n (the fastest method that does not trust the key's owner): a fast key's
    ``h_s`` is the owner's choice, and an ``h_s`` of small order would let the owner undo a
    short-exponent re-randomization (see the module docstring). The owner re-randomizing its
    own ciphertexts uses :meth:`KeyPair.rerandomize` (CRT or table, faster).
    """
    _check_raw_ciphertext(public, c)
    r = secrets.randbelow(public.n - 1) + 1
    return int(int(c) * gmpy2.powmod(r, public.n, public.nsquare) % public.nsquare)


# -- the public key's JSON form ------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-f]+")
_SMALL_PRIMES = math.prod(p for p in range(3, 1000, 2)
                          if all(p % d for d in range(3, math.isqrt(p) + 1, 2)))


def public_key_to_json(public: PublicKey) -> dict[str, Any]:
    """The public key's JSON form: ``kind``, ``n`` (hex), ``fingerprint``, and ``h_s`` (hex)
    for a fast key. :func:`public_key_from_json` reads it back."""
    if not isinstance(public, PublicKey):
        raise InvalidValueError(
            f"expected a Paillier public key (keys.public), got {type(public).__name__}")
    doc = {"kind": KEY_KIND, "n": format(public.n, "x"), "fingerprint": key_fingerprint(public)}
    if is_fast(public):
        doc["h_s"] = format(public.h_s, "x")
    return doc


def _hex_field(doc: Mapping[str, Any], name: str, max_digits: int) -> int:
    value = doc.get(name)
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) > max_digits:
        raise InvalidValueError(
            f"the key's {name!r} must be a lowercase hexadecimal string of at most {max_digits} "
            f"digits, got {value!r:.40}")
    return int(value, 16)


def public_key_from_json(doc: Any) -> PublicKey:
    """Read a public key from :func:`public_key_to_json`'s form, checking everything checkable.

    Checked: the kind, that ``n`` is lowercase hex of a sensible size, odd, free of small
    factors, and matches the fingerprint; for a fast key, that ``h_s`` is a unit modulo n²
    other than ±1 (and not a square root of 1). Other fields (e.g. packing terms next to the
    key in a blob) are left to the caller. Raises :class:`InvalidValueError` (malformed) or
    :class:`KeyMismatchError` (fingerprint of another key).
    """
    if not isinstance(doc, Mapping):
        raise InvalidValueError(f"a public key's JSON form is an object, got {type(doc).__name__}")
    if doc.get("kind") != KEY_KIND:
        raise InvalidValueError(f"not a Paillier public key (kind {doc.get('kind')!r:.40}, "
                                f"expected {KEY_KIND!r})")
    n = _hex_field(doc, "n", MAX_KEY_BITS // 4)
    if n.bit_length() < MIN_KEY_BITS or n % 2 == 0 or math.gcd(n, _SMALL_PRIMES) != 1:
        raise InvalidValueError(
            f"the key's n ({n.bit_length()} bits) is not a Paillier modulus: it must be odd, at "
            f"least {MIN_KEY_BITS} bits and the product of two large primes")
    fingerprint = doc.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise InvalidValueError("the key's fingerprint is missing or not a string")
    public: PublicKey = PublicKey(n)
    if fingerprint != key_fingerprint(public):
        raise KeyMismatchError(
            "the key's fingerprint does not match its n: the key was altered or mixed up with "
            "another; fetch the key again from its owner")
    if "h_s" not in doc:
        return public
    nsq = n * n
    h_s = _hex_field(doc, "h_s", len(format(nsq, "x")))
    if not 1 < h_s < nsq - 1 or math.gcd(h_s, n) != 1 or h_s * h_s % nsq == 1:
        raise InvalidValueError(
            "the fast key's h_s is not usable: it must be a unit modulo n^2 other than 1 and "
            "-1 (and not a square root of 1); without it, encryptions would not be random")
    return FastPublicKey(n, h_s)
