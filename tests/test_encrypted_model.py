"""The encrypted linear model: owners never decrypt, it learns what plaintext training does, and a
malicious AI Inc. that chooses the weights' randomness learns nothing from an owner's submission."""

from __future__ import annotations

import numpy as np
import pytest
from phe import paillier

from omteach.crypto.paillier import generate_keypair
from omteach.errors import (
    AggregationError,
    InvalidValueError,
    NonRandomCiphertextError,
    PlaintextOverflowError,
)
from omteach.learning import encrypted_model
from omteach.learning.data import split_digits
from omteach.learning.encrypted_model import (
    EncryptedModelOwner,
    EncryptedModelRun,
    EncryptedWeights,
    chosen_randomness_weights,
    linear_accuracy,
    pixel_ints,
    plain_gradient,
    recover_summed_image,
    train_plain,
)


@pytest.fixture(scope="module")
def setting():
    shares, test = split_digits(seed=0)
    return shares, test, generate_keypair(2048)


def test_one_round_matches_the_plaintext_gradient_step(setting):
    shares, _, keys = setting
    run = EncryptedModelRun.create(keys, shares)
    run.weights = np.random.default_rng(0).normal(0, 0.1, 65)
    start = run.weights.copy()
    after = run.run_round(0)
    total = sum(len(d) for d in shares.values())
    expected = start - 0.5 * sum(plain_gradient(start, d) for d in shares.values()) / total
    assert np.max(np.abs(after - expected)) < 1e-5


def test_owners_never_decrypt_and_hold_no_private_key(setting, monkeypatch):
    shares, _, keys = setting
    calls = []
    original = paillier.PaillierPrivateKey.raw_decrypt

    def spy(self, c):
        calls.append(c)
        return original(self, c)

    monkeypatch.setattr(paillier.PaillierPrivateKey, "raw_decrypt", spy)
    run = EncryptedModelRun.create(keys, shares)
    enc = run.encrypt_weights()
    publics = {n: o.mask_key.public for n, o in run.owners.items()}
    for name, owner in run.owners.items():
        assert not any(isinstance(v, paillier.PaillierPrivateKey) for v in vars(owner).values())
        owner.encrypted_gradient(enc, {k: v for k, v in publics.items() if k != name}, 0)
    assert calls == []  # no decryption while the owners computed
    assert all(isinstance(c, int) for c in enc.ciphertexts)
    assert set(vars(enc)) == {"ciphertexts", "public", "slot_bits"}


def test_one_owners_masked_gradient_is_noise(setting):
    shares, _, keys = setting
    owners = {n: EncryptedModelOwner(n, d) for n, d in shares.items()}
    run = EncryptedModelRun(keys, owners)
    run.weights = np.random.default_rng(2).normal(0, 0.1, 65)
    enc = run.encrypt_weights()
    publics = {n: o.mask_key.public for n, o in owners.items()}
    joe = owners["Joe"].encrypted_gradient(
        enc, {k: v for k, v in publics.items() if k != "Joe"}, 0)
    with pytest.raises(PlaintextOverflowError, match="masks did not cancel"):
        run.decrypt_sum(joe, enc.slot_bits)  # packed: the leftover mask is detected
    run.pack = False
    enc = run.encrypt_weights()
    joe = owners["Joe"].encrypted_gradient(
        enc, {k: v for k, v in publics.items() if k != "Joe"}, 0)
    seen = run.decrypt_sum(joe)
    true = plain_gradient(run.weights, shares["Joe"])
    assert np.min(np.abs(seen)) > 1e6 * np.max(np.abs(true))  # astronomically off, or inf


def test_encrypted_training_reaches_the_plaintext_accuracy(setting):
    shares, test, keys = setting
    rounds = 4
    enc = EncryptedModelRun.create(keys, shares).train(rounds)
    plain = train_plain(list(shares.values()), rounds)
    enc_acc, plain_acc = linear_accuracy(enc[-1], test), linear_accuracy(plain[-1], test)
    assert abs(enc_acc - plain_acc) <= 0.02
    assert enc_acc > 0.8
    with pytest.raises(InvalidValueError):
        EncryptedModelRun.create(keys, shares).train(0)


def _joes_submission(setting, weights, **owner_flags):
    shares, _, keys = setting
    owners = {n: EncryptedModelOwner(n, d, **owner_flags) for n, d in shares.items()}
    publics = {n: o.mask_key.public for n, o in owners.items()}
    return owners["Joe"].encrypted_gradient(
        weights, {k: v for k, v in publics.items() if k != "Joe"}, 0)


def test_without_rerandomizing_chosen_randomness_reveals_joes_summed_image(setting):
    """The attack works against the old owner (no rerandomization, no check): exact pixel sums
    and image count from Joe's masked submission alone, without decrypting it."""
    shares, _, keys = setting
    w = np.random.default_rng(3).normal(0, 0.1, 65)
    malicious = chosen_randomness_weights(keys.public, w, r=2)
    honest = [keys.private.raw_decrypt(c) for c in malicious.ciphertexts]
    assert honest == [int(v) % keys.public.n for v in np.rint(w * 2**20)]  # same weights
    submission = _joes_submission(setting, malicious, rerandomize=False, check_weights=False)
    recovered = recover_summed_image(keys.public, submission, r=2)
    joe = shares["Joe"]
    assert np.array_equal(recovered[:64], pixel_ints(joe)[:, :64].sum(axis=0))
    assert recovered[64] == len(joe)


def test_rerandomized_submission_tells_the_malicious_company_nothing(setting):
    """The same weights and attack against an owner who rerandomizes (check off, so the
    rerandomization alone is tested): no column of the submission yields an exponent."""
    shares, _, keys = setting
    w = np.random.default_rng(3).normal(0, 0.1, 65)
    malicious = chosen_randomness_weights(keys.public, w, r=2)
    submission = _joes_submission(setting, malicious, check_weights=False)
    recovered = recover_summed_image(keys.public, submission, r=2)
    assert np.isnan(recovered).all()  # 0 of 65 columns recovered
    again = _joes_submission(setting, malicious, check_weights=False)
    n = keys.public.n
    assert not {c % n for c in submission} & {c % n for c in again}  # randomness never repeats


def test_owner_refuses_weights_with_visibly_chosen_randomness(setting):
    shares, _, keys = setting
    w = np.zeros(65)
    with pytest.raises(NonRandomCiphertextError, match="randomness r = 1"):
        _joes_submission(setting, chosen_randomness_weights(keys.public, w, r=2))
    honest = EncryptedModelRun.create(keys, shares).encrypt_weights()
    repeated = EncryptedWeights((*honest.ciphertexts[:64], honest.ciphertexts[0]), keys.public)
    with pytest.raises(NonRandomCiphertextError, match="ciphertexts 0 and 64 share"):
        _joes_submission(setting, repeated)
    with pytest.raises(InvalidValueError, match="expected 65 weight ciphertexts"):
        _joes_submission(setting, EncryptedWeights(honest.ciphertexts[:64], keys.public))


def test_round_rerandomizes_every_ciphertext_sent_unless_told_not_to(setting, monkeypatch):
    shares, _, keys = setting
    calls = []
    original = encrypted_model.rerandomize

    def spy(public, c):
        calls.append(c)
        return original(public, c)

    monkeypatch.setattr(encrypted_model, "rerandomize", spy)
    on, off = EncryptedModelRun.create(keys, shares), EncryptedModelRun.create(
        keys, shares, rerandomize=False)
    on.weights = off.weights = np.random.default_rng(4).normal(0, 0.1, 65)
    assert np.array_equal(off.run_round(0), on.run_round(0))  # the same step either way
    # 65 gradient entries packed into two ciphertexts (2048-bit key); every ciphertext of every
    # owner is rerandomized, in the rerandomizing run only
    assert len(calls) == 3 * 2
    assert set(on.timings[0]) == set(off.timings[0]) >= {"owners' rerandomization"}


def test_packed_and_unpacked_rounds_take_the_same_step(setting):
    """Packing changes how many ciphertexts travel (2 instead of 65), not the arithmetic."""
    shares, _, keys = setting
    packed, single = EncryptedModelRun.create(keys, shares), EncryptedModelRun.create(
        keys, shares, pack=False)
    packed.weights = single.weights = np.random.default_rng(5).normal(0, 0.3, 65)
    assert packed.encrypt_weights().slot_bits is not None
    assert single.encrypt_weights().slot_bits is None
    assert np.array_equal(packed.run_round(0), single.run_round(0))
    assert (packed.sent_per_owner, single.sent_per_owner) == (2, 65)
    assert packed.slot_bits is not None and single.slot_bits is None


def test_owner_refuses_a_slot_width_no_key_can_hold(setting):
    shares, _, keys = setting
    honest = EncryptedModelRun.create(keys, shares).encrypt_weights()
    for bad in (0, 1, 2047, True, 2.5, "64"):
        with pytest.raises(InvalidValueError, match="slot_bits"):
            _joes_submission(setting, EncryptedWeights(honest.ciphertexts, keys.public, bad))


def test_slot_width_bounds_the_largest_gradient():
    """The bound behind gradient_slot_bits: all-16 pixels and all-same-sign weights, the worst
    case, still fit a slot; a bound one bit narrower would not hold it."""
    n_images = 300
    for scale in (0.0, 0.01, 1.0, 50.0):
        w = np.full(65, scale)
        bits = encrypted_model.gradient_slot_bits(w, n_images)
        w_int = int(np.rint(scale * 2**20))
        worst = n_images * 16 * (16 * 65 * w_int + encrypted_model.ERROR_SCALE // 2)
        assert worst < 2 ** (bits - 1) <= 2 * worst
    with pytest.raises(InvalidValueError):
        encrypted_model.gradient_slot_bits(np.zeros(64), 10)
    with pytest.raises(InvalidValueError):
        encrypted_model.gradient_slot_bits(np.full(65, np.nan), 10)
    with pytest.raises(InvalidValueError):
        encrypted_model.gradient_slot_bits(np.zeros(65), 0)


def test_training_reports_progress_round_by_round(setting):
    shares, _, keys = setting
    seen = []
    EncryptedModelRun.create(keys, shares).train(2, progress=lambda d, t, m: seen.append((d, t)))
    assert seen == [(0, 2), (1, 2), (2, 2)]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidValueError, match="at least one round"):
            EncryptedModelRun.create(keys, shares).train(bad)


@pytest.mark.parametrize(("lie", "reason"), [
    (lambda sent: sent[:1], "Jack sent 1 gradient ciphertexts; this round takes 2"),
    (lambda sent: [*sent, sent[0]], "Jack sent 3 gradient ciphertexts; this round takes 2"),
    (lambda sent: [0, *sent[1:]], r"Jack's gradient\[0\] is not a ciphertext of this key"),
    (lambda sent: ["ff", *sent[1:]], r"Jack's gradient\[0\] is a str"),
])
def test_a_submission_that_is_not_this_rounds_ciphertexts_is_refused(setting, lie, reason):
    """A hostile owner sends too few, too many or non-ciphertexts: AI Inc. refuses the round
    with the owner's name instead of summing garbage (or failing deep in the arithmetic)."""
    shares, _, keys = setting
    run = EncryptedModelRun.create(keys, shares)
    honest = run.owners["Jack"].encrypted_gradient

    def lying(*args):
        return lie(honest(*args))

    run.owners["Jack"].encrypted_gradient = lying
    before = run.weights.copy()
    with pytest.raises(AggregationError, match=reason):
        run.run_round(0)
    assert np.array_equal(run.weights, before) and run.timings == []  # nothing taken
