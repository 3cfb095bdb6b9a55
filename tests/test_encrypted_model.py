"""The encrypted linear model: owners never decrypt, and it learns what plaintext training does."""

from __future__ import annotations

import numpy as np
import pytest
from phe import paillier

from omteach.crypto.paillier import generate_keypair
from omteach.errors import InvalidValueError
from omteach.learning.data import split_digits
from omteach.learning.encrypted_model import (
    EncryptedModelOwner,
    EncryptedModelRun,
    linear_accuracy,
    plain_gradient,
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
    assert set(vars(enc)) == {"ciphertexts", "public"}


def test_one_owners_masked_gradient_is_noise(setting):
    shares, _, keys = setting
    owners = {n: EncryptedModelOwner(n, d) for n, d in shares.items()}
    run = EncryptedModelRun(keys, owners)
    run.weights = np.random.default_rng(2).normal(0, 0.1, 65)
    enc = run.encrypt_weights()
    publics = {n: o.mask_key.public for n, o in owners.items()}
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
