"""Every rule, revert reason and event of contracts/ModelMarket.vy, on eth-tester and anvil.

The tests call the contract directly (as a hostile participant would, bypassing the Python
client), including through two small contracts: an owner that refuses ether and a company that
cannot receive it (tests/contracts/*.vy, compiled in-process).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from omteach.errors import ChainError, ContractRevertError
from omteach.protocol.market import MAX_REVEAL

from .chain_fixtures import DAY

BOUNTY = 100
ZERO = b"\0" * 32
MAX_UINT = 2**256 - 1
HELPERS = Path(__file__).parent / "contracts"


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


MODEL_BLOB = h("model")
KEY_BLOB = h("key")


def refused(reason: str):
    """The contract refuses, and its reason starts with or contains ``reason`` (literally)."""
    return pytest.raises(ContractRevertError, match=re.escape(reason))


PHASE = 60  # seconds each phase of a round lasts in these tests


def post(market, chain, *, rounds=2, min_owners=2, places=None, bounty=BOUNTY, value=None,
         days=7, batch=32, noise_milli=0, model=MODEL_BLOB, key=KEY_BLOB, sender="AI Inc.",
         phases=(PHASE, PHASE, PHASE)):
    places = min_owners if places is None else places
    value = bounty * places * rounds if value is None else value
    result = market.transact("post_spec", model, key, "MLP 64-32-10", batch, rounds, min_owners,
                             places, noise_milli, bounty, chain.now() + days * DAY, *phases,
                             sender=sender, value=value)
    return result.events[0].args["spec_id"]


@pytest.fixture
def market(chain):
    return chain.deploy("ModelMarket", sender="AI Inc.")


def spec(market, spec_id):
    outputs = market.functions["specs"]["outputs"]
    if len(outputs) == 1 and outputs[0].get("components"):  # one struct-typed output
        outputs = outputs[0]["components"]
    return dict(zip([o["name"] for o in outputs], market.call("specs", spec_id), strict=True))


def accept(market, sid, owners):
    for o in owners:
        market.transact("accept", sid, sender=o)


def kt(n):
    """k and t for n participants in these tests: everyone neighbours everyone, t = 2."""
    return n - 1, min(2, n)


def open_round(market, sid, owners, company="AI Inc."):
    return market.transact("open_round", sid, [market.chain.address(o) for o in owners],
                           *kt(len(owners)), sender=company)


def advertise(market, sid, owners, rnd=0):
    for o in owners:
        market.transact("advertise_keys", sid, rnd, h(f"c-{o}"), h(f"m-{o}"), h(f"b-{o}"),
                        sender=o)


def open_and_share(market, sid, owners, rnd=0, company="AI Inc."):
    open_round(market, sid, owners, company)
    advertise(market, sid, owners, rnd)
    for o in owners:
        market.transact("post_shares", sid, rnd, h(f"shares-{o}-{rnd}"), sender=o)


def submit(market, sid, owners, rnd=0):
    for o in owners:
        market.transact("submit", sid, rnd, h(f"{o}-{rnd}"), sender=o)


def end_and_reveal(market, sid, survivors, rnd=0, company="AI Inc."):
    market.transact("end_submissions", sid, sender=company)
    for o in survivors:
        market.transact("reveal_shares", sid, rnd, h(f"r-{o}-{rnd}"), sender=o)


def full_round(market, sid, owners, rnd=0, next_model="next"):
    open_and_share(market, sid, owners, rnd)
    submit(market, sid, owners, rnd)
    end_and_reveal(market, sid, owners, rnd)
    return market.transact("close_round", sid, h(f"{next_model}-{rnd}"), sender="AI Inc.")


# -- posting and places -----------------------------------------------------------------------


def test_post_escrows_the_bounty_and_logs_it(chain, market):
    result = market.transact("post_spec", h("model"), h("key"), "MLP", 32, 3, 2, 2, 500, BOUNTY,
                             chain.now() + DAY, 20, 30, 10, sender="AI Inc.", value=700)
    [event] = result.events
    assert event.name == "SpecPosted"
    assert event.args == {"spec_id": 0, "company": "AI Inc.", "model_blob": "0x" + h("model").hex(),
                          "rounds": 3, "min_owners": 2, "places": 2, "bounty": BOUNTY,
                          "escrow": 700}
    s = spec(market, 0)
    assert (s["escrow"], s["round"], s["finished"], s["noise_milli"], s["places"]) == (
        700, 0, False, 500, 2)
    assert (s["share_seconds"], s["submit_seconds"], s["reveal_seconds"]) == (20, 30, 10)
    assert market.call("spec_count") == 1
    assert chain.balance("ModelMarket") == 700
    assert post(market, chain) == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"model": ZERO}, "the spec must name a model blob"),
    ({"key": ZERO}, "the spec must name the company's public key blob"),
    ({"batch": 0}, "the batch size must be at least 1"),
    ({"rounds": 0, "value": 0}, "the spec must have at least one round"),
    ({"min_owners": 0, "value": 0}, "min_owners must be between 1 and 128"),
    ({"min_owners": 129, "places": 129, "value": 0}, "min_owners must be between 1 and 128"),
    ({"min_owners": 3, "places": 2}, "places must be between min_owners and 128"),
    ({"places": 129, "value": 0}, "places must be between min_owners and 128"),
    ({"days": -1}, "the deadline must be in the future"),
    ({"value": 2 * 2 * BOUNTY - 1}, "the escrow must cover the bounty for every place"),
    ({"bounty": MAX_UINT // 3, "value": 0}, "bounty x places x rounds is too large"),
    ({"rounds": MAX_UINT, "value": 0}, "bounty x places x rounds is too large"),
    ({"phases": (0, 60, 60)}, "every phase needs a duration of at least 1 second"),
    ({"phases": (60, 60, 0)}, "every phase needs a duration of at least 1 second"),
    ({"phases": (60, 86_401, 60)}, "a phase lasts at most a day"),
    ({"phases": (60, 60, MAX_UINT)}, "a phase lasts at most a day"),
])
def test_post_refuses_bad_specs(chain, market, change, reason):
    with refused(reason):
        post(market, chain, **change)
    assert market.call("spec_count") == 0


def test_acceptance_stops_at_the_places_the_escrow_pays_for_until_a_top_up(chain, market):
    sid = post(market, chain, rounds=2, min_owners=1, places=2)
    accept(market, sid, ["Joe", "Jane"])
    with refused("every place the escrow pays for is taken"):
        market.transact("accept", sid, sender="Jack")
    with refused("only the spec's company can do this"):
        market.transact("add_places", sid, 1, sender="Jack", value=2 * BOUNTY)
    with refused("add at least one place"):
        market.transact("add_places", sid, 0, sender="AI Inc.")
    with refused("a spec has at most 128 places"):
        market.transact("add_places", sid, 127, sender="AI Inc.", value=10**6)
    with refused("the top-up must cover the bounty for the extra places"):
        market.transact("add_places", sid, 1, sender="AI Inc.", value=2 * BOUNTY - 1)
    result = market.transact("add_places", sid, 1, sender="AI Inc.", value=2 * BOUNTY)
    assert [(e.name, e.args) for e in result.events] == [
        ("PlacesAdded", {"spec_id": sid, "places": 3, "escrow": 6 * BOUNTY})]
    accept(market, sid, ["Jack"])


# -- accepting --------------------------------------------------------------------------------


def test_owners_accept(chain, market):
    sid = post(market, chain)
    result = market.transact("accept", sid, sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("Accepted", {"spec_id": sid, "owner": "Joe"})]
    market.transact("accept", sid, sender="Jane")
    assert [chain.name_of(a) for a in market.call("owners_of", sid)] == ["Joe", "Jane"]
    assert market.call("accepted", sid, "Joe") is True
    assert market.call("accepted", sid, "Jack") is False


def test_accept_rules(chain, market):
    sid = post(market, chain)
    with refused("there is no spec with this id"):
        market.transact("accept", 7, sender="Joe")
    with refused("the company cannot accept its own spec"):
        market.transact("accept", sid, sender="AI Inc.")
    market.transact("accept", sid, sender="Joe")
    with refused("you already accepted this spec"):
        market.transact("accept", sid, sender="Joe")
    chain.advance_time(8 * DAY)
    with refused("the spec's deadline has passed"):
        market.transact("accept", sid, sender="Jane")


def test_a_spec_takes_no_more_owners_than_its_places(chain, market):
    sid = post(market, chain, min_owners=1, places=16, rounds=1)
    w3 = chain.w3
    funder = chain.address("AI Inc.")
    extra = []
    for _ in range(16):
        account = w3.eth.account.create()
        extra.append(account)
        w3.eth.send_transaction({"from": funder, "to": account.address, "value": 10**18})
    txs = []
    for account in extra:
        fn = market._contract.functions.accept(sid)
        tx = fn.build_transaction({"from": account.address, "nonce": 0,
                                   "gas": 300_000, "chainId": w3.eth.chain_id})
        signed = account.sign_transaction(tx)
        txs.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    for tx in txs:
        assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    with refused("every place the escrow pays for is taken"):
        market.transact("accept", sid, sender="Joe")


def _accept_from_fresh_keys(chain, market, sid, n):
    """n fresh keys (funded by AI Inc.) accept the spec; their addresses."""
    w3 = chain.w3
    funder = chain.address("AI Inc.")
    keys = [w3.eth.account.create() for _ in range(n)]
    for account in keys:
        w3.eth.send_transaction({"from": funder, "to": account.address, "value": 10**17})
    txs = []
    for account in keys:
        tx = market._contract.functions.accept(sid).build_transaction(
            {"from": account.address, "nonce": 0, "gas": 300_000, "chainId": w3.eth.chain_id})
        txs.append(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
    for tx in txs:
        assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    return [a.address for a in keys]


def test_a_spec_has_at_most_128_places(chain, market):
    """A classroom needs more than the story's three owners, up to 128 places a spec."""
    sid = post(market, chain, min_owners=2, places=100, rounds=1)
    with refused("a spec has at most 128 places"):
        market.transact("add_places", sid, 29, sender="AI Inc.", value=29 * BOUNTY)
    market.transact("add_places", sid, 28, sender="AI Inc.", value=28 * BOUNTY)
    with refused("a spec has at most 128 places"):
        market.transact("add_places", sid, 1, sender="AI Inc.", value=BOUNTY)


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)
def test_a_round_of_a_hundred_fits_in_a_block(chain, market):
    """A round of 100 participants opens in one transaction. On anvil only: its 200
    transactions take 40 s on eth-tester and 4 s on anvil, and gas is the same on both chains
    (the places rule above runs on both)."""
    sid = post(market, chain, min_owners=2, places=100, rounds=1)
    owners = _accept_from_fresh_keys(chain, market, sid, 100)
    result = market.transact("open_round", sid, owners, 20, 11, sender="AI Inc.")
    assert result.events[0].args["participants"] == 100
    # about 47 k gas a participant (two storage writes each): far under a 30 M block
    assert result.gas_used < 100 * 60_000
    assert list(market.call("participants_of", sid, 0)) == owners


# -- opening a round: the participant set is fixed on chain --------------------------------------


def test_open_round_fixes_the_participants(chain, market):
    sid = post(market, chain, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane"])
    joe, jane, jack = (chain.address(o) for o in ("Joe", "Jane", "Jack"))
    with refused("only the spec's company can do this"):
        market.transact("open_round", sid, [joe], 0, 1, sender="Joe")
    with refused("a round needs at least min_owners participants"):
        market.transact("open_round", sid, [joe], 0, 1, sender="AI Inc.")
    with refused("every participant must have accepted the spec"):
        market.transact("open_round", sid, [joe, jack], 1, 2, sender="AI Inc.")
    with refused("a participant is listed twice"):
        market.transact("open_round", sid, [joe] * 2, 1, 2, sender="AI Inc.")
    with refused("k (neighbours per participant) must be below"):
        market.transact("open_round", sid, [joe, jane], 2, 2, sender="AI Inc.")
    with refused("the threshold must be from 1 to k + 1 (the neighbours"):
        market.transact("open_round", sid, [joe, jane], 1, 3, sender="AI Inc.")
    with refused("the threshold must be from 1 to k + 1 (the neighbours"):
        market.transact("open_round", sid, [joe, jane], 1, 0, sender="AI Inc.")
    result = market.transact("open_round", sid, [joe, jane], 1, 2, sender="AI Inc.")
    info = market.call("round_info", sid, 0)
    assert [(e.name, e.args) for e in result.events] == [
        ("RoundOpened", {"spec_id": sid, "round": 0, "participants": 2,
                         "seed": "0x" + info[0].hex(), "k": 1, "threshold": 2,
                         "share_deadline": chain.now() + PHASE})]
    assert tuple(info) == (info[0], 1, 2, chain.now() + PHASE, 0, 0, 0, False) and info[0] != ZERO
    assert [chain.name_of(a) for a in market.call("participants_of", sid, 0)] == ["Joe", "Jane"]
    assert spec(market, sid)["opened"] is True
    # A latecomer accepts during the round: it takes part from the next round, not this one.
    accept(market, sid, ["Jack"])
    with refused("only this round's participants can do this"):
        market.transact("advertise_keys", sid, 0, h("c"), h("m"), h("b"), sender="Jack")
    # Before anyone submits, the company may open the round again with another set: keys,
    # shares and the seed are all new.
    advertise(market, sid, ["Joe", "Jane"])
    market.transact("post_shares", sid, 0, h("s-joe"), sender="Joe")
    open_round(market, sid, ["Jane", "Jack"])
    assert market.call("is_participant", sid, 0, "Joe") is False
    assert market.call("shares", sid, 0, "Joe") == ZERO
    assert market.call("shares_count", sid, 0) == 0
    assert market.call("keys", sid, 0, "Jane") == (ZERO, ZERO, ZERO)
    again = market.call("round_info", sid, 0)
    assert again[6] == 0 and again[0] != info[0]  # nobody advertised yet; a new seed
    advertise(market, sid, ["Jane", "Jack"])
    for o in ("Jane", "Jack"):
        market.transact("post_shares", sid, 0, h(f"s-{o}"), sender=o)
    market.transact("submit", sid, 0, h("u"), sender="Jane")
    with refused("owners have submitted: this round's participants are fixed"):
        market.transact("open_round", sid, [joe, jane], 1, 2, sender="AI Inc.")


def test_no_k_regular_graph_no_round(chain, market):
    sid = post(market, chain, min_owners=3, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    with refused("no k-regular graph exists when n x k is odd"):
        market.transact("open_round", sid, [chain.address(o) for o in ("Joe", "Jane", "Jack")],
                        1, 2, sender="AI Inc.")


def test_a_latecomer_joins_at_the_next_round(chain, market):
    sid = post(market, chain, rounds=2, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane"])
    open_and_share(market, sid, ["Joe", "Jane"])
    accept(market, sid, ["Jack"])
    submit(market, sid, ["Joe", "Jane"])
    end_and_reveal(market, sid, ["Joe", "Jane"])
    market.transact("close_round", sid, h("m1"), sender="AI Inc.")
    full_round(market, sid, ["Joe", "Jane", "Jack"], rnd=1)
    assert market.call("balance_of", "Jack") == BOUNTY
    assert market.call("balance_of", "Joe") == 2 * BOUNTY


# -- keys, shares, submissions ----------------------------------------------------------------


def test_keys_shares_and_submissions_are_recorded_and_logged(chain, market):
    sid = post(market, chain, min_owners=1, places=1)
    accept(market, sid, ["Joe"])
    open_round(market, sid, ["Joe"])
    result = market.transact("advertise_keys", sid, 0, h("c"), h("m"), h("b"), sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("KeysAdvertised", {"spec_id": sid, "round": 0, "owner": "Joe"})]
    assert market.call("keys", sid, 0, "Joe") == (h("c"), h("m"), h("b"))
    assert market.call("round_view", sid, 0)[9] == [(h("c"), h("m"), h("b"))]
    result = market.transact("post_shares", sid, 0, h("joe-shares"), sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("SharesPosted", {"spec_id": sid, "round": 0, "owner": "Joe",
                          "shares_blob": "0x" + h("joe-shares").hex()})]
    # The last share starts the submit phase's clock.
    assert market.call("round_info", sid, 0)[4] == chain.now() + PHASE
    result = market.transact("submit", sid, 0, h("joe-update"), sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("Submitted", {"spec_id": sid, "round": 0, "owner": "Joe",
                       "update_blob": "0x" + h("joe-update").hex()})]
    assert market.call("submission", sid, 0, "Joe") == h("joe-update")
    assert market.call("submission_count", sid, 0) == 1
    assert market.call("shares", sid, 0, "Joe") == h("joe-shares")
    assert market.call("round_view", sid, 0)[8] == [(h("joe-shares"), h("joe-update"), ZERO)]


def test_keys_share_and_submit_rules(chain, market):
    sid = post(market, chain, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    with refused("the company has not opened this round yet"):
        market.transact("post_shares", sid, 0, h("s"), sender="Joe")
    with refused("the company has not opened this round yet"):
        market.transact("submit", sid, 0, h("u"), sender="Joe")
    open_round(market, sid, ["Joe", "Jane"])
    with refused("only this round's participants can do this"):
        market.transact("submit", sid, 0, h("u"), sender="Jack")
    with refused("this round is not open"):
        market.transact("post_shares", sid, 1, h("s"), sender="Joe")
    with refused("advertise three non-empty keys"):
        market.transact("advertise_keys", sid, 0, h("c"), ZERO, h("b"), sender="Joe")
    advertise(market, sid, ["Joe"])
    with refused("you already advertised your keys for this round"):
        advertise(market, sid, ["Joe"])
    with refused("wait until every participant has advertised its round keys"):
        market.transact("post_shares", sid, 0, h("s"), sender="Joe")
    advertise(market, sid, ["Jane"])
    with refused("the shares blob id is empty"):
        market.transact("post_shares", sid, 0, ZERO, sender="Joe")
    market.transact("post_shares", sid, 0, h("s"), sender="Joe")
    with refused("you already posted your shares for this round"):
        market.transact("post_shares", sid, 0, h("s2"), sender="Joe")
    with refused("wait until every participant has posted its key shares"):
        market.transact("submit", sid, 0, h("u"), sender="Joe")
    with refused("the participants' key shares are not all in yet"):
        market.transact("end_submissions", sid, sender="AI Inc.")
    market.transact("post_shares", sid, 0, h("s"), sender="Jane")
    with refused("this round is not open"):
        market.transact("submit", sid, 1, h("u"), sender="Joe")
    with refused("the update blob id is empty"):
        market.transact("submit", sid, 0, ZERO, sender="Joe")
    market.transact("submit", sid, 0, h("u"), sender="Joe")
    with refused("you already submitted in this round"):
        market.transact("submit", sid, 0, h("u2"), sender="Joe")
    chain.advance_time(8 * DAY)
    with refused("the spec's deadline has passed"):
        market.transact("submit", sid, 0, h("u3"), sender="Jane")


def test_who_misses_the_sharing_deadline_is_left_out_of_a_reopened_round(chain, market):
    sid = post(market, chain, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_round(market, sid, ["Joe", "Jane", "Jack"])
    advertise(market, sid, ["Joe", "Jane"])
    chain.advance_time(PHASE + 1)
    with refused("the sharing deadline has passed: the company opens"):
        advertise(market, sid, ["Jack"])
    open_round(market, sid, ["Joe", "Jane"])  # without Jack, with a new sharing deadline
    advertise(market, sid, ["Joe", "Jane"])
    market.transact("post_shares", sid, 0, h("s-joe"), sender="Joe")
    chain.advance_time(PHASE + 1)
    with refused("the sharing deadline has passed: the company opens"):
        market.transact("post_shares", sid, 0, h("s-jane"), sender="Jane")


# -- deadlines, dropouts and reveals ----------------------------------------------------------


def test_who_misses_the_submit_deadline_is_a_dropout(chain, market):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe"])
    with refused("end the submissions first: the survivors then reveal"):
        market.transact("close_round", sid, h("m"), sender="AI Inc.")
    with refused("the company has not ended this round's submissions"):
        market.transact("reveal_shares", sid, 0, h("r"), sender="Joe")
    with refused("only the spec's company can do this"):
        market.transact("end_submissions", sid, sender="Joe")
    with refused("the submit deadline has not passed: participants may still submit"):
        market.transact("end_submissions", sid, sender="AI Inc.")
    submit(market, sid, ["Jane"])
    chain.advance_time(PHASE + 1)
    with refused("the submit deadline has passed: you are a dropout of this round"):
        submit(market, sid, ["Jack"])
    result = market.transact("end_submissions", sid, sender="AI Inc.")
    assert [(e.name, e.args) for e in result.events] == [
        ("SubmissionsEnded", {"spec_id": sid, "round": 0, "survivors": 2, "dropped": 1,
                              "reveal_deadline": chain.now() + PHASE})]
    assert market.call("round_info", sid, 0)[5] == chain.now() + PHASE
    with refused("the submissions of this round already ended"):
        market.transact("end_submissions", sid, sender="AI Inc.")
    with refused("submissions are closed: the company ended this round's submissions"):
        market.transact("submit", sid, 0, h("late"), sender="Jack")
    with refused("only owners who submitted in this round can reveal shares"):
        market.transact("reveal_shares", sid, 0, h("r"), sender="Jack")
    with refused("an empty reveal carries no shares"):
        market.transact("reveal_shares", sid, 0, b"", sender="Joe")
    result = market.transact("reveal_shares", sid, 0, b"r-joe", sender="Joe")
    # The bytes travel in the transaction: the contract keeps their sha256 and logs them.
    assert [(e.name, e.args) for e in result.events] == [
        ("SharesRevealed", {"spec_id": sid, "round": 0, "owner": "Joe",
                            "reveal_blob": "0x" + sha(b"r-joe").hex(),
                            "data": "0x" + b"r-joe".hex()})]
    with refused("you already revealed your shares for this round"):
        market.transact("reveal_shares", sid, 0, b"r2", sender="Joe")
    with refused("fewer than t survivors revealed their shares: no mask can be removed"):
        market.transact("close_round", sid, h("m"), sender="AI Inc.")  # t = 2
    market.transact("reveal_shares", sid, 0, b"r-jane", sender="Jane")
    assert market.call("reveal", sid, 0, "Jane") == sha(b"r-jane")
    assert market.call("reveal_count", sid, 0) == 2
    result = market.transact("close_round", sid, h("m"), sender="AI Inc.")
    assert [e.name for e in result.events] == ["RoundClosed"] + ["BountyCredited"] * 2 + [
        "EscrowReturned"]
    assert result.events[0].args["contributors"] == 2
    assert market.call("balance_of", "Jack") == 0
    assert market.call("balance_of", "AI Inc.") == BOUNTY  # Jack's unused place comes back


def _two_of_three_submitted(market, chain):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe", "Jane"])
    return sid, market.call("round_info", sid, 0)[4]  # the submit deadline


def test_ending_the_submissions_at_the_next_blocks_clock_keeps_the_rule(chain, market):
    """Ending the submissions as the next block will run it (``next_block``, what the
    Market client does) is still refused, with the contract's reason, before the submit
    deadline, and goes through once it passed, on either chain."""
    sid, deadline = _two_of_three_submitted(market, chain)
    with refused("the submit deadline has not passed: participants may still submit"):
        market.transact("end_submissions", sid, sender="AI Inc.", next_block=True)
    chain.advance_time(PHASE + 1)
    result = market.transact("end_submissions", sid, sender="AI Inc.", next_block=True)
    assert [e.name for e in result.events] == ["SubmissionsEnded"]
    assert result.events[0].args["dropped"] == 1 and chain.now() >= deadline


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)
def test_ending_the_submissions_needs_no_block_stamped_past_the_deadline(chain, market):
    """Issue 21: on a quiet node the clock passes the submit deadline while the latest block is
    still older than it, and a node's gas estimate (which runs the call) reads the latest
    block's time: ending the submissions was refused until another transaction had a block
    stamped past the deadline. With ``next_block`` it is estimated in the pending block, at the
    node's clock: one transaction. (eth-tester's estimate runs at the wall clock already, and
    its clock moves only with a block: not this case.)"""
    sid, deadline = _two_of_three_submitted(market, chain)
    chain.w3.provider.make_request("evm_increaseTime", [PHASE + 1])  # the clock, no block
    assert chain.w3.eth.get_block("pending")["timestamp"] >= deadline > chain.now()
    block = chain.block_number
    with refused("the submit deadline has not passed: participants may still submit"):
        market.transact("end_submissions", sid, sender="AI Inc.")  # at the latest block
    result = market.transact("end_submissions", sid, sender="AI Inc.", next_block=True)
    assert result.block == block + 1 == chain.block_number  # this one transaction, alone
    assert chain.now() >= deadline
    assert [e.name for e in result.events] == ["SubmissionsEnded"]


def test_too_few_submissions_by_the_deadline_cannot_end_the_round(chain, market):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe"])
    chain.advance_time(PHASE + 1)
    with refused("too few owners submitted: min_owners must submit"):
        market.transact("end_submissions", sid, sender="AI Inc.")


def test_the_reveal_deadline_closes_the_round_with_t_reveals(chain, market):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])  # k = 2, t = 2
    submit(market, sid, ["Joe", "Jane", "Jack"])
    market.transact("end_submissions", sid, sender="AI Inc.")  # all in: no need to wait
    market.transact("reveal_shares", sid, 0, h("r-joe"), sender="Joe")
    chain.advance_time(PHASE + 1)
    with refused("the reveal deadline has passed"):
        market.transact("reveal_shares", sid, 0, h("r-jane"), sender="Jane")
    with refused("fewer than t survivors revealed their shares: no mask can be removed"):
        market.transact("close_round", sid, h("m"), sender="AI Inc.")


def test_a_reveal_travels_in_its_transaction_within_the_size_limit(chain, market):
    """The revealed shares are the transaction's own bytes (issue 21: one transaction, not a
    blob and then its id): the contract keeps their sha256 id and logs them, takes at most
    MAX_REVEAL bytes (the ABI's bound: a longer reveal is refused, without a reason), and only
    from a participant of the round."""
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane"])  # Jack accepted, but is not in this round
    submit(market, sid, ["Joe", "Jane"])
    market.transact("end_submissions", sid, sender="AI Inc.")
    with refused("only this round's participants can do this"):
        market.transact("reveal_shares", sid, 0, b"r-jack", sender="Jack")
    with pytest.raises(ChainError):
        market.transact("reveal_shares", sid, 0, b"x" * (MAX_REVEAL + 1), sender="Joe")
    assert market.call("reveal", sid, 0, "Joe") == ZERO
    largest = bytes(range(256)) * (MAX_REVEAL // 256)
    assert len(largest) == MAX_REVEAL
    market.transact("reveal_shares", sid, 0, largest, sender="Joe")
    assert market.call("reveal", sid, 0, "Joe") == sha(largest)
    [event] = [e for e in market.events() if e.name == "SharesRevealed"]
    assert (event.args["owner"], event.args["data"]) == ("Joe", "0x" + largest.hex())


def test_the_reveal_deadline_lets_t_reveals_close_without_a_silent_survivor(chain, market):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])  # k = 2, t = 2
    submit(market, sid, ["Joe", "Jane", "Jack"])
    end_and_reveal(market, sid, ["Joe", "Jane"])
    chain.advance_time(PHASE + 1)
    result = market.transact("close_round", sid, h("m"), sender="AI Inc.")
    assert result.events[0].args["contributors"] == 3  # Jack submitted: he is paid


def test_t_reveals_close_the_round_before_the_reveal_deadline(chain, market):
    """The company closes as soon as the reveals hold what it needs (it checks that itself):
    a survivor still to reveal loses nothing (it is paid) and reveals nothing more."""
    sid = post(market, chain, rounds=2, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])  # k = 2, t = 2
    submit(market, sid, ["Joe", "Jane", "Jack"])
    end_and_reveal(market, sid, ["Joe", "Jane"])
    result = market.transact("close_round", sid, h("m"), sender="AI Inc.")  # no time passed
    assert [(e.name, e.args.get("owner")) for e in result.events] == [
        ("RoundClosed", None), ("BountyCredited", "Joe"), ("BountyCredited", "Jane"),
        ("BountyCredited", "Jack")]
    with refused("this round is not open"):
        market.transact("reveal_shares", sid, 0, h("r-jack"), sender="Jack")


# -- abandoning a round that cannot close -----------------------------------------------------


def recovering_round(market, chain, *, rounds=2, reveal=("Joe",)):
    """Joe, Jane and Jack submit (k = 2, t = 2), the submissions end, ``reveal`` reveal."""
    sid = post(market, chain, rounds=rounds, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe", "Jane", "Jack"])
    end_and_reveal(market, sid, list(reveal))
    return sid


def test_a_round_whose_reveals_are_over_without_a_sum_is_abandoned_and_paid(chain, market):
    sid = recovering_round(market, chain)
    model_before = spec(market, sid)["model_blob"]
    with refused("only the spec's company can do this"):
        market.transact("abandon_round", sid, sender="Joe")
    with refused("wait for every survivor's revealed shares, or for the reveal deadline"):
        market.transact("abandon_round", sid, sender="AI Inc.")  # reveals may still come
    chain.advance_time(PHASE + 1)
    with refused("fewer than t survivors revealed their shares: no mask can be removed"):
        market.transact("close_round", sid, h("m"), sender="AI Inc.")
    with refused("only the spec's company can do this"):
        market.transact("abandon_round", sid, sender="Jack")
    result = market.transact("abandon_round", sid, sender="AI Inc.")
    assert [(e.name, e.args) for e in result.events] == [
        ("RoundAbandoned", {"spec_id": sid, "round": 0, "contributors": 3, "revealed": 1}),
        *[("BountyCredited", {"spec_id": sid, "round": 0, "owner": o, "amount": BOUNTY})
          for o in ("Joe", "Jane", "Jack")]]
    after = spec(market, sid)
    assert (after["round"], after["opened"], after["recovering"], after["finished"]) == (
        1, False, False, False)
    assert after["model_blob"] == model_before  # the next round trains the same model
    assert after["escrow"] == 6 * BOUNTY - 3 * BOUNTY
    assert market.call("round_info", sid, 0)[7] is True  # abandoned, for every reader
    assert [market.call("balance_of", o) for o in ("Joe", "Jane", "Jack")] == [BOUNTY] * 3
    with refused("the company has not opened this round yet"):
        market.transact("abandon_round", sid, sender="AI Inc.")  # once, and only when open
    with refused("this round is not open"):
        market.transact("reveal_shares", sid, 0, h("r-jane"), sender="Jane")
    full_round(market, sid, ["Joe", "Jane", "Jack"], rnd=1)  # the spec goes on
    assert market.call("round_info", sid, 1)[7] is False
    assert spec(market, sid)["finished"] is True


def test_abandoning_costs_the_company_what_closing_would(chain, market):
    """Nobody avoids paying by abandoning: two identical last rounds, one closed and one
    abandoned, credit the same bounties and return the same escrow."""
    closed = recovering_round(market, chain, rounds=1, reveal=("Joe", "Jane", "Jack"))
    abandoned = recovering_round(market, chain, rounds=1, reveal=("Joe", "Jane", "Jack"))
    market.transact("close_round", closed, h("m"), sender="AI Inc.")
    company = market.call("balance_of", "AI Inc.")
    # Every survivor revealed: no more reveals can come, so no deadline to wait for.
    result = market.transact("abandon_round", abandoned, sender="AI Inc.")
    assert [e.name for e in result.events] == ["RoundAbandoned"] + ["BountyCredited"] * 3 + [
        "EscrowReturned"]
    assert market.call("balance_of", "AI Inc.") == 2 * company
    assert [market.call("balance_of", o) for o in ("Joe", "Jane", "Jack")] == [2 * BOUNTY] * 3
    assert spec(market, abandoned)["finished"] is True and spec(market, abandoned)["escrow"] == 0


def test_a_round_with_too_few_submissions_is_abandoned_after_the_submit_deadline(chain, market):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    with refused("the company has not opened this round yet"):
        market.transact("abandon_round", sid, sender="AI Inc.")
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_round(market, sid, ["Joe", "Jane", "Jack"])
    with refused("wait for the submit deadline: participants may still share"):
        market.transact("abandon_round", sid, sender="AI Inc.")  # the shares are not all in
    advertise(market, sid, ["Joe", "Jane", "Jack"])
    for o in ("Joe", "Jane", "Jack"):
        market.transact("post_shares", sid, 0, h(f"s-{o}"), sender=o)
    submit(market, sid, ["Joe"])
    with refused("wait for the submit deadline: participants may still share"):
        market.transact("abandon_round", sid, sender="AI Inc.")
    chain.advance_time(PHASE + 1)
    with refused("too few owners submitted: min_owners must submit"):
        market.transact("end_submissions", sid, sender="AI Inc.")
    with refused("only the spec's company can do this"):
        market.transact("abandon_round", sid, sender="Joe")
    result = market.transact("abandon_round", sid, sender="AI Inc.")
    assert [(e.name, e.args.get("owner"), e.args.get("amount")) for e in result.events] == [
        ("RoundAbandoned", None, None), ("BountyCredited", "Joe", BOUNTY),
        ("EscrowReturned", None, 2 * BOUNTY)]
    assert market.call("balance_of", "Joe") == BOUNTY and spec(market, sid)["finished"] is True


def test_a_round_that_can_still_end_its_submissions_is_not_abandoned(chain, market):
    sid = post(market, chain, rounds=1, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe", "Jane"])
    chain.advance_time(PHASE + 1)
    with refused("enough owners submitted: end the submissions and let the survivors reveal"):
        market.transact("abandon_round", sid, sender="AI Inc.")


def test_after_the_spec_deadline_only_reclaim_ends_a_round(chain, market):
    sid = recovering_round(market, chain)
    chain.advance_time(8 * DAY)
    with refused("the spec's deadline has passed"):
        market.transact("abandon_round", sid, sender="AI Inc.")
    market.transact("reclaim_escrow", sid, sender="Jane")
    assert [market.call("balance_of", o) for o in ("Joe", "Jane", "Jack")] == [BOUNTY] * 3


def test_nothing_to_end_before_a_round_opens(chain, market):
    sid = post(market, chain, rounds=1, min_owners=1, places=2)
    with refused("the company has not opened this round yet"):
        market.transact("end_submissions", sid, sender="AI Inc.")
    with refused("the company has not opened this round yet"):
        market.transact("close_round", sid, h("m"), sender="AI Inc.")


# -- closing rounds: credits, not transfers ---------------------------------------------------


def test_close_credits_each_contributor_and_opens_the_next_round(chain, market):
    sid = post(market, chain, rounds=2, min_owners=2, places=3, value=1_000)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    with refused("only the spec's company can do this"):
        market.transact("close_round", sid, h("next"), sender="Joe")
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe", "Jane", "Jack"])
    end_and_reveal(market, sid, ["Joe", "Jane", "Jack"])
    with refused("name the blob of the updated model"):
        market.transact("close_round", sid, ZERO, sender="AI Inc.")
    before = {o: chain.balance(o) for o in ("Joe", "Jane", "Jack")}
    result = market.transact("close_round", sid, h("model-1"), sender="AI Inc.")
    assert [e.name for e in result.events] == ["RoundClosed"] + ["BountyCredited"] * 3
    assert result.events[0].args == {"spec_id": sid, "round": 0, "contributors": 3,
                                     "next_model_blob": "0x" + h("model-1").hex()}
    assert {e.args["owner"] for e in result.events[1:]} == {"Joe", "Jane", "Jack"}
    assert all(e.args["amount"] == BOUNTY for e in result.events[1:])
    for o, b in before.items():  # credited, not sent: balances on chain are unchanged
        assert chain.balance(o) == b
        assert market.call("balance_of", o) == BOUNTY
    s = spec(market, sid)
    assert (s["round"], s["escrow"], s["model_blob"], s["finished"], s["opened"]) == (
        1, 1_000 - 3 * BOUNTY, h("model-1"), False, False)
    with refused("this round is not open"):
        market.transact("submit", sid, 0, h("late"), sender="Joe")


def test_owners_withdraw_their_own_balance(chain, market):
    sid = post(market, chain, rounds=1, min_owners=1, places=1)
    accept(market, sid, ["Joe"])
    full_round(market, sid, ["Joe"])
    with refused("you have nothing to withdraw"):
        market.transact("withdraw", sender="Jane")
    with refused("name an address to withdraw to"):
        market.transact("withdraw_to", "0x" + "0" * 40, sender="Joe")
    before = chain.balance("Jane")
    result = market.transact("withdraw_to", "Jane", sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("Withdrawn", {"account": "Joe", "recipient": "Jane", "amount": BOUNTY})]
    assert chain.balance("Jane") == before + BOUNTY
    assert market.call("balance_of", "Joe") == 0
    with refused("you have nothing to withdraw"):
        market.transact("withdraw", sender="Joe")


def test_last_round_credits_the_rest_of_the_escrow_to_the_company(chain, market):
    sid = post(market, chain, rounds=1, min_owners=1, places=1, value=1_000)
    accept(market, sid, ["Joe"])
    result = full_round(market, sid, ["Joe"])
    assert [e.name for e in result.events] == ["RoundClosed", "BountyCredited",
                                               "EscrowReturned"]
    assert result.events[-1].args == {"spec_id": sid, "company": "AI Inc.", "amount": 900}
    s = spec(market, sid)
    assert (s["finished"], s["escrow"]) == (True, 0)
    assert market.call("balance_of", "AI Inc.") == 900
    market.transact("withdraw", sender="AI Inc.")
    market.transact("withdraw", sender="Joe")
    assert chain.balance("ModelMarket") == 0
    with refused("this spec is finished"):
        market.transact("submit", sid, 1, h("more"), sender="Joe")
    with refused("this spec is finished"):
        market.transact("accept", sid, sender="Jane")


def test_anyone_can_end_a_stalled_spec_after_its_deadline(chain, market):
    sid = post(market, chain, rounds=2, min_owners=2, value=1_000, days=1)
    with refused("the deadline has not passed yet"):
        market.transact("reclaim_escrow", sid, sender="AI Inc.")
    with refused("there is no spec with this id"):
        market.transact("reclaim_escrow", 9, sender="AI Inc.")
    chain.advance_time(2 * DAY)
    result = market.transact("reclaim_escrow", sid, sender="Joe")
    assert [(e.name, e.args["amount"]) for e in result.events] == [("EscrowReturned", 1_000)]
    assert market.call("balance_of", "AI Inc.") == 1_000
    with refused("this spec is finished"):
        market.transact("reclaim_escrow", sid, sender="AI Inc.")
    with refused("this spec is finished"):
        market.transact("close_round", sid, h("x"), sender="AI Inc.")


def test_a_company_that_stalls_a_round_still_pays_its_submitters(chain, market):
    """AI Inc. has every update of round 1 (it could decrypt the sum) but never closes it."""
    sid = post(market, chain, rounds=3, min_owners=2, places=3, days=2)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    full_round(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"], rnd=1)
    submit(market, sid, ["Joe", "Jane"], rnd=1)
    chain.advance_time(3 * DAY)
    result = market.transact("reclaim_escrow", sid, sender="Jack")
    assert [(e.name, e.args.get("owner"), e.args["amount"]) for e in result.events] == [
        ("BountyCredited", "Joe", BOUNTY), ("BountyCredited", "Jane", BOUNTY),
        ("EscrowReturned", None, 9 * BOUNTY - 3 * BOUNTY - 2 * BOUNTY)]
    assert [market.call("balance_of", o) for o in ("Joe", "Jane", "Jack")] == [
        2 * BOUNTY, 2 * BOUNTY, BOUNTY]
    assert market.call("balance_of", "AI Inc.") == 4 * BOUNTY


# -- hostile accounts: an owner that refuses ether, a company that cannot receive it ------------


def deploy_helper(chain, name, market, sender):
    return chain.deploy(name, market.address, source=(HELPERS / f"{name}.vy").read_text(),
                        sender=sender)


def test_an_owner_that_refuses_ether_blocks_nobody(chain, market):
    refuser = deploy_helper(chain, "RefusingOwner", market, "Jack")
    sid = post(market, chain, rounds=1, min_owners=3, places=3)
    accept(market, sid, ["Joe", "Jane"])
    refuser.transact("accept", sid, sender="Jack")
    market.transact("open_round", sid, [chain.address("Joe"), chain.address("Jane"),
                                        refuser.address], 2, 2, sender="AI Inc.")
    advertise(market, sid, ["Joe", "Jane"])
    refuser.transact("advertise_keys", sid, 0, h("c"), h("m"), h("b"), sender="Jack")
    for o in ("Joe", "Jane"):
        market.transact("post_shares", sid, 0, h(f"s-{o}"), sender=o)
    refuser.transact("post_shares", sid, 0, h("s-refuser"), sender="Jack")
    submit(market, sid, ["Joe", "Jane"])
    refuser.transact("submit", sid, 0, h("u-refuser"), sender="Jack")
    end_and_reveal(market, sid, ["Joe", "Jane"])
    refuser.transact("reveal_shares", sid, 0, h("r-refuser"), sender="Jack")
    result = market.transact("close_round", sid, h("m"), sender="AI Inc.")
    assert [e.name for e in result.events].count("BountyCredited") == 3
    for o in ("Joe", "Jane"):
        [event] = market.transact("withdraw", sender=o).events
        assert event.args == {"account": o, "recipient": o, "amount": BOUNTY}
    with refused("the recipient refused the ether: withdraw to another address"):
        refuser.transact("withdraw", sender="Jack")
    assert market.call("balance_of", refuser.address) == BOUNTY  # nothing lost
    refuser.transact("withdraw_to", chain.address("Jack"), sender="Jack")
    assert market.events()[-1].args == {"account": refuser.name, "recipient": "Jack",
                                        "amount": BOUNTY}
    assert chain.balance("ModelMarket") == 0


def test_an_owner_that_reenters_withdraw_gets_paid_once_or_not_at_all(chain, market):
    greedy = deploy_helper(chain, "GreedyOwner", market, "Jack")
    sid = post(market, chain, rounds=1, min_owners=2, places=2)
    accept(market, sid, ["Joe"])
    greedy.transact("accept", sid, sender="Jack")
    market.transact("open_round", sid, [chain.address("Joe"), greedy.address], 1, 2,
                    sender="AI Inc.")
    advertise(market, sid, ["Joe"])
    greedy.transact("advertise_keys", sid, 0, h("c"), h("m"), h("b"), sender="Jack")
    market.transact("post_shares", sid, 0, h("s-joe"), sender="Joe")
    greedy.transact("post_shares", sid, 0, h("s-greedy"), sender="Jack")
    submit(market, sid, ["Joe"])
    greedy.transact("submit", sid, 0, h("u-greedy"), sender="Jack")
    end_and_reveal(market, sid, ["Joe"])
    greedy.transact("reveal_shares", sid, 0, h("r-greedy"), sender="Jack")
    market.transact("close_round", sid, h("m"), sender="AI Inc.")
    with refused("the recipient refused the ether"):
        greedy.transact("withdraw", sender="Jack")
    assert market.call("balance_of", greedy.address) == BOUNTY
    assert chain.balance("ModelMarket") == 2 * BOUNTY
    market.transact("withdraw", sender="Joe")
    assert chain.balance("ModelMarket") == BOUNTY  # the greedy owner's bounty, still its own


def test_a_company_that_cannot_receive_ether_locks_nothing(chain, market):
    company = deploy_helper(chain, "MuteCompany", market, "AI Inc.")
    company.transact("post_spec", MODEL_BLOB, KEY_BLOB, 2, 1, 2, BOUNTY,
                     chain.now() + 7 * DAY, sender="AI Inc.", value=5 * BOUNTY)
    sid = 0
    assert spec(market, sid)["company"] == company.address
    accept(market, sid, ["Joe", "Jane"])
    company.transact("open_round", sid, [chain.address("Joe")], 0, 1, sender="AI Inc.")
    advertise(market, sid, ["Joe"])
    market.transact("post_shares", sid, 0, h("s"), sender="Joe")
    submit(market, sid, ["Joe"])
    company.transact("end_submissions", sid, sender="AI Inc.")
    market.transact("reveal_shares", sid, 0, h("r"), sender="Joe")
    company.transact("close_round", sid, h("m1"), sender="AI Inc.")
    company.transact("open_round", sid, [chain.address("Joe"), chain.address("Jane")], 1, 2,
                     sender="AI Inc.")
    advertise(market, sid, ["Joe", "Jane"], rnd=1)
    for o in ("Joe", "Jane"):
        market.transact("post_shares", sid, 1, h(f"s-{o}"), sender=o)
    submit(market, sid, ["Joe", "Jane"], rnd=1)
    company.transact("end_submissions", sid, sender="AI Inc.")
    for o in ("Joe", "Jane"):
        market.transact("reveal_shares", sid, 1, h(f"r-{o}"), sender=o)
    company.transact("close_round", sid, h("m2"), sender="AI Inc.")  # the last round
    events = [e.name for e in market.events()][-4:]
    assert events == ["RoundClosed", "BountyCredited", "BountyCredited", "EscrowReturned"]
    market.transact("withdraw", sender="Joe")
    market.transact("withdraw", sender="Jane")
    assert market.call("balance_of", company.address) == 2 * BOUNTY
    with refused("the recipient refused the ether"):
        company.transact("withdraw", sender="AI Inc.")
    company.transact("withdraw_to", chain.address("AI Inc."), sender="AI Inc.")
    assert chain.balance("ModelMarket") == 0


def test_a_mute_company_spec_can_be_ended_after_its_deadline_by_anyone(chain, market):
    company = deploy_helper(chain, "MuteCompany", market, "AI Inc.")
    company.transact("post_spec", MODEL_BLOB, KEY_BLOB, 1, 1, 1, BOUNTY,
                     chain.now() + DAY, sender="AI Inc.", value=BOUNTY)
    chain.advance_time(2 * DAY)
    market.transact("reclaim_escrow", 0, sender="Jane")
    assert market.call("balance_of", company.address) == BOUNTY
    company.transact("withdraw_to", chain.address("AI Inc."), sender="AI Inc.")
    assert chain.balance("ModelMarket") == 0


def test_every_event_and_reason_is_covered():
    """Guard: each event and each revert reason of the contract appears in these tests."""
    import re

    from omteach.chain import compile_contract, contract_source

    text = Path(__file__).read_text()
    events = {e["name"] for e in compile_contract("ModelMarket").abi if e["type"] == "event"}
    assert {e for e in events if f'"{e}"' not in text} == set()
    reasons = set(re.findall(r'"([a-z][^"]+)"', contract_source("ModelMarket")))
    reasons = {r for r in reasons if " " in r}
    missing = {r for r in reasons if r[:40] not in text}
    assert missing == set()


def test_one_round_view_reads_what_the_single_getters_read(chain, market):
    """round_view: the spec, owners, participants, clock, counts, blobs and keys of a round in
    one call, the same as the getters one by one; the current round by default; a round past
    the current one is empty."""
    current = 2**256 - 1

    def single(sid, rnd):
        parts = market.call("participants_of", sid, rnd)
        return (market.call("specs", sid), rnd, market.call("owners_of", sid), parts,
                market.call("round_info", sid, rnd),
                *(market.call(name, sid, rnd)
                  for name in ("shares_count", "submission_count", "reveal_count")),
                [tuple(market.call(name, sid, rnd, p) for name in ("shares", "submission",
                                                                   "reveal")) for p in parts],
                [market.call("keys", sid, rnd, p) for p in parts])

    def as_lists(value):
        return [as_lists(v) for v in value] if isinstance(value, list | tuple) else value

    sid = post(market, chain, rounds=2, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    assert as_lists(market.call("round_view", sid, current)) == as_lists(single(sid, 0))
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe", "Jane"])
    view = market.call("round_view", sid, current)
    assert as_lists(view) == as_lists(single(sid, 0))
    assert (view[5], view[6], view[7]) == (3, 2, 0) and len(view[8]) == len(view[9]) == 3
    assert view[8][2][1] == ZERO and view[8][0][1] == h("Joe-0")  # Jack has not submitted
    assert as_lists(market.call("round_view", sid, 0)) == as_lists(view)
    later = market.call("round_view", sid, 1)
    assert later[1] == 1 and later[3] == [] and later[8] == [] and later[9] == []


def test_every_course_contract_fits_on_a_chain_and_an_oversized_one_is_refused_clearly():
    """EIP-170: a chain stores at most 24,576 bytes of code per contract. ModelMarket is near
    it (round_view, abandon_round): a contract past it is refused at compile time with what to
    do, not by an "out of gas" from inside the node at deployment."""
    from omteach.chain.compiler import MAX_CODE_SIZE, compile_all, compile_contract
    from omteach.errors import ContractCompileError

    for compiled in compile_all():
        assert compiled.name  # compiled, so within the limit (checked by _compile)
    source = ("# pragma version ~=0.4.3\n@external\n@view\ndef f() -> String[30000]:\n"
              f"    return \"{'x' * 30_000}\"\n")  # the literal alone is 30,000 bytes of code
    with pytest.raises(ContractCompileError, match=f"more than the {MAX_CODE_SIZE:,}"):
        compile_contract("Huge", source)
