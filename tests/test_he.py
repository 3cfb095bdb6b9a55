"""omteach.crypto.paillier: Paillier properties (hypothesis) and every error path."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    import torch
except ImportError:  # the torch-free run on the newest Python (tests/test_reach.py)
    torch = None

from omteach.crypto.paillier import Ciphertext, EncryptedVector, decrypt, encrypt, generate_keypair
from omteach.errors import (
    InvalidValueError,
    KeyMismatchError,
    PlaintextOverflowError,
    UnsupportedOperationError,
    WeakKeyWarning,
)

INTS = st.integers(-(10**12), 10**12)
# Teaching-sized floats: 0, or magnitudes 1e-6 to 1e6 (far smaller: see the overflow test).
FLOATS = st.one_of(st.just(0.0), st.floats(1e-6, 1e6), st.floats(-1e6, -1e-6))
SMALL = st.integers(-1000, 1000)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=40, deadline=None)
@given(a=INTS, b=INTS)
def test_sum_of_ciphertexts_decrypts_to_sum_of_ints(keys, a, b):
    assert decrypt(keys.private, encrypt(keys.public, a) + encrypt(keys.public, b)) == a + b


@settings(max_examples=40, deadline=None)
@given(a=FLOATS, b=FLOATS)
def test_sum_of_ciphertexts_decrypts_to_sum_of_floats(keys, a, b):
    assert close(decrypt(keys.private, encrypt(keys.public, a) + encrypt(keys.public, b)), a + b)


@settings(max_examples=40, deadline=None)
@given(a=INTS, k=SMALL)
def test_scaling_by_a_plain_number(keys, a, k):
    assert decrypt(keys.private, encrypt(keys.public, a) * k) == k * a
    assert decrypt(keys.private, k * encrypt(keys.public, a)) == k * a


@settings(max_examples=30, deadline=None)
@given(a=FLOATS, b=FLOATS, k=st.floats(0.01, 100))
def test_plain_addition_subtraction_division(keys, a, b, k):
    pk, sk = keys.public, keys.private
    assert close(decrypt(sk, encrypt(pk, a) + b), a + b)
    assert close(decrypt(sk, b + encrypt(pk, a)), a + b)
    assert close(decrypt(sk, encrypt(pk, a) - encrypt(pk, b)), a - b)
    assert close(decrypt(sk, b - encrypt(pk, a)), b - a)
    assert close(decrypt(sk, -encrypt(pk, a)), -a)
    assert math.isclose(decrypt(sk, encrypt(pk, a) / k), a / k, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=10, deadline=None)
@given(values=st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3), st.floats(-1e3, -1e-3)),
                       min_size=1, max_size=8),
       k=st.one_of(st.just(0.0), st.floats(1e-3, 10), st.floats(-10, -1e-3)))
def test_vectors_numpy_and_torch(keys, values, k):
    pk, sk = keys.public, keys.private
    x = np.array(values)
    enc = encrypt(pk, x)
    assert isinstance(enc, EncryptedVector) and len(enc) == len(x)
    assert np.allclose(decrypt(sk, enc + enc), 2 * x)
    assert np.allclose(decrypt(sk, enc * k), k * x, atol=1e-6)
    assert np.allclose(decrypt(sk, enc + x[::-1]), x + x[::-1])
    assert math.isclose(decrypt(sk, enc.sum()), x.sum(), rel_tol=1e-9, abs_tol=1e-6)
    assert isinstance(enc[0], Ciphertext) and math.isclose(decrypt(sk, enc[0]), values[0])
    if torch is not None:
        t = torch.tensor(values, dtype=torch.float64)
        back = decrypt(sk, encrypt(pk, t) - 1.0)
        assert isinstance(back, torch.Tensor) and torch.allclose(back, t - 1.0)


@settings(max_examples=20, deadline=None)
@given(a=INTS)
def test_encryption_is_randomized(keys, a):
    c1, c2 = encrypt(keys.public, a), encrypt(keys.public, a)
    assert c1.raw != c2.raw
    assert decrypt(keys.private, c1) == decrypt(keys.private, c2) == a


def test_a_float_exponent_travels_in_the_clear(keys):
    """phe's own EncryptedNumber leaks magnitude through its exponent: what packing avoids."""
    assert encrypt(keys.public, 5).exponent == 0
    assert encrypt(keys.public, 0.001).exponent < encrypt(keys.public, 1000.5).exponent <= 0


def test_ciphertexts_cannot_be_multiplied(keys):
    a, b = encrypt(keys.public, 3), encrypt(keys.public, 4)
    with pytest.raises(UnsupportedOperationError, match="only additively homomorphic"):
        a * b
    with pytest.raises(UnsupportedOperationError):
        encrypt(keys.public, [1, 2]) * b
    with pytest.raises(UnsupportedOperationError):
        a / b


def test_keys_cannot_be_mixed(keys, other_keys):
    a, b = encrypt(keys.public, 1), encrypt(other_keys.public, 2)
    with pytest.raises(KeyMismatchError, match="different public keys"):
        a + b
    with pytest.raises(KeyMismatchError):
        encrypt(keys.public, [1, 2]) + encrypt(other_keys.public, [1, 2])
    with pytest.raises(KeyMismatchError, match="different public key"):
        decrypt(other_keys.private, a)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "3", None, True, 1 + 2j])
def test_non_finite_or_non_numbers_are_refused(keys, bad):
    with pytest.raises(InvalidValueError):
        encrypt(keys.public, bad)


def test_vector_errors(keys):
    pk = keys.public
    with pytest.raises(InvalidValueError, match="1-D"):
        encrypt(pk, np.zeros((2, 2)))
    with pytest.raises(InvalidValueError, match="NaN"):
        encrypt(pk, np.array([1.0, np.nan]))
    enc = encrypt(pk, [1.0, 2.0])
    with pytest.raises(InvalidValueError, match="same length"):
        enc + [1.0, 2.0, 3.0]
    with pytest.raises(InvalidValueError, match="lengths 2 and 3"):
        enc + encrypt(pk, [1, 2, 3])
    with pytest.raises(InvalidValueError, match="by zero"):
        enc / 0
    with pytest.raises(InvalidValueError, match="by zero"):
        encrypt(pk, 1) / 0
    with pytest.raises(InvalidValueError, match="empty"):
        encrypt(pk, np.array([])).sum()


def test_wrong_key_types_and_objects(keys):
    with pytest.raises(InvalidValueError, match="public key"):
        encrypt(keys.private, 1)
    with pytest.raises(InvalidValueError, match="private key"):
        decrypt(keys.public, encrypt(keys.public, 1))
    with pytest.raises(InvalidValueError, match="Ciphertext or EncryptedVector"):
        decrypt(keys.private, 12345)


def test_overflow_is_an_error_not_a_wrap(keys):
    pk, sk = keys.public, keys.private
    with pytest.raises(PlaintextOverflowError, match="too large"):
        encrypt(pk, pk.n)
    big = encrypt(pk, pk.max_int)
    with pytest.raises(PlaintextOverflowError, match="overflowed"):
        decrypt(sk, big + big)
    # A plain number far smaller than the ciphertext's scale cannot be aligned with it.
    with pytest.raises(PlaintextOverflowError, match="scales are too far apart"):
        encrypt(pk, 0.0) + 1.4e-283
    with pytest.raises(PlaintextOverflowError, match="scales are too far apart"):
        encrypt(pk, [0.0, 1.0]) + 1e-300


@pytest.mark.parametrize("bits", [63, 65, 32, 2.5, "2048", True])
def test_bad_key_sizes(bits):
    with pytest.raises(InvalidValueError):
        generate_keypair(bits)


def test_small_keys_warn_and_default_keys_do_not():
    with pytest.warns(WeakKeyWarning, match="teaching only"):
        kp = generate_keypair(256)
    assert kp.bits == 256
    steps = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakKeyWarning)
        kp = generate_keypair(progress=steps.append)
    assert kp.bits == 2048 and steps and steps[-1].startswith("done")
