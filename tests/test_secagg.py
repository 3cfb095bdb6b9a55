"""Shamir shares and dropout-tolerant masks: properties over the whole input space."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.crypto import secagg, shamir
from omteach.crypto.secagg import MaskKey
from omteach.errors import InvalidValueError

# 2048-bit Diffie-Hellman keys are slow to make: six, shared by every example.
KEYS = [MaskKey.generate() for _ in range(6)]
ADDRESSES = sorted("0x" + secrets.token_hex(20) for _ in range(6))
MOD = 2**127 - 1  # a stand-in for the Paillier modulus n


# -- Shamir -----------------------------------------------------------------------------------


def test_the_worked_example_of_the_docstring():
    shares = shamir.split(42, [1, 2, 3], 2, prime=97, coefficients=[13])
    assert shares == {1: 55, 2: 68, 3: 81}
    assert shamir.reconstruct({1: 55, 3: 81}, 2, prime=97) == 42


@settings(max_examples=60, deadline=None)
@given(secret=st.integers(0, 2**256 - 1), n=st.integers(1, 10), data=st.data())
def test_any_t_of_n_shares_rebuild_the_secret_and_fewer_refuse(secret, n, data):
    t = data.draw(st.integers(1, n), label="t")
    xs = data.draw(st.lists(st.integers(1, 2**64), min_size=n, max_size=n, unique=True))
    shares = shamir.split(secret, xs, t)
    chosen = data.draw(st.lists(st.sampled_from(xs), min_size=t, max_size=n, unique=True))
    assert shamir.reconstruct({x: shares[x] for x in chosen}, t) == secret
    if t > 1:
        fewer = chosen[:t - 1]
        with pytest.raises(InvalidValueError, match=f"collect at least {t}"):
            shamir.reconstruct({x: shares[x] for x in fewer}, t)


@settings(max_examples=30, deadline=None)
@given(secret=st.integers(0, 2**256 - 1), candidate=st.integers(0, 2**256 - 1),
       t=st.integers(2, 6))
def test_fewer_than_t_shares_fit_every_secret(secret, candidate, t):
    """t - 1 shares say nothing: a polynomial through them hides any candidate secret."""
    shares = shamir.split(secret, list(range(1, t + 1)), t)
    shares.pop(t)  # keep t - 1 of them
    through = {0: candidate, **shares}  # t points: exactly one polynomial of degree t - 1
    assert all(shamir.interpolate(through, x) == y for x, y in shares.items())
    assert shamir.interpolate(through, 0) == candidate


@settings(max_examples=30, deadline=None)
@given(secret=st.integers(0, 2**256 - 1), t=st.integers(1, 5), extra=st.integers(1, 3),
       bad=st.integers(0, 7), delta=st.integers(1, 2**64))
def test_a_wrong_share_among_more_than_t_is_caught(secret, t, extra, bad, delta):
    xs = list(range(1, t + extra + 1))
    shares = shamir.split(secret, xs, t)
    x_bad = xs[bad % len(xs)]
    shares[x_bad] = (shares[x_bad] + delta) % shamir.PRIME
    with pytest.raises(InvalidValueError, match="share"):
        shamir.reconstruct(shares, t)


def test_split_refuses_bad_arguments():
    with pytest.raises(InvalidValueError, match="between 1 and the number of shares"):
        shamir.split(5, [1, 2], 3)
    with pytest.raises(InvalidValueError, match="distinct and not 0"):
        shamir.split(5, [1, 1], 2)
    with pytest.raises(InvalidValueError, match="distinct and not 0"):
        shamir.split(5, [0, 1], 2)
    with pytest.raises(InvalidValueError, match="whole number"):
        shamir.split(-1, [1], 1)


# -- masks with dropouts ----------------------------------------------------------------------


def _round(participants, t, spec_id=3, round_no=5):
    """Every participant's round seeds and the shares it deals (as the owners' clients do)."""
    index = {a: ADDRESSES.index(a) for a in participants}
    pair = {u: {v: KEYS[index[u]].shared_seed(KEYS[index[v]].public)
                for v in participants if v != u} for u in participants}
    seeds = {u: {v: secagg.round_seed(s, spec_id, round_no) for v, s in pair[u].items()}
             for u in participants}
    dealt = {u: secagg.deal_shares(u, participants, seeds[u], pair[u], t, spec_id=spec_id,
                                   round_no=round_no) for u in participants}
    return pair, seeds, dealt


@settings(max_examples=25, deadline=None)
@given(data=st.data(), count=st.integers(1, 3))
def test_masks_cancel_for_any_set_and_any_dropouts_above_the_threshold(data, count):
    participants = data.draw(st.lists(st.sampled_from(ADDRESSES), min_size=2, max_size=6,
                                      unique=True), label="participants")
    t = data.draw(st.integers(1, len(participants) - 1), label="t")
    survivors = data.draw(st.lists(st.sampled_from(participants), min_size=t,
                                   max_size=len(participants), unique=True), label="survivors")
    pair, seeds, dealt = _round(participants, t)
    masks = {u: secagg.mask_from_round_seeds(u, seeds[u], count, MOD) for u in participants}
    assert all(any(m) for m in masks.values())
    total = [sum(col) % MOD for col in zip(*(masks[u] for u in survivors), strict=True)]
    dropped = [u for u in participants if u not in survivors]
    if not dropped:
        assert total == [0] * count
        return
    xs = {p: i + 1 for i, p in enumerate(participants)}
    recovered = {}
    for d in dropped:
        revealed = {xs[w]: secagg.open_shares(d, w, participants, dealt[d][w], pair[w][d],
                                              spec_id=3, round_no=5) for w in survivors}
        recovered[d] = secagg.recover_round_seeds(revealed, t)
        assert recovered[d] == seeds[d]
        if t > 1:  # t - 1 survivors cannot rebuild anything
            fewer = dict(list(revealed.items())[:t - 1])
            with pytest.raises(InvalidValueError, match="cannot be removed"):
                secagg.recover_round_seeds(fewer, t)
    correction = secagg.dropout_correction(recovered, survivors, count, MOD)
    assert [(a - b) % MOD for a, b in zip(total, correction, strict=True)] == [0] * count


def test_sealed_shares_open_only_for_their_recipient():
    participants = ADDRESSES[:3]
    pair, seeds, dealt = _round(participants, 2)
    a, b, c = participants
    points = secagg.open_shares(a, b, participants, dealt[a][b], pair[b][a], spec_id=3,
                                round_no=5)
    assert set(points) == {b, c}
    with pytest.raises(InvalidValueError, match="does not open"):  # c's box, b's key
        secagg.open_shares(a, b, participants, dealt[a][c], pair[b][a], spec_id=3, round_no=5)
    with pytest.raises(InvalidValueError, match="does not open"):  # another round
        secagg.open_shares(a, b, participants, dealt[a][b], pair[b][a], spec_id=3, round_no=6)
    for at in (0, 40, len(dealt[a][b]) - 2):  # the nonce, the body, the tag
        sealed = dealt[a][b]
        flipped = sealed[:at] + format(int(sealed[at:at + 2], 16) ^ 1, "02x") + sealed[at + 2:]
        with pytest.raises(InvalidValueError, match="does not open"):
            secagg.open_shares(a, b, participants, flipped, pair[b][a], spec_id=3, round_no=5)
    # Dealt again (a round opened anew): a fresh nonce, so never the same key stream twice.
    again = secagg.deal_shares(a, participants, seeds[a], pair[a], 2, spec_id=3, round_no=5)
    assert again[b][:32] != dealt[a][b][:32]
    with pytest.raises(InvalidValueError, match="not hex"):
        secagg.unseal(pair[b][a], b"", "zz")
    with pytest.raises(InvalidValueError, match="too short"):
        secagg.unseal(pair[b][a], b"", "00" * 47)


def test_revealing_a_round_seed_keeps_other_rounds_secret():
    pair_seed = KEYS[0].shared_seed(KEYS[1].public)
    r5, r6 = (secagg.round_seed(pair_seed, 0, r) for r in (5, 6))
    assert r5 != r6 and pair_seed not in (r5, r6)
    assert secagg.expand_mask(r5, 2, MOD) != secagg.expand_mask(r6, 2, MOD)


def test_dealing_needs_enough_recipients():
    with pytest.raises(InvalidValueError, match="needs at least 3 other participants"):
        _round(ADDRESSES[:3], 3)
