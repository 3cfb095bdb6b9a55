"""omteach.crypto.packing: the packing codec's properties (hypothesis) and every error path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

try:
    import torch
except ImportError:  # the torch-free runs on Python 3.12+ (tests/test_reach.py)
    torch = None

from omteach.crypto.packing import PackedCiphertext, PackingCodec, add_all, key_fingerprint
from omteach.crypto.paillier import generate_keypair, public_key_from_json, public_key_to_json
from omteach.crypto.parallel import ParallelEncryptor
from omteach.errors import (
    HeadroomExceededError,
    InvalidValueError,
    KeyMismatchError,
    OmteachError,
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
def test_round_trip_within_half_a_step(any_keys, data, codec, n):
    x = np.array(data.draw(vectors(codec.clip, n)))
    back = codec.decrypt(any_keys.private, codec.encrypt(any_keys.public, x))
    assert back.shape == x.shape
    assert np.max(np.abs(back - x)) <= codec.error_bound(1) + 1e-12


@settings(max_examples=30, deadline=None)
@given(data=st.data(), codec=CODECS, n=st.integers(1, 70))
def test_sum_of_k_packed_vectors_is_the_float_sum_within_the_bound(any_keys, data, codec, n):
    k = data.draw(st.integers(1, codec.max_contributions))
    xs = [np.array(data.draw(vectors(codec.clip, n))) for _ in range(k)]
    total = codec.encrypt(any_keys.public, xs[0])
    for x in xs[1:]:
        total = total + codec.encrypt(any_keys.public, x)
    assert total.contributions == k
    back = codec.decrypt(any_keys.private, total)
    assert np.max(np.abs(back - np.sum(xs, axis=0))) <= codec.error_bound(k) + 1e-9


@settings(max_examples=20, deadline=None)
@given(data=st.data(), codec=CODECS, n=st.integers(1, 40))
def test_adding_all_at_once_is_adding_one_by_one(any_keys, data, codec, n):
    """AI Inc. sums a round's updates in one pass (gmpy2): the same ciphertexts as Python's own
    product of each position modulo n^2, the same decrypted sum, the same contributions."""
    k = data.draw(st.integers(1, codec.max_contributions))
    xs = [np.array(data.draw(vectors(codec.clip, n))) for _ in range(k)]
    packed = [codec.encrypt(any_keys.public, x) for x in xs]
    total = add_all(packed)
    nsq = int(any_keys.public.nsquare)
    expected = []
    for column in zip(*(p.ciphertexts for p in packed), strict=True):
        product = 1
        for c in column:
            product = product * int(c) % nsq
        expected.append(product)
    assert [int(c) for c in total.ciphertexts] == expected
    assert total.contributions == k and all(type(c) is int for c in total.ciphertexts)
    back = codec.decrypt(any_keys.private, total)
    assert np.max(np.abs(back - np.sum(xs, axis=0))) <= codec.error_bound(k) + 1e-9


def test_adding_all_at_once_refuses_what_adding_one_by_one_refuses(keys, other_keys):
    codec = PackingCodec(clip=1.0, bits=8, max_contributions=2)
    a = codec.encrypt(keys.public, np.zeros(5))
    with pytest.raises(InvalidValueError, match="nothing to add"):
        add_all([])
    with pytest.raises(InvalidValueError, match="only packed vectors"):
        add_all(["ff", a])
    with pytest.raises(InvalidValueError, match="got str"):
        add_all([a, "ff"])
    with pytest.raises(KeyMismatchError, match="different public keys"):
        add_all([a, codec.encrypt(other_keys.public, np.zeros(5))])
    with pytest.raises(InvalidValueError, match="different shapes"):
        add_all([a, codec.encrypt(keys.public, np.zeros(6))])
    with pytest.raises(HeadroomExceededError, match="3 contributions.*headroom for 2"):
        add_all([a, a, a])
    assert add_all([a]).ciphertexts == a.ciphertexts


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


@pytest.mark.skipif(torch is None, reason="torch is not installed (torch-free run)")
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


# -- wide slots and float precision (issue 9) ----------------------------------------------------

WIDE = st.builds(PackingCodec, clip=st.sampled_from([0.5, 1.0, 1000.0]), bits=st.integers(30, 48),
                 max_contributions=st.sampled_from([1, 3, 4096, 2**20]))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), codec=WIDE, n=st.integers(1, 12))
def test_wide_slots_unpack_exactly_and_hold_the_bound(keys, data, codec, n):
    """bits up to 48 and K up to 2**20 (slots of 68 bits, past int64): exact, within the bound."""
    top = codec.max_contributions * codec.levels
    q = data.draw(st.lists(st.integers(0, top), min_size=n, max_size=n))
    plain = codec.pack(np.array(q, dtype=object), keys.public)
    assert list(codec.unpack(plain, n, keys.public)) == q
    k = data.draw(st.integers(1, min(3, codec.max_contributions)))
    xs = [np.array(data.draw(vectors(codec.clip, n))) for _ in range(k)]
    total = sum(codec.encrypt(keys.public, x) for x in xs)
    back = codec.decrypt(keys.private, total)
    assert np.max(np.abs(back - np.sum(xs, axis=0))) <= codec.error_bound(k)


def test_the_issue_codecs(keys):
    """bits=52 is refused (float64 cannot hold its bound); bits=48 with K=4096 decodes exactly."""
    with pytest.raises(InvalidValueError, match="float64"):
        PackingCodec(bits=52, max_contributions=4096)
    codec = PackingCodec(bits=48, max_contributions=4096)
    x = np.array([1.0, -1.0, 0.3, 1e-9])
    total = codec.encrypt(keys.public, x) + codec.encrypt(keys.public, x)
    assert np.max(np.abs(codec.decrypt(keys.private, total) - 2 * x)) <= codec.error_bound(2)
    full = PackingCodec(bits=48, max_contributions=2**20)
    assert full.slot_bits > 62
    q = np.full(5, full.max_contributions * full.levels)
    assert list(full.unpack(full.pack(q, keys.public), 5, keys.public)) == q.tolist()


@pytest.mark.parametrize("bad", [[0.5, 1 + 2j], np.array([0.5 + 1j]), ["0.5"], "0.5",
                                 np.array(["0.5", "1"]), [0.5, None], [{"a": 1}], {"a": 1.0},
                                 [object()], np.array([True, False]), [[0.1], [0.2, 0.3]],
                                 *([] if torch is None else [
                                     torch.tensor([0.5], dtype=torch.bfloat16),
                                     torch.tensor([0.5 + 1j])])])
def test_packing_refuses_what_is_not_real_numbers(keys, bad):
    with pytest.raises(InvalidValueError):
        PackingCodec().encrypt(keys.public, bad)


def test_mask_must_be_whole_numbers(keys):
    codec = PackingCodec()
    for mask in ([1.5], ["1"], [True], "1", 5):
        with pytest.raises(InvalidValueError, match="whole numbers"):
            codec.encrypt(keys.public, [0.1], mask=mask)


# -- fast keys, the parallel encryptor, sum() ----------------------------------------------------

def test_fast_and_ordinary_packed_vectors_add(keys):
    """Owners may encrypt under either form of the same key: the sums decrypt alike."""
    fast = keys.to_fast()
    codec = PackingCodec(max_contributions=3)
    x, y = np.linspace(-1, 1, 40), np.linspace(1, -1, 40)
    a, b = codec.encrypt(fast.public, x), codec.encrypt(keys.public, y)
    assert np.allclose(codec.decrypt(keys.private, a + b), x + y, atol=codec.error_bound(2))
    owner = codec.encrypt(keys.public, x, encryptor=keys.encrypt_many)  # the owner's CRT
    assert np.allclose(codec.decrypt(keys.private, owner), x, atol=codec.error_bound())
    assert np.allclose(codec.decrypt(fast.private, sum([a, b, owner])), 2 * x + y,
                       atol=codec.error_bound(3))


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_encryptor_uses_the_keys_method(fast_keys, keys, workers):
    codec = PackingCodec()
    x = np.linspace(-1, 1, 300)
    for kp in (fast_keys, keys):
        # Every party reads the key from its JSON form: a fast key stays fast there.
        public = public_key_from_json(public_key_to_json(kp.public))
        assert type(public) is type(kp.public)
        with ParallelEncryptor(public, workers) as enc:
            packed = codec.encrypt(public, x, encryptor=enc)
        assert len(set(packed.ciphertexts)) == len(packed.ciphertexts)
        assert np.allclose(codec.decrypt(kp.private, packed), x, atol=codec.error_bound())


def test_sum_of_packed_vectors(any_keys):
    codec = PackingCodec()
    x = np.linspace(-1, 1, 30)
    parts = [codec.encrypt(any_keys.public, x) for _ in range(3)]
    total = sum(parts)
    assert total.contributions == 3 and sum(parts[:1]) is parts[0]
    assert np.allclose(codec.decrypt(any_keys.private, total), 3 * x, atol=codec.error_bound(3))
    with pytest.raises(InvalidValueError, match="only be added to another packed vector"):
        1 + parts[0]


# -- hostile packed blobs (issue 9) --------------------------------------------------------------

def _hostile_blobs(keys):
    codec = PackingCodec(clip=1.0, bits=16, max_contributions=3)
    good = codec.encrypt(keys.public, np.linspace(-1, 1, 60)).to_json()
    n, nsq = keys.public.n, keys.public.nsquare
    cts = good["ciphertexts"]
    yield "not an object", [good]
    yield "kind missing", {k: v for k, v in good.items() if k != "kind"}
    for field in ("ciphertexts", "codec", "length", "contributions"):
        yield f"{field} missing", {k: v for k, v in good.items() if k != field}
    for c in (0, 4, -1, True, 1.0, "1", None):
        yield f"contributions {c!r}", {**good, "contributions": c}
    for length in (-1, "60", 60.0, True, 59 + 29 * 4, 10**9, None):
        yield f"length {length!r}", {**good, "length": length}
    yield "one ciphertext short", {**good, "ciphertexts": cts[:-1]}
    yield "one ciphertext too many", {**good, "ciphertexts": cts + cts[:1]}
    yield "ciphertexts not a list", {**good, "ciphertexts": ",".join(cts)}
    yield "a ciphertext not a string", {**good, "ciphertexts": [int(cts[0], 16)] + cts[1:]}
    for bad in ("0x" + cts[0], cts[0].upper(), "-" + cts[0], " " + cts[0], cts[0][:3] + "_"
                + cts[0][3:], "", "zz", "0", format(nsq, "x"), format(nsq + 1, "x"),
                format(n, "x"), "1" * 1000):
        yield f"ciphertext {bad[:12]!r}", {**good, "ciphertexts": [bad] + cts[1:]}
    yield "codec not an object", {**good, "codec": [1.0, 16, 3]}
    yield "codec with an extra field", {**good, "codec": {**good["codec"], "x": 1}}
    yield "codec bits True", {**good, "codec": {**good["codec"], "bits": True}}
    yield "codec clip a string", {**good, "codec": {**good["codec"], "clip": "1"}}
    yield "codec K of 0", {**good, "codec": {**good["codec"], "max_contributions": 0}}


def test_hostile_packed_blobs_are_refused(keys):
    for what, blob in _hostile_blobs(keys):
        with pytest.raises(InvalidValueError):
            PackedCiphertext.from_json(blob, keys.public)
            pytest.fail(f"accepted a blob with {what}")
    with pytest.raises(InvalidValueError, match="public key"):
        PackedCiphertext.from_json(next(_hostile_blobs(keys))[1], keys.private)


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(["kind", "ciphertexts", "codec", "length", "contributions",
                              "key_fingerprint"]),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                          | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                          max_leaves=6))
@example(field="length", value=29)  # found on Python 3.13: as many ciphertexts as 30 values
@example(field="length", value=10**6)
@example(field="contributions", value=2)  # found on Python 3.13: a well-formed sum's count
def test_any_hostile_blob_field_is_the_projects_error(keys, field, value):
    codec = PackingCodec()
    good = codec.encrypt(keys.public, np.zeros(30)).to_json()
    try:
        PackedCiphertext.from_json({**good, field: value}, keys.public)
    except OmteachError:
        return
    if field == "length" and type(value) is int and value > 0:
        # Another length that packs into as many ciphertexts is a well-formed blob: the slots are
        # encrypted, so only the spec (checked at aggregation) can say the length is wrong.
        assert codec.n_ciphertexts(value, keys.public) == len(good["ciphertexts"]), value
        return
    if field == "contributions" and type(value) is int:
        # A sum of 1 to K contributions is a well-formed blob too (the company's aggregate is
        # one); that a single owner's update says 1 is the spec's rule, checked at aggregation
        # (test_round: "Jack's update says contributions = 2" is refused).
        assert 1 <= value <= codec.max_contributions, value
        return
    assert value == good[field]  # accepted only if the field is unchanged


@pytest.mark.skipif(torch is None, reason="a round trains a torch model (torch-free run)")
def test_a_round_under_a_fast_key(fast_keys):
    """Every owner reads AI Inc.'s fast key from its blob and encrypts with its table."""
    from omteach.crypto.paillier import is_fast
    from omteach.protocol import TrainingRun

    with TrainingRun(keys=fast_keys, workers=1, rounds=1) as run:
        for owner in run.owners.values():
            public, _ = owner.public_key(run.spec_id)
            assert is_fast(public) and public.h_s == fast_keys.public.h_s
        report = run.run_round()
        assert report.closed and report.contributors == sorted(run.owners)
        assert report.accuracy > run.initial_accuracy
