"""The blob store: ids are SHA-256, every read is verified, nothing pickled is ever loaded.

Every id and every blob may come from a hostile participant: ids that are not 64 lowercase hex
digits never reach the disk, writes are atomic, and parsing is bounded (size, JSON depth, npz
members), so any hostile blob is a BlobError.
"""

import builtins
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import zipfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from omteach.errors import BlobError, BlobIntegrityError
from omteach.protocol.blobs import (
    DEFAULT_MAX_ARRAYS,
    BlobStore,
    blob_id,
    is_blob_id,
    json_depth,
    parse_arrays,
    parse_json,
)

ROOT = Path(__file__).resolve().parent.parent
HEX = "0123456789abcdef"


@pytest.fixture(params=["memory", "directory"])
def store(request, tmp_path):
    return BlobStore() if request.param == "memory" else BlobStore(tmp_path / "blobs")


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# -- ids ------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=2000))
def test_round_trip_and_id_is_sha256(data):
    s = BlobStore()
    bid = s.put(data)
    assert bid == hashlib.sha256(data).hexdigest() == blob_id(data)
    assert is_blob_id(bid)
    assert s.get(bid) == data


def test_tampered_blob_is_refused_by_its_id(store):
    bid = store.put(b"model weights v1")
    store.tamper(bid, b"model weights v1 with a backdoor")
    with pytest.raises(BlobIntegrityError, match="altered"):
        store.get(bid)
    with pytest.raises(BlobIntegrityError):
        store.size(bid)
    assert store.put(b"model weights v1") == bid, "putting the content again repairs the copy"
    assert store.get(bid) == b"model weights v1"


def test_unknown_and_malformed_ids(store):
    with pytest.raises(BlobError, match="no blob"):
        store.get("0" * 64)
    with pytest.raises(BlobError, match="not a blob id"):
        store.get("abc")
    with pytest.raises(BlobError, match="not a blob id"):
        store.get("A" * 64)
    with pytest.raises(BlobError, match="bytes"):
        store.put("text, not bytes")
    with pytest.raises(BlobError, match="no blob"):
        store.tamper("0" * 64, b"x")


def _padded(path: str) -> str:
    """A 64-character id-shaped path to ``path``: it passed the old length-only check."""
    head, _, tail = path.rpartition("/")
    pad = 64 - len(path)
    assert pad >= 0 and pad % 2 == 0, path
    return f"{head}/{'./' * (pad // 2)}{tail}"


def test_path_ids_cannot_reach_files_outside_the_store(tmp_path):
    secret = tmp_path / "s"
    secret.write_bytes(b"Joe's private key")
    store = BlobStore(tmp_path / "blobs")
    hostile = [_padded("../s")]
    with tempfile.TemporaryDirectory(dir="/tmp" if os.path.isdir("/tmp") else None) as short:
        elsewhere = Path(short) / "s"
        if len(str(elsewhere)) <= 62:  # an absolute id needs a short path to fit in 64 characters
            os.symlink(secret, elsewhere)
            absolute = str(elsewhere)
            hostile.append(_padded(absolute if len(absolute) % 2 == 0 else "/." + absolute))
        _assert_refused(store, hostile, secret)
    assert secret.read_bytes() == b"Joe's private key"


def _assert_refused(store: BlobStore, hostile: list[str], secret: Path) -> None:
    for bid in hostile:
        assert len(bid) == 64 and (store._root / bid).resolve() == secret.resolve(), bid
        assert bid not in store, "`in` must not reveal files outside the store"
        for call in (store.get, store.size, lambda b: store.tamper(b, b"pwned")):
            with pytest.raises(BlobError, match="not a blob id"):
                call(bid)
        with pytest.raises(BlobError, match="not a blob id"):
            store.get_json(bid)


# Everything a store could touch the disk with: any call during an id check fails the test.
_DISK = ["os.stat", "os.lstat", "os.open", "os.replace", "os.rename", "os.listdir", "os.scandir",
         "os.path.exists", "os.path.isfile", "io.open"]


def _no_disk():
    stack = ExitStack()
    for target in _DISK:
        stack.enter_context(mock.patch(target, side_effect=AssertionError(f"{target} called")))
    stack.enter_context(mock.patch.object(builtins, "open",
                                          side_effect=AssertionError("open called")))
    return stack


_not_ids = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=HEX + "ABCDEF./\\\n\x00 ", min_size=60, max_size=68),
    st.text(alphabet=HEX, min_size=64, max_size=64).flatmap(
        lambda h: st.sampled_from([h.upper(), h + "\n", " " + h, h[:-1], h + "0", "../" + h[3:]])
    ),
).filter(lambda s: not (len(s) == 64 and set(s) <= set(HEX)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bid=st.one_of(_not_ids, st.binary(max_size=70), st.integers(), st.none()))
def test_anything_but_64_lowercase_hex_is_refused_without_touching_the_disk(bid):
    with tempfile.TemporaryDirectory() as tmp:
        store = BlobStore(Path(tmp) / "blobs")
        with _no_disk():
            assert bid not in store
            for call in (store.get, store.size, store.get_json, store.get_arrays,
                         lambda b: store.tamper(b, b"x")):
                with pytest.raises(BlobError, match="not a blob id"):
                    call(bid)


def test_the_disk_spy_sees_a_real_read(tmp_path):
    """The spy above must be able to fail: a well-formed id does reach the disk through it."""
    store = BlobStore(tmp_path)
    with _no_disk(), pytest.raises(AssertionError, match="called"):
        store.get("0" * 64)


# -- atomic writes --------------------------------------------------------------------------------


def test_put_of_present_content_does_not_rewrite_it(tmp_path):
    store = BlobStore(tmp_path)
    bid = store.put(b"update from Jane")
    before = os.stat(tmp_path / bid)
    assert store.put(b"update from Jane") == bid
    after = os.stat(tmp_path / bid)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(os.listdir(tmp_path)) == [bid], "no temporary file is left behind"


def _hammer(root: str, payload: bytes, rounds: int) -> int:
    """Put and read the same blob over and over; return how many false tamper alarms were seen."""
    store = BlobStore(root)
    alarms = 0
    for _ in range(rounds):
        bid = store.put(payload)
        try:
            assert store.get(bid) == payload
        except BlobIntegrityError:
            alarms += 1
    return alarms


def test_concurrent_puts_and_reads_see_no_false_tamper_alarms(tmp_path):
    payload = os.urandom(1 << 20)
    BlobStore(tmp_path).put(payload)
    alarms: list[int] = []
    threads = [threading.Thread(target=lambda: alarms.append(_hammer(str(tmp_path), payload, 40)))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert alarms == [0] * 6


def test_concurrent_processes_see_no_false_tamper_alarms(tmp_path):
    """Separate processes on one directory, each putting then reading the same blob."""
    payload = os.urandom(1 << 20)
    code = (
        "import sys; from tests.test_blobs import _hammer; "
        "print(_hammer(sys.argv[1], bytes.fromhex(open(sys.argv[2]).read()), 60))"
    )
    hexfile = tmp_path / "payload.hex"
    hexfile.write_text(payload.hex())
    store_dir = tmp_path / "blobs"
    BlobStore(store_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store_dir), str(hexfile)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    assert [out.strip() for out, _ in results] == ["0", "0", "0"], results


def test_size_limit_on_put_and_on_read(tmp_path):
    store = BlobStore(tmp_path, max_bytes=1000)
    with pytest.raises(BlobError, match="larger than 1000 bytes"):
        store.put(b"x" * 1001)
    bid = store.put(b"x" * 1000)
    (tmp_path / bid).write_bytes(b"x" * 5000)  # grown behind the store's back
    with pytest.raises(BlobError, match="larger than 1000 bytes"):
        store.get(bid)
    assert store.put(b"x" * 1000) == bid and store.get(bid) == b"x" * 1000, "put repairs it"


# -- typed blobs: round trips ---------------------------------------------------------------------


def test_arrays_round_trip_exactly(store):
    torch = pytest.importorskip("torch")
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": torch.ones(4)}
    got = store.get_arrays(store.put_arrays(arrays))
    assert set(got) == {"w", "b"}
    np.testing.assert_array_equal(got["w"], arrays["w"])
    np.testing.assert_array_equal(got["b"], np.ones(4, dtype=np.float32))


_dtypes = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(endianness="="),
                    hnp.unsigned_integer_dtypes(endianness="="),
                    hnp.floating_dtypes(endianness="=", sizes=(16, 32, 64)),
                    hnp.integer_dtypes(endianness=">"), hnp.floating_dtypes(endianness="<"))
_arrays = _dtypes.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3,
                                                                    min_side=0, max_side=5)))


@settings(max_examples=60, deadline=None)
@given(arrays=st.dictionaries(st.text(alphabet="abcxyz_0", min_size=1, max_size=6), _arrays,
                              max_size=4),
       fortran=st.booleans())
def test_any_numeric_arrays_round_trip(arrays, fortran):
    if fortran:
        arrays = {k: np.asfortranarray(a) for k, a in arrays.items()}
    got = parse_arrays(_npz(**arrays), what="test blob")
    assert set(got) == set(arrays)
    for name, a in arrays.items():
        assert got[name].dtype == a.dtype and got[name].shape == a.shape
        np.testing.assert_array_equal(got[name], a)
        assert got[name].flags.writeable, "callers may update arrays in place"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(obj=_json)
def test_any_json_round_trips(obj):
    store = BlobStore()
    assert store.get_json(store.put_json(obj)) == obj


def test_json_blobs(store):
    bid = store.put_json({"b": [1, 2], "a": "x"})
    assert store.get_json(bid) == {"a": "x", "b": [1, 2]}
    assert bid == store.put_json({"a": "x", "b": [1, 2]}), "canonical encoding: same id"
    with pytest.raises(BlobError, match="not JSON"):
        store.get_json(store.put(b"\xff\x00"))
    with pytest.raises(BlobError, match="cannot store"):
        store.put_json({"mean": float("nan")})


# -- hostile JSON ---------------------------------------------------------------------------------


def test_json_that_misleads_is_refused():
    with pytest.raises(BlobError, match="twice"):
        parse_json(b'{"contributions": 3, "contributions": 0}', what="submission")
    for constant in (b"NaN", b"[Infinity]", b'{"x": -Infinity}'):
        with pytest.raises(BlobError, match="not a JSON number"):
            parse_json(constant, what="submission")
    with pytest.raises(BlobError, match="not JSON"):
        parse_json(b"1" * 5000, what="submission")  # over Python's int-string limit


@pytest.mark.parametrize("text, depth", [
    ("[]", 1), ("{}", 1), ('[[1],{"a":[2]}]', 3), ('"[[["', 0), ('["\\"[", [3]]', 2),
    ('["\\\\", [[]]]', 3), ('["\\\\\\"[", 1]', 1), ("[[[\\", 3), ('"\\', 0), ("]]][[", 0),
])
def test_json_depth_counts_brackets_outside_strings(text, depth):
    assert json_depth(text) == json_depth(text.encode()) == depth


@settings(max_examples=100, deadline=None)
@given(obj=_json)
def test_json_depth_matches_the_structure(obj):
    def depth(o):
        if isinstance(o, list):
            return 1 + max(map(depth, o), default=0)
        if isinstance(o, dict):
            return 1 + max(map(depth, o.values()), default=0)
        return 0

    assert json_depth(json.dumps(obj)) == depth(obj)


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(65, 200_000), opener=st.sampled_from(["[", '{"a":', '["]",']),
       closed=st.booleans())
def test_deep_json_is_a_blob_error_not_a_crash(depth, opener, closed):
    closer = {"[": "]", '{"a":': "}", '["]",': "]"}[opener]
    text = opener * depth + "1" + (closer * depth if closed else "")
    with pytest.raises(BlobError, match="levels deep"):
        parse_json(text.encode(), what="model spec")


def test_deep_json_with_web3_imported_does_not_crash_the_reader():
    """py_ecc (under web3) raises the recursion limit, so a deep blob used to segfault the reader.

    Run in a fresh interpreter: if the guard failed, the crash must fail this test, not pytest.
    """
    pytest.importorskip("web3")
    code = (
        "import sys, web3\n"
        "from omteach.errors import BlobError\n"
        "from omteach.protocol.blobs import parse_json\n"
        "assert sys.getrecursionlimit() > 10_000, sys.getrecursionlimit()\n"
        "blob = b'[' * 100_000 + b']' * 100_000\n"
        "try:\n"
        "    parse_json(blob, what='blob')\n"
        "except BlobError as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused: blob nests 100000 levels deep" in out.stdout


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(alphabet='[]{}",:\\1a tn', max_size=300).map(str.encode)))
def test_any_bytes_parse_as_json_or_give_a_blob_error(data):
    try:
        parse_json(data, what="blob")
    except BlobError:
        pass


# -- hostile arrays -------------------------------------------------------------------------------


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
    with pytest.raises(BlobError, match="not an .npz"):
        store.get_arrays(raw_pickle)


def _npy(header_shape, dtype="<f8", payload=b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": header_shape})
    return buf.getvalue() + payload


@pytest.mark.parametrize("blob, match", [
    (_zip({"readme.txt": b"not an array"}), "not an array"),
    (_zip({"w.npy": b"not an npy file"}), "not a safe array blob"),
    (_zip({f"a{i}.npy": _npy((0,)) for i in range(DEFAULT_MAX_ARRAYS + 1)}), "more than 64"),
    (_zip({"w.npy": _npy((10**12,), payload=b"\0" * 8)}), "claims shape"),
    (_zip({"w.npy": _npy((2,), payload=b"\0" * 24)}), "carries 24 bytes"),
    (_zip({"w.npy": _npy((1,), dtype="|O", payload=b"\0" * 8)}), "pickled"),
    (_zip({"w.npy": _npy((1,), dtype=[("a", "<f8")], payload=b"\0" * 8)}), "only plain"),
    (_zip({"w.npy": _npy((1,), dtype="<U1", payload=b"\0" * 4)}), "only plain"),
    (_zip({"w.npy": _npy((20 * 2**20,), dtype="|u1", payload=b"\0" * (20 * 2**20))},
          zipfile.ZIP_DEFLATED), "unpack to"),
    (_zip({"w.npy": _npy((1,), payload=b"\0" * 8)}, zipfile.ZIP_BZIP2), "compression method"),
    (b"just some text", "not an .npz"),
    (_npy((1,), payload=b"\0" * 8), "not an .npz"),
    (pickle.dumps(np.zeros(3)), "not an .npz"),
])
def test_hostile_array_blobs_are_blob_errors(store, blob, match):
    bid = store.put(blob)
    with pytest.raises(BlobError, match=match):
        store.get_arrays(bid)


def test_duplicate_and_encrypted_members_are_refused():
    member = _npy((1,), payload=b"\0" * 8)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("w.npy", member)
        zf.writestr("w.npy", member)
    with pytest.raises(BlobError, match="same name"):
        parse_arrays(buf.getvalue(), what="blob")
    encrypted = bytearray(_zip({"w.npy": member}))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag in both headers
        at = encrypted.index(sig) + (6 if sig == b"PK\x03\x04" else 8)
        encrypted[at] |= 1
    with pytest.raises(BlobError, match="encrypted"):
        parse_arrays(bytes(encrypted), what="blob")


def test_empty_npz_is_an_empty_dict():
    assert parse_arrays(_npz(), what="blob") == {}


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                      max_size=4),
       cut=st.none() | st.integers(0, 10_000),
       compressed=st.booleans())
def test_corrupted_npz_is_arrays_or_a_blob_error(edits, cut, compressed):
    good = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(good, w=np.arange(6.0).reshape(2, 3),
                                                       b=np.ones(3, dtype=np.int32))
    blob = bytearray(good.getvalue())
    for at, value in edits:
        blob[at % len(blob)] = value
    if cut is not None:
        blob = blob[: cut % (len(blob) + 1)]
    try:
        got = parse_arrays(bytes(blob), what="blob")
    except BlobError:
        return
    assert all(isinstance(a, np.ndarray) and a.dtype.kind in "biuf" for a in got.values())


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b))
def test_any_bytes_parse_as_arrays_or_give_a_blob_error(data):
    try:
        parse_arrays(data, what="blob")
    except BlobError:
        pass


def test_a_store_root_that_is_a_file_is_refused_with_the_project_error(tmp_path):
    root = tmp_path / "blobs"
    root.write_text("not a folder")
    with pytest.raises(BlobError, match="is a file, not a folder"):
        BlobStore(root)
    with pytest.raises(BlobError, match="cannot make"):
        BlobStore(root / "inside")  # its parent is that file
    folder = tmp_path / "new" / "folder"
    assert BlobStore(folder).put(b"x") in BlobStore(folder)  # a missing folder is made
