"""Blobs through the node (BlobBoard, ChainBlobStore): ids computed on chain, reads checked."""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omteach.chain import Chain, contract_source
from omteach.errors import BlobError, BlobIntegrityError, ContractRevertError
from omteach.protocol import blobs as blobs_module
from omteach.protocol.chainblobs import MAX_BLOB, ChainBlobStore, deploy_board

# A board that lies: same event as the course's BlobBoard, but the id is whatever it is told.
FORGED_BOARD = """
# pragma version ~=0.4.3
event BlobPosted:
    blob_id: indexed(bytes32)
    poster: indexed(address)
    data: Bytes[65536]

posted_in: public(HashMap[bytes32, uint256])

@external
def publish(data: Bytes[65536]) -> bytes32:
    fake: bytes32 = keccak256(data)
    self.posted_in[fake] = block.number
    log BlobPosted(blob_id=fake, poster=msg.sender, data=data)
    return fake

@external
def forge(blob_id: bytes32, data: Bytes[65536]):
    self.posted_in[blob_id] = block.number
    log BlobPosted(blob_id=blob_id, poster=msg.sender, data=data)
"""


@pytest.fixture
def store(chain):
    return ChainBlobStore(chain, deploy_board(chain, sender="AI Inc."), sender="Joe")


def test_max_blob_matches_the_contract():
    assert f"MAX_BLOB: constant(uint256) = {MAX_BLOB}" in contract_source("BlobBoard")


def test_bytes_json_and_arrays_round_trip_through_the_node(store):
    data = os.urandom(3000)
    bid = store.put(data)
    assert bid == hashlib.sha256(data).hexdigest() and bid in store
    store.forget()  # read from the node, not from the writer's memory
    assert store.get(bid) == data and store.size(bid) == 3000
    doc = {"kind": "omteach.Test", "values": [1, 2.5, "x"]}
    assert store.get_json(store.put_json(doc)) == doc
    weights = np.linspace(-1, 1, 2410)  # chapter 4's model: 2,410 weights
    aid = store.put_arrays({"weights": weights})
    store.forget()
    np.testing.assert_array_equal(store.get_arrays(aid)["weights"], weights)
    assert store.posted_by("Joe") == [bid, store.put_json(doc), aid]


def test_the_id_on_chain_is_computed_by_the_contract(store):
    data = b"the bytes decide the id"
    result = store.board.transact("publish", data, sender="Jane")
    (event,) = result.events
    assert event.args["blob_id"] == "0x" + hashlib.sha256(data).hexdigest()
    assert event.args["poster"] == "Jane"
    assert store.board.call("posted_in", hashlib.sha256(data).digest()) == result.block


def test_publishing_the_same_bytes_twice_logs_once(store):
    bid = store.put(b"once")
    gas = store.gas_used
    assert store.put(b"once") == bid and store.gas_used == gas  # not sent again
    again = store.board.transact("publish", b"once", sender="Jane")  # sent anyway: no event
    assert len(again.events) == 0 and store.board.call("count") == 1
    assert store.posted_by("Jane") == []


def test_empty_and_oversized_blobs_are_refused(store):
    with pytest.raises(BlobError, match="empty blob"):
        store.put(b"")
    with pytest.raises(BlobError, match="does not fit on the board"):
        store.put(b"x" * (MAX_BLOB + 1))
    with pytest.raises(BlobError, match="a blob is bytes"):
        store.put("text")  # type: ignore[arg-type]
    with pytest.raises(ContractRevertError, match="an empty blob carries nothing"):
        store.board.transact("publish", b"", sender="Jack")


def test_the_largest_blob_fits(store):
    data = os.urandom(MAX_BLOB)
    bid = store.put(data)
    store.forget()
    assert store.get(bid) == data


def test_unknown_and_malformed_ids(store):
    unknown = "ab" * 32
    assert unknown not in store
    with pytest.raises(BlobError, match="no blob abababababab… on the board"):
        store.get(unknown)
    for bad in ["ab" * 31, "AB" * 32, "0x" + "ab" * 32, 7, None, "zz" * 32]:
        assert bad not in store
        with pytest.raises(BlobError, match="is not a blob id"):
            store.get(bad)


def test_a_node_that_does_not_serve_the_blobs_block_yet_says_read_again(store, monkeypatch):
    """Seen on anvil under load: a view names the block a blob was posted in before the node's
    log index serves that block. The reader gets the project's BlobError saying to read again,
    not web3's error; the next read, once the node serves it, has the bytes."""
    from web3.exceptions import Web3RPCError

    bid = store.put(b"an update")
    store.forget()

    def not_yet(_params):
        raise Web3RPCError("BlockOutOfRangeError: block height is 1228 but requested was 1229")
    monkeypatch.setattr(store.chain.w3.eth, "get_logs", not_yet)
    with pytest.raises(BlobError, match="did not return its bytes .*read it again"):
        store.get(bid)
    monkeypatch.undo()
    assert store.get(bid) == b"an update"


def test_a_reader_without_a_sender_reads_but_cannot_publish(store):
    bid = store.put(b"shared")
    reader = ChainBlobStore(store.chain, store.board)
    assert reader.get(bid) == b"shared"
    with pytest.raises(BlobError, match="only reads"):
        reader.put(b"mine")


def test_a_tampered_local_copy_is_refused_and_the_node_still_has_the_truth(store):
    bid = store.put(b"true bytes")
    store.tamper(bid, b"false bytes")
    with pytest.raises(BlobIntegrityError, match="was altered"):
        store.get(bid)
    store.forget()
    assert store.get(bid) == b"true bytes"


def test_a_forged_event_under_a_wrong_id_is_refused(chain):
    fake = chain.deploy("BlobBoard", source=FORGED_BOARD, label="ForgedBoard")
    store = ChainBlobStore(chain, fake, sender="Jack")
    wanted = hashlib.sha256(b"the real model").hexdigest()
    fake.transact("forge", bytes.fromhex(wanted), b"a poisoned model", sender="Jack")
    assert wanted in store  # the forged board claims to have it ...
    with pytest.raises(BlobIntegrityError, match="none whose bytes hash to that id"):
        store.get(wanted)  # ... but its bytes do not hash to the id
    with pytest.raises(BlobIntegrityError, match="not the course's BlobBoard"):
        store.put(b"anything")  # the board logged keccak, not sha256


def test_truncated_and_pickled_array_blobs_are_refused(store):
    buf = io.BytesIO()
    np.savez(buf, weights=np.arange(100.0))
    whole = buf.getvalue()
    with pytest.raises(BlobError, match="not a safe array blob"):
        store.get_arrays(store.put(whole[: len(whole) // 2]))
    pickled = io.BytesIO()
    np.savez(pickled, weights=np.array([object()], dtype=object))
    with pytest.raises(BlobError, match="not a safe array blob"):
        store.get_arrays(store.put(pickled.getvalue()))


def test_truncated_json_is_refused(store):
    text = json.dumps({"kind": "omteach.Model", "weights_blob": "ab" * 32}).encode()
    with pytest.raises(BlobError, match="is not JSON"):
        store.get_json(store.put(text[:-5]))
    with pytest.raises(BlobError, match="is not JSON"):
        store.get_json(store.put(b"\xff\xfe not utf-8"))


@pytest.mark.xfail(not hasattr(blobs_module, "parse_json"), strict=True,
                   reason="BlobStore.get_json has no nesting limit (py_ecc raises the recursion "
                          "limit to 100,000, so a 30,000-deep list parses) until the hardened "
                          "omteach/protocol/blobs.py (parse_json) is merged")
def test_deeply_nested_json_is_refused(store):
    depth = 30_000
    bid = store.put(b"[" * depth + b"]" * depth)
    with pytest.raises(BlobError):
        store.get_json(bid)


def test_prefetch_reads_many_blobs_in_one_request_and_checks_each(chain, store):
    ids = [store.put(os.urandom(500)) for _ in range(5)]
    reader = ChainBlobStore(chain, store.board)
    calls = []
    original = chain.w3.eth.get_logs
    chain.w3.eth.get_logs = lambda q: calls.append(q) or original(q)
    try:
        assert reader.prefetch(ids + ["cd" * 32]) == 5  # an unknown id is simply not fetched
        assert len(calls) == 1
        assert [reader.get(b) for b in ids] == [store.get(b) for b in ids]
        assert len(calls) == 1  # every get was served from the prefetched, re-checked copies
    finally:
        chain.w3.eth.get_logs = original
    with pytest.raises(BlobError, match="no blob cdcdcdcdcdcd"):
        reader.get("cd" * 32)
    with pytest.raises(BlobError, match="is not a blob id"):
        reader.prefetch(["nope"])


def test_prefetch_refuses_forged_events(chain):
    fake = chain.deploy("BlobBoard", source=FORGED_BOARD, label="ForgedBoard")
    wanted = hashlib.sha256(b"the real update").hexdigest()
    fake.transact("forge", bytes.fromhex(wanted), b"a forged update", sender="Jack")
    reader = ChainBlobStore(chain, fake)
    assert reader.prefetch([wanted]) == 0
    with pytest.raises(BlobIntegrityError):
        reader.get(wanted)


def test_gas_per_byte_is_calldata_and_log(store):
    """About 40 gas a byte (the calldata floor): the bytes are never written to storage."""
    for size in (13_000, 20_000):  # a packed update and a model of chapter 4
        before = store.gas_used
        store.put(os.urandom(size))
        per_byte = (store.gas_used - before) / size
        assert 35 < per_byte < 45, per_byte


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=1, max_size=2000))
def test_any_bytes_come_back_as_they_went(data):
    store = _shared_store()
    bid = store.put(data)
    store.forget()
    assert store.get(bid) == data and bid == hashlib.sha256(data).hexdigest()


_STORE: list[ChainBlobStore] = []


def _shared_store() -> ChainBlobStore:
    # One eth-tester chain for all hypothesis examples (a fixture is not reset between them).
    if not _STORE:
        chain = Chain()
        _STORE.append(ChainBlobStore(chain, deploy_board(chain, sender="AI Inc."),
                                     sender="Joe"))
    return _STORE[0]


@pytest.mark.slow
def test_chapter_fours_round_runs_over_the_node_unchanged(anvil_node, keys):
    """TrainingRun's parties, with every blob (model, key, encrypted updates) on the board."""
    from omteach.protocol import TrainingRun

    chain = Chain(anvil_node.url)
    board = deploy_board(chain, sender="AI Inc.")
    store = ChainBlobStore(chain, board, sender="AI Inc.")
    with TrainingRun(chain=chain, keys=keys, rounds=1, workers=1, blobs=store) as run:
        report = run.run_round()
    assert run.market.blobs is store
    assert report.closed and report.accuracy > run.initial_accuracy
    # model + weights + key + 3 mask keys + 3 updates + the next model and its weights
    assert board.call("count") >= 9
    assert all(0 < size <= MAX_BLOB for size in report.blob_bytes.values())
