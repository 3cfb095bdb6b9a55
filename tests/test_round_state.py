"""The round in one place: phases from the contract's flags, AI Inc.'s next action, one read."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omteach.errors import InvalidValueError
from omteach.protocol.market import MarketSpec
from omteach.protocol.round import (
    Action,
    Phase,
    RoundInfo,
    RoundState,
    Seat,
    next_action,
    phase_of,
)

P = ("0xa", "0xb", "0xc", "0xd")
SPEC = MarketSpec(0, "AI Inc.", "0" * 64, "1" * 64, "mlp", 32, 3, 2, 4, 0.0, 10, 10**9, 120,
                  round=1, opened=True, recovering=False, finished=False)


def spec(**flags: object) -> MarketSpec:
    return dataclasses.replace(SPEC, **flags)


@pytest.mark.parametrize(("flags", "round_no", "shares", "subs", "phase"), [
    ({"opened": False}, 1, 0, 0, Phase.ACCEPTING),
    ({}, 1, 0, 0, Phase.SHARING),
    ({}, 1, 3, 0, Phase.SHARING),
    ({}, 1, 4, 0, Phase.SUBMITTING),
    ({}, 1, 4, 2, Phase.SUBMITTING),
    ({}, 1, 3, 1, Phase.SUBMITTING),  # someone submitted: the set is fixed, no more SHARING
    ({"recovering": True}, 1, 4, 2, Phase.RECOVERING),
    ({}, 0, 4, 4, Phase.CLOSED),
    ({"finished": True, "opened": False, "round": 3}, 3, 0, 0, Phase.FINISHED),
    ({"finished": True, "opened": False, "round": 3}, 2, 4, 4, Phase.CLOSED),
])
def test_the_phase_follows_the_contracts_flags_and_counts(flags, round_no, shares, subs, phase):
    assert phase_of(spec(**flags), round_no, shares_count=shares, submission_count=subs,
                    participants=4) is phase


INFO = RoundInfo(b"s" * 32, k=3, threshold=2, share_deadline=100, submit_deadline=200,
                 reveal_deadline=300, advertised=4)


def state(phase: Phase, *, owners: int = 4, shares: int = 4, subs: int = 0,
          reveals: int = 0) -> RoundState:
    """A round of 4 participants (min_owners 2, k 3, t 2) in ``phase`` with the given counts."""
    return RoundState(SPEC, 1, phase, P[:owners], P, shares, subs, reveals,
                      submitted={p: "f" * 64 for p in P[:subs]},
                      revealed={p: "e" * 64 for p in P[:reveals]}, info=INFO)


# Every phase, waited or not, at the thresholds that change the answer (t = 2 of 4).
NEXT = [
    (state(Phase.ACCEPTING, owners=1), False, Action.WAIT),
    (state(Phase.ACCEPTING, owners=1), True, Action.STUCK),
    (state(Phase.ACCEPTING, owners=2), False, Action.WAIT),
    (state(Phase.ACCEPTING, owners=2), True, Action.OPEN_ROUND),
    (state(Phase.SHARING, shares=3), False, Action.WAIT),
    (state(Phase.SHARING, shares=3), True, Action.REOPEN_ROUND),
    (state(Phase.SHARING, shares=1), True, Action.STUCK),
    (state(Phase.SUBMITTING, subs=1), False, Action.WAIT),
    (state(Phase.SUBMITTING, subs=1), True, Action.ABANDON_ROUND),
    (state(Phase.SUBMITTING, subs=2), True, Action.END_SUBMISSIONS),
    (state(Phase.SUBMITTING, subs=4), False, Action.END_SUBMISSIONS),
    (state(Phase.RECOVERING, subs=3, reveals=1), False, Action.WAIT),
    (state(Phase.RECOVERING, subs=3, reveals=1), True, Action.ABANDON_ROUND),
    # 4 participants, k = 3: two reveals hold t = 2 shares of every secret, no need to wait
    (state(Phase.RECOVERING, subs=3, reveals=2), False, Action.CLOSE_ROUND),
    (state(Phase.RECOVERING, subs=3, reveals=2), True, Action.CLOSE_ROUND),
    (state(Phase.RECOVERING, subs=3, reveals=3), False, Action.CLOSE_ROUND),
    (state(Phase.CLOSED, subs=4), False, Action.DONE),
    (state(Phase.FINISHED), True, Action.DONE),
]


@pytest.mark.parametrize(("round_state", "waited", "action"), NEXT,
                         ids=[f"{s.phase.value}-{w}-{a.value}" for s, w, a in NEXT])
def test_next_action_over_every_phase(round_state, waited, action):
    step = next_action(round_state, waited=waited)
    assert step.action is action and step.why


@pytest.mark.parametrize(("round_state", "waited", "action"), NEXT,
                         ids=[f"{s.phase.value}-{w}-{a.value}" for s, w, a in NEXT])
def test_a_passed_phase_deadline_is_a_wait_that_is_over(round_state, waited, action):
    deadline = round_state.phase_deadline
    if deadline is None:  # accepting, closed, finished: no deadline on chain
        assert next_action(round_state, now=10**9).action is next_action(round_state).action
        return
    assert next_action(round_state, now=deadline - 1).action is next_action(round_state).action
    assert next_action(round_state, now=deadline).action is next_action(
        round_state, waited=True).action
    if waited:
        assert next_action(round_state, now=deadline).action is action


def test_each_phase_names_its_own_deadline():
    assert [state(p).phase_deadline for p in (Phase.SHARING, Phase.SUBMITTING,
                                               Phase.RECOVERING)] == [100, 200, 300]
    assert state(Phase.ACCEPTING).phase_deadline is None
    assert not state(Phase.SUBMITTING).deadline_passed(199)
    assert state(Phase.SUBMITTING).deadline_passed(200)
    assert (state(Phase.SUBMITTING).k, state(Phase.SUBMITTING).threshold) == (3, 2)


@given(st.integers(1, 128))
def test_the_companys_k_and_t_always_pass_the_contracts_checks(n):
    """open_round refuses k >= n, t outside 1..k+1, and n x k odd (no k-regular graph)."""
    from omteach.protocol.parties import secagg_parameters

    k, t = secagg_parameters(n)
    assert k < n and 1 <= t <= k + 1 and (n * k) % 2 == 0
    if n >= 2:
        assert t >= 2  # one share alone never rebuilds a secret


def test_the_table_covers_every_phase_and_action():
    assert {s.phase for s, _, _ in NEXT} == set(Phase)
    assert {a for _, _, a in NEXT} == set(Action)


def test_owners_left_out_do_not_count_towards_opening():
    many = state(Phase.ACCEPTING, owners=3)
    assert next_action(many, waited=True).action is Action.OPEN_ROUND
    left_out = next_action(many, waited=True, exclude=P[:2])
    assert left_out.action is Action.STUCK and "1 owner(s) accepted" in left_out.why


def test_seats_dropouts_and_payment_read_from_the_state():
    submitting = dataclasses.replace(state(Phase.SUBMITTING, subs=2), shared=dict.fromkeys(P, "s"))
    assert [submitting.seat(p) for p in P] == [Seat.SUBMITTED, Seat.SUBMITTED, Seat.SHARES,
                                               Seat.SHARES]
    assert submitting.seat("0xe") is None and submitting.dropped == () and submitting.paid == ()
    recovering = state(Phase.RECOVERING, subs=2, reveals=1)
    assert [recovering.seat(p) for p in P] == [Seat.REVEALED, Seat.SUBMITTED, Seat.DROPPED,
                                               Seat.DROPPED]
    assert recovering.dropped == ("0xc", "0xd") and recovering.recovered == ()
    closed = state(Phase.CLOSED, subs=3)
    assert closed.paid == ("0xa", "0xb", "0xc") and closed.dropped == ("0xd",)
    assert closed.recovered == ("0xd",)
    with pytest.raises(TypeError):
        closed.submitted["0xd"] = "f" * 64  # frozen: a read is a snapshot, not a live view


def test_one_read_of_the_market_gives_the_round(keys):
    from omteach.protocol.run import TrainingRun

    with TrainingRun(keys=keys, workers=1, rounds=1, encrypted=False) as run:
        first = run.round_state()
        assert first.phase is Phase.ACCEPTING and len(first.owners) == 3
        assert first.participants == () and first.spec.min_owners == 2
        run.open_round()
        joe = run.owners["Joe"]
        sharing = run.round_state()
        assert sharing.phase is Phase.SUBMITTING and sharing.all_shares_in
        assert set(sharing.shared) == set(sharing.participants)
        assert sharing.info.advertised == 3 and len(sharing.info.seed) == 32
        assert (sharing.k, sharing.threshold) == (2, 2)  # 3 participants: each neighbours both
        assert sharing.info.submit_deadline > sharing.info.share_deadline > 0
        joe.submit(run.spec_id, 0, joe.train(run.spec_id, 0), encrypted=False)
        mine = run.market.round_state(run.spec_id, of=["Joe"])
        assert set(mine.submitted) == {joe.address} == set(mine.shared)  # only Joe was read
        assert mine.submission_count == 1 and mine.shares_count == 3
        report = run.run_round()
        assert report.closed
        closed = run.market.round_state(run.spec_id, 0)
        assert closed.phase is Phase.CLOSED and set(closed.paid) == set(closed.participants)
        assert run.round_state().phase is Phase.FINISHED
        with pytest.raises(InvalidValueError, match="no round 5"):
            run.market.round_state(run.spec_id, 5)


# -- closing as soon as the reveals cover every secret; abandoning when they cannot -------------


def sparse(revealed: set[int], *, submitted: int = 8, reveals: int | None = None) -> RoundState:
    """8 participants on a 3-regular graph with t = 3; the first ``submitted`` submitted."""
    people = tuple(f"0x{i:x}" for i in range(1, 9))
    info = dataclasses.replace(INFO, k=3, threshold=3)
    subs = people[:submitted]
    shown = {people[i]: "e" * 64 for i in revealed}
    return RoundState(spec(recovering=True), 1, Phase.RECOVERING, people, people, 8, len(subs),
                      len(shown) if reveals is None else reveals,
                      submitted={p: "f" * 64 for p in subs}, revealed=shown, info=info)


def test_a_secret_short_of_t_revealed_shares_holds_the_close_back():
    from omteach.crypto.neighbours import neighbour_graph

    graph = neighbour_graph(8, 3, INFO.seed)
    # Participant 0's seed is held by 0 and its 3 neighbours: two of them silent leave 2 < t.
    silent = set(graph[0][:2])
    state = sparse(set(range(8)) - silent)
    assert "0x1" in state.short_of_shares()
    step = next_action(state)
    assert step.action is Action.WAIT and "short of t shares" in step.why
    over = next_action(state, now=INFO.reveal_deadline)
    assert over.action is Action.ABANDON_ROUND and "lack t = 3 revealed shares" in over.why
    assert next_action(sparse(set(range(8)))).action is Action.CLOSE_ROUND
    assert sparse(set(range(8))).short_of_shares() == ()


def test_a_dropouts_key_needs_t_of_its_neighbours():
    from omteach.crypto.neighbours import neighbour_graph

    graph = neighbour_graph(8, 3, INFO.seed)
    # Participant 7 dropped: its key is held by its 3 neighbours only; one of them silent.
    silent = {graph[7][0]}
    state = sparse(set(range(7)) - silent, submitted=7)
    assert "0x8" in state.short_of_shares()
    assert next_action(state).action is Action.WAIT
    # Every survivor but one revealed: the reveals are over only at the deadline.
    assert next_action(state, now=INFO.reveal_deadline).action is Action.ABANDON_ROUND


def test_every_survivor_revealed_without_a_sum_is_abandoned_at_once():
    """Six of eight dropped: no secret has t = 3 surviving holders, whatever is revealed."""
    state = sparse({0, 1}, submitted=2)
    assert next_action(state).action is Action.ABANDON_ROUND
    assert state.short_of_shares()


def test_a_partial_read_counts_reveals_as_the_contract_does():
    state = sparse({0}, reveals=8)  # asked for one participant's blobs only
    assert state.short_of_shares() is None
    assert next_action(state).action is Action.CLOSE_ROUND  # every survivor revealed


def test_an_abandoned_round_recovered_nobody_but_paid_its_submitters():
    info = dataclasses.replace(INFO, abandoned=True)
    closed = dataclasses.replace(state(Phase.CLOSED, subs=3, reveals=3), info=info)
    assert closed.abandoned and closed.recovered == () and closed.paid == P[:3]
    assert closed.dropped == (P[3],)
    assert next_action(closed).action is Action.DONE
