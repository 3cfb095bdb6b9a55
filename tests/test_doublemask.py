"""Double-masked secure aggregation over SecAgg+ neighbourhoods: sums, refusals, never both."""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.crypto import doublemask, neighbours, shamir
from omteach.crypto.doublemask import Participant, PublicKeys, Reveal, RoundSetup
from omteach.errors import (
    DropoutRecoveryError,
    InvalidValueError,
    RevealRefusedError,
    SecureAggregationError,
    ShareRejectedError,
)


@dataclass
class Round:
    setup: RoundSetup
    parts: dict[str, Participant]
    advertised: dict[str, PublicKeys]
    sealed: dict[str, dict[str, bytes]]


def _names(n: int) -> list[str]:
    return [f"0x{i:040x}" for i in range(1, n + 1)]


def _round(n: int, *, seed: bytes | None = None, modulus: int = 2**32, length: int = 3,
           k: int | None = None, threshold: int | None = None, dropout: float = 0.2,
           context: bytes = b"spec 1 round 0", deliver: bool = True) -> Round:
    params = neighbours.choose_parameters(n, dropout, 0.1)
    setup = RoundSetup(tuple(_names(n)), seed or secrets.token_bytes(32), modulus, length,
                       k or params.k, threshold or params.threshold, context)
    parts = {u: Participant(u, setup) for u in setup.participants}
    advertised = {u: p.public_keys() for u, p in parts.items()}
    sealed = {u: p.deal_shares(advertised) for u, p in parts.items()}
    if deliver:  # through the blob form, as the round will carry them
        blobs = {u: json.loads(json.dumps(doublemask.sealed_to_json(u, sealed[u])))
                 for u in setup.participants}
        for v, p in parts.items():
            p.receive_shares({u: doublemask.sealed_from_json(blobs[u], v.upper())
                              for u in setup.neighbours(v)})
    return Round(setup, parts, advertised, sealed)


def _droppable(r: Round, start: int) -> str:
    """A participant (the first from ``start`` on) whose dropping leaves the others' graph in one
    piece. The graph is random per run, and dropping a cut vertex makes every honest participant
    refuse the reveal (the company could read each piece's sum): right, but not what a test of
    another rule is about (it failed that way about one run in a few dozen)."""
    names = list(r.setup.participants)
    for u in names[start:] + names[:start]:
        rest = (r.setup.index(v) for v in names if v != u)
        if len(neighbours.components(r.setup.graph, rest)) == 1:
            return u
    raise AssertionError("every participant is a cut vertex: the graph is not connected")


def _inputs(r: Round, rng: random.Random) -> dict[str, list[int]]:
    return {u: [rng.randrange(r.setup.modulus) for _ in range(r.setup.length)]
            for u in r.setup.participants}


# -- parameters and graph ---------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 160), dropout=st.sampled_from([0.0, 0.05, 0.1, 0.2]),
       corruption=st.sampled_from([0.0, 0.05, 0.1]), consistent=st.booleans())
def test_chosen_parameters_meet_their_own_bounds(n, dropout, corruption, consistent):
    p = neighbours.choose_parameters(n, dropout, corruption, consistent_view=consistent)
    assert 2 <= p.threshold <= p.k + 1 and p.k <= n - 1
    assert p.complete == (p.k == n - 1) and (p.complete or (n * p.k) % 2 == 0)
    assert p.p_recovery_fails <= 2.0 ** -p.correctness_bits
    assert p.p_privacy_fails <= 2.0 ** -p.security_bits
    assert p.max_dropouts == int(dropout * n + 1e-9) and p.max_corrupted == int(
        corruption * n + 1e-9)
    if p.p_privacy_fails == 0:  # no neighbourhood can hold enough colluders to rebuild a secret
        bound = p.threshold if consistent else 2 * p.threshold - p.k
        assert min(p.max_corrupted, p.k) < bound
    assert json.loads(json.dumps(p.as_dict()))["k"] == p.k and str(p.k) in p.summary()


def test_ten_percent_of_thirty_is_three_and_impossible_tolerances_are_refused():
    assert neighbours.choose_parameters(30, 0.1, 0.1).max_dropouts == 3
    with pytest.raises(InvalidValueError, match="survivors must outnumber"):
        neighbours.choose_parameters(10, 0.6, 0.4)
    for bad in (2, 2.5, True):
        with pytest.raises(InvalidValueError):
            neighbours.choose_parameters(bad)
    with pytest.raises(InvalidValueError):
        neighbours.choose_parameters(30, 1.0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 80), k=st.integers(3, 12), seed=st.binary(min_size=16, max_size=32))
def test_the_graph_is_k_regular_simple_connected_and_fixed_by_the_seed(n, k, seed):
    if (n * k) % 2:
        k += 1
    graph = neighbours.neighbour_graph(n, k, seed)
    k = min(k, n - 1)
    assert all(len(adj) == k and i not in adj for i, adj in enumerate(graph))
    assert all(i in graph[j] for i, adj in enumerate(graph) for j in adj)
    assert len(neighbours.components(graph, range(n))) == 1
    assert neighbours.neighbour_graph(n, k, seed) == graph


def test_the_graph_is_the_same_in_another_process_and_differs_with_the_seed():
    seed = secrets.token_bytes(32)
    code = ("import sys, json; from omteach.crypto.neighbours import neighbour_graph; "
            "print(json.dumps(neighbour_graph(40, 6, bytes.fromhex(sys.argv[1]))))")
    out = subprocess.run([sys.executable, "-c", code, seed.hex()], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    here = neighbours.neighbour_graph(40, 6, seed)
    assert [tuple(a) for a in json.loads(out.stdout)] == list(here)
    assert neighbours.neighbour_graph(40, 6, secrets.token_bytes(32)) != here
    for n, k in ((10, 2), (9, 3)):  # a ring, or n·k odd: no connected k-regular graph
        with pytest.raises(InvalidValueError):
            neighbours.neighbour_graph(n, k, seed)


# -- the sum ----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 22), data=st.data(),
       modulus=st.sampled_from([2**32, 2**61 - 1, (1 << 127) + 45]),
       length=st.integers(1, 4))
def test_the_recovered_aggregate_is_the_plain_sum_of_the_survivors(n, data, modulus, length):
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    r = _round(n, seed=data.draw(st.binary(min_size=32, max_size=32)), modulus=modulus,
               length=length)
    p = neighbours.choose_parameters(n, 0.2, 0.1)
    names = list(r.setup.participants)
    # Mostly within what k and t promise to tolerate, sometimes far beyond it.
    count = data.draw(st.integers(0, p.max_dropouts) | st.integers(0, n - 2))
    dropped = set(data.draw(st.permutations(names))[:count])
    survivors = [u for u in names if u not in dropped]
    x = _inputs(r, rng)
    masked = doublemask.add_inputs(
        [r.parts[u].masked_input(x[u], names) for u in survivors], modulus)
    plain = doublemask.add_inputs([x[u] for u in survivors], modulus)
    try:
        reveals = {u: r.parts[u].reveal(survivors, dropped) for u in survivors}
        total = doublemask.unmask(r.setup, r.advertised, names, survivors, masked, reveals)
    except (RevealRefusedError, DropoutRecoveryError) as exc:
        # Allowed only beyond what the parameters promise to tolerate, or when the dropouts cut
        # the survivors' graph in pieces (privacy first: nobody reveals, the round reopens).
        assert (len(dropped) > p.max_dropouts or p.p_recovery_fails > 0
                or "pieces" in str(exc)), exc
        return
    assert total == plain


def test_a_single_masked_input_is_not_its_update_and_masks_cancel_only_in_the_sum():
    r = _round(12, length=8)
    names = list(r.setup.participants)
    x = {u: [0] * 8 for u in names}
    masked = {u: r.parts[u].masked_input(x[u], names) for u in names}
    assert all(any(m) for m in masked.values())  # an all-zero update does not show as zeros
    total = doublemask.add_inputs(masked.values(), r.setup.modulus)
    assert any(total)  # the self-masks remain until the survivors reveal their seeds
    reveals = {u: r.parts[u].reveal(names, []) for u in names}
    assert doublemask.unmask(r.setup, r.advertised, names, names, total, reveals) == [0] * 8


# -- fewer than t shares ------------------------------------------------------------------------


def test_fewer_than_t_shares_reveal_nothing_the_test_can_detect():
    r = _round(16)
    t, names = r.setup.threshold, list(r.setup.participants)
    u = names[0]
    holders = [u, *r.setup.neighbours(u)]
    reveals = {v: r.parts[v].reveal(names, []) for v in holders}
    points = {r.setup.index(v) + 1: reveals[v].seeds[u] for v in holders[:t - 1]}
    # The company refuses to rebuild from t - 1 shares...
    masked = doublemask.add_inputs(
        [r.parts[v].masked_input([0] * r.setup.length, names) for v in names], r.setup.modulus)
    partial = {v: reveals[v] for v in holders[:t - 1]}
    with pytest.raises(DropoutRecoveryError, match="threshold"):
        doublemask.unmask(r.setup, r.advertised, names, names, masked, partial)
    # ... and interpolating them anyway gives a number that is not the seed,
    guess = shamir.interpolate(points, 0, prime=doublemask.SHARE_PRIME)
    assert guess >= 2**256 or doublemask._commit(guess.to_bytes(32, "big")) != (
        r.advertised[u].commitment)
    # while every candidate seed has a polynomial through those t - 1 shares.
    for candidate in (0, 2**256 - 1, secrets.randbits(256)):
        through = {**points, 0: candidate}
        assert shamir.interpolate(through, 0, prime=doublemask.SHARE_PRIME) == candidate
        assert all(shamir.interpolate(through, x, prime=doublemask.SHARE_PRIME) == y
                   for x, y in points.items())


def test_t_minus_one_shares_look_the_same_whatever_the_secret():
    # Shares of the smallest and the largest 32-byte secret: the same spread over the field.
    half = doublemask.SHARE_PRIME // 2
    low = {0: 0, 2**256 - 1: 0}
    for secret in low:
        for _ in range(300):
            shares = shamir.split(secret, [1, 2, 3], 3, prime=doublemask.SHARE_PRIME)
            low[secret] += (shares[1] < half) + (shares[2] < half)
    assert all(abs(count / 600 - 0.5) < 0.12 for count in low.values()), low


# -- sealed shares ------------------------------------------------------------------------------


def test_tampered_misaddressed_or_replayed_shares_are_refused():
    r = _round(10, deliver=False)
    u = r.setup.participants[0]
    v, w = r.setup.neighbours(u)[:2]
    good = r.sealed[u][v]
    flipped = bytes([good[0]]) + bytes([good[1] ^ 1]) + good[2:]
    for bad in (flipped, good[:-1] + bytes([good[-1] ^ 0x80]), good[:-1], b"", "00" * 94):
        with pytest.raises(ShareRejectedError):
            r.parts[v].receive_shares({u: bad})
    with pytest.raises(ShareRejectedError, match="addressed to someone else"):
        r.parts[v].receive_shares({u: r.sealed[u][w]})  # w's share handed to v
    stranger = next(s for s in r.setup.participants if s not in r.setup.neighbours(v) and s != v)
    with pytest.raises(ShareRejectedError, match="not a neighbour"):
        r.parts[v].receive_shares({stranger: good})
    other = _round(10, seed=r.setup.seed, context=b"spec 1 round 1", deliver=False)
    with pytest.raises(ShareRejectedError):  # replayed into the next round: fresh keys there
        other.parts[v].receive_shares({u: r.sealed[u][v]})
    for doc in (None, {"kind": "pickle", "shares": {v: good.hex()}},
                doublemask.sealed_to_json(u, {w: r.sealed[u][w]}),
                {**doublemask.sealed_to_json(u, {}), "shares": {v: "zz"}}):
        with pytest.raises(ShareRejectedError, match="no share for"):
            doublemask.sealed_from_json(doc, v)
    r.parts[v].receive_shares({u: good})  # the genuine one still opens
    # v lacks the shares of its other neighbours: it refuses to mask before anyone relies on it
    with pytest.raises(ShareRejectedError, match="holds no share"):
        r.parts[v].masked_input([1] * r.setup.length, r.setup.participants)


def test_masked_input_refuses_the_wrong_shape_or_range():
    r = _round(6)
    p, names = r.parts[r.setup.participants[0]], r.setup.participants
    for bad in ([1], [1] * 4, [-1, 0, 0], [2**32, 0, 0], [1.0, 0, 0]):
        with pytest.raises(InvalidValueError):
            p.masked_input(bad, names)
    with pytest.raises(InvalidValueError, match="did not deal"):
        p.masked_input([0, 0, 0], names[1:])
    with pytest.raises(InvalidValueError, match="already dealt"):
        p.deal_shares(r.advertised)
    lonely = Participant(names[1], r.setup)
    with pytest.raises(InvalidValueError, match="advertised keys"):
        lonely.deal_shares({})  # no neighbour advertised: nobody could rebuild its secrets


# -- never both -----------------------------------------------------------------------------


def test_a_company_asking_for_both_kinds_gets_neither_from_any_honest_participant():
    r = _round(14)
    names = list(r.setup.participants)
    u = _droppable(r, 3)
    survivors = [v for v in names if v != u]
    for v in r.setup.neighbours(u):
        with pytest.raises(RevealRefusedError, match="neither"):
            r.parts[v].reveal(names, [u])  # u both submitted and dropped
    # ... and the refusal cost nothing: the honest request is still answered
    for v in r.setup.neighbours(u):
        ans = r.parts[v].reveal(survivors, [u])
        assert u in ans.keys and u not in ans.seeds


def test_a_late_update_stays_hidden_after_its_owner_was_declared_dropped():
    r = _round(14)
    names = list(r.setup.participants)
    u = _droppable(r, 5)
    survivors = [v for v in names if v != u]
    x_u = [7] * r.setup.length
    late = r.parts[u].masked_input(x_u, names)  # reaches the company after the deadline
    reveals = {v: r.parts[v].reveal(survivors, [u]) for v in survivors}  # u declared dropped
    # The company rebuilds u's mask key and strips u's pairwise masks off the late update ...
    points = {r.setup.index(v) + 1: reveals[v].keys[u] for v in r.setup.neighbours(u)}
    raw = shamir.reconstruct(points, r.setup.threshold, prime=doublemask.SHARE_PRIME)
    key = X25519PrivateKey.from_private_bytes(raw.to_bytes(32, "big"))
    stripped = list(late)
    for v in r.setup.neighbours(u):
        seed = doublemask.pairwise_seed(r.setup, key, u, v, r.advertised[v].mask)
        for i, m in enumerate(doublemask.expand(seed, r.setup.length, r.setup.modulus)):
            stripped[i] = (stripped[i] - r.setup.sign(u, v) * m) % r.setup.modulus
    # ... and is left with x_u + PRG(b_u): the self-mask still hides the update,
    assert stripped != x_u
    self_mask = doublemask.expand(r.parts[u]._seed, r.setup.length, r.setup.modulus)
    assert [(a - m) % r.setup.modulus for a, m in zip(stripped, self_mask, strict=True)] == x_u
    for v in r.setup.neighbours(u):  # and asking now for u's seed is refused by each neighbour
        with pytest.raises(RevealRefusedError, match="already revealed the other kind"):
            r.parts[v].reveal(names, [])
    assert isinstance(RevealRefusedError("x"), SecureAggregationError)


def test_reveal_refuses_requests_that_would_say_too_much():
    r = _round(10, k=3, threshold=2, dropout=0.1)
    names, t = list(r.setup.participants), r.setup.threshold
    me = names[0]
    with pytest.raises(RevealRefusedError, match="not listed"):
        r.parts[me].reveal(names[1:], [me])
    with pytest.raises(RevealRefusedError, match="fewer than the threshold"):
        r.parts[me].reveal(names[:t - 1], names[t - 1:])
    with pytest.raises(InvalidValueError):
        r.parts[me].reveal([me, "0xnobody"], [])
    # a survivors' set that falls into pieces: the company would read each piece's sum
    graph = r.setup.graph
    for cut in (set(c) for size in (1, 2, 3) for c in _subsets(range(1, 10), size)):
        alive = [i for i in range(10) if i not in cut]
        if len(neighbours.components(graph, alive)) > 1:
            with pytest.raises(RevealRefusedError, match="pieces"):
                r.parts[me].reveal([names[i] for i in alive], [names[i] for i in cut])
            break
    else:
        pytest.skip("this graph stays in one piece after any 3 dropouts")


def _subsets(items, size):
    from itertools import combinations
    return combinations(items, size)


def test_wrong_revealed_shares_are_refused_not_summed():
    r = _round(12)
    names = list(r.setup.participants)
    dropped = [_droppable(r, 2)]
    survivors = [v for v in names if v not in dropped]
    masked = doublemask.add_inputs(
        [r.parts[v].masked_input([5] * r.setup.length, names) for v in survivors],
        r.setup.modulus)
    reveals = {v: r.parts[v].reveal(survivors, dropped) for v in survivors}
    assert doublemask.unmask(r.setup, r.advertised, names, survivors, masked, reveals) == [
        5 * len(survivors) % r.setup.modulus] * r.setup.length
    liar = next(v for v in r.setup.neighbours(dropped[0]))
    for field in ("keys", "seeds"):
        forged = {o: (y + 1) % doublemask.SHARE_PRIME
                  for o, y in getattr(reveals[liar], field).items()}
        bad = Reveal(liar, **{**{"keys": reveals[liar].keys, "seeds": reveals[liar].seeds},
                              field: forged})
        with pytest.raises(DropoutRecoveryError):
            doublemask.unmask(r.setup, r.advertised, names, survivors, masked,
                              {**reveals, liar: bad})
    assert Reveal.from_json(json.loads(json.dumps(reveals[liar].to_json()))) == reveals[liar]
    keys = r.advertised[liar]
    assert PublicKeys.from_json(json.loads(json.dumps(keys.to_json()))) == keys
    for junk in (None, {"cipher": "zz"}, {"sender": 1}):
        with pytest.raises(InvalidValueError):
            PublicKeys.from_json(junk)
        with pytest.raises(InvalidValueError):
            Reveal.from_json(junk)


def test_the_company_refuses_inputs_of_the_wrong_length_or_missing_keys():
    r = _round(6)
    names = list(r.setup.participants)
    with pytest.raises(InvalidValueError, match="refused before adding"):
        doublemask.add_inputs([[1, 2, 3], [1, 2]], r.setup.modulus)
    with pytest.raises(InvalidValueError):
        doublemask.add_inputs([], r.setup.modulus)
    masked = [0] * r.setup.length
    with pytest.raises(InvalidValueError, match="no advertised keys"):
        doublemask.unmask(r.setup, {}, names, names, masked, {})
    with pytest.raises(InvalidValueError, match="not 3"):
        doublemask.unmask(r.setup, r.advertised, names, names, [0], {})
