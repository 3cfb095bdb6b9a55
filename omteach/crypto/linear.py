"""Encrypted linear algebra on raw Paillier ciphertexts (integers modulo n²), and their randomness.

A Paillier ciphertext of m is ``c = (1 + n)^m · r^n mod n²`` with ``r`` drawn at random: the
*randomness* ``r`` is what hides ``m``. Two rules give linear algebra without the private key:

- ``c₁ · c₂ mod n²`` encrypts ``m₁ + m₂`` (and its randomness is ``r₁ · r₂``);
- ``c^k mod n²`` encrypts ``k · m`` for a plain integer ``k`` (randomness ``r^k``).

So ``Π_j Enc(w_j)^{x_j}`` encrypts the dot product ``w · x`` of encrypted weights and plain
integers (:func:`encrypted_dot`, :func:`encrypted_matvec`), and multiplying by ``1 + n·v`` adds a
plain ``v`` (:func:`add_plain`).

Many small signed results can share one ciphertext (:func:`pack_ciphertexts`): ``Enc(v_0)·
Enc(v_1)^(2^b)·Enc(v_2)^(2^2b)…`` encrypts ``Σ_k v_k·2^(k·b)``, one *slot* of ``b`` bits per value,
computed by Horner's rule for about one exponentiation's worth of squarings per packed ciphertext.
Whoever sends results then re-randomizes a few packed ciphertexts instead of every value, and the
key's owner decrypts a few; :func:`unpack_signed` reads the slots back, sign included.

**The randomness of such a result is a function of the inputs**: ``Π_j r_j^{x_j}``, fixed by the
sender's ``r_j`` and the receiver's plain ``x_j``. A sender who *chose* the ``r_j`` (say ``r = 1``
for all weights but one) can read the ``x_j`` back from that randomness, with no decryption at all
(:func:`randomness_log` shows how). Hence the rule: **re-randomize every ciphertext you send**
(:func:`rerandomize`: multiply by a fresh encryption of zero, ``s^n`` for a random ``s``), and
refuse inputs whose randomness is visibly chosen (:func:`refuse_visibly_non_random`).

This module and :mod:`omteach.crypto.paillier` are the only ones that use ``gmpy2``.

Why one module of some 430 lines: the raw-ciphertext algebra and the randomness rules that make
it safe (re-randomize, refuse chosen randomness) must be read together; the second half exists
because of the first.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import gmpy2
import numpy as np

from omteach.crypto.paillier import PublicKey
from omteach.errors import InvalidValueError, NonRandomCiphertextError, PlaintextOverflowError

SINGLE_DIGIT_MAX = 32
"""Coefficients up to this size are bucketed as they are (one level); larger ones digit by digit."""

WINDOW_BITS = 4
"""Digit size, in bits, for coefficients above :data:`SINGLE_DIGIT_MAX`."""


def _check_key(public: Any) -> PublicKey:
    if not isinstance(public, PublicKey):
        raise InvalidValueError(
            f"expected a Paillier public key (keys.public), got {type(public).__name__}")
    return public


def check_ciphertexts(public: PublicKey, ciphertexts: Sequence[Any], what: str) -> list[Any]:
    """``ciphertexts`` as gmpy2 integers, after checking each is a ciphertext integer of this key
    (between 1 and n² − 1); :class:`InvalidValueError` naming ``what`` and the index otherwise."""
    if isinstance(ciphertexts, str | bytes) or not isinstance(ciphertexts, Sequence | np.ndarray):
        raise InvalidValueError(f"{what} must be a list of ciphertext integers, "
                                f"got {type(ciphertexts).__name__}")
    out = []
    for i, c in enumerate(ciphertexts):
        if isinstance(c, bool) or not isinstance(c, numbers.Integral | type(gmpy2.mpz(0))):
            raise InvalidValueError(f"{what}[{i}] is a {type(c).__name__}, not a ciphertext "
                                    "integer (raw ciphertexts are ints modulo n²)")
        if not 0 < c < public.nsquare:
            raise InvalidValueError(
                f"{what}[{i}] is not a ciphertext of this key: it must lie between 1 and n² − 1 "
                "(was it encrypted under another key?)")
        out.append(gmpy2.mpz(int(c)))
    return out


def _int_array(values: Any, ndim: int, what: str) -> np.ndarray:
    """``values`` as an integer numpy array (int64, or object holding Python ints if large)."""
    if type(values).__module__.startswith("torch"):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"{what} must be a {ndim}-D array of integers: {exc}") from exc
    if arr.dtype == object:
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                   for v in arr.flat):
            raise InvalidValueError(f"{what} must hold integers only")
    elif arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidValueError(
            f"{what} must hold integers, got dtype {arr.dtype}: scale real numbers to fixed "
            "point (e.g. np.rint(x * 2**20).astype(np.int64)) first")
    if arr.ndim != ndim:
        raise InvalidValueError(f"{what} must be {ndim}-D, got shape {arr.shape}")
    return arr


def _digits(a: int, levels: int, base_bits: int) -> list[int]:
    """``a``'s ``levels`` base-2^base_bits digits, most significant first."""
    mask = (1 << base_bits) - 1
    return [(a >> (base_bits * k)) & mask for k in range(levels - 1, -1, -1)]


def _multi_exp_rows(cts: list[Any], rows: list[list[tuple[int, int]]], nsq: Any) -> list[Any]:
    """``Π_j cts[j]^{a}`` for each row of (column, coefficient a ≥ 1) pairs, modulo ``nsq``.

    No exponentiation by a large number anywhere: each row groups its ciphertexts by coefficient
    (digit) and combines the groups either from per-ciphertext power tables or by bucketed
    suffix products, whichever costs fewer multiplications for this shape.
    """
    max_exp = max((a for row in rows for _, a in row), default=0)
    if max_exp == 0:
        return [gmpy2.mpz(1)] * len(rows)
    if max_exp <= SINGLE_DIGIT_MAX:
        base, levels = max_exp + 1, 1
        leveled: Leveled = [[row] for row in rows]
    else:
        base, levels = 1 << WINDOW_BITS, -(-max_exp.bit_length() // WINDOW_BITS)
        leveled: Leveled = []
        for row in rows:
            per_level: list[list[tuple[int, int]]] = [[] for _ in range(levels)]
            for j, a in row:
                for lvl, d in enumerate(_digits(a, levels, WINDOW_BITS)):
                    if d:
                        per_level[lvl].append((j, d))
            leveled.append(per_level)
    # Multiplications mod n² each way (the per-entry products are the same for both).
    top_digit: dict[int, int] = {}
    for per_level in leveled:
        for entries in per_level:
            for j, d in entries:
                if d > top_digit.get(j, 0):
                    top_digit[j] = d
    table_cost = sum(d - 1 for d in top_digit.values())
    bucket_cost = len(rows) * levels * 2 * (base - 1)
    if table_cost <= bucket_cost:
        return _rows_by_tables(cts, leveled, top_digit, base, nsq)
    return _rows_by_buckets(cts, leveled, base, nsq)


Leveled = list[list[list[tuple[int, int]]]]
"""Per row, per digit level (most significant first), the (column, nonzero digit) pairs."""


def _horner(leveled: Leveled, base: int, nsq: Any,
            level_product: Callable[[list[tuple[int, int]]], Any]) -> list[Any]:
    """Each row's ``acc = acc^base · level_product(level)`` over its levels, modulo ``nsq``."""
    out = []
    for per_level in leveled:
        acc = gmpy2.mpz(1)
        for entries in per_level:
            if acc != 1:
                acc = gmpy2.powmod(acc, base, nsq)
            if entries:
                acc = acc * level_product(entries) % nsq
        out.append(acc)
    return out


def _rows_by_tables(cts: list[Any], leveled: Leveled, top_digit: dict[int, int], base: int,
                    nsq: Any) -> list[Any]:
    # c^0..c^top for each ciphertext used: a product of table entries per nonzero digit.
    tables = {}
    for j, top in top_digit.items():
        row = [gmpy2.mpz(1), cts[j]]
        for _ in range(top - 1):
            row.append(row[-1] * cts[j] % nsq)
        tables[j] = row

    def product(entries: list[tuple[int, int]]) -> Any:
        p = gmpy2.mpz(1)
        for j, d in entries:
            p = p * tables[j][d] % nsq
        return p

    return _horner(leveled, base, nsq, product)


def _rows_by_buckets(cts: list[Any], leveled: Leveled, base: int, nsq: Any) -> list[Any]:
    def product(entries: list[tuple[int, int]]) -> Any:
        # Π_k B_k^k with B_k = Π_{j: digit k} c_j  =  Π_{k=1..top} (Π_{l >= k} B_l):
        # products only, no exponentiation.
        buckets = [gmpy2.mpz(1)] * base
        top = 0
        for j, d in entries:
            buckets[d] = buckets[d] * cts[j] % nsq
            top = max(top, d)
        part = suffix = gmpy2.mpz(1)
        for k in range(top, 0, -1):
            suffix = suffix * buckets[k] % nsq
            part = part * suffix % nsq
        return part

    return _horner(leveled, base, nsq, product)


def encrypted_matvec(public: PublicKey, ciphertexts: Sequence[int], matrix: Any) -> list[int]:
    """Encrypted ``M @ w``: given ``Enc(w_j)`` and a plain integer matrix ``M``, the ciphertexts
    of ``Σ_j M[i, j] · w_j``, one per row of ``M``.

    ``matrix`` is 2-D, one column per ciphertext; its entries are integers of any sign and size
    (numpy integer arrays or nested lists of Python ints; floats are refused). The results carry
    randomness fixed by the inputs (``Π_j r_j^{M[i, j]}``, and ``r = 1`` for an all-zero row):
    :func:`rerandomize` them before they leave your hands.
    """
    public = _check_key(public)
    cts = check_ciphertexts(public, ciphertexts, "ciphertexts")
    arr = _int_array(matrix, 2, "the matrix")
    if arr.shape[1] != len(cts):
        raise InvalidValueError(
            f"the matrix has {arr.shape[1]} columns but there are {len(cts)} ciphertexts: it "
            "needs one column per encrypted value")
    nsq = gmpy2.mpz(public.nsquare)
    ri, ci = np.nonzero(arr)
    values = arr[ri, ci].tolist()
    rows: list[list[tuple[int, int]]] = [[] for _ in range(arr.shape[0])]
    inverses: dict[int, Any] = {}
    extended = list(cts)
    for i, j, a in zip(ri.tolist(), ci.tolist(), values, strict=True):
        a = int(a)
        if a < 0:
            # c^(-a) = (c^-1)^a: the inverse ciphertext sits after the originals.
            if j not in inverses:
                try:
                    inverses[j] = len(extended)
                    extended.append(gmpy2.invert(cts[j], nsq))
                except ZeroDivisionError as exc:
                    raise InvalidValueError(
                        f"ciphertexts[{j}] has no inverse modulo n²: it is not a valid "
                        "Paillier ciphertext") from exc
            rows[i].append((inverses[j], -a))
        else:
            rows[i].append((j, a))
    return [int(c) for c in _multi_exp_rows(extended, rows, nsq)]


def encrypted_dot(public: PublicKey, ciphertexts: Sequence[int], vector: Any) -> int:
    """Encrypted ``w · x``: the ciphertext of ``Σ_j x_j · w_j`` from ``Enc(w_j)`` and plain
    integers ``x_j`` (any sign and size; the vector's length must match).

    An all-zero vector gives the trivial encryption of 0 (``1``). Rerandomize before sending.
    """
    arr = _int_array(vector, 1, "the vector")
    if not isinstance(ciphertexts, str | bytes) and isinstance(ciphertexts, Sequence | np.ndarray) \
            and len(arr) != len(ciphertexts):
        raise InvalidValueError(
            f"the vector has {len(arr)} entries but there are {len(ciphertexts)} ciphertexts: "
            "give one plain integer per encrypted value")
    return encrypted_matvec(public, ciphertexts, arr.reshape(1, -1))[0]


def add_plain(public: PublicKey, ciphertexts: Sequence[int], values: Any) -> list[int]:
    """``Enc(m_i + v_i)`` from ``Enc(m_i)`` and plain integers ``v_i`` (reduced modulo n).

    Multiplies by ``1 + n·v``, the encryption of ``v`` with randomness 1: the result keeps the
    input's randomness, so it says nothing new about ``v`` only once rerandomized.
    """
    public = _check_key(public)
    cts = check_ciphertexts(public, ciphertexts, "ciphertexts")
    vs = _int_array(values, 1, "the values")
    if len(vs) != len(cts):
        raise InvalidValueError(
            f"{len(vs)} values for {len(cts)} ciphertexts: give one plain value per ciphertext")
    n, nsq = gmpy2.mpz(public.n), gmpy2.mpz(public.nsquare)
    return [int(c * (1 + n * (int(v) % public.n)) % nsq)
            for c, v in zip(cts, vs.tolist(), strict=True)]


def _check_slot_bits(public: PublicKey, slot_bits: Any) -> int:
    top = public.n.bit_length() - 2
    if isinstance(slot_bits, bool) or not isinstance(slot_bits, numbers.Integral) \
            or not 2 <= slot_bits <= top:
        raise InvalidValueError(
            f"slot_bits must be a whole number from 2 to {top} (the key's n has "
            f"{public.n.bit_length()} bits), got {slot_bits!r}")
    return int(slot_bits)


def slots_per_ciphertext(public: PublicKey, slot_bits: int) -> int:
    """How many signed slots of ``slot_bits`` bits one packed ciphertext holds.

    The packed value must stay within ``±n/2`` (the signed range of a plaintext), so slots fill
    at most ``bits(n) − 2`` bits.
    """
    public = _check_key(public)
    return (public.n.bit_length() - 2) // _check_slot_bits(public, slot_bits)


def pack_ciphertexts(public: PublicKey, ciphertexts: Sequence[int], slot_bits: int) -> list[int]:
    """Pack ciphertexts of small signed integers into few: ``Enc(Σ_k v_k · 2^(k·slot_bits))``.

    Value ``k`` goes to slot ``k mod S`` of packed ciphertext ``k // S``, with ``S`` from
    :func:`slots_per_ciphertext`. Decrypted sums of such packed ciphertexts unpack exactly with
    :func:`unpack_signed` as long as every slot's (summed) value lies strictly within
    ``±2^(slot_bits − 1)``: choose ``slot_bits`` from a bound on the values. The result's
    randomness is a function of the inputs' (as for every computed ciphertext): rerandomize
    before sending.
    """
    public = _check_key(public)
    cts = check_ciphertexts(public, ciphertexts, "ciphertexts")
    per = slots_per_ciphertext(public, slot_bits)
    nsq, shift = gmpy2.mpz(public.nsquare), gmpy2.mpz(1) << slot_bits
    out = []
    for start in range(0, len(cts), per):
        group = cts[start:start + per]
        acc = group[-1]
        for c in reversed(group[:-1]):  # Horner: acc = acc^(2^b) · c, highest slot first
            acc = gmpy2.powmod(acc, shift, nsq) * c % nsq
        out.append(int(acc))
    return out


def unpack_signed(public: PublicKey, plaintexts: Sequence[int], count: int,
                  slot_bits: int) -> list[int]:
    """The ``count`` signed slot values of decrypted packed plaintexts (inverse of
    :func:`pack_ciphertexts` after decryption; plaintexts are integers in ``[0, n)``).

    Raises :class:`PlaintextOverflowError` when a plaintext holds more than its slots can: a slot
    sum outgrew ``slot_bits``, or a mask that should have cancelled did not.
    """
    public = _check_key(public)
    per = slots_per_ciphertext(public, slot_bits)
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise InvalidValueError(f"count must be a non-negative whole number, got {count!r}")
    if isinstance(plaintexts, str | bytes) or not isinstance(plaintexts, Sequence | np.ndarray):
        raise InvalidValueError("plaintexts must be a list of integers")
    if len(plaintexts) != -(-count // per):
        raise InvalidValueError(
            f"{count} values of {slot_bits} bits fill {-(-count // per)} packed plaintexts, "
            f"got {len(plaintexts)}")
    n, half, mask = public.n, public.n // 2, (1 << slot_bits) - 1
    out: list[int] = []
    for i, m in enumerate(plaintexts):
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or not 0 <= m < n:
            raise InvalidValueError(f"plaintexts[{i}] is not a plaintext of this key (0 ≤ m < n)")
        v = int(m) - n if m > half else int(m)
        for _ in range(min(per, count - len(out))):
            s = v & mask
            if s >> (slot_bits - 1):
                s -= 1 << slot_bits  # the slot's sign: balanced digits
            out.append(s)
            v = (v - s) >> slot_bits
        if v != 0:
            raise PlaintextOverflowError(
                f"packed plaintext {i} holds more than its slots of {slot_bits} bits: a slot "
                "sum overflowed, or masks did not cancel (was every owner's share added?). "
                "Choose wider slots or check the aggregate")
    return out


def refuse_visibly_non_random(public: PublicKey, ciphertexts: Sequence[int]) -> None:
    """Raise :class:`NonRandomCiphertextError` if some ciphertexts' randomness is visibly chosen.

    ``c mod n = r^n mod n`` (the ``(1 + n)^m`` part is 1 mod n), and ``r ↦ r^n`` is one-to-one,
    so ``c ≡ 1 (mod n)`` means ``r = 1`` (``c = 1 + m·n``), ``c ≡ −1`` means ``r = −1``, and two
    ciphertexts equal mod n share their ``r``. Random ``r`` never does any of these in practice.
    Cheap (no exponentiation), but only a tripwire: a sender who knows the factors of ``n`` can
    choose randomness that passes; what protects the receiver is :func:`rerandomize`.
    """
    public = _check_key(public)
    cts = check_ciphertexts(public, ciphertexts, "ciphertexts")
    n = gmpy2.mpz(public.n)
    seen: dict[Any, int] = {}
    for i, c in enumerate(cts):
        rn = c % n
        if rn == 1 or rn == n - 1:
            raise NonRandomCiphertextError(
                f"ciphertext {i} was encrypted with randomness r = {'1' if rn == 1 else '-1'} "
                "(c ≡ ±1 mod n), not a random r: whoever chose it can read what you compute "
                "through the randomness of your results. Refuse these ciphertexts and ask for "
                "freshly encrypted ones")
        if gmpy2.gcd(rn, n) != 1:
            raise InvalidValueError(f"ciphertext {i} shares a factor with n: it is not a valid "
                                    "Paillier ciphertext")
        if rn in seen:
            raise NonRandomCiphertextError(
                f"ciphertexts {seen[rn]} and {i} share their randomness r (equal modulo n): "
                "randomness is being chosen, not drawn. Refuse these ciphertexts and ask for "
                "freshly encrypted ones")
        seen[rn] = i


# The chosen-randomness attack, for teaching and for the tests that show the defence works.

def encrypt_with_randomness(public: PublicKey, m: int, r: int) -> int:
    """``Enc(m)`` with the randomness ``r`` *chosen* instead of drawn (what a cheating sender
    does; ``r = 1`` gives ``1 + m·n``). Decrypts like any other ciphertext."""
    public = _check_key(public)
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise InvalidValueError(f"the plaintext must be an integer, got {m!r}")
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 0 < r < public.n:
        raise InvalidValueError(f"the randomness must be an integer between 1 and n − 1, got {r!r}")
    nsq = gmpy2.mpz(public.nsquare)
    nude = (1 + gmpy2.mpz(public.n) * (int(m) % public.n)) % nsq
    return int(nude * gmpy2.powmod(int(r), public.n, nsq) % nsq)


def randomness_log(public: PublicKey, c: int, r: int, bound: int) -> int | None:
    """The exponent ``e`` in ``[0, bound]`` with randomness of ``c`` equal to ``r^e``, or None.

    Reads ``c mod n = (r^n)^e mod n`` and solves for ``e`` by baby-step giant-step, about
    ``2·√bound`` multiplications mod n: no private key needed. Against a result computed from
    ciphertexts whose randomness the attacker chose (all 1 but one ``r``), ``e`` is the plain
    coefficient the receiver applied to that one ciphertext. Against a rerandomized result no
    ``e`` exists (the randomness is ``r^e·s`` for an unknown random ``s``) and the answer is None.
    """
    return randomness_logs(public, [c], r, bound)[0]


def randomness_logs(public: PublicKey, ciphertexts: Sequence[int], r: int,
                    bound: int) -> list[int | None]:
    """:func:`randomness_log` of each ciphertext, with one table of baby steps for all."""
    public = _check_key(public)
    cts = check_ciphertexts(public, ciphertexts, "the ciphertexts")
    if isinstance(bound, bool) or not isinstance(bound, numbers.Integral) or bound < 0:
        raise InvalidValueError(f"the bound must be a non-negative integer, got {bound!r}")
    n = gmpy2.mpz(public.n)
    g = gmpy2.powmod(int(r), n, n)
    if gmpy2.gcd(g, n) != 1:
        raise InvalidValueError("r must be invertible modulo n")
    step = math.isqrt(int(bound)) + 1
    baby: dict[Any, int] = {}
    x = gmpy2.mpz(1)
    for j in range(step):
        baby.setdefault(x, j)
        x = x * g % n
    giant = gmpy2.invert(gmpy2.powmod(g, step, n), n)
    out: list[int | None] = []
    for cc in cts:
        y, found = cc % n, None
        for i in range(step + 1):
            if y in baby:
                e = i * step + baby[y]
                found = e if e <= bound else None
                break
            y = y * giant % n
        out.append(found)
    return out
