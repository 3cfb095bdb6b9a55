"""Every rule, revert reason and event of contracts/ModelMarket.vy, on eth-tester and anvil."""

from __future__ import annotations

import hashlib

import pytest

from omteach.errors import ContractRevertError

from .chain_fixtures import DAY

BOUNTY = 100


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


MODEL_BLOB = hashlib.sha256(b"model").digest()
KEY_BLOB = hashlib.sha256(b"key").digest()


def refused(reason: str):
    return pytest.raises(ContractRevertError, match=reason)


def post(market, chain, *, rounds=2, min_owners=2, bounty=BOUNTY, value=None, days=7,
         batch=32, noise_milli=0, model=MODEL_BLOB, key=KEY_BLOB):
    value = bounty * min_owners * rounds if value is None else value
    result = market.transact("post_spec", model, key, "MLP 64-32-10", batch, rounds, min_owners,
                             noise_milli, bounty, chain.now() + days * DAY, sender="AI Inc.",
                             value=value)
    return result.events[0].args["spec_id"]


@pytest.fixture
def market(chain):
    return chain.deploy("ModelMarket", sender="AI Inc.")


def spec(market, spec_id):
    outputs = market.functions["specs"]["outputs"]
    if len(outputs) == 1 and outputs[0].get("components"):  # one struct-typed output
        outputs = outputs[0]["components"]
    return dict(zip([o["name"] for o in outputs], market.call("specs", spec_id), strict=True))


# -- posting ----------------------------------------------------------------------------------


def test_post_escrows_the_bounty_and_logs_it(chain, market):
    result = market.transact("post_spec", h("model"), h("key"), "MLP", 32, 3, 2, 500, BOUNTY,
                             chain.now() + DAY, sender="AI Inc.", value=700)
    [event] = result.events
    assert event.name == "SpecPosted"
    assert event.args == {"spec_id": 0, "company": "AI Inc.", "model_blob": "0x" + h("model").hex(),
                          "rounds": 3, "min_owners": 2, "bounty": BOUNTY, "escrow": 700}
    s = spec(market, 0)
    assert (s["escrow"], s["round"], s["finished"], s["noise_milli"]) == (700, 0, False, 500)
    assert market.call("spec_count") == 1
    assert chain.balance("ModelMarket") == 700
    assert post(market, chain) == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"model": b"\0" * 32}, "the spec must name a model blob"),
    ({"key": b"\0" * 32}, "the spec must name the company's public key blob"),
    ({"batch": 0}, "the batch size must be at least 1"),
    ({"rounds": 0, "value": 0}, "the spec must have at least one round"),
    ({"min_owners": 0, "value": 0}, "min_owners must be between 1 and 16"),
    ({"min_owners": 17}, "min_owners must be between 1 and 16"),
    ({"days": -1}, "the deadline must be in the future"),
    ({"value": 2 * 2 * BOUNTY - 1}, "the escrow must cover the bounty for min_owners"),
])
def test_post_refuses_bad_specs(chain, market, change, reason):
    with refused(reason):
        post(market, chain, **change)
    assert market.call("spec_count") == 0


# -- accepting --------------------------------------------------------------------------------


def test_owners_accept_with_their_mask_key(chain, market):
    sid = post(market, chain)
    result = market.transact("accept", sid, h("joe-mask"), sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("Accepted", {"spec_id": sid, "owner": "Joe", "mask_key": "0x" + h("joe-mask").hex()})]
    market.transact("accept", sid, h("jane-mask"), sender="Jane")
    assert [chain.name_of(a) for a in market.call("owners_of", sid)] == ["Joe", "Jane"]
    assert market.call("accepted", sid, "Joe") is True
    assert market.call("accepted", sid, "Jack") is False
    assert market.call("mask_key", sid, "Jane") == h("jane-mask")


def test_accept_rules(chain, market):
    sid = post(market, chain)
    with refused("there is no spec with this id"):
        market.transact("accept", 7, h("m"), sender="Joe")
    with refused("the company cannot accept its own spec"):
        market.transact("accept", sid, h("m"), sender="AI Inc.")
    with refused("publish the id of your masking key"):
        market.transact("accept", sid, b"\0" * 32, sender="Joe")
    market.transact("accept", sid, h("m"), sender="Joe")
    with refused("you already accepted this spec"):
        market.transact("accept", sid, h("m"), sender="Joe")
    chain.advance_time(8 * DAY)
    with refused("the spec's deadline has passed"):
        market.transact("accept", sid, h("m"), sender="Jane")


def test_a_spec_takes_at_most_sixteen_owners(chain, market):
    sid = post(market, chain, min_owners=1, rounds=1)
    w3 = chain.w3
    funder = chain.address("AI Inc.")
    extra = []
    for _ in range(16):
        account = w3.eth.account.create()
        extra.append(account)
        w3.eth.send_transaction({"from": funder, "to": account.address, "value": 10**18})
    txs = []
    for i, account in enumerate(extra):
        fn = market._contract.functions.accept(sid, h(f"m{i}"))
        tx = fn.build_transaction({"from": account.address, "nonce": 0,
                                   "gas": 300_000, "chainId": w3.eth.chain_id})
        signed = account.sign_transaction(tx)
        txs.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    for tx in txs:
        assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    with refused("this spec has the most owners it can take"):
        market.transact("accept", sid, h("late"), sender="Joe")


# -- submitting -------------------------------------------------------------------------------


def test_submissions_are_recorded_and_logged(chain, market):
    sid = post(market, chain)
    market.transact("accept", sid, h("m"), sender="Joe")
    result = market.transact("submit", sid, 0, h("joe-update"), sender="Joe")
    assert [(e.name, e.args) for e in result.events] == [
        ("Submitted", {"spec_id": sid, "round": 0, "owner": "Joe",
                       "update_blob": "0x" + h("joe-update").hex()})]
    assert market.call("submission", sid, 0, "Joe") == h("joe-update")
    assert market.call("submission_count", sid, 0) == 1


def test_submit_rules(chain, market):
    sid = post(market, chain)
    with refused("only owners who accepted the spec can submit"):
        market.transact("submit", sid, 0, h("u"), sender="Jack")
    market.transact("accept", sid, h("m"), sender="Joe")
    with refused("this round is not open"):
        market.transact("submit", sid, 1, h("u"), sender="Joe")
    with refused("the update blob id is empty"):
        market.transact("submit", sid, 0, b"\0" * 32, sender="Joe")
    market.transact("submit", sid, 0, h("u"), sender="Joe")
    with refused("you already submitted in this round"):
        market.transact("submit", sid, 0, h("u2"), sender="Joe")
    chain.advance_time(8 * DAY)
    with refused("the spec's deadline has passed"):
        market.transact("submit", sid, 0, h("u3"), sender="Joe")


# -- closing rounds, bounties and escrow ----------------------------------------------------------


def accept_and_submit(market, sid, owners, rnd=0):
    for o in owners:
        if not market.call("accepted", sid, o):
            market.transact("accept", sid, h(f"mask-{o}"), sender=o)
        market.transact("submit", sid, rnd, h(f"{o}-{rnd}"), sender=o)


def test_close_needs_the_company_and_enough_owners(chain, market):
    sid = post(market, chain, min_owners=2)
    accept_and_submit(market, sid, ["Joe"])
    with refused("only the spec's company can close a round"):
        market.transact("close_round", sid, h("next"), sender="Joe")
    with refused("not enough data owners submitted in this round"):
        market.transact("close_round", sid, h("next"), sender="AI Inc.")
    accept_and_submit(market, sid, ["Jane"])
    with refused("name the blob of the updated model"):
        market.transact("close_round", sid, b"\0" * 32, sender="AI Inc.")


def test_close_pays_each_contributor_and_opens_the_next_round(chain, market):
    sid = post(market, chain, rounds=2, min_owners=2, value=1_000)
    accept_and_submit(market, sid, ["Joe", "Jane", "Jack"])
    before = {o: chain.balance(o) for o in ("Joe", "Jane", "Jack")}
    result = market.transact("close_round", sid, h("model-1"), sender="AI Inc.")
    assert [e.name for e in result.events] == ["RoundClosed"] + ["BountyPaid"] * 3
    assert result.events[0].args == {"spec_id": sid, "round": 0, "contributors": 3,
                                     "next_model_blob": "0x" + h("model-1").hex()}
    assert {e.args["owner"] for e in result.events[1:]} == {"Joe", "Jane", "Jack"}
    assert all(e.args["amount"] == BOUNTY for e in result.events[1:])
    for o, b in before.items():
        assert chain.balance(o) == b + BOUNTY
    s = spec(market, sid)
    assert (s["round"], s["escrow"], s["model_blob"], s["finished"]) == (
        1, 1_000 - 3 * BOUNTY, h("model-1"), False)
    with refused("this round is not open"):
        market.transact("submit", sid, 0, h("late"), sender="Joe")


def test_close_refuses_when_the_escrow_cannot_pay(chain, market):
    sid = post(market, chain, rounds=1, min_owners=1, value=BOUNTY)
    accept_and_submit(market, sid, ["Joe", "Jane"])
    with refused("the escrow cannot pay every contributor"):
        market.transact("close_round", sid, h("next"), sender="AI Inc.")


def test_last_round_returns_the_rest_of_the_escrow(chain, market):
    sid = post(market, chain, rounds=1, min_owners=1, value=1_000)
    accept_and_submit(market, sid, ["Joe"])
    result = market.transact("close_round", sid, h("final"), sender="AI Inc.")
    assert [e.name for e in result.events] == ["RoundClosed", "BountyPaid", "EscrowReturned"]
    assert result.events[-1].args == {"spec_id": sid, "company": "AI Inc.", "amount": 900}
    s = spec(market, sid)
    assert (s["finished"], s["escrow"]) == (True, 0)
    assert chain.balance("ModelMarket") == 0
    with refused("this spec is finished"):
        market.transact("submit", sid, 1, h("more"), sender="Joe")
    with refused("this spec is finished"):
        market.transact("accept", sid, h("m"), sender="Jane")


def test_reclaim_after_the_deadline(chain, market):
    sid = post(market, chain, rounds=2, min_owners=2, value=1_000, days=1)
    with refused("only the spec's company can reclaim its escrow"):
        market.transact("reclaim_escrow", sid, sender="Joe")
    with refused("the deadline has not passed yet"):
        market.transact("reclaim_escrow", sid, sender="AI Inc.")
    with refused("there is no spec with this id"):
        market.transact("reclaim_escrow", 9, sender="AI Inc.")
    chain.advance_time(2 * DAY)
    result = market.transact("reclaim_escrow", sid, sender="AI Inc.")
    assert [(e.name, e.args["amount"]) for e in result.events] == [("EscrowReturned", 1_000)]
    with refused("this spec is finished"):
        market.transact("reclaim_escrow", sid, sender="AI Inc.")
    with refused("this spec is finished"):
        market.transact("close_round", sid, h("x"), sender="AI Inc.")


def test_every_event_and_reason_is_covered():
    """Guard: each event and each revert reason of the contract appears in these tests."""
    import re
    from pathlib import Path

    from omteach.chain import compile_contract, contract_source

    text = Path(__file__).read_text()
    events = {e["name"] for e in compile_contract("ModelMarket").abi if e["type"] == "event"}
    assert {e for e in events if f'"{e}"' not in text} == set()
    reasons = set(re.findall(r'"([a-z][^"]+)"', contract_source("ModelMarket")))
    reasons = {r for r in reasons if " " in r}
    missing = {r for r in reasons if r[:40] not in text}
    assert missing == set()
