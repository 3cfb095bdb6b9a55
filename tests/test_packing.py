"""omteach.crypto.packing: the packing codec's properties (hypothesis) and every error path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.crypto.packing import PackedCiphertext, PackingCodec, key_fingerprint
from omteach.crypto.paillier import generate_keypair
from omteach.errors import (
    HeadroomExceededError,
    InvalidValueError,
    KeyMismatchError,
    PlaintextOverflowError,
    WeakKeyWarning,
)

CODECS = st.builds(PackingCodec,
                   clip=st.sampled_from([0.5, 1.0, 4.0]),
                   bits=st.integers(2, 24),
                   max_contributions=st.integers(1, 6))


def vectors(clip: float, size: int):
    return st.lists(st.floats(-clip, clip, allow_nan=False), min_size=size, max_size=size)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), codec=CODECS, n=st.integers(1, 70))
def test_round_trip_within_half_a_step(keys, data, codec, n):
    x = np.array(data.draw(vectors(codec.clip, n)))
    back = codec.decrypt(keys.private, codec.encrypt(keys.public, x))
    assert back.shape == x.shape
    assert np.max(np.abs(back - x)) <= codec.error_bound(1) + 1e-12


@settings(max_examples=30, deadline=None)
@given(data=st.data(), codec=CODECS, n=st.integers(1, 70))
def test_sum_of_k_packed_vectors_is_the_float_sum_within_the_bound(keys, data, codec, n):
    k = data.draw(st.integers(1, codec.max_contributions))
    xs = [np.array(data.draw(vectors(codec.clip, n))) for _ in range(k)]
    total = codec.encrypt(keys.public, xs[0])
    for x in xs[1:]:
        total = total + codec.encrypt(keys.public, x)
    assert total.contributions == k
    back = codec.decrypt(keys.private, total)
    assert np.max(np.abs(back - np.sum(xs, axis=0))) <= codec.error_bound(k) + 1e-9


@settings(max_examples=30, deadline=None)
@given(codec=CODECS)
def test_headroom_holds_exactly_k_full_slots(codec):
    """The largest slot sum of K contributions fits its slot, and the slot is no wider."""
    assert codec.max_contributions * codec.levels < 2 ** codec.slot_bits
    assert codec.max_contributions * codec.levels >= 2 ** (codec.slot_bits - 1)
    assert codec.slot_bits == codec.bits + codec.headroom_bits


@settings(max_examples=25, deadline=None)
@given(data=st.data(), codec=CODECS, n=st.integers(1, 200))
def test_pack_unpack_is_exact_for_any_slot_sum(keys, data, codec, n):
    top = codec.max_contributions * codec.levels
    q = np.array(data.draw(st.lists(st.integers(0, top), min_size=n, max_size=n)), dtype=np.int64)
    plain = codec.pack(q, keys.public)
    assert len(plain) == codec.n_ciphertexts(n, keys.public)
    assert all(0 <= m < keys.public.n for m in plain)
    assert np.array_equal(codec.unpack(plain, n, keys.public), q)


def test_full_slots_summed_k_times_do_not_spill(keys):
    """Every slot at its maximum, K times: the worst case for carries into a neighbour."""
    codec = PackingCodec(clip=1.0, bits=8, max_contributions=5)
    x = np.ones(60)
    total = codec.encrypt(keys.public, x)
    for _ in range(4):
        total = total + codec.encrypt(keys.public, x)
    assert np.allclose(codec.decrypt(keys.private, total), 5 * x, atol=codec.error_bound(5))
    y = -np.ones(60)
    low = codec.encrypt(keys.public, y) + codec.encrypt(keys.public, y)
    assert np.allclose(codec.decrypt(keys.private, low), 2 * y, atol=codec.error_bound(2))


def test_torch_input_and_clipping(keys):
    codec = PackingCodec(clip=1.0, bits=16, max_contributions=3)
    t = torch.tensor([0.5, -2.0, 3.0, 0.0])
    back = codec.decrypt(keys.private, codec.encrypt(keys.public, t))
    assert np.allclose(back, [0.5, -1.0, 1.0, 0.0], atol=codec.error_bound())


def test_packed_encryption_is_randomized_and_carries_no_exponent(keys):
    codec = PackingCodec()
    x = np.linspace(-1, 1, 50)
    a, b = codec.encrypt(keys.public, x), codec.encrypt(keys.public, x)
    assert a.ciphertexts != b.ciphertexts
    assert all(isinstance(c, int) for c in a.ciphertexts)
    assert not hasattr(a, "exponent")
    assert set(a.to_json()) == {"kind", "ciphertexts", "codec", "length", "contributions",
                                "key_fingerprint"}
    assert np.allclose(codec.decrypt(keys.private, a), codec.decrypt(keys.private, b))


def test_many_values_share_a_ciphertext(keys):
    codec = PackingCodec(bits=16, max_contributions=3)
    assert codec.slot_bits == 18 and codec.headroom_bits == 2
    assert codec.slots_per_ciphertext(keys.public) == (512 - 1) // 18
    packed = codec.encrypt(keys.public, np.zeros(100))
    assert len(packed.ciphertexts) == 4 and packed.length == 100
    assert "100 values in 4 ciphertexts" in repr(packed)


def test_json_round_trip_and_malformed_blobs(keys, other_keys):
    codec = PackingCodec(clip=2.0, bits=12, max_contributions=4)
    x = np.linspace(-2, 2, 40)
    packed = codec.encrypt(keys.public, x) + codec.encrypt(keys.public, x)
    again = PackedCiphertext.from_json(packed.to_json(), keys.public)
    assert again == packed
    assert np.allclose(codec.decrypt(keys.private, again), 2 * x, atol=codec.error_bound(2))
    with pytest.raises(KeyMismatchError, match="another public key"):
        PackedCiphertext.from_json(packed.to_json(), other_keys.public)
    for broken in ({}, {**packed.to_json(), "kind": "pickle"},
                   {**packed.to_json(), "ciphertexts": ["zz"]},
                   {**packed.to_json(), "codec": {"clip": -1, "bits": 12, "max_contributions": 4}}):
        with pytest.raises(InvalidValueError):
            PackedCiphertext.from_json(broken, keys.public)
    with pytest.raises(InvalidValueError, match="do not fit"):
        PackedCiphertext.from_json({**packed.to_json(), "length": 400}, keys.public)
    with pytest.raises(InvalidValueError, match="do not fit"):
        PackedCiphertext.from_json({**packed.to_json(), "ciphertexts": ["0"]}, keys.public)
    assert key_fingerprint(keys.public) != key_fingerprint(other_keys.public)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_refused(keys, bad):
    with pytest.raises(InvalidValueError, match="index 2"):
        PackingCodec().encrypt(keys.public, [0.0, 0.1, bad])


def test_out_of_range_refused_when_clipping_is_off(keys):
    with pytest.raises(PlaintextOverflowError, match=r"index 1 is 1\.5, outside \[-1, 1\]"):
        PackingCodec().encrypt(keys.public, [0.0, 1.5], clip_inputs=False)


def test_more_contributions_than_headroom_is_an_error(keys):
    codec = PackingCodec(max_contributions=2)
    x = np.zeros(5)
    two = codec.encrypt(keys.public, x) + codec.encrypt(keys.public, x)
    with pytest.raises(HeadroomExceededError, match="headroom for 2"):
        two + codec.encrypt(keys.public, x)


def test_mixing_keys_codecs_or_shapes_is_an_error(keys, other_keys):
    codec = PackingCodec()
    a = codec.encrypt(keys.public, np.zeros(5))
    with pytest.raises(KeyMismatchError, match="different public keys"):
        a + codec.encrypt(other_keys.public, np.zeros(5))
    with pytest.raises(KeyMismatchError, match="different public key"):
        codec.decrypt(other_keys.private, a)
    with pytest.raises(InvalidValueError, match="different shapes or codecs"):
        a + codec.encrypt(keys.public, np.zeros(6))
    with pytest.raises(InvalidValueError, match="different shapes or codecs"):
        a + PackingCodec(bits=8).encrypt(keys.public, np.zeros(5))
    with pytest.raises(InvalidValueError, match="codec that packed it"):
        PackingCodec(bits=8).decrypt(keys.private, a)
    with pytest.raises(InvalidValueError, match="only be added to another packed vector"):
        a + 1
    with pytest.raises(InvalidValueError, match="PackedCiphertext"):
        codec.decrypt(keys.private, [1, 2])
    with pytest.raises(InvalidValueError, match="public key"):
        codec.encrypt(keys.private, np.zeros(5))
    with pytest.raises(InvalidValueError, match="private key"):
        codec.decrypt(keys.public, a)


def test_shape_mask_and_slot_errors(keys):
    codec = PackingCodec()
    with pytest.raises(InvalidValueError, match="1-D"):
        codec.encrypt(keys.public, np.zeros((3, 3)))
    with pytest.raises(InvalidValueError, match="the mask has 2 numbers"):
        codec.encrypt(keys.public, np.zeros(5), mask=[1, 2])
    with pytest.raises(PlaintextOverflowError, match="spill into its neighbour"):
        codec.pack(np.array([0, 3 * codec.levels + 1]), keys.public)
    with pytest.raises(PlaintextOverflowError, match="spill into its neighbour"):
        codec.pack(np.array([-1]), keys.public)
    with pytest.warns(WeakKeyWarning):
        tiny = generate_keypair(64)
    with pytest.raises(PlaintextOverflowError, match="does not fit"):
        PackingCodec(bits=48, max_contributions=2**20).slots_per_ciphertext(tiny.public)


@pytest.mark.parametrize("kwargs", [
    {"clip": 0}, {"clip": -1.0}, {"clip": float("inf")}, {"clip": "1"},
    {"bits": 0}, {"bits": 49}, {"bits": 8.0}, {"bits": True}, {"clip": True},
    {"max_contributions": 0}, {"max_contributions": 2.5}, {"max_contributions": 2**20 + 1},
])
def test_bad_codec_parameters(kwargs):
    with pytest.raises(InvalidValueError):
        PackingCodec(**kwargs)


def test_a_mask_that_cancels_in_the_sum(keys):
    """Masks mod n added to two contributions cancel in their sum, leaving the true sum."""
    codec = PackingCodec()
    x, y = np.linspace(-1, 1, 30), np.linspace(1, -1, 30)
    k = codec.n_ciphertexts(30, keys.public)
    rng = np.random.default_rng(0)
    mask = [int(v) for v in rng.integers(1, 2**62, size=k)]
    a = codec.encrypt(keys.public, x, mask=mask)
    b = codec.encrypt(keys.public, y, mask=[(-m) % keys.public.n for m in mask])
    assert not np.allclose(codec.decrypt(keys.private, a), x, atol=0.1)
    assert np.allclose(codec.decrypt(keys.private, a + b), x + y, atol=codec.error_bound(2))
