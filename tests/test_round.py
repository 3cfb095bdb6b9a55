"""Chapter 4's protocol: secure aggregation, blob integrity, and a full training run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.crypto.packing import PackedCiphertext, PackingCodec
from omteach.crypto.paillier import generate_keypair
from omteach.crypto.parallel import ParallelEncryptor
from omteach.crypto.secagg import MaskKey, apply_mask, expand_mask, pairwise_mask
from omteach.errors import BlobIntegrityError, InvalidValueError, KeyMismatchError
from omteach.protocol import TrainingRun, baseline_curves


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(2048)


@pytest.fixture(scope="module")
def small_keys():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generate_keypair(512)


# -- masks ------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(n_owners=st.integers(2, 5), count=st.integers(1, 4), round_no=st.integers(0, 50))
def test_pairwise_masks_cancel_in_the_sum(small_keys, n_owners, count, round_no):
    n = small_keys.public.n
    names = [f"owner{i}" for i in range(n_owners)]
    mask_keys = {name: MaskKey.generate() for name in names}
    masks = [pairwise_mask(me, mask_keys[me],
                           {o: k.public for o, k in mask_keys.items() if o != me},
                           round_no, count, n) for me in names]
    assert [sum(col) % n for col in zip(*masks, strict=True)] == [0] * count
    assert all(any(m) for m in masks)  # each single mask is not zero


def test_both_sides_of_a_pair_derive_the_same_seed_and_rounds_differ():
    a, b = MaskKey.generate(), MaskKey.generate()
    assert a.shared_seed(b.public) == b.shared_seed(a.public)
    assert a.shared_seed(b.public) != a.shared_seed(MaskKey.generate().public)
    seed = a.shared_seed(b.public)
    assert expand_mask(seed, 0, 3, 2**61 - 1) != expand_mask(seed, 1, 3, 2**61 - 1)


def test_mask_errors_are_clear():
    a = MaskKey.generate()
    with pytest.raises(InvalidValueError, match="not a valid masking public key"):
        a.shared_seed(1)
    with pytest.raises(InvalidValueError, match="among their own peers"):
        pairwise_mask("Joe", a, {"Joe": a.public}, 0, 1, 97)
    with pytest.raises(InvalidValueError, match="the mask has 1 numbers"):
        apply_mask([1, 2], [3], 97)


def test_masked_packed_sum_decrypts_to_the_plain_sum(keys):
    """Three owners: each masked ciphertext is noise, their sum is the sum of the updates."""
    codec = PackingCodec(clip=0.5, bits=16, max_contributions=3)
    rng = np.random.default_rng(1)
    updates = {o: rng.normal(0, 0.1, 500) for o in ("Jack", "Jane", "Joe")}
    mask_keys = {o: MaskKey.generate() for o in updates}
    count = codec.n_ciphertexts(500, keys.public)
    packed = {}
    for me, update in updates.items():
        peers = {o: k.public for o, k in mask_keys.items() if o != me}
        mask = pairwise_mask(me, mask_keys[me], peers, 0, count, keys.public.n)
        packed[me] = codec.encrypt(keys.public, update, mask=mask)
    total = packed["Jack"] + packed["Jane"] + packed["Joe"]
    plain_sum = sum(np.clip(u, -0.5, 0.5) for u in updates.values())
    err = np.max(np.abs(codec.decrypt(keys.private, total) - plain_sum))
    assert err <= codec.error_bound(3)
    # One owner's ciphertext alone: uncorrelated with that owner's update.
    alone = codec.decrypt(keys.private, packed["Joe"])
    corr = np.corrcoef(alone, updates["Joe"])[0, 1]
    assert abs(corr) < 0.2
    assert np.max(np.abs(alone - updates["Joe"])) > 100 * codec.error_bound(1)


def test_packed_json_round_trip_and_refusals(keys, small_keys):
    codec = PackingCodec()
    packed = codec.encrypt(keys.public, np.linspace(-1, 1, 300))
    back = PackedCiphertext.from_json(packed.to_json(), keys.public)
    assert back == packed
    with pytest.raises(KeyMismatchError):
        PackedCiphertext.from_json(packed.to_json(), small_keys.public)
    broken = {**packed.to_json(), "ciphertexts": packed.to_json()["ciphertexts"][:-1]}
    with pytest.raises(InvalidValueError, match="do not fit"):
        PackedCiphertext.from_json(broken, keys.public)
    with pytest.raises(InvalidValueError, match="not a packed ciphertext blob"):
        PackedCiphertext.from_json({"kind": "pickle"}, keys.public)


def test_parallel_encryptor_gives_ciphertexts_of_the_same_plaintexts(small_keys):
    plain = list(range(1, 8))
    with ParallelEncryptor(small_keys.public, workers=2) as enc:
        cts = enc(plain)
    assert [small_keys.private.raw_decrypt(c) for c in cts] == plain


# -- the full protocol ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(keys):
    with TrainingRun(keys=keys, workers=1, rounds=3) as r:
        yield r


def test_a_three_owner_three_round_run_learns(run):
    reports = [run.run_round() for _ in range(3)]
    assert all(r.closed for r in reports)
    assert [r.round for r in reports] == [0, 1, 2]
    assert [r.contributors for r in reports] == [["Jack", "Jane", "Joe"]] * 3
    acc = [run.initial_accuracy] + [r.accuracy for r in reports]
    assert acc[-1] > 0.6 > acc[0] + 0.4
    assert acc[-1] >= acc[1]
    spec = run.market.spec(run.spec_id)
    assert spec.finished and spec.escrow == 0
    assert all(r.ciphertexts_per_owner == 22 for r in reports)
    events = [e.name for e in run.market.contract.events()]
    assert events.count("BountyPaid") == 9 and events.count("EscrowReturned") == 1
    with pytest.raises(InvalidValueError, match="finished"):
        run.run_round()


def test_the_decrypted_aggregate_is_the_mean_of_the_plain_updates(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        updates = {n: o.train(r.spec_id, 0) for n, o in r.owners.items()}
        for name, owner in r.owners.items():
            owner.submit(r.spec_id, 0, updates[name])
        mean, count = r.company.aggregate(r.spec_id, 0)
    assert count == 3
    plain_mean = np.mean(list(updates.values()), axis=0)
    assert np.max(np.abs(mean - plain_mean)) <= r.company.codec.error_bound(3) / 3 + 1e-12


def test_a_single_submission_tells_ai_inc_nothing(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        update = r.owners["Joe"].train(r.spec_id, 0)
        blob, _ = r.owners["Joe"].submit(r.spec_id, 0, update)
        packed = r.company.fetch_submissions(r.spec_id, 0)["Joe"]
        seen = r.company.decrypt_one(packed)
    assert abs(np.corrcoef(seen, update)[0, 1]) < 0.2


def test_dropping_an_owner_stops_the_round_until_everyone_submits(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        report = r.run_round(drop=["Jack"])
        assert not report.closed
        assert report.contributors == ["Jane", "Joe"]
        assert report.refusal.startswith("not enough data owners submitted in this round")
        assert r.round_no == 0
        again = r.run_round()
        assert again.closed and again.contributors == ["Jack", "Jane", "Joe"]
        assert set(again.blob_bytes) == {"Jack"}  # the others had already submitted
        with pytest.raises(InvalidValueError, match="unknown owner"):
            r.run_round(drop=["Zed"])


def test_tampered_blobs_are_refused_by_their_id(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        spec = r.market.spec(r.spec_id)
        good = r.market.blobs.get(spec.model_blob)
        r.market.blobs.tamper(spec.model_blob, good.replace(b"relu", b"tanh"))
        with pytest.raises(BlobIntegrityError):
            r.owners["Joe"].inspect(r.spec_id)
        r.market.blobs.tamper(spec.model_blob, good)
        update = r.owners["Joe"].train(r.spec_id, 0)
        blob, _ = r.owners["Joe"].submit(r.spec_id, 0, update)
        r.market.blobs.tamper(blob, r.market.blobs.get(blob).replace(b"1", b"2", 1))
        with pytest.raises(BlobIntegrityError):
            r.company.fetch_submissions(r.spec_id, 0)


def test_plain_and_encrypted_runs_reach_the_same_model(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1, encrypted=True) as enc, \
            TrainingRun(keys=keys, workers=1, rounds=1, encrypted=False) as plain:
        enc.run_round()
        plain.run_round()
        diff = np.max(np.abs(enc.company.weights - plain.company.weights))
    assert diff <= enc.company.codec.error_bound(3) / 3 + 1e-6


def test_baselines_bracket_the_federated_model(run):
    curves = baseline_curves(run.model, run.shares, run.test, rounds=3)
    assert set(curves) == {"all data, central", "Joe alone", "Jane alone", "Jack alone"}
    assert all(len(c) == 4 for c in curves.values())
    assert curves["all data, central"][-1] > 0.8
