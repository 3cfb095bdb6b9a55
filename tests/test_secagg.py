"""Shamir shares and chapter 5's pairwise masks: properties over the whole input space."""

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


# -- chapter 5's pairwise masks (no dropouts: the round uses crypto.doublemask) ---------------


@settings(max_examples=25, deadline=None)
@given(data=st.data(), count=st.integers(1, 3), round_no=st.integers(0, 2**32))
def test_pairwise_masks_cancel_for_any_set(data, count, round_no):
    chosen = data.draw(st.lists(st.integers(0, 5), min_size=2, max_size=6, unique=True))
    masks = [secagg.pairwise_mask(ADDRESSES[i], KEYS[i],
                                  {ADDRESSES[j]: KEYS[j].public for j in chosen if j != i},
                                  round_no, count, MOD) for i in chosen]
    assert [sum(col) % MOD for col in zip(*masks, strict=True)] == [0] * count
    assert all(any(m) for m in masks)  # each one alone is no zero


def test_revealing_a_round_seed_keeps_other_rounds_secret():
    pair_seed = KEYS[0].shared_seed(KEYS[1].public)
    r5, r6 = (secagg.round_seed(pair_seed, 0, r) for r in (5, 6))
    assert r5 != r6 and pair_seed not in (r5, r6)
    assert secagg.expand_mask(r5, 2, MOD) != secagg.expand_mask(r6, 2, MOD)
