"""The Market client: a verb for every contract function, clear errors before the chain."""

from __future__ import annotations

import pytest

from omteach.crypto.doublemask import PublicKeys
from omteach.errors import (
    BlobIntegrityError,
    ChainError,
    ContractRevertError,
    InvalidValueError,
)
from omteach.protocol import Market
from omteach.protocol.blobs import blob_id
from omteach.protocol.market import MAX_REVEAL, to_bytes32


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def market(request):
    """A market on eth-tester (web3's pipeline) or on the session's anvil node (the chain's own
    reads past web3, omteach.chain.transport): the views must read alike on both."""
    if request.param == "anvil":
        from omteach.chain import Chain

        return Market.create(Chain(request.getfixturevalue("anvil_node").url))
    return Market.create()


def blob(market: Market, text: str) -> str:
    return market.blobs.put_json({"kind": "test", "text": text})


def keys(who: str) -> PublicKeys:
    return PublicKeys(*(f"{who}-{part}".encode().ljust(32, b".") for part in "cmb"))


def test_revealed_shares_are_read_back_only_when_they_hash_to_their_id_on_chain(market):
    """A node that hands out other bytes than the reveal's (under the id the contract computed
    from the real ones) is refused; a survivor the node returns nothing for is left out."""
    sid = market.post(model_blob=blob(market, "m"), key_blob=blob(market, "k"), summary="s",
                      batch_size=1, rounds=1, min_owners=2, places=2, bounty=0)
    for who in ("Joe", "Jane"):
        market.accept(sid, sender=who)
    market.open_round(sid, ["Joe", "Jane"], 1, 2)
    for who in ("Joe", "Jane"):
        market.advertise_keys(sid, 0, keys(who), sender=who)
    for who in ("Joe", "Jane"):
        market.post_shares(sid, 0, blob(market, f"shares-{who}"), sender=who)
    for who in ("Joe", "Jane"):
        market.submit(sid, 0, blob(market, f"update-{who}"), sender=who)
    market.end_submissions(sid)
    market.reveal_shares(sid, 0, b"Joe's shares", sender="Joe")
    ids = market.reveals(sid, 0)
    joe = market.address("Joe")
    assert market.revealed(sid, 0, ids) == {joe: b"Joe's shares"}
    lying = {joe: blob_id(b"other bytes")}  # as if the node's bytes were not the id's
    with pytest.raises(BlobIntegrityError, match="do not hash to the ids on chain"):
        market.revealed(sid, 0, lying)
    assert market.revealed(sid, 0, {market.address("Jane"): blob_id(b"x")}) == {}


def test_every_contract_function_has_a_verb(market):
    transactions = {f for f in market.contract.functions if not market.contract.is_view(f)}
    verbs = {"post_spec": "post"}
    assert {f for f in transactions if not hasattr(market, verbs.get(f, f))} == set()


def test_a_round_through_the_verbs(market):
    sid = market.post(model_blob=blob(market, "model"), key_blob=blob(market, "key"),
                      summary="é" * 150, batch_size=32, rounds=1, min_owners=2, places=2,
                      bounty=100, share_seconds=60, submit_seconds=90, reveal_seconds=30)
    spec = market.spec(sid)
    assert len(spec.summary.encode()) == 200 and spec.places == 2 and spec.escrow == 200
    assert (spec.share_seconds, spec.submit_seconds, spec.reveal_seconds) == (60, 90, 30)
    for who in ("Joe", "Jane"):
        market.accept(sid, sender=who)
    with pytest.raises(ContractRevertError, match="every place the escrow pays for is taken"):
        market.accept(sid, sender="Jack")
    market.add_places(sid, 1)
    market.accept(sid, sender="Jack")
    market.open_round(sid, ["Joe", "Jane", "Jack"], 2, 2)
    assert [market.name(a) for a in market.participants(sid, 0)] == ["Joe", "Jane", "Jack"]
    info = market.round_info(sid, 0)
    assert (info.k, info.threshold, info.advertised, info.submit_deadline) == (2, 2, 0, 0)
    assert info.share_deadline == market.chain.now() + 60 and info.seed != bytes(32)
    assert market.round_keys(sid, 0) == {}
    for who in ("Joe", "Jane", "Jack"):
        market.advertise_keys(sid, 0, keys(who), sender=who)
    assert {market.name(a): k for a, k in market.round_keys(sid, 0).items()} == {
        who: keys(who) for who in ("Joe", "Jane", "Jack")}
    for who in ("Joe", "Jane", "Jack"):
        market.post_shares(sid, 0, blob(market, f"shares-{who}"), sender=who)
    assert market.round_info(sid, 0).submit_deadline == market.chain.now() + 90
    for who in ("Joe", "Jane"):
        market.submit(sid, 0, blob(market, f"update-{who}"), sender=who)
    assert list(map(market.name, market.submitters(sid, 0))) == ["Joe", "Jane"]
    with pytest.raises(ContractRevertError, match="the submit deadline has not passed"):
        market.end_submissions(sid)
    market.chain.advance_time(91)
    with pytest.raises(ContractRevertError, match="the submit deadline has passed"):
        market.submit(sid, 0, blob(market, "update-Jack"), sender="Jack")
    market.end_submissions(sid)
    for bad, why in ((b"", "an empty reveal"), ("ff", "revealed shares are bytes"),
                     (b"x" * (MAX_REVEAL + 1), "do not fit in one reveal")):
        with pytest.raises(InvalidValueError, match=why):  # before any gas is spent
            market.reveal_shares(sid, 0, bad, sender="Joe")
    for who in ("Joe", "Jane"):
        tx = market.reveal_shares(sid, 0, f"reveal-{who}".encode() * 100, sender=who)
    assert "(1,100 bytes)" in repr(tx) and "72657665616c2d4a616e65" * 3 not in repr(tx)
    assert {market.name(a): b for a, b in market.reveals(sid, 0).items()} == {
        who: blob_id(f"reveal-{who}".encode() * 100) for who in ("Joe", "Jane")}
    assert {market.name(a): b for a, b in market.revealed(sid, 0).items()} == {
        who: f"reveal-{who}".encode() * 100 for who in ("Joe", "Jane")}
    assert set(map(market.name, market.submissions(sid, 0))) == {"Joe", "Jane"}
    assert market.shares_blob(sid, 0, "Jack") == blob(market, "shares-Jack")
    market.close_round(sid, blob(market, "model-1"))
    assert market.balance("Joe") == 100 and market.balance("AI Inc.") == 100
    market.withdraw(sender="Joe")
    market.withdraw_to("Joe", sender="Jane")
    assert market.balance("Joe") == market.balance("Jane") == 0
    with pytest.raises(ContractRevertError, match="the deadline has not passed yet"):
        market.reclaim_escrow(market.post(
            model_blob=blob(market, "m"), key_blob=blob(market, "k"), summary="s",
            batch_size=1, rounds=1, min_owners=1, bounty=0))


def test_every_view_reads_as_web3_reads_it(market):
    """DeployedContract.call decodes views itself (web3's normalizers were most of a large
    view's cost): every view of the market, on the specs and rounds the tests above left,
    answers exactly as web3's own .call() does, containers and checksummed addresses included,
    and refuses alike."""
    contract = market.contract
    joe = market.chain.address("Joe")
    compared = 0
    for name, abi in contract.functions.items():
        if not contract.is_view(name):
            continue
        for value in (0, 1):
            args = [joe if i["type"] == "address" else
                    b"\0" * 32 if i["type"] == "bytes32" else value for i in abi["inputs"]]
            try:
                theirs = getattr(contract._contract.functions, name)(*args).call()
            except Exception as exc:  # refused: ours must refuse too, with the project's error
                with pytest.raises(ContractRevertError if "revert" in str(exc) else ChainError):
                    contract.call(name, *args)
                continue
            ours = contract.call(name, *args)
            assert ours == theirs and type(ours) is type(theirs), name
            compared += 1
    assert compared >= 20  # round_view, specs, owners, participants, round_info, ...


def test_bad_arguments_are_refused_before_the_chain(market):
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31, 7, None):
        with pytest.raises(InvalidValueError, match="is not a blob id"):
            to_bytes32(bad)
    with pytest.raises(InvalidValueError, match="at most 128 participants"):
        market.open_round(0, ["Joe"] * 129, 2, 2)
    with pytest.raises(InvalidValueError, match="noise must be a number"):
        market.post(model_blob=blob(market, "m"), key_blob=blob(market, "k"), summary="s",
                    batch_size=1, rounds=1, min_owners=1, bounty=0, noise=-1)
    with pytest.raises(InvalidValueError, match="there is no spec"):
        market.spec(99)


def test_a_spec_that_was_never_posted_is_refused_whatever_its_id(market):
    for bad in (-1, 10**6, 2**256, True, "0"):
        with pytest.raises(InvalidValueError, match="there is no spec"):
            market.spec(bad)


def test_phase_durations_outside_a_day_are_refused_by_the_contract(market):
    for bad in ({"share_seconds": 0}, {"submit_seconds": 86_401}):
        with pytest.raises(ContractRevertError, match="at least 1 second|at most a day"):
            market.post(model_blob=blob(market, "m"), key_blob=blob(market, "k"), summary="s",
                        batch_size=1, rounds=1, min_owners=1, bounty=0, **bad)
