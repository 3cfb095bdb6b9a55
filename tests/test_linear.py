"""omteach.crypto.linear: encrypted dot products and matrix-vector products (hypothesis), the
randomness of ciphertexts (rerandomize, the refusal of chosen randomness, the discrete-log
attack), and every error path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.crypto import linear
from omteach.crypto.linear import (
    add_plain,
    encrypt_with_randomness,
    encrypted_dot,
    encrypted_matvec,
    randomness_log,
    refuse_visibly_non_random,
)
from omteach.crypto.paillier import rerandomize
from omteach.errors import InvalidValueError, NonRandomCiphertextError, PlaintextOverflowError

SMALL = st.integers(-2**20, 2**20)
PIXELS = st.integers(-16, 16)
HUGE = st.integers(-2**80, 2**80)  # several 4-bit digits: the windowed path


def enc(public, m: int) -> int:
    return public.raw_encrypt(m % public.n)


def dec(keys, c: int) -> int:
    m = keys.private.raw_decrypt(c)
    return m - keys.public.n if m > keys.public.n // 2 else m


@settings(max_examples=40, deadline=None)
@given(pairs=st.lists(st.tuples(SMALL, st.one_of(PIXELS, HUGE)), max_size=10))
def test_encrypted_dot_decrypts_to_the_dot_product(keys, pairs):
    w = [a for a, _ in pairs]
    x = np.array([b for _, b in pairs], dtype=object)
    c = encrypted_dot(keys.public, [enc(keys.public, v) for v in w], x)
    assert dec(keys, c) == sum(a * b for a, b in pairs)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 6), w=st.lists(SMALL, min_size=1, max_size=6), data=st.data())
def test_encrypted_matvec_decrypts_to_the_matrix_vector_product(keys, rows, w, data):
    m = np.array(data.draw(st.lists(st.lists(PIXELS, min_size=len(w), max_size=len(w)),
                                    min_size=rows, max_size=rows)), dtype=np.int64)
    m = m.reshape(rows, len(w))
    out = encrypted_matvec(keys.public, [enc(keys.public, v) for v in w], m)
    assert [dec(keys, c) for c in out] == [sum(int(a) * b for a, b in zip(row, w, strict=True))
                                           for row in m]


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 40)), max_size=6),
                     min_size=1, max_size=4))
def test_table_and_bucket_strategies_compute_the_same_product(keys, rows):
    """Both ways of combining (shape decides which runs) equal the naive product of powers."""
    nsq = keys.public.nsquare
    cts = [enc(keys.public, v) for v in (3, -5, 7, 11)]
    naive = [math.prod(pow(cts[j], a, nsq) for j, a in row) % nsq for row in rows]
    base = 41
    leveled = [[row] for row in rows]
    top: dict[int, int] = {}
    for row in rows:
        for j, a in row:
            top[j] = max(top.get(j, 0), a)
    mp = [linear.gmpy2.mpz(c) for c in cts]
    assert [int(c) for c in linear._rows_by_tables(mp, leveled, top, base, nsq)] == naive
    assert [int(c) for c in linear._rows_by_buckets(mp, leveled, base, nsq)] == naive


def test_tall_and_wide_matrices_take_both_strategies_and_agree(keys, monkeypatch):
    used = []
    for name in ("_rows_by_tables", "_rows_by_buckets"):
        original = getattr(linear, name)

        def spy(*args, _name=name, _original=original):
            used.append(_name)
            return _original(*args)

        monkeypatch.setattr(linear, name, spy)
    rng = np.random.default_rng(0)
    w = rng.integers(-1000, 1000, 5).tolist()
    tall = rng.integers(0, 17, (40, 5))
    cts = [enc(keys.public, v) for v in w]
    assert [dec(keys, c) for c in encrypted_matvec(keys.public, cts, tall)] == (tall @ w).tolist()
    e = [enc(keys.public, v) for v in rng.integers(-1000, 1000, 40).tolist()]
    wide = tall.T
    got = [dec(keys, c) for c in encrypted_matvec(keys.public, e, wide)]
    assert got == (wide @ [dec(keys, c) for c in e]).tolist()
    assert used == ["_rows_by_tables", "_rows_by_buckets"]


def test_zero_vectors_and_empty_inputs_give_encryptions_of_zero(keys):
    cts = [enc(keys.public, v) for v in (5, -7, 9)]
    assert dec(keys, encrypted_dot(keys.public, cts, [0, 0, 0])) == 0
    assert dec(keys, encrypted_dot(keys.public, [], np.zeros(0, dtype=np.int64))) == 0
    assert encrypted_matvec(keys.public, cts, np.zeros((0, 3), dtype=np.int64)) == []
    assert [dec(keys, c) for c in encrypted_matvec(keys.public, cts, np.zeros((2, 3), int))] \
        == [0, 0]


@settings(max_examples=25, deadline=None)
@given(pairs=st.lists(st.tuples(SMALL, HUGE), max_size=8))
def test_add_plain_adds(keys, pairs):
    cts = [enc(keys.public, a) for a, _ in pairs]
    out = add_plain(keys.public, cts, np.array([b for _, b in pairs], dtype=object))
    assert [dec(keys, c) for c in out] == [a + b for a, b in pairs]


@pytest.mark.parametrize("call, match", [
    (lambda pk, cts: encrypted_dot(pk, cts, [1, 2]), "2 entries but there are 3"),
    (lambda pk, cts: encrypted_dot(pk, cts, [1, 2, 3, 4]), "4 entries but there are 3"),
    (lambda pk, cts: encrypted_matvec(pk, cts, np.ones((2, 2), int)), "2 columns"),
    (lambda pk, cts: encrypted_dot(pk, cts, [0.5, 1, 2]), "integers"),
    (lambda pk, cts: encrypted_dot(pk, cts, np.ones(3)), "dtype float64"),
    (lambda pk, cts: encrypted_dot(pk, cts, [True, False, True]), "dtype bool"),
    (lambda pk, cts: encrypted_dot(pk, cts, ["1", "2", "3"]), "integers"),
    (lambda pk, cts: encrypted_dot(pk, cts, [[1, 2, 3]]), "1-D"),
    (lambda pk, cts: encrypted_matvec(pk, cts, [1, 2, 3]), "2-D"),
    (lambda pk, cts: encrypted_matvec(pk, cts, [[1, 2, 3], [1, 2]]), "2-D array of integers"),
    (lambda pk, cts: add_plain(pk, cts, [1, 2]), "2 values for 3 ciphertexts"),
    (lambda pk, cts: add_plain(pk, cts, [1.0, 2.0, 3.0]), "integers"),
    (lambda pk, cts: encrypted_dot("key", cts, [1, 2, 3]), "public key"),
    (lambda pk, cts: encrypted_dot(pk, [*cts[:2], 0], [1, 2, 3]), r"ciphertexts\[2\]"),
    (lambda pk, cts: encrypted_dot(pk, [*cts[:2], pk.nsquare], [1, 2, 3]), "between 1 and n²"),
    (lambda pk, cts: encrypted_dot(pk, [*cts[:2], -4], [1, 2, 3]), "between 1 and n²"),
    (lambda pk, cts: encrypted_dot(pk, [*cts[:2], 2.5], [1, 2, 3]), "not a ciphertext"),
    (lambda pk, cts: encrypted_dot(pk, [*cts[:2], True], [1, 2, 3]), "not a ciphertext"),
    (lambda pk, cts: encrypted_dot(pk, "123", [1, 2, 3]), "list of ciphertext"),
    (lambda pk, cts: encrypted_dot(pk, [*cts[:2], pk.n], [1, 2, -3]), "no inverse"),
    (lambda pk, cts: rerandomize(pk, pk.nsquare + 1), "between 0 and n\\^2"),
    (lambda pk, cts: rerandomize(None, cts[0]), "public key"),
    (lambda pk, cts: randomness_log(pk, cts[0], 2, -1), "non-negative"),
    (lambda pk, cts: encrypt_with_randomness(pk, 3, 0), "between 1 and n"),
    (lambda pk, cts: encrypt_with_randomness(pk, 0.5, 2), "integer"),
])
def test_bad_input_is_the_projects_error(keys, call, match):
    cts = [enc(keys.public, v) for v in (1, 2, 3)]
    with pytest.raises(InvalidValueError, match=match):
        call(keys.public, cts)


@settings(max_examples=20, deadline=None)
@given(m=SMALL)
def test_rerandomize_keeps_the_plaintext_and_draws_fresh_randomness(keys, m):
    n = keys.public.n
    c = encrypt_with_randomness(keys.public, m, 1)
    fresh = rerandomize(keys.public, c)
    again = rerandomize(keys.public, c)
    assert dec(keys, fresh) == dec(keys, again) == m
    assert len({c % n, fresh % n, again % n}) == 3  # three different randomness values
    refuse_visibly_non_random(keys.public, [fresh, again])  # no longer visibly chosen


@settings(max_examples=15, deadline=None)
@given(count=st.integers(1, 8), position=st.data(), bad=st.sampled_from(["one", "minus one",
                                                                         "repeat"]))
def test_visibly_chosen_randomness_is_refused(keys, count, position, bad):
    pk = keys.public
    cts = [enc(pk, v) for v in range(count)]
    refuse_visibly_non_random(pk, cts)  # honest ciphertexts pass
    i = position.draw(st.integers(0, count - 1))
    if bad == "repeat":
        r = position.draw(st.integers(2, 2**64))
        cts = [*cts, encrypt_with_randomness(pk, 5, r)]
        cts[i] = encrypt_with_randomness(pk, 7, r)  # different plaintext, same r
        match = f"ciphertexts {i} and {count} share their randomness"
    else:
        cts[i] = encrypt_with_randomness(pk, 42, 1 if bad == "one" else pk.n - 1)
        match = f"ciphertext {i} was encrypted with randomness r = {'1' if bad == 'one' else '-1'}"
    with pytest.raises(NonRandomCiphertextError, match=match):
        refuse_visibly_non_random(pk, cts)


def test_a_ciphertext_sharing_a_factor_with_n_is_refused(keys):
    p = keys.private.p
    with pytest.raises(InvalidValueError, match="shares a factor with n"):
        refuse_visibly_non_random(keys.public, [enc(keys.public, 1), p])


@settings(max_examples=20, deadline=None)
@given(e=st.integers(0, 10**6), m=SMALL, r=st.integers(2, 2**128))
def test_randomness_log_reads_a_chosen_exponent_and_nothing_after_rerandomizing(keys, e, m, r):
    pk = keys.public
    c = encrypt_with_randomness(pk, m, pow(r, e, pk.n))
    assert dec(keys, c) == m
    assert randomness_log(pk, c, r, 10**6) == e
    assert randomness_log(pk, c, r, e) == e  # the bound is inclusive
    if e > 0:
        assert randomness_log(pk, c, r, e - 1) is None
    assert randomness_log(pk, rerandomize(pk, c), r, 10**6) is None


# -- packing computed results ------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(slot_bits=st.integers(2, 120), owners=st.integers(1, 4), data=st.data())
def test_packed_sums_unpack_to_the_sums_of_the_slots(keys, slot_bits, owners, data):
    """Any width, any number of values and contributions: as long as each summed slot lies
    strictly within ±2^(slot_bits − 1), unpacking the decrypted product gives every sum."""
    pk = keys.public
    count = data.draw(st.integers(0, 3 * linear.slots_per_ciphertext(pk, slot_bits) + 1))
    limit = (1 << (slot_bits - 1)) - 1
    each = limit // owners  # so that the sum over owners stays inside the slot
    rows = [data.draw(st.lists(st.integers(-each, each), min_size=count, max_size=count))
            for _ in range(owners)]
    packed = [linear.pack_ciphertexts(pk, [enc(pk, v) for v in row], slot_bits) for row in rows]
    total = [math.prod(cs) % pk.nsquare for cs in zip(*packed, strict=True)]
    plain = [keys.private.raw_decrypt(c) for c in total]
    sums = [sum(column) for column in zip(*rows, strict=True)]
    assert linear.unpack_signed(pk, plain, count, slot_bits) == sums
    assert len(total) == -(-count // linear.slots_per_ciphertext(pk, slot_bits))


def test_packing_sixty_five_values_of_fifty_bits_takes_two_ciphertexts(keys):
    pk = keys.public
    assert linear.slots_per_ciphertext(pk, 50) == (pk.n.bit_length() - 2) // 50
    values = [(-1) ** i * (2**49 - 1 - i) for i in range(65)]
    packed = linear.pack_ciphertexts(pk, [enc(pk, v) for v in values], 50)
    assert len(packed) == -(-65 // linear.slots_per_ciphertext(pk, 50))
    plain = [keys.private.raw_decrypt(c) for c in packed]
    assert linear.unpack_signed(pk, plain, 65, 50) == values


def test_unpacking_detects_a_mask_that_did_not_cancel(keys):
    pk = keys.public
    packed = linear.pack_ciphertexts(pk, [enc(pk, v) for v in range(10)], 40)
    masked = add_plain(pk, packed, [12345678901234567890123456789 ** 5])
    with pytest.raises(PlaintextOverflowError, match="masks did not cancel"):
        linear.unpack_signed(pk, [keys.private.raw_decrypt(c) for c in masked], 10, 40)


def test_packing_refuses_bad_widths_and_plaintexts(keys):
    pk = keys.public
    top = pk.n.bit_length() - 2
    for bad in (0, 1, top + 1, True, 3.0, "8", None):
        with pytest.raises(InvalidValueError, match="slot_bits"):
            linear.pack_ciphertexts(pk, [enc(pk, 1)], bad)
        with pytest.raises(InvalidValueError, match="slot_bits"):
            linear.unpack_signed(pk, [1], 1, bad)
    with pytest.raises(InvalidValueError, match="fill 1 packed plaintexts, got 2"):
        linear.unpack_signed(pk, [1, 2], 3, 40)
    for bad_m in (-1, pk.n, 1.5, True):
        with pytest.raises(InvalidValueError, match=r"plaintexts\[0\]"):
            linear.unpack_signed(pk, [bad_m], 1, 40)
    for bad_count in (-1, 1.0, True):
        with pytest.raises(InvalidValueError, match="count"):
            linear.unpack_signed(pk, [1], bad_count, 40)
    with pytest.raises(InvalidValueError, match="ciphertext"):
        linear.pack_ciphertexts(pk, [pk.nsquare], 40)


@settings(max_examples=15, deadline=None)
@given(es=st.lists(st.one_of(st.none(), st.integers(0, 10**5)), max_size=6), r=st.integers(2, 99))
def test_randomness_logs_answers_each_ciphertext_as_randomness_log_does(keys, es, r):
    """One baby-step table for many ciphertexts: the same answers, None for rerandomized ones."""
    pk = keys.public
    cts = [rerandomize(pk, enc(pk, 5)) if e is None else encrypt_with_randomness(
        pk, 5, pow(r, e, pk.n)) for e in es]
    assert linear.randomness_logs(pk, cts, r, 10**5) == es
    assert linear.randomness_logs(pk, cts, r, 10**5) == [randomness_log(pk, c, r, 10**5)
                                                          for c in cts]
