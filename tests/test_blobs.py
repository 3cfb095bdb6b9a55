"""The blob store: ids are SHA-256, every read is verified, nothing pickled is ever loaded."""

import io
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omteach.errors import BlobError, BlobIntegrityError
from omteach.protocol.blobs import BlobStore, blob_id


@pytest.fixture(params=["memory", "directory"])
def store(request, tmp_path):
    return BlobStore() if request.param == "memory" else BlobStore(tmp_path / "blobs")


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=2000))
def test_round_trip_and_id_is_sha256(data):
    import hashlib

    s = BlobStore()
    bid = s.put(data)
    assert bid == hashlib.sha256(data).hexdigest() == blob_id(data)
    assert s.get(bid) == data


def test_tampered_blob_is_refused_by_its_id(store):
    bid = store.put(b"model weights v1")
    store.tamper(bid, b"model weights v1 with a backdoor")
    with pytest.raises(BlobIntegrityError, match="altered"):
        store.get(bid)


def test_unknown_and_malformed_ids(store):
    with pytest.raises(BlobError, match="no blob"):
        store.get("0" * 64)
    with pytest.raises(BlobError, match="not a blob id"):
        store.get("abc")
    with pytest.raises(BlobError, match="bytes"):
        store.put("text, not bytes")


def test_arrays_round_trip_exactly(store):
    torch = pytest.importorskip("torch")
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": torch.ones(4)}
    got = store.get_arrays(store.put_arrays(arrays))
    assert set(got) == {"w", "b"}
    np.testing.assert_array_equal(got["w"], arrays["w"])
    np.testing.assert_array_equal(got["b"], np.ones(4, dtype=np.float32))


def test_pickled_objects_are_never_loaded(store):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))

    buf = io.BytesIO()
    np.savez(buf, w=np.array([Evil()], dtype=object))
    bid = store.put(buf.getvalue())
    with pytest.raises(BlobError, match="pickled"):
        store.get_arrays(bid)
    with pytest.raises(BlobError, match="dtype object"):
        store.put_arrays({"w": np.array([Evil()], dtype=object)})
    raw_pickle = store.put(pickle.dumps({"w": 1}))
    with pytest.raises(BlobError):
        store.get_arrays(raw_pickle)


def test_json_blobs(store):
    bid = store.put_json({"b": [1, 2], "a": "x"})
    assert store.get_json(bid) == {"a": "x", "b": [1, 2]}
    assert bid == store.put_json({"a": "x", "b": [1, 2]}), "canonical encoding: same id"
    with pytest.raises(BlobError, match="not JSON"):
        store.get_json(store.put(b"\xff\x00"))
