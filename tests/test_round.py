"""Chapter 4's protocol: secure aggregation, blob integrity, and a full training run."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.chain import Chain
from omteach.crypto.packing import PackedCiphertext, PackingCodec
from omteach.crypto.paillier import generate_keypair
from omteach.crypto.parallel import ParallelEncryptor
from omteach.crypto.secagg import MaskKey, apply_mask, expand_mask, pairwise_mask, round_seed
from omteach.errors import (
    AggregationError,
    BlobIntegrityError,
    ContractRevertError,
    DropoutRecoveryError,
    HeadroomExceededError,
    InvalidValueError,
    KeyMismatchError,
    ProtocolError,
)
from omteach.learning import tasks
from omteach.learning.data import Dataset
from omteach.protocol import TrainingRun, baseline_curves
from omteach.protocol.parties import canonical_json


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
    assert (expand_mask(round_seed(seed, 0, 0), 3, 2**61 - 1)
            != expand_mask(round_seed(seed, 0, 1), 3, 2**61 - 1))


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


def _train_and_submit(r: TrainingRun, *names: str) -> None:
    """The named owners train on round 0's model and submit their updates."""
    for name in names:
        r.owners[name].submit(r.spec_id, 0, r.owners[name].train(r.spec_id, 0))


def _past_the_submit_deadline(r: TrainingRun) -> None:
    """Move chain time past the open round's submit deadline (who has not submitted dropped)."""
    r.chain.advance_time(r.round_state().info.submit_deadline - r.chain.now())


def _assert_the_plain_mean(r: TrainingRun, updates: dict, mean: np.ndarray, count: int) -> None:
    """AI Inc.'s mean is the mean of exactly ``updates``, up to the packing's rounding."""
    assert count == len(updates)
    plain_mean = np.mean(list(updates.values()), axis=0)
    assert np.max(np.abs(mean - plain_mean)) <= r.company.codec.error_bound(count) / count + 1e-12


def _end_and_reveal(r: TrainingRun) -> None:
    """Everyone submitted: AI Inc. ends the submissions and every survivor reveals."""
    r.company.end_submissions(r.spec_id)
    for address in r.round_state().submitted:
        next(o for o in r.owners.values() if o.address == address).reveal_shares(r.spec_id, 0)


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
    assert events.count("BountyCredited") == 9 and events.count("EscrowReturned") == 1
    assert run.market.balance("Joe") == 3 * 1_000
    run.owners["Joe"].withdraw()
    assert run.market.balance("Joe") == 0
    with pytest.raises(InvalidValueError, match="finished"):
        run.run_round()


def test_the_decrypted_aggregate_is_the_mean_of_the_plain_updates(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        updates = {n: o.train(r.spec_id, 0) for n, o in r.owners.items()}
        for name, owner in r.owners.items():
            owner.submit(r.spec_id, 0, updates[name])
        with pytest.raises(AggregationError, match="submissions of this round have not ended"):
            r.company.aggregate(r.spec_id, 0)  # every update still hides behind its self-mask
        _end_and_reveal(r)
        mean, count = r.company.aggregate(r.spec_id, 0)
    assert count == 3
    plain_mean = np.mean(list(updates.values()), axis=0)
    assert np.max(np.abs(mean - plain_mean)) <= r.company.codec.error_bound(3) / 3 + 1e-12


def test_a_single_submission_tells_ai_inc_nothing(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        joe = r.owners["Joe"]
        update = joe.train(r.spec_id, 0)
        joe.submit(r.spec_id, 0, update)
        packed = r.company.fetch_submissions(r.spec_id, 0)[joe.address]
        seen = r.company.decrypt_one(packed)
    assert abs(np.corrcoef(seen, update)[0, 1]) < 0.2


def test_an_owner_drops_after_the_masks_are_fixed_and_the_round_completes(keys):
    """Jack posts his shares, then never submits: Joe and Jane's shares remove his masks."""
    with TrainingRun(keys=keys, workers=1, rounds=2) as r:
        r.open_round()
        updates = {n: r.owners[n].train(r.spec_id, 0) for n in ("Joe", "Jane")}
        for name, update in updates.items():
            r.owners[name].submit(r.spec_id, 0, update)
        with pytest.raises(ContractRevertError, match="the submit deadline has not passed"):
            r.company.end_submissions(r.spec_id)  # Jack still has time
        report = r.run_round(drop=["Jack"])
        assert report.closed and report.contributors == ["Jane", "Joe"]
        assert report.dropped == ["Jack"] and "recovery" in report.timings
        events = [e.name for e in r.market.contract.events()]
        assert events.count("SharesRevealed") == 2 and "SubmissionsEnded" in events
        assert report.accuracy > r.initial_accuracy + 0.1  # the recovered mean is no noise
        assert r.market.balance("Jack") == 0 and r.market.balance("Joe") == 1_000
        # The dropped owner cannot submit late into the recovered round (it is closed), and
        # takes part in the next round as before.
        again = r.run_round()
        assert again.closed and again.contributors == ["Jack", "Jane", "Joe"]


def test_the_recovered_sum_is_exact(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        updates = {n: r.owners[n].train(r.spec_id, 0) for n in ("Joe", "Jane")}
        for name, update in updates.items():
            r.owners[name].submit(r.spec_id, 0, update)
        _past_the_submit_deadline(r)
        r.company.end_submissions(r.spec_id)
        with pytest.raises(ContractRevertError, match="submissions are closed"):
            r.owners["Jack"].submit(r.spec_id, 0, r.owners["Jack"].train(r.spec_id, 0))
        assert r.owners["Jack"].last_update is not None
        r.owners["Joe"].reveal_shares(r.spec_id, 0)
        with pytest.raises(DropoutRecoveryError, match="1 share.* threshold is 2"):
            r.company.aggregate(r.spec_id, 0)
        r.owners["Jane"].reveal_shares(r.spec_id, 0)
        _assert_the_plain_mean(r, updates, *r.company.aggregate(r.spec_id, 0))


def test_too_few_survivors_leave_the_round_open(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        report = r.run_round(drop=["Jack", "Jane"])
        assert not report.closed and report.contributors == ["Joe"]
        assert "closes with at least 2 (min_owners)" in report.refusal
        assert r.round_no == 0
        again = r.run_round()
        assert again.closed and again.contributors == ["Jack", "Jane", "Joe"]
        assert set(again.blob_bytes) == {"Jack", "Jane"}  # Joe had already submitted
        with pytest.raises(InvalidValueError, match="unknown owner"):
            r.run_round(drop=["Zed"])


def test_a_wrong_revealed_share_is_refused_not_decoded(keys):
    chain = Chain()
    fourth = chain.w3.eth.accounts[5]
    with TrainingRun(keys=keys, workers=1, rounds=1, owners=("Joe", "Jane", "Jack", fourth),
                     min_owners=2, chain=chain) as r:
        r.open_round()
        _train_and_submit(r, "Joe", "Jane", "Jack")
        _past_the_submit_deadline(r)
        r.company.end_submissions(r.spec_id)
        r.owners["Joe"].reveal_shares(r.spec_id, 0)
        r.owners["Jane"].reveal_shares(r.spec_id, 0)
        # Jack lies: his share of the dropout's mask key is shifted by one.
        jack = r.owners["Jack"]
        doc = json.loads(r.market.revealed(r.spec_id, 0)[r.owners["Joe"].address])
        jill = r.owners[fourth].address
        assert r.market.round_info(r.spec_id, 0).k == 3  # 4 participants: all neighbours
        lie = {**doc, "sender": jack.address,
               "keys": {jill: format(int(doc["keys"][jill], 16) + 1, "x")}}
        r.market.reveal_shares(r.spec_id, 0, canonical_json(lie), sender=jack.address)
        with pytest.raises(DropoutRecoveryError, match="disagree|wrong"):
            r.company.aggregate(r.spec_id, 0)


def test_a_lie_among_exactly_t_reveals_is_refused_not_decoded(keys):
    """With exactly t reveals a wrong share cannot be pinned down, but the sum will not decode."""
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        _train_and_submit(r, "Joe", "Jane")
        _past_the_submit_deadline(r)
        r.company.end_submissions(r.spec_id)
        r.owners["Joe"].reveal_shares(r.spec_id, 0)
        doc = json.loads(r.market.revealed(r.spec_id, 0)[r.owners["Joe"].address])
        jane, jack = r.owners["Jane"].address, r.owners["Jack"].address
        lie = {**doc, "sender": jane, "keys": {jack: format(int(doc["keys"][jack], 16) ^ 1, "x")}}
        r.market.reveal_shares(r.spec_id, 0, canonical_json(lie), sender=jane)
        with pytest.raises(AggregationError, match="does not match|does not decode"):
            r.company.aggregate(r.spec_id, 0)


def test_an_unusable_reveal_is_left_out_and_named_never_a_crash(keys):
    """Jane reveals junk: it is left out; Joe's share alone cannot rebuild anyone's self-mask
    seed (t = 2), so the round refuses, naming Jane; once Jack reveals, the sum is exact."""
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        updates = {n: r.owners[n].train(r.spec_id, 0) for n in r.owners}
        for name, update in updates.items():
            r.owners[name].submit(r.spec_id, 0, update)
        r.company.end_submissions(r.spec_id)
        r.owners["Joe"].reveal_shares(r.spec_id, 0)
        jane = r.owners["Jane"].address
        junk = {"kind": "omteach.RevealedShares", "sender": jane, "spec_id": r.spec_id,
                "round": 0, "keys": [], "seeds": "ff"}  # the right header, a wrong body
        r.market.reveal_shares(r.spec_id, 0, canonical_json(junk), sender=jane)
        with pytest.raises(DropoutRecoveryError, match="unusable reveals left out: Jane"):
            r.company.aggregate(r.spec_id, 0)
        r.owners["Jack"].reveal_shares(r.spec_id, 0)
        _assert_the_plain_mean(r, updates, *r.company.aggregate(r.spec_id, 0))


def test_bad_key_shares_are_refused_before_masking_and_the_round_reopens(keys):
    """Jack deals shares that do not open: Joe will not submit; AI Inc. reopens without Jack."""
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        joe, jane, jack = (r.owners[n] for n in ("Joe", "Jane", "Jack"))
        r.company.open_round(r.spec_id)
        for owner in (joe, jane, jack):
            owner.advertise_keys(r.spec_id, 0)
        joe.post_shares(r.spec_id, 0)
        jane.post_shares(r.spec_id, 0)
        bad = r.market.blobs.put_json({"kind": "omteach.SealedKeyShares", "sender": jack.address,
                                       "shares": {joe.address: "00" * 94}})
        r.market.post_shares(r.spec_id, 0, bad, sender=jack.address)
        with pytest.raises(ProtocolError, match="Jack's key shares hold no usable share for Joe"):
            joe.submit(r.spec_id, 0, joe.train(r.spec_id, 0))
        with pytest.raises(ProtocolError, match="Jack's key shares hold no usable share for Jane"):
            jane.check_shares(r.spec_id, 0)
        r.company.open_round(r.spec_id, [joe.address, jane.address])
        report = r.run_round()
        assert report.closed and report.contributors == ["Jane", "Joe"] and not report.dropped


def test_an_address_outside_the_cast_takes_part(keys):
    chain = Chain()
    outsider = chain.w3.eth.accounts[6]
    with TrainingRun(keys=keys, workers=1, rounds=2, chain=chain,
                     owners=("Joe", "Jane", outsider)) as r:
        first = r.run_round()
        assert first.closed and outsider in first.contributors
        second = r.run_round(drop=[outsider])
        assert second.closed and second.dropped == [outsider]
        assert r.market.balance(outsider) == 1_000


def test_owners_refuse_to_work_outside_their_round(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1, owners=("Joe", "Jane", "Jack"),
                     accept=False) as r:
        for name in ("Joe", "Jane"):
            r.owners[name].accept(r.spec_id)
        with pytest.raises(ProtocolError, match="not open"):
            r.owners["Joe"].post_shares(r.spec_id, 0)
        r.company.open_round(r.spec_id)
        r.owners["Jack"].accept(r.spec_id)  # a latecomer: not in this round's set
        with pytest.raises(ProtocolError, match="Jack is not a participant of round 0"):
            r.owners["Jack"].post_shares(r.spec_id, 0)
        with pytest.raises(ProtocolError, match="has not ended this round's submissions"):
            r.owners["Joe"].reveal_shares(r.spec_id, 0)


# -- AI Inc. checks every blob against the spec on chain ---------------------------------------


@pytest.fixture(scope="module")
def submitted(keys):
    """A round in which everyone submitted, and Jack's honest update blob as JSON."""
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        _train_and_submit(r, *r.owners)
        jack = r.owners["Jack"].address
        yield r, jack, r.market.blobs.get_json(r.market.submission(r.spec_id, 0, jack))


@pytest.mark.parametrize(("change", "reason"), [
    ({"contributions": 0}, "contributions = 0"),
    ({"contributions": 2}, "contributions = 2"),
    ({"contributions": True}, "contributions = True"),
    ({"length": 2000}, "length = 2000"),
    ({"codec": {"clip": 0.5, "bits": 8, "max_contributions": 3}}, "says codec"),
    ({"key_fingerprint": "0" * 16}, "key_fingerprint"),
    ({"kind": "pickle"}, "is not a packed ciphertext"),
    ({"ciphertexts": ["1"] * 21}, "has 21 ciphertexts; 2410 values pack into 22"),
    ({"ciphertexts": "ff"}, "has 0 ciphertexts"),
    ({"ciphertexts": ["0"] * 22}, "is malformed"),
    ({"ciphertexts": ["zz"] * 22}, "is malformed"),
])
def test_a_blob_that_disagrees_with_the_spec_is_refused(submitted, change, reason):
    r, jack, doc = submitted
    blob = r.market.blobs.put(canonical_json({**doc, **change}))
    with pytest.raises(AggregationError, match=reason):
        r.company.load_update(r.spec_id, jack, blob)


def test_aggregate_refuses_a_round_with_a_lying_blob(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        _train_and_submit(r, "Joe", "Jane")
        jack = r.owners["Jack"]
        joe = r.owners["Joe"].address
        honest = r.market.blobs.get_json(r.market.submission(r.spec_id, 0, joe))
        blob = r.market.blobs.put(canonical_json({**honest, "contributions": 0}))
        r.market.submit(r.spec_id, 0, blob, sender=jack.address)
        _end_and_reveal(r)
        with pytest.raises(AggregationError, match="Jack's update says contributions = 0"):
            r.company.aggregate(r.spec_id, 0)
        with pytest.raises(AggregationError, match="round 1 is not the open round"):
            r.company.aggregate(r.spec_id, 1)


def test_updates_checked_as_they_arrive_are_not_read_again_at_the_close(keys):
    """AI Inc. checks each update while the others still train (the classroom's teacher does,
    at each new submission); the close then sums without reading a single update again, and
    the mean is the same. A lying update is left for the close, which still refuses it."""
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        assert r.company.check_arrivals(r.spec_id, 0) == 0
        updates = {n: r.owners[n].train(r.spec_id, 0) for n in r.owners}
        for name in ("Joe", "Jane"):
            r.owners[name].submit(r.spec_id, 0, updates[name])
        assert r.company.check_arrivals(r.spec_id, 0) == 2
        r.owners["Jack"].submit(r.spec_id, 0, updates["Jack"])
        assert r.company.check_arrivals(r.spec_id, 0) == 3
        ids = set(r.round_state().submitted.values())
        read = []
        get_json = r.market.blobs.get_json
        r.market.blobs.get_json = lambda bid: read.append(bid) or get_json(bid)
        _end_and_reveal(r)
        mean, count = r.company.aggregate(r.spec_id, 0)
        assert count == 3 and not ids & set(read), "an update checked before was read again"
        _assert_the_plain_mean(r, updates, mean, count)


def test_an_update_refused_while_others_submit_is_refused_at_the_close(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        _train_and_submit(r, "Joe", "Jane")
        joe = r.owners["Joe"].address
        honest = r.market.blobs.get_json(r.market.submission(r.spec_id, 0, joe))
        lying = r.market.blobs.put(canonical_json({**honest, "contributions": 0}))
        r.market.submit(r.spec_id, 0, lying, sender=r.owners["Jack"].address)
        assert r.company.check_arrivals(r.spec_id, 0) == 2  # no error while the class works
        _end_and_reveal(r)
        with pytest.raises(AggregationError, match="Jack's update says contributions = 0"):
            r.company.aggregate(r.spec_id, 0)


def test_a_copied_update_does_not_decode(keys):
    """Jack resubmits Joe's ciphertexts as his own: the masks no longer cancel."""
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        r.open_round()
        _train_and_submit(r, "Joe", "Jane")
        joe_blob = r.market.submission(r.spec_id, 0, r.owners["Joe"].address)
        r.market.submit(r.spec_id, 0, joe_blob, sender=r.owners["Jack"].address)
        r.company.end_submissions(r.spec_id)
        for name in ("Joe", "Jane"):
            r.owners[name].reveal_shares(r.spec_id, 0)
        with pytest.raises(AggregationError, match="the decrypted sum does not decode"):
            r.company.aggregate(r.spec_id, 0)


def test_tampered_blobs_are_refused_by_their_id(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:
        spec = r.market.spec(r.spec_id)
        good = r.market.blobs.get(spec.model_blob)
        r.market.blobs.tamper(spec.model_blob, good.replace(b"relu", b"tanh"))
        with pytest.raises(BlobIntegrityError):
            r.owners["Joe"].inspect(r.spec_id)
        r.market.blobs.tamper(spec.model_blob, good)
        r.open_round()
        update = r.owners["Joe"].train(r.spec_id, 0)
        blob, _ = r.owners["Joe"].submit(r.spec_id, 0, update)
        r.market.blobs.tamper(blob, r.market.blobs.get(blob).replace(b"1", b"2", 1))
        with pytest.raises(BlobIntegrityError):
            r.company.fetch_submissions(r.spec_id, 0)


def test_plain_and_encrypted_runs_reach_the_same_model(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1, encrypted=True) as enc, \
            TrainingRun(keys=keys, workers=1, rounds=2, encrypted=False) as plain:
        enc.run_round()
        plain.run_round()
        diff = np.max(np.abs(enc.company.weights - plain.company.weights))
        assert diff <= enc.company.codec.error_bound(3) / 3 + 1e-6
        # Without masks there is nothing to recover, but the same protocol steps run.
        dropped = plain.run_round(drop=["Jack"])
        assert dropped.closed and dropped.contributors == ["Jane", "Joe"]
        assert "shares" in dropped.timings


def test_baselines_bracket_the_federated_model(run):
    curves = baseline_curves(run.model, run.shares, run.test, rounds=3)
    assert set(curves) == {"all data, central", "Joe alone", "Jane alone", "Jack alone"}
    assert all(len(c) == 4 for c in curves.values())
    assert curves["all data, central"][-1] > 0.8


def test_setting_up_a_run_reports_progress_step_by_step(keys):
    from omteach.ui.toolkit import ProgressBar

    for accept in (True, False):
        seen: list[tuple[int, int, str]] = []
        bar = ProgressBar(1, "setting up")

        def progress(done, total, message, seen=seen, bar=bar):
            seen.append((done, total, message))
            bar.update(done, total, message)

        with TrainingRun(keys=keys, workers=1, accept=accept, progress=progress) as r:
            pass
        total = 6 if accept else 5
        assert [(d, t) for d, t, _ in seen] == [(i, total) for i in range(total + 1)]
        assert seen[-1][2] == "ready" and "chain" in seen[0][2]
        assert (bar.bar.value, bar.bar.max, bar.status.value) == (total, total, "ready")
        assert len(r.market.owners(r.spec_id)) == (3 if accept else 0)


# -- every refusal before work (issue 21) ----------------------------------------------------


def test_places_past_the_codec_headroom_and_a_misshapen_close_are_refused_before_gas(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1) as r:  # 3 owners: headroom for 3
        sid, k = r.spec_id, r.company.codec.max_contributions
        before, weights = r.market.spec(sid), r.company.weights.copy()
        with pytest.raises(HeadroomExceededError, match=f"headroom for the sum of {k} \\("):
            r.market.add_places(sid, 1)
        with pytest.raises(HeadroomExceededError, match=f"{k + 2} owners"):
            r.company.post(rounds=1, min_owners=2, bounty=1_000, places=k + 2)
        with pytest.raises(InvalidValueError, match="no spec"):
            r.market.spec(sid + 1)  # the refused post never reached the chain
        assert r.market.spec(sid) == before
        fits = r.company.post(rounds=1, min_owners=2, bounty=1_000, places=k - 1)
        r.market.add_places(fits, 1)  # up to the headroom is fine
        assert r.market.spec(fits).places == k
        # AI Inc.'s close: one finite number per weight, nothing else
        for bad in (np.float64(0.5), np.zeros(weights.size - 1), np.zeros((2, weights.size)),
                    np.array(["x"] * weights.size), np.full(weights.size, np.nan)):
            with pytest.raises(InvalidValueError, match=f"{weights.size:,} finite numbers"):
                r.company.close_round(sid, bad)
        assert np.array_equal(r.company.weights, weights) and r.market.spec(sid) == before


def test_data_that_does_not_fit_the_model_is_refused_before_accepting(keys):
    with TrainingRun(keys=keys, workers=1, rounds=1, accept=False) as r:
        joe = r.owners["Joe"]
        good = joe.data
        for bad, why in ((Dataset(np.zeros((5, 65)), np.zeros(5, dtype=int)), "rows of 64"),
                         (Dataset(good.x[:5], np.full(5, 10)), "from 0 to 9"),
                         (Dataset(good.x[:5], good.y[:4]), "one label each")):
            joe.data = bad
            with pytest.raises(InvalidValueError, match=why):
                joe.accept(r.spec_id)
            with pytest.raises(InvalidValueError, match=why):
                tasks.train(r.model, r.company.weights, bad, seed=0)
        assert joe.address not in r.market.owners(r.spec_id)
        joe.data = good
        joe.accept(r.spec_id)
        assert joe.address in r.market.owners(r.spec_id)


def test_a_torch_model_refuses_data_it_cannot_read_with_the_project_error():
    from torch import nn

    task = tasks.TorchTask("three features", lambda: nn.Linear(3, 2), loss="mse")
    x = np.zeros((4, 3))
    tasks.check_data(task, Dataset(x, np.zeros((4, 2))))  # fits
    with pytest.raises(InvalidValueError, match="cannot read rows of shape"):
        tasks.check_data(task, Dataset(np.zeros((4, 5)), np.zeros((4, 2))))
    with pytest.raises(InvalidValueError, match="outputs"):
        tasks.check_data(task, Dataset(x, np.zeros(4)))
    labels = tasks.TorchTask("two classes", lambda: nn.Linear(3, 2), loss="cross_entropy",
                             metric="accuracy")
    with pytest.raises(InvalidValueError, match="2 classes"):
        tasks.check_data(labels, Dataset(x, np.array([0, 1, 2, 1])))
