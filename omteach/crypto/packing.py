"""Packing many values into one Paillier ciphertext (the BatchCrypt idea, USENIX ATC 2020).

Encrypting one value per ciphertext costs a 2048-bit modular exponentiation (~10 ms) per value.
A 2048-bit plaintext has room for over a hundred small integers, so the codec:

1. clips each float into ``[-clip, clip]`` and quantizes it to an integer ``q`` in
   ``[0, 2**bits - 1]`` (offset encoding: ``-clip`` maps to 0, so no value is negative);
2. gives each value a *slot* of ``slot_bits`` bits: ``bits`` plus enough headroom bits that the
   sum of up to ``max_contributions`` (K) such integers still fits, so adding K packed
   ciphertexts adds every slot at once without one slot spilling into the next;
3. packs as many slots as fit below the key's modulus n into one integer, and encrypts it with
   ``phe``'s ``raw_encrypt`` (no exponent travels with it, unlike ``phe.EncryptedNumber``,
   whose exponent is sent in the clear and reveals a float's magnitude).

Error bound: for inputs inside ``[-clip, clip]``, each decoded value is within ``step / 2`` of
the input, where ``step = 2 * clip / (2**bits - 1)``, plus float64 rounding (at most
``clip * 2**-48`` per contribution, negligible below about 40 bits); the decoded sum of k
contributions is within k times that of the float sum (:meth:`PackingCodec.error_bound`). Inputs
outside the range are clipped first (or refused with ``clip_inputs=False``); the bound is then
about the clipped values. Slot sums are unpacked exactly (as Python integers when a slot is
wider than 62 bits), so wide slots (e.g. 48 bits with K = 2**20: 68 bits) decode exactly.

Why one module of some 390 lines: the codec and its packed-ciphertext blob are one format
(slot layout, headroom, offsets) written and read by the same arithmetic; half the lines are the
bounds and refusals that keep a hostile blob from decoding to garbage.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omteach.crypto.paillier import (
    PrivateKey,
    PublicKey,
    _to_numpy,
    key_fingerprint,
    products_mod,
)
from omteach.errors import (
    HeadroomExceededError,
    InvalidValueError,
    KeyMismatchError,
    PlaintextOverflowError,
)

MAX_BITS = 48
"""Most quantization bits per value: beyond it float64 rounding (``FLOAT_SLOP``) outweighs the
step, so more bits would promise precision the arithmetic does not have."""

MAX_CONTRIBUTIONS = 1 << 20
"""Most contributions (K) a codec may reserve headroom for."""

FLOAT_SLOP = 2.0**-48
"""Float64 rounding per contribution, as a share of ``clip`` (quantize plus dequantize)."""

_INT64_SLOT_BITS = 62  # slot sums below 2**62 are held in int64; wider ones as Python ints


_HEX = re.compile(r"[0-9a-f]+")
"""Lowercase hex digits only: ``int(s, 16)`` alone would also take "0x..", "-..", "1_0", " 1"."""


@dataclass(frozen=True)
class PackingCodec:
    """Quantize, offset-encode and pack float vectors into few Paillier plaintexts.

    ``clip``: values are clipped into ``[-clip, clip]``; ``bits``: quantization bits per value;
    ``max_contributions``: how many packed ciphertexts (K) may be added before decrypting.
    """

    clip: float = 1.0
    bits: int = 16
    max_contributions: int = 3

    def __post_init__(self) -> None:
        if not (isinstance(self.clip, int | float) and not isinstance(self.clip, bool)
                and math.isfinite(self.clip) and self.clip > 0):
            raise InvalidValueError(f"clip must be a positive finite number, got {self.clip!r}")
        if not (isinstance(self.bits, int) and not isinstance(self.bits, bool)
                and 1 <= self.bits <= MAX_BITS):
            raise InvalidValueError(
                f"bits must be a whole number from 1 to {MAX_BITS}, got {self.bits!r}: "
                "quantization is done in float64, whose rounding outweighs the step beyond that"
            )
        if not (isinstance(self.max_contributions, int)
                and not isinstance(self.max_contributions, bool)
                and 1 <= self.max_contributions <= MAX_CONTRIBUTIONS):
            raise InvalidValueError(
                f"max_contributions (K) must be a whole number from 1 to {MAX_CONTRIBUTIONS}, "
                f"got {self.max_contributions!r}"
            )

    @property
    def levels(self) -> int:
        """Largest quantized value of one contribution: ``2**bits - 1``."""
        return (1 << self.bits) - 1

    @property
    def step(self) -> float:
        """Distance between two neighbouring quantized values."""
        return 2 * self.clip / self.levels

    @property
    def slot_bits(self) -> int:
        """Bits per slot: enough for the sum of K contributions of ``bits`` bits each."""
        return (self.max_contributions * self.levels).bit_length()

    @property
    def headroom_bits(self) -> int:
        """Extra bits per slot beyond ``bits``, reserved for the carries of a K-way sum."""
        return self.slot_bits - self.bits

    def error_bound(self, contributions: int = 1) -> float:
        """Largest absolute error of one decoded value of a sum of ``contributions`` vectors.

        Half a step per contribution (rounding to the grid) plus float64 rounding
        (``clip * FLOAT_SLOP`` per contribution, e.g. 3.6e-15 for clip 1).
        """
        return contributions * (self.step / 2 + self.clip * FLOAT_SLOP)

    def slots_per_ciphertext(self, public: PublicKey) -> int:
        """How many values fit in one plaintext of this key (kept below n, so no wrap-around)."""
        slots = (public.n.bit_length() - 1) // self.slot_bits
        if slots < 1:
            raise PlaintextOverflowError(
                f"a {self.slot_bits}-bit slot does not fit in a {public.n.bit_length()}-bit key; "
                "use a larger key, fewer bits or a smaller max_contributions"
            )
        return slots

    # -- quantization ---------------------------------------------------------------------------

    def quantize(self, values: Any, *, clip_inputs: bool = True) -> np.ndarray:
        """Clip and quantize floats to integers in ``[0, levels]`` (offset encoding)."""
        x = _to_numpy(values)
        if x.dtype.kind == "O":  # Python ints too large for int64 (each checked to be real)
            x = np.array([float(v) for v in x.reshape(-1).tolist()]).reshape(x.shape)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise InvalidValueError(
                f"pack a 1-D vector, got shape {x.shape}; flatten it first (x.reshape(-1))"
            )
        bad = ~np.isfinite(x)
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidValueError(
                f"value at index {i} is {x[i]}: NaN and infinity cannot be packed; "
                "clean the vector first"
            )
        outside = np.abs(x) > self.clip
        if outside.any() and not clip_inputs:
            i = int(np.argmax(outside))
            raise PlaintextOverflowError(
                f"value at index {i} is {x[i]:g}, outside [-{self.clip:g}, {self.clip:g}]; "
                "raise clip, or pass clip_inputs=True to clip it"
            )
        x = np.clip(x, -self.clip, self.clip)
        q = np.rint((x + self.clip) / self.step)
        return np.clip(q, 0, self.levels).astype(np.int64)

    def dequantize(self, q: np.ndarray, contributions: int = 1) -> np.ndarray:
        """Turn slot sums of ``contributions`` quantized vectors back into float sums."""
        return np.asarray(q, dtype=np.float64) * self.step - contributions * self.clip

    # -- packing ---------------------------------------------------------------------------------

    def pack(self, q: np.ndarray, public: PublicKey) -> list[int]:
        """Pack quantized integers into plaintext integers, slot 0 in the lowest bits."""
        q = np.asarray(q)
        if q.size and (q.min() < 0 or q.max() > self.max_contributions * self.levels):
            raise PlaintextOverflowError(
                f"a slot value lies outside [0, {self.max_contributions * self.levels}] and would "
                "spill into its neighbour; quantize with this codec first"
            )
        per = self.slots_per_ciphertext(public)
        sb = self.slot_bits
        ints = q.tolist()
        out = []
        for start in range(0, len(ints), per):
            m = 0
            for v in reversed(ints[start:start + per]):
                m = (m << sb) | v
            out.append(m)
        return out

    def unpack(self, plaintexts: list[int], length: int, public: PublicKey) -> np.ndarray:
        """Split plaintext integers back into ``length`` slot values."""
        per = self.slots_per_ciphertext(public)
        sb, mask = self.slot_bits, (1 << self.slot_bits) - 1
        if len(plaintexts) != -(-length // per):
            raise InvalidValueError(
                f"{len(plaintexts)} plaintexts cannot hold {length} values of {per} a plaintext")
        # Wide slots overflow int64: hold them as exact Python integers instead.
        out = np.empty(length, dtype=np.int64 if sb <= _INT64_SLOT_BITS else object)
        i = 0
        for m in plaintexts:
            for _ in range(min(per, length - i)):
                out[i] = m & mask
                m >>= sb
                i += 1
        return out

    # -- encryption ------------------------------------------------------------------------------

    def n_ciphertexts(self, length: int, public: PublicKey) -> int:
        """How many ciphertexts a vector of ``length`` values packs into."""
        return -(-length // self.slots_per_ciphertext(public))

    def encrypt(self, public: PublicKey, values: Any, *, clip_inputs: bool = True,
                mask: Sequence[int] | None = None, encryptor: Any = None) -> PackedCiphertext:
        """Quantize, pack and encrypt a float vector, many values per ciphertext.

        ``mask``: one number mod n per ciphertext, added to the packed plaintext before
        encryption (secure aggregation: :mod:`omteach.crypto.doublemask` in the round,
        :mod:`omteach.crypto.secagg` in chapter 5's encrypted model). ``encryptor``: a callable
        that maps the list of plaintexts to ciphertexts (e.g. spread over processes); default: here.
        """
        if not isinstance(public, PublicKey):
            raise InvalidValueError(
                f"encrypt needs a Paillier public key (keys.public), got {type(public).__name__}"
            )
        q = self.quantize(values, clip_inputs=clip_inputs)
        plain = self.pack(q, public)
        if mask is not None:
            if isinstance(mask, str | bytes) or not isinstance(mask, Sequence) or not all(
                    isinstance(m, numbers.Integral) and not isinstance(m, bool) for m in mask):
                raise InvalidValueError("the mask must be a list of whole numbers (mod n), one "
                                        "per plaintext (omteach.crypto.doublemask makes one)")
            mask = [int(m) for m in mask]
            if len(mask) != len(plain):
                raise InvalidValueError(
                    f"the mask has {len(mask)} numbers, the vector packs into {len(plain)} "
                    "plaintexts; make the mask with codec.n_ciphertexts(len(values), key)")
            plain = [(m + r) % public.n for m, r in zip(plain, mask, strict=True)]
        cts = encryptor(plain) if encryptor is not None else [public.raw_encrypt(m) for m in plain]
        return PackedCiphertext(list(cts), public, self, len(q), 1)

    def decrypt(self, private: PrivateKey, packed: PackedCiphertext) -> np.ndarray:
        """Decrypt, unpack and dequantize: the float sum of the packed contributions."""
        if not isinstance(packed, PackedCiphertext):
            raise InvalidValueError(
                f"expected a PackedCiphertext, got {type(packed).__name__}; "
                "per-value ciphertexts are decrypted with omteach.crypto.paillier.decrypt"
            )
        if not isinstance(private, PrivateKey):
            raise InvalidValueError(
                f"decrypt needs a Paillier private key (keys.private), got {type(private).__name__}"
            )
        if packed.public_key != private.public_key:
            raise KeyMismatchError(
                "this packed vector was encrypted under a different public key than this "
                "private key's; decrypt it with the private key of the key pair that encrypted it"
            )
        if packed.codec != self:
            raise InvalidValueError(
                f"this packed vector was made by {packed.codec}, not {self}; "
                "decrypt it with the codec that packed it"
            )
        plain = [private.raw_decrypt(int(c)) for c in packed.ciphertexts]
        q = self.unpack(plain, packed.length, packed.public_key)
        return self.dequantize(q, packed.contributions)


@dataclass(frozen=True)
class PackedCiphertext:
    """Ciphertexts of a packed vector: raw integers modulo n², no exponents in the clear.

    ``contributions`` counts how many encrypted vectors were added into it; adding past the
    codec's ``max_contributions`` raises :class:`HeadroomExceededError` instead of letting a
    slot overflow into its neighbour.
    """

    ciphertexts: list[int]
    public_key: PublicKey
    codec: PackingCodec
    length: int
    contributions: int

    def __add__(self, other: PackedCiphertext) -> PackedCiphertext:
        return add_all([self, other])

    def _check_addable(self, other: Any) -> None:
        if not isinstance(other, PackedCiphertext):
            raise InvalidValueError(
                f"a packed vector can only be added to another packed vector, got "
                f"{type(other).__name__}"
            )
        if other.public_key != self.public_key:
            raise KeyMismatchError(
                "the two packed vectors were encrypted under different public keys; "
                "encrypt every contribution with the same (the aggregator's) public key"
            )
        if other.codec != self.codec or other.length != self.length:
            raise InvalidValueError(
                f"cannot add packed vectors of different shapes or codecs "
                f"({self.length} values with {self.codec} vs {other.length} with {other.codec})"
            )

    def __radd__(self, other: Any) -> PackedCiphertext:
        if type(other) is int and other == 0:  # sum()'s start: sum(packed_list) works
            return self
        return self + other

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form for a blob: hex ciphertexts, the codec, and the key's fingerprint."""
        return {
            "kind": "omteach.PackedCiphertext",
            "ciphertexts": [format(c, "x") for c in self.ciphertexts],
            "codec": {"clip": self.codec.clip, "bits": self.codec.bits,
                      "max_contributions": self.codec.max_contributions},
            "length": self.length,
            "contributions": self.contributions,
            "key_fingerprint": key_fingerprint(self.public_key),
        }

    @classmethod
    def from_json(cls, d: Any, public: PublicKey) -> PackedCiphertext:
        """Rebuild from :meth:`to_json`, refusing data made for another key or malformed.

        Every field is checked: types (no strings for numbers, no floats for counts), the codec,
        ``contributions`` from 1 to the codec's K, the number of ciphertexts against ``length``
        and the key's slots, and each ciphertext (lowercase hex, a unit modulo n²).
        """
        if not isinstance(public, PublicKey):
            raise InvalidValueError(
                f"from_json needs the Paillier public key, got {type(public).__name__}")

        def bad(what: str) -> InvalidValueError:
            return InvalidValueError(f"not a packed ciphertext blob: {what}")

        if not isinstance(d, Mapping):
            raise bad(f"expected a JSON object, got {type(d).__name__}")
        if d.get("kind") != "omteach.PackedCiphertext":
            raise bad(f"kind is {d.get('kind')!r:.40}, expected 'omteach.PackedCiphertext'")
        missing = {"ciphertexts", "codec", "length", "contributions", "key_fingerprint"} - set(d)
        if missing:
            raise bad(f"missing {', '.join(sorted(missing))}")
        if d["key_fingerprint"] != key_fingerprint(public):
            raise KeyMismatchError("this packed vector was encrypted under another public key")
        spec = d["codec"]
        if not isinstance(spec, Mapping) or set(spec) != {"clip", "bits", "max_contributions"}:
            raise bad("codec must be an object with exactly clip, bits and max_contributions")
        try:
            codec = PackingCodec(**spec)
        except InvalidValueError as exc:
            raise bad(f"its codec is refused ({exc})") from None
        length, contributions = d["length"], d["contributions"]
        for name, v in (("length", length), ("contributions", contributions)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise bad(f"{name} must be a whole number, got {v!r:.40}")
        if length < 0:
            raise bad(f"length is {length}")
        if not 1 <= contributions <= codec.max_contributions:
            raise bad(f"contributions is {contributions}, but a blob sums from 1 to the codec's "
                      f"{codec.max_contributions} contributions")
        hexes = d["ciphertexts"]
        if not isinstance(hexes, list) or not all(isinstance(c, str) for c in hexes):
            raise bad("ciphertexts must be a list of hexadecimal strings")
        try:
            expected = codec.n_ciphertexts(length, public)
        except PlaintextOverflowError as exc:
            raise bad(str(exc)) from None
        if len(hexes) != expected:
            raise InvalidValueError(
                f"the blob's ciphertexts do not fit its length or the key: {len(hexes)} "
                f"ciphertexts, but {length} values pack into {expected} under this key")
        nsq, digits = public.nsquare, len(format(public.nsquare, "x"))
        cts = []
        for i, h in enumerate(hexes):
            c = int(h, 16) if len(h) <= digits and _HEX.fullmatch(h) else 0
            if not 0 < c < nsq or math.gcd(c, public.n) != 1:
                raise InvalidValueError(
                    f"the blob's ciphertexts do not fit its length or the key: ciphertext {i} "
                    "is not lowercase hex of a unit modulo n^2")
            cts.append(c)
        return cls(cts, public, codec, length, contributions)

    @property
    def nbytes(self) -> int:
        """Size of the ciphertexts on the wire."""
        return len(self.ciphertexts) * ((self.public_key.nsquare.bit_length() + 7) // 8)

    def __repr__(self) -> str:
        return (f"PackedCiphertext({self.length} values in {len(self.ciphertexts)} ciphertexts, "
                f"{self.contributions} contribution(s), {self.nbytes} bytes)")


def add_all(packed: Sequence[PackedCiphertext]) -> PackedCiphertext:
    """The homomorphic sum of packed vectors, all at once: what adding them one by one gives,
    each checked as ``+`` checks it (same key, codec and length; no more contributions than the
    codec's headroom), then multiplied in one pass (AI Inc.'s close of 90 updates: 86 ms of
    Python's big integers one by one, 15 ms this way)."""
    if not packed:
        raise InvalidValueError("nothing to add: give at least one packed vector")
    first = packed[0]
    if not isinstance(first, PackedCiphertext):
        raise InvalidValueError(f"only packed vectors can be added, got {type(first).__name__}")
    for other in packed[1:]:
        first._check_addable(other)
    total = sum(p.contributions for p in packed)
    if total > first.codec.max_contributions:
        raise HeadroomExceededError(
            f"adding these would make {total} contributions, but the codec reserved headroom "
            f"for {first.codec.max_contributions}; a slot would overflow into its neighbour. "
            "Make a codec with a larger max_contributions."
        )
    cts = products_mod([p.ciphertexts for p in packed], first.public_key.nsquare)
    return PackedCiphertext(cts, first.public_key, first.codec, first.length, total)
