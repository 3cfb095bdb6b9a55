"""Chapter 1 checkers accept right answers and give the intended hint for typical wrong ones."""

import warnings

import pytest

from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import decrypt, encrypt, generate_keypair
from omteach.errors import WeakKeyWarning
from omteach.exercises import ch01
from tests.answer_key import answer

P, Q = 11, 13
N2 = (P * Q) ** 2
SALARIES = [52_000, 61_000, 58_500]


@pytest.fixture(scope="module")
def keys():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyWarning)
        return generate_keypair(512)


@pytest.fixture(scope="module")
def keys2048():
    return generate_keypair(2048)


def test_toy_add_answer_key_passes():
    toy_add = answer(1, "ch01_ex1_toy_add_answer", "toy_add", n=P * Q, n2=N2)
    fb = ch01.check_toy_add(toy_add, P, Q)
    assert fb.passed, fb


@pytest.mark.parametrize(
    "answer_, words",
    [
        (None, "No answer yet"),
        (lambda c1, c2: c1 + c2, "ordinary numbers"),
        (lambda c1, c2: c1 * c2, "modulo n²"),
        (lambda c1, c2: 1 / 0, "ZeroDivisionError"),
        (lambda c1, c2: "x", "whole number"),
        (lambda c1, c2: c1, "decrypts to"),
        (42, "should be a function"),
    ],
)
def test_toy_add_wrong_answers_get_hints(answer_, words):
    fb = ch01.check_toy_add(answer_, P, Q)
    assert not fb.passed
    assert words in str(fb)
    assert "Hint" in str(fb)


def test_average_answer_key_passes(keys):
    average = answer(1, "ch01_ex2_average_answer", "average",
                     enc_salaries=[encrypt(keys.public, s) for s in SALARIES])
    fb = ch01.check_encrypted_average(average, SALARIES)
    assert fb.passed, fb
    assert "57,166.67" in str(fb)


def test_average_that_decrypts_is_refused(keys):
    """The loophole of issue 11: decrypt the sum, divide, encrypt again. The function is run on
    ciphertexts under the checker's own key, whose private key it never holds."""
    def decrypts_the_total(enc_salaries):
        total = enc_salaries[0] + enc_salaries[1] + enc_salaries[2]
        return encrypt(keys.public, decrypt(keys.private, total) / 3)

    fb = ch01.check_encrypted_average(decrypts_the_total, SALARIES)
    assert not fb.passed
    assert "tried to decrypt" in fb.message and "private key" in fb.message


def test_average_built_from_other_numbers_is_refused(keys):
    enc = [encrypt(keys.public, s) for s in SALARIES]
    cases = {
        "re-encrypts the plain mean": (lambda cs: encrypt(keys.public, sum(SALARIES) / 3),
                                       "another key"),
        "uses the notebook's ciphertexts": (lambda cs: (enc[0] + enc[1] + enc[2]) / 3,
                                            "another key"),
        "adds the known mean to a zero": (lambda cs: cs[0] * 0 + sum(SALARIES) / 3,
                                          "decrypts to"),
    }
    for name, (fn, words) in cases.items():
        fb = ch01.check_encrypted_average(fn, SALARIES)
        assert not fb.passed, name
        assert words in fb.message, (name, fb.message)


def test_average_wrong_answers_get_hints(keys):
    other = generate_keypair(2048)
    cases = [
        (None, "No answer yet"),
        (42, "should be a function"),
        (lambda cs: None, "No answer yet"),
        (lambda cs: sum(SALARIES) / 3, "plain"),
        (lambda cs: 12.5, "plain number"),
        (lambda cs: cs[0] + cs[1] + cs[2], "sum of the salaries"),
        (lambda cs: cs[0], "decrypts to"),
        (lambda cs: encrypt(other.public, 1.0), "another key"),
        (lambda cs: "57166", "Expected a Ciphertext"),
        (lambda cs: cs[0] * cs[1], "raised UnsupportedOperationError"),
    ]
    for fn, words in cases:
        fb = ch01.check_encrypted_average(fn, SALARIES)
        assert not fb.passed, words
        assert words in str(fb), (words, str(fb))
        assert fb.hint, words


def test_average_vector_answer_gets_its_hint(keys):
    fb = ch01.check_encrypted_average(lambda cs: encrypt(cs[0].public_key, SALARIES), SALARIES)
    assert not fb.passed and "one ciphertext per person" in fb.message


def test_slot_count_agrees_with_the_codec(keys2048):
    for value_bits, contributions in ((8, 10), (16, 3), (12, 40)):
        codec = PackingCodec(bits=value_bits, max_contributions=contributions)
        right = codec.slots_per_ciphertext(keys2048.public)
        fb = ch01.check_slot_count(right, value_bits=value_bits, contributions=contributions,
                                   public=keys2048.public)
        assert fb.passed, fb
        assert f"{codec.headroom_bits} headroom bits" in fb.message
        assert not ch01.check_slot_count(right + 1, value_bits=value_bits,
                                         contributions=contributions, public=keys2048.public)


def test_slot_count_answer_key_passes(keys2048):
    slots = answer(1, "ch01_ex3_slots_answer", "slots")
    assert ch01.check_slot_count(slots, value_bits=8, contributions=10, public=keys2048.public)


def test_slot_count_wrong_answers(keys2048):
    no_headroom = ch01.check_slot_count(2047 // 8, value_bits=8, contributions=10,
                                        public=keys2048.public)
    assert not no_headroom.passed and "no headroom" in str(no_headroom)
    for bad in (None, 2.5, True, "many"):
        fb = ch01.check_slot_count(bad, value_bits=8, contributions=10, public=keys2048.public)
        assert not fb.passed and fb.hint


def test_feedback_renders_html(keys2048):
    fb = ch01.check_slot_count(1, value_bits=8, contributions=10, public=keys2048.public)
    assert "<div" in fb._repr_html_() and "Not yet" in fb._repr_html_()
