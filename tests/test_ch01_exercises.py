"""Chapter 1 checkers accept right answers and give the intended hint for typical wrong ones."""

import warnings

import pytest

from omteach.crypto.paillier import encrypt, generate_keypair
from omteach.errors import WeakKeyWarning
from omteach.exercises import ch01

P, Q = 11, 13
N2 = (P * Q) ** 2


@pytest.fixture(scope="module")
def keys():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyWarning)
        return generate_keypair(512)


def test_toy_add_right_answer_passes():
    fb = ch01.check_toy_add(lambda c1, c2: c1 * c2 % N2, P, Q)
    assert fb.passed, fb


@pytest.mark.parametrize(
    "answer, words",
    [
        (None, "No answer yet"),
        (lambda c1, c2: c1 + c2, "*multiplying*"),
        (lambda c1, c2: c1 * c2, "% n2"),
        (lambda c1, c2: 1 / 0, "ZeroDivisionError"),
        (lambda c1, c2: "x", "whole number"),
        (lambda c1, c2: c1, "decrypts to"),
        (42, "should be a function"),
    ],
)
def test_toy_add_wrong_answers_get_hints(answer, words):
    fb = ch01.check_toy_add(answer, P, Q)
    assert not fb.passed
    assert words in str(fb)
    assert "Hint" in str(fb)


def test_average_right_answer_passes(keys):
    salaries = [52_000, 61_000, 58_500]
    enc = [encrypt(keys.public, s) for s in salaries]
    fb = ch01.check_encrypted_average((enc[0] + enc[1] + enc[2]) * (1 / 3), keys, salaries)
    assert fb.passed, fb
    assert "57,166.67" in str(fb)


def test_average_wrong_answers_get_hints(keys):
    salaries = [52_000, 61_000, 58_500]
    enc = [encrypt(keys.public, s) for s in salaries]
    total = enc[0] + enc[1] + enc[2]
    other = generate_keypair(2048)
    cases = [
        (None, "No answer yet"),
        (sum(salaries) / 3, "plain"),
        (total, "sum of the salaries"),
        (encrypt(keys.public, salaries), "one ciphertext per person"),
        (encrypt(other.public, 1.0), "different public key"),
        (enc[0], "decrypts to 52,000.00"),
        ("57166", "Expected a Ciphertext"),
    ]
    for answer, words in cases:
        fb = ch01.check_encrypted_average(answer, keys, salaries)
        assert not fb.passed, answer
        assert words in str(fb), (answer, str(fb))


def test_slot_count():
    assert ch01.check_slot_count(170, value_bits=8, contributions=10, key_bits=2048).passed
    assert ch01.check_slot_count(113, value_bits=16, contributions=3, key_bits=2048).passed
    no_headroom = ch01.check_slot_count(255, value_bits=8, contributions=10, key_bits=2048)
    assert not no_headroom.passed and "no headroom" in str(no_headroom)
    for bad in (None, 171, 2.5, True):
        assert not ch01.check_slot_count(bad, value_bits=8, contributions=10,
                                         key_bits=2048).passed


def test_feedback_renders_html():
    fb = ch01.check_slot_count(1, value_bits=8, contributions=10, key_bits=2048)
    assert "<div" in fb._repr_html_() and "Not yet" in fb._repr_html_()
