"""Checkers for chapter 1: homomorphic addition."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from omteach.crypto.paillier import Ciphertext, EncryptedVector, KeyPair, decrypt
from omteach.errors import OmteachError
from omteach.exercises import (
    Feedback,
    call_student,
    correct,
    not_answered,
    not_yet_a_function,
    wrong,
)


def _toy_encrypt(m: int, n: int, rng: random.Random) -> int:
    n2 = n * n
    while True:
        r = rng.randrange(1, n)
        if math.gcd(r, n) == 1:
            return pow(n + 1, m, n2) * pow(r, n, n2) % n2


def _toy_decrypt(c: int, p: int, q: int) -> int:
    n = p * q
    lam = math.lcm(p - 1, q - 1)
    mu = pow(lam, -1, n)
    return (pow(c, lam, n * n) - 1) // n * mu % n


def check_toy_add(toy_add: Callable[[int, int], int] | None, p: int, q: int) -> Feedback:
    """Check ``toy_add(c1, c2)``: it must return a ciphertext of the sum of the two plaintexts."""
    hint = ("Write out Enc(a)·Enc(b) = g^a·r1^n · g^b·r2^n: which operation on the ciphertexts "
            "puts a + b in the exponent of g?")
    if (verdict := not_yet_a_function(toy_add, "toy_add", hint)) is not None:
        return verdict
    n = p * q
    n2 = n * n
    rng = random.Random(1)
    for _ in range(20):
        a, b = rng.randrange(n // 2), rng.randrange(n // 2)
        c1, c2 = _toy_encrypt(a, n, rng), _toy_encrypt(b, n, rng)
        c, error = call_student(toy_add, c1, c2)
        if error:
            return wrong(f"toy_add({c1}, {c2}) raised {error}", hint)
        if not isinstance(c, int):
            return wrong(f"toy_add returned {c!r}; a toy ciphertext is a whole number.", hint)
        if c == c1 + c2:
            return wrong(
                "You added the ciphertexts as ordinary numbers. That does not add the messages.",
                "In Paillier, *multiplying* two ciphertexts (mod n²) adds the messages.",
            )
        if c == c1 * c2:
            return wrong(
                f"Right idea, but {c} is larger than n² = {n2}: ciphertexts live modulo n².",
                "Reduce the product with % n2.",
            )
        if not 0 < c < n2:
            return wrong(f"toy_add returned {c}, outside 1..n²-1 = {n2 - 1}.", hint)
        got = _toy_decrypt(c, p, q)
        if got != (a + b) % n:
            return wrong(
                f"Enc({a}) and Enc({b}) went in; your result decrypts to {got}, not {a + b}.", hint
            )
    return correct("Multiplying ciphertexts modulo n² adds the hidden messages: "
                   "20 random pairs all decrypted to their sums.")


def check_encrypted_average(answer: Any, keys: KeyPair, salaries: Sequence[float]) -> Feedback:
    """Check an encrypted average, computed without decrypting any single salary."""
    hint = ("An average is a sum divided by a count. Which operations on ciphertexts work "
            "without the private key (section 3)? Dividing by 3 is multiplying by 1/3.")
    if answer is None:
        return not_answered(hint)
    mean = sum(salaries) / len(salaries)
    total = sum(salaries)
    if isinstance(answer, int | float):
        if math.isclose(answer, mean, rel_tol=1e-9):
            return wrong(
                "That is the right number, but it is plain: to get it, someone decrypted the "
                "salaries. The answer must still be encrypted.", hint)
        return wrong(f"{answer} is a plain number; the answer must be a Ciphertext.", hint)
    if isinstance(answer, EncryptedVector):
        return wrong("That is still one ciphertext per person; combine them into one.", hint)
    if not isinstance(answer, Ciphertext):
        return wrong(f"Expected a Ciphertext, got {type(answer).__name__}.", hint)
    try:
        value = decrypt(keys.private, answer)
    except OmteachError as exc:
        return wrong(str(exc), "Use the ciphertexts the three people sent (enc_salaries).")
    if math.isclose(value, mean, rel_tol=1e-9):
        return correct(f"AI Inc. decrypts only the average, {value:,.2f}: no single salary was "
                       "ever decrypted.")
    if math.isclose(value, total, rel_tol=1e-9):
        return wrong("Your ciphertext decrypts to the sum of the salaries, not the average.",
                     "Multiply the encrypted sum by 1/3 (a plain number).")
    return wrong(f"Your ciphertext decrypts to {value:,.2f}; the average is not that.", hint)


def check_slot_count(answer: Any, *, value_bits: int, contributions: int, key_bits: int
                     ) -> Feedback:
    """Check how many slots fit in one plaintext (kept below n: ``key_bits - 1`` usable bits)."""
    slot_bits = (contributions * ((1 << value_bits) - 1)).bit_length()
    expected = (key_bits - 1) // slot_bits
    hint = (f"Each slot must hold the sum of {contributions} values of {value_bits} bits. "
            f"The largest such sum is {contributions} × {(1 << value_bits) - 1}: how many bits "
            "does it take? Then divide the usable bits (key_bits - 1, to stay below n) by that.")
    if answer is None:
        return not_answered(hint)
    if not isinstance(answer, int) or isinstance(answer, bool):
        return wrong(f"Give a whole number of slots, got {answer!r}.", hint)
    if answer == expected:
        return correct(f"{slot_bits}-bit slots ({value_bits} value bits + "
                       f"{slot_bits - value_bits} headroom bits): "
                       f"{expected} values per ciphertext.")
    if answer in ((key_bits - 1) // value_bits, key_bits // value_bits):
        return wrong("That packs the values with no headroom: the first sum would carry into "
                     "the next slot.", hint)
    return wrong(f"{answer} slots is not it.", hint)
