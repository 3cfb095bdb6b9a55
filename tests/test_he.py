"""omteach.crypto.paillier: Paillier properties (hypothesis) and every error path."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phe import paillier as phe_paillier

try:
    import torch
except ImportError:  # the torch-free runs on Python 3.12+ (tests/test_reach.py)
    torch = None

from omteach.crypto.paillier import (
    Ciphertext,
    EncryptedVector,
    KeyPair,
    _FixedBaseTable,
    decrypt,
    encrypt,
    generate_keypair,
    is_fast,
    key_fingerprint,
    public_key_from_json,
    public_key_to_json,
    rerandomize,
)
from omteach.errors import (
    InvalidValueError,
    KeyMismatchError,
    OmteachError,
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
def test_sum_of_ciphertexts_decrypts_to_sum_of_ints(any_keys, a, b):
    pk, sk = any_keys.public, any_keys.private
    assert decrypt(sk, encrypt(pk, a) + encrypt(pk, b)) == a + b
    assert decrypt(sk, sum([encrypt(pk, a), encrypt(pk, b), encrypt(pk, a)])) == 2 * a + b


@settings(max_examples=40, deadline=None)
@given(a=FLOATS, b=FLOATS)
def test_sum_of_ciphertexts_decrypts_to_sum_of_floats(any_keys, a, b):
    pk, sk = any_keys.public, any_keys.private
    assert close(decrypt(sk, encrypt(pk, a) + encrypt(pk, b)), a + b)


@settings(max_examples=40, deadline=None)
@given(a=INTS, k=SMALL)
def test_scaling_by_a_plain_number(any_keys, a, k):
    assert decrypt(any_keys.private, encrypt(any_keys.public, a) * k) == k * a
    assert decrypt(any_keys.private, k * encrypt(any_keys.public, a)) == k * a


@settings(max_examples=30, deadline=None)
@given(a=FLOATS, b=FLOATS, k=st.floats(0.01, 100))
def test_plain_addition_subtraction_division(any_keys, a, b, k):
    pk, sk = any_keys.public, any_keys.private
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
def test_vectors_numpy_and_torch(any_keys, values, k):
    pk, sk = any_keys.public, any_keys.private
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
def test_encryption_is_randomized(any_keys, a):
    c1, c2 = encrypt(any_keys.public, a), encrypt(any_keys.public, a)
    assert c1.raw != c2.raw
    assert decrypt(any_keys.private, c1) == decrypt(any_keys.private, c2) == a


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


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "3", "0.5", b"1", None, True,
                                 1 + 2j, np.complex128(1), {"a": 1}, {1, 2}, object(),
                                 [1.0, "0.5"], np.array(["0.5"]), np.array([True, False]),
                                 np.array([1 + 1j, 2]), [1, {"a": 1}], [1, None], [[1], [2, 3]],
                                 *([] if torch is None else [
                                     torch.tensor([1.0], dtype=torch.bfloat16),
                                     torch.tensor([1 + 1j]), torch.tensor([True])])])
def test_non_finite_or_non_numbers_are_refused(keys, bad):
    """Complex numbers, strings (even numeric ones), objects, dicts, bfloat16: a clear error."""
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
    with pytest.raises(PlaintextOverflowError, match="wrap modulo n"):
        big + big  # known here to pass the range
    received = Ciphertext.from_raw(pk, big.raw)
    with pytest.raises(PlaintextOverflowError, match="overflowed"):
        decrypt(sk, received + received)  # not known: caught in the gap when decrypting
    # A plain number far smaller than the ciphertext's scale cannot be aligned with it.
    with pytest.raises(PlaintextOverflowError, match="scales are too far apart"):
        encrypt(pk, 0.0) + 1.4e-283
    with pytest.raises(PlaintextOverflowError, match="scales are too far apart"):
        encrypt(pk, [0.0, 1.0]) + 1e-300


def test_a_float_too_large_to_be_exact_is_refused_and_an_int_is_not(keys):
    """1e100 is really 10000000000000000159028911097…: encrypted, sums would come back with those
    digits, which read like a broken decryption. Refused, saying so; the int 10**100 is exact."""
    pk, sk = keys.public, keys.private
    for make in (lambda: encrypt(pk, 1e100), lambda: encrypt(pk, -1e20),
                 lambda: encrypt(pk, float(2**53)), lambda: encrypt(pk, [0.5, 1e20]),
                 lambda: encrypt(pk, np.float64(1e30)), lambda: encrypt(pk, 1.0) + 1e20):
        with pytest.raises(InvalidValueError, match="too large to be exact") as refusal:
            make()
        assert "2**53" in str(refusal.value) and "int" in str(refusal.value)
    with pytest.raises(InvalidValueError, match=r"1000000000000000015902891109… \(101 digits\)"):
        encrypt(pk, 1e100)
    assert decrypt(sk, encrypt(pk, 10**100) + 1) == 10**100 + 1
    assert decrypt(sk, encrypt(pk, float(2**53 - 1))) == 2**53 - 1


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


# -- fast keys (DJN), the owner's CRT, re-randomization -------------------------------------------

RAW = st.integers(0, 2**500)  # below n for the 512-bit teaching keys


def test_fast_keys_are_blum_and_carry_h_s(fast_keys, keys):
    pk, sk = fast_keys.public, fast_keys.private
    assert is_fast(pk) and fast_keys.fast and not is_fast(keys.public) and not keys.fast
    assert sk.p % 4 == 3 and sk.q % 4 == 3 and sk.p * sk.q == pk.n
    assert 1 < pk.h_s < pk.nsquare - 1
    # h_s is an n-th power: it decrypts to 0 with the ordinary phe private key.
    assert sk.raw_decrypt(pk.h_s) == 0
    assert "FastPublicKey" in repr(pk) and key_fingerprint(pk) in repr(pk)


@settings(max_examples=30, deadline=None)
@given(a=st.integers(0, 2**256 - 1))
def test_fixed_base_table_is_exponentiation(fast_keys, a):
    pk = fast_keys.public
    assert pk.table.exponent_bits == 256
    assert pk.table.power(a) == pow(pk.h_s, a, pk.nsquare)
    small = _FixedBaseTable(3, 1000003, 20)
    assert small.power(a % 2**20) == pow(3, a % 2**20, 1000003)


@settings(max_examples=30, deadline=None)
@given(m=RAW, k=st.integers(0, 2**40))
def test_fast_raw_encryption_decrypts_with_phe_and_adds_to_ordinary(keys, m, k):
    """The same key pair in both forms: fast ciphertexts and phe's combine and decrypt alike."""
    fast = keys.to_fast()
    assert fast.public == keys.public and fast.private == keys.private
    c_fast, c_phe = fast.public.raw_encrypt(m), keys.public.raw_encrypt(k)
    assert keys.private.raw_decrypt(c_fast) == m
    assert keys.private.raw_decrypt(c_fast * c_phe % keys.public.nsquare) == (m + k) % keys.public.n
    assert fast.public.raw_encrypt(m) != c_fast  # randomized
    assert fast.public.raw_encrypt(m, r_value=1) == keys.public.raw_encrypt(m, r_value=1)
    # phe's own API under a fast key takes the fast path, and phe decrypts it.
    enc = fast.public.encrypt(k)
    assert keys.private.decrypt(enc) == k
    assert decrypt(keys.private, encrypt(fast.public, k) + encrypt(keys.public, m)) == k + m
    assert fast.to_ordinary().public == keys.public and not fast.to_ordinary().fast
    assert fast.to_fast() is fast and keys.to_ordinary() is keys


@settings(max_examples=30, deadline=None)
@given(m=RAW)
def test_owner_crt_encryption_and_rerandomization(any_keys, m):
    pk, sk = any_keys.public, any_keys.private
    c = any_keys.raw_encrypt(m)
    assert 0 < c < pk.nsquare and sk.raw_decrypt(c) == m
    assert any_keys.raw_encrypt(m) != c
    assert [sk.raw_decrypt(x) for x in any_keys.encrypt_many([m, 1, 0])] == [m, 1, 0]
    for again in (rerandomize(pk, c), any_keys.rerandomize(c)):
        assert again != c and sk.raw_decrypt(again) == m


def test_rerandomize_hides_a_chosen_randomness(keys):
    """A ciphertext made with r = 1 (a malicious encryptor's choice) is no longer 1 + m n."""
    pk = keys.public
    chosen = pk.raw_encrypt(42, r_value=1)
    assert chosen == (1 + 42 * pk.n) % pk.nsquare
    again = rerandomize(pk, chosen)
    assert (again - 1) % pk.n != 0 and keys.private.raw_decrypt(again) == 42


@pytest.mark.parametrize("c", [0, -5, True, 1.5, "12", None])
def test_rerandomize_refuses_what_is_not_a_ciphertext(keys, c):
    with pytest.raises(InvalidValueError, match="raw ciphertext"):
        rerandomize(keys.public, c)
    with pytest.raises(InvalidValueError, match="raw ciphertext"):
        rerandomize(keys.public, keys.public.nsquare)
    with pytest.raises(InvalidValueError, match="public key"):
        rerandomize(keys.private, 5)
    with pytest.raises(InvalidValueError, match="raw ciphertext"):
        keys.rerandomize(c)


def test_fast_keys_refuse_other_keys(fast_keys, keys, other_keys):
    a = encrypt(fast_keys.public, 1)
    for other in (keys, other_keys):
        with pytest.raises(KeyMismatchError, match="different public keys"):
            a + encrypt(other.public, 2)
        with pytest.raises(KeyMismatchError, match="different public key"):
            decrypt(other.private, a)
    with pytest.raises(InvalidValueError, match="fast must be True or False"):
        generate_keypair(512, fast="yes")


# -- the public key's JSON form ------------------------------------------------------------------

def test_public_key_json_round_trip(keys, fast_keys):
    for kp in (keys, fast_keys, keys.to_fast()):
        doc = public_key_to_json(kp.public)
        assert set(doc) == ({"kind", "n", "fingerprint", "h_s"} if kp.fast
                            else {"kind", "n", "fingerprint"})
        back = public_key_from_json({**doc, "codec": {"bits": 16}})  # other fields: the caller's
        assert back == kp.public and type(back) is type(kp.public)
        assert getattr(back, "h_s", None) == getattr(kp.public, "h_s", None)
        assert kp.private.raw_decrypt(back.raw_encrypt(7)) == 7
    with pytest.raises(InvalidValueError, match="public key"):
        public_key_to_json(keys.private)


def _hostile_key_docs(keys, fast_keys):
    doc = public_key_to_json(fast_keys.public)
    n, nsq, p = fast_keys.public.n, fast_keys.public.nsquare, fast_keys.private.p
    yield "not an object", ["n", "h_s"]
    yield "wrong kind", {**doc, "kind": "omteach.Model"}
    yield "no kind", {k: v for k, v in doc.items() if k != "kind"}
    yield "n missing", {k: v for k, v in doc.items() if k != "n"}
    yield "n a number", {**doc, "n": n}
    yield "n upper case", {**doc, "n": doc["n"].upper()}
    yield "n with 0x", {**doc, "n": "0x" + doc["n"]}
    yield "n negative", {**doc, "n": "-" + doc["n"]}
    yield "n with spaces", {**doc, "n": " " + doc["n"]}
    yield "n with underscores", {**doc, "n": doc["n"][:4] + "_" + doc["n"][4:]}
    yield "n empty", {**doc, "n": ""}
    yield "n huge", {**doc, "n": "f" * 5000}
    yield "n even", {**doc, "n": format(n * 2, "x")}
    yield "n with a small factor", {**doc, "n": format(n * 3, "x")}
    yield "n tiny", {**doc, "n": "d"}
    yield "fingerprint missing", {k: v for k, v in doc.items() if k != "fingerprint"}
    yield "fingerprint not a string", {**doc, "fingerprint": 5}
    yield "h_s a number", {**doc, "h_s": fast_keys.public.h_s}
    yield "h_s upper case", {**doc, "h_s": doc["h_s"].upper()}
    for name, h in (("0", 0), ("1", 1), ("-1", nsq - 1), ("n^2", nsq), ("above n^2", nsq + 5),
                    ("multiple of p", p), ("multiple of n", n)):
        yield f"h_s {name}", {**doc, "h_s": format(h, "x")}
    yield "h_s too long", {**doc, "h_s": "1" * (len(format(nsq, "x")) + 1)}
    yield "h_s a square root of 1", {**doc, "h_s": format(_square_root_of_one(fast_keys), "x")}


def _square_root_of_one(kp: KeyPair) -> int:
    """A non-trivial square root of 1 modulo n² (1 mod p², -1 mod q²), by the CRT."""
    psq, qsq = kp.private.p ** 2, kp.private.q ** 2
    return (1 * qsq * pow(qsq, -1, psq) + (qsq - 1) * psq * pow(psq, -1, qsq)) % (psq * qsq)


def test_hostile_key_json_is_refused(keys, fast_keys):
    for what, doc in _hostile_key_docs(keys, fast_keys):
        with pytest.raises(InvalidValueError):
            public_key_from_json(doc)
            pytest.fail(f"accepted a key with {what}")
    other = public_key_to_json(keys.public)
    with pytest.raises(KeyMismatchError, match="fingerprint does not match"):
        public_key_from_json({**public_key_to_json(fast_keys.public),
                              "fingerprint": other["fingerprint"]})


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@settings(max_examples=120, deadline=None)
@given(field=st.sampled_from(["kind", "n", "fingerprint", "h_s"]), value=JSON)
def test_any_hostile_key_field_is_the_projects_error(fast_keys, field, value):
    doc = {**public_key_to_json(fast_keys.public), field: value}
    try:
        back = public_key_from_json(doc)
    except OmteachError:
        return
    assert back == fast_keys.public  # accepted only if it is the same key


# -- issue 9: operations Paillier cannot do, phe interop, overflow -------------------------------

def test_unsupported_operators_are_the_projects_error(keys):
    c, v = encrypt(keys.public, 3), encrypt(keys.public, [1, 2])
    for op in (lambda: c ** 2, lambda: 2 ** c, lambda: c < 0, lambda: c >= c, lambda: c // 2,
               lambda: c % 2, lambda: abs(c), lambda: 1 / c, lambda: v ** 2, lambda: v @ v,
               lambda: [1, 2] @ v, lambda: 3 / v):
        with pytest.raises(UnsupportedOperationError, match="Paillier cannot"):
            op()
    with pytest.raises(UnsupportedOperationError, match="only additively homomorphic"):
        c * keys.public.encrypt(2)


def test_numpy_operands_stay_encrypted_vectors(keys):
    pk, sk = keys.public, keys.private
    v = encrypt(pk, [1.0, 2.0])
    for out, want in ((np.array([3.0, 4.0]) * v, [3.0, 8.0]), (np.array([3.0, 4.0]) + v, [4, 6]),
                      (np.array([3.0, 4.0]) - v, [2, 2]), (v - np.array([1.0, 1.0]), [0, 1]),
                      (v - [1.0, 1.0], [0, 1]), (np.float64(2) * v, [2, 4])):
        assert isinstance(out, EncryptedVector)
        assert np.allclose(decrypt(sk, out), want)
    c = encrypt(pk, 2.0)
    assert isinstance(np.float64(3) * c, Ciphertext) and decrypt(sk, np.int64(3) * c) == 6
    with pytest.raises(InvalidValueError, match="vector"):
        np.array([1.0, 2.0]) * c
    with pytest.raises(InvalidValueError, match="vector"):
        c + [1, 2]
    if torch is not None:
        with pytest.raises(InvalidValueError, match="vector"):
            c - torch.tensor([1.0])


def test_phe_encrypted_numbers_interoperate(keys, other_keys):
    pk, sk = keys.public, keys.private
    c, e = encrypt(pk, 5), pk.encrypt(2)
    assert isinstance(e, phe_paillier.EncryptedNumber)
    assert decrypt(sk, c - e) == 3 and decrypt(sk, c + e) == 7 and decrypt(sk, e) == 2
    assert np.allclose(decrypt(sk, encrypt(pk, [1, 2]) - e), [-1, 0])
    with pytest.raises(KeyMismatchError):
        c - other_keys.public.encrypt(2)


def test_sum_works_on_ciphertexts_and_vectors(any_keys):
    pk, sk = any_keys.public, any_keys.private
    cs = [encrypt(pk, i) for i in range(5)]
    assert decrypt(sk, sum(cs)) == 10 and sum(cs[:1]) is cs[0]
    vs = [encrypt(pk, [i, -i]) for i in range(4)]
    assert np.array_equal(decrypt(sk, sum(vs)), [6, -6])
    assert decrypt(sk, sum(cs, 1.5)) == 11.5


def test_products_past_the_range(keys):
    """Detected: a plain factor too large to encode; a result past the key's range when the values
    were encrypted here; a product in the gap above max_int on decryption. Not detectable: a
    product of a received ciphertext that wraps all the way round n (the error text says so)."""
    pk, sk = keys.public, keys.private
    with pytest.raises(PlaintextOverflowError, match="cannot be detected"):
        encrypt(pk, 2) * pk.n
    half = pk.max_int // 2
    for make in (lambda: encrypt(pk, pk.max_int) * 3, lambda: 3 * encrypt(pk, -pk.max_int),
                 lambda: encrypt(pk, pk.max_int) + encrypt(pk, half), lambda: encrypt(pk, half)
                 - encrypt(pk, -pk.max_int), lambda: encrypt(pk, [1, pk.max_int]) * 2,
                 lambda: encrypt(pk, [half, pk.max_int]).sum(), lambda: encrypt(pk, [half]) + half
                 + pk.max_int, lambda: encrypt(pk, 10**70) * 10**90):
        with pytest.raises(PlaintextOverflowError, match="cannot be detected"):
            make()
    assert decrypt(sk, encrypt(pk, pk.max_int // 3) * 3) == pk.max_int // 3 * 3  # in range
    # The same ciphertexts as received from someone else: nothing is known about their values.
    received = Ciphertext.from_raw(pk, encrypt(pk, pk.max_int // 2 + 1).raw)
    with pytest.raises(PlaintextOverflowError, match="cannot be detected"):
        decrypt(sk, received * 3)  # lands between max_int and n - max_int: refused on decrypting
    wrapped = decrypt(sk, Ciphertext.from_raw(pk, encrypt(pk, pk.max_int).raw) * 3)
    assert wrapped != 3 * pk.max_int and wrapped < 0  # 3 max_int wrapped round n: undetectable


@settings(max_examples=20, deadline=None)
@given(x=st.floats(0.01, 100), k=st.floats(0.01, 0.99))
def test_repeated_float_products_stop_before_they_wrap(keys, x, k):
    """Each float product lowers phe's exponent: the integer grows until it would wrap."""
    c, expected = encrypt(keys.public, x), x
    for _ in range(200):
        try:
            c = c * k
        except PlaintextOverflowError as err:
            assert "wrap modulo n" in str(err)
            break
        expected *= k
        assert math.isclose(decrypt(keys.private, c), expected, rel_tol=1e-9, abs_tol=1e-300)
    else:
        pytest.fail("200 float products never reached the key's range")


def test_from_raw_checks_its_input(keys):
    c = encrypt(keys.public, 7)
    assert decrypt(keys.private, Ciphertext.from_raw(keys.public, c.raw)) == 7
    for bad in (0, keys.public.nsquare, "5", 1.0, True):
        with pytest.raises(InvalidValueError, match="raw ciphertext"):
            Ciphertext.from_raw(keys.public, bad)
    with pytest.raises(InvalidValueError, match="exponent"):
        Ciphertext.from_raw(keys.public, c.raw, exponent=1.5)


def test_fast_encryption_leaves_no_unrandomized_result(fast_keys):
    """Results of arithmetic are re-randomized before they are read (by the table here)."""
    pk = fast_keys.public
    c = encrypt(pk, 3)
    a, b = (c * 2).raw, (c * 2).raw
    assert a != b and fast_keys.private.raw_decrypt(a) == 6
    assert (c * 2).raw != c.raw ** 2 % pk.nsquare


def test_encryption_costs_cover_every_method(keys, fast_keys):
    from omteach.crypto.cost import encryption_costs

    for kp in (keys, fast_keys):
        costs = encryption_costs(kp, repeats=3)
        assert set(costs) == {"ordinary", "owner (CRT)", "fast", "re-randomize"}
        assert all(ms > 0 for ms in costs.values())
