"""Checkers for chapter 1: homomorphic addition."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import (
    Ciphertext,
    EncryptedVector,
    KeyPair,
    PublicKey,
    decrypt,
    encrypt,
    generate_keypair,
)
from omteach.errors import KeyMismatchError, OmteachError, WeakKeyWarning
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
    hint = ("Write each ciphertext as g^m · r^n (mod n²). Which operation on two such numbers "
            "puts a + b in the exponent of g, and keeps the result a ciphertext?")
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
                "Write both ciphertexts as powers of g: which operation on two powers adds "
                "their exponents?",
            )
        if c == c1 * c2:
            return wrong(
                f"Right idea, but {c} is larger than n² = {n2}: ciphertexts live modulo n².",
                "Bring your result back into the range of ciphertexts.",
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


# The salaries the checker encrypts under its own key, besides the notebook's: an answer that
# ignores the ciphertexts it is given (and uses the notebook's numbers) cannot match both.
_OTHER_SALARIES = (48_250, 63_900, 55_125)
_CHECK_KEY_BITS = 1024  # the checker's own key: fast to make, and only ever used inside the checker


def check_encrypted_average(average: Callable[[list[Ciphertext]], Any] | None,
                            salaries: Sequence[float]) -> Feedback:
    """Check ``average(enc_salaries)``: a ciphertext of the mean, computed without any private key.

    The checker makes a key pair of its own, encrypts the salaries under it and calls ``average``
    with the ciphertexts only. The function never sees that private key, so it cannot decrypt a
    salary; one that decrypts with the notebook's key, or encrypts a plain result of its own,
    comes back under the wrong key and is refused with that reason.
    """
    hint = ("An average is a sum divided by a count. Which operations on ciphertexts work "
            "without the private key (section 3)?")
    if (verdict := not_yet_a_function(average, "average", hint)) is not None:
        return verdict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyWarning)
        keys = generate_keypair(_CHECK_KEY_BITS)
    for people in (tuple(salaries), _OTHER_SALARIES):
        verdict = _check_one_average(average, keys, people, hint)
        if not verdict.passed:
            return verdict
    mean = sum(salaries) / len(salaries)
    return correct(f"AI Inc. decrypts only the average, {mean:,.2f}: your function never held a "
                   "private key, so no single salary was ever decrypted.")


def _check_one_average(average: Callable[[list[Ciphertext]], Any], keys: KeyPair,
                       salaries: Sequence[float], hint: str) -> Feedback:
    mean = sum(salaries) / len(salaries)
    total = sum(salaries)
    ciphertexts = [encrypt(keys.public, s) for s in salaries]
    try:
        answer = average(list(ciphertexts))
    except KeyMismatchError:
        return wrong("your function tried to decrypt: it used a private key on the people's "
                     "ciphertexts. AI Inc. may decrypt only the final average, outside your "
                     "function.", hint)
    except Exception as exc:  # any bug in a student's function becomes feedback, not a traceback
        return wrong(f"average(enc_salaries) raised {type(exc).__name__}: {exc}", hint)
    if answer is None:  # the student edition's function: a docstring and no code yet
        return wrong("No answer yet: average returns nothing. Write its body and re-run.", hint)
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
    if answer.public_key != keys.public:
        return wrong("your result is encrypted under another key than the ciphertexts your "
                     "function was given: it did not compute on them (did it decrypt, or use "
                     "the notebook's own numbers?).",
                     "Build the result only from the ciphertexts passed to your function.")
    try:
        value = decrypt(keys.private, answer)
    except OmteachError as exc:
        return wrong(str(exc), hint)
    if math.isclose(value, mean, rel_tol=1e-9):
        return correct(f"decrypts to the average, {value:,.2f}.")
    if math.isclose(value, total, rel_tol=1e-9):
        return wrong("Your ciphertext decrypts to the sum of the salaries, not the average.",
                     "One more step that needs no key takes a sum to an average.")
    return wrong(f"Your ciphertext decrypts to {value:,.2f}; the average is not that.", hint)


def check_slot_count(answer: Any, *, value_bits: int, contributions: int, public: PublicKey
                     ) -> Feedback:
    """Check how many slots of ``value_bits``-bit values, summed over ``contributions`` parties,
    fit in one plaintext of the key ``public``: what :class:`PackingCodec` itself packs."""
    codec = PackingCodec(bits=value_bits, max_contributions=contributions)
    expected = codec.slots_per_ciphertext(public)
    key_bits = public.n.bit_length()
    hint = (f"Each slot must hold the sum of {contributions} values of {value_bits} bits. "
            "How large can that sum get, and how many bits does it take? Then see how many such "
            f"slots fit in the usable bits of a {key_bits}-bit key (stay below n).")
    if answer is None:
        return not_answered(hint)
    if not isinstance(answer, int) or isinstance(answer, bool):
        return wrong(f"Give a whole number of slots, got {answer!r}.", hint)
    if answer == expected:
        return correct(f"{codec.slot_bits}-bit slots ({value_bits} value bits + "
                       f"{codec.headroom_bits} headroom bits): "
                       f"{expected} values per ciphertext.")
    if answer in ((key_bits - 1) // value_bits, key_bits // value_bits):
        return wrong("That packs the values with no headroom: the first sum would carry into "
                     "the next slot.", hint)
    return wrong(f"{answer} slots is not it.", hint)
