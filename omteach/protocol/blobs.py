"""A content-addressed blob store: the role IPFS plays in real systems.

A blob's id is the SHA-256 of its bytes, so whoever holds an id can check that the bytes they got
are the bytes that were meant: :meth:`BlobStore.get` verifies every read. Only ids (32 bytes) go
on chain; models and ciphertexts stay here.

Every blob may come from a hostile participant, and so may every id. Hence:

- an id is exactly 64 lowercase hex digits, checked before the disk is touched, so an id such as
  ``../../etc/passwd`` can neither read, reveal nor overwrite a file outside the store;
- a write goes to a temporary file in the store's directory and is renamed into place
  (``os.replace`` is atomic), so a reader sees a whole blob or none, never half of one;
- parsing is bounded: a size limit on every read, a nesting limit checked *before* the JSON
  parser recurses, and an ``.npz`` reader that accepts only plain numeric arrays of the size their
  header states. Anything else is a :class:`~omteach.errors.BlobError`, never a crash.

Blobs are never pickles. Loading a pickle runs code chosen by whoever wrote it. Arrays are stored
as ``.npz`` and parsed here without numpy's pickle path; structured data as JSON.
:func:`parse_json` and :func:`parse_arrays` work on bytes from anywhere (this store, or calldata
read from a chain).

Why one module of some 370 lines: the store and the bounded parsers (``parse_json``,
``parse_arrays``) are the one place untrusted bytes become Python values; keeping them together
keeps every limit (size, depth, dtype, no pickles) in one file to audit.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from omteach.errors import BlobError, BlobIntegrityError
from omteach.text import canonical_json

#: Largest blob read or written by default (16 MiB): far above any model or update of the course.
DEFAULT_MAX_BYTES = 16 * 2**20
#: Deepest JSON nesting accepted; the project's own blobs nest three or four levels.
DEFAULT_MAX_DEPTH = 64
#: Most arrays accepted in one ``.npz`` blob.
DEFAULT_MAX_ARRAYS = 64

_ID = re.compile(r"[0-9a-f]{64}")
_DEPTH_CHUNK = 2**20
_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[list(b"[{")] = 1
_BRACKET_STEP[list(b"]}")] = -1
# Signature of a zip central-directory entry: zipfile parses one object per entry it finds, so
# counting the signature bounds its work before it starts.
_ZIP_ENTRY = b"PK\x01\x02"
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip
_NUMERIC_KINDS = "biuf"


def blob_id(data: bytes) -> str:
    """The id of some bytes: their SHA-256, in hex."""
    return hashlib.sha256(data).hexdigest()


def is_blob_id(bid: object) -> bool:
    """True when ``bid`` is a well-formed id: a string of exactly 64 lowercase hex digits."""
    return isinstance(bid, str) and _ID.fullmatch(bid) is not None


def check_blob_id(bid: object) -> str:
    """Return ``bid`` if it is a well-formed id, else raise :class:`BlobError` saying why."""
    if not is_blob_id(bid):
        shown = repr(bid) if len(repr(bid)) <= 80 else repr(bid)[:77] + "..."
        raise BlobError(
            f"{shown} is not a blob id: an id is the SHA-256 of a blob, exactly 64 lowercase hex "
            "digits (0-9, a-f). Use the id that put() returned or that the contract recorded."
        )
    return bid  # type: ignore[return-value]  # a str: is_blob_id checked it


def _check_size(n: int, *, what: str, max_bytes: int) -> None:
    if n > max_bytes:
        raise BlobError(
            f"{what} is larger than {max_bytes} bytes, the most a reader accepts; refusing it. "
            "If it is genuine, raise the limit (max_bytes=...)."
        )


def json_depth(text: str | bytes) -> int:
    """How deep brackets nest in JSON text, counted without recursion (strings ignored).

    Linear time and a few MiB of memory on any input. Up to the first syntax error the text is
    split into strings and the rest exactly as the parser splits it, and the parser stops at that
    error, so the depth found bounds the depth the parser would recurse to.
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    # Drop escape pairs (left to right, as the parser reads them): every quote left then opens or
    # closes a string. Outside a string a backslash is already a syntax error.
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    if b"[" not in raw and b"{" not in raw:
        return 0
    codes = np.frombuffer(raw, dtype=np.uint8)
    deepest = level = 0
    in_string = 0
    for start in range(0, len(codes), _DEPTH_CHUNK):
        chunk = codes[start:start + _DEPTH_CHUNK]
        inside = (np.cumsum(chunk == ord('"'), dtype=np.int64) + in_string) & 1
        levels = np.cumsum(np.where(inside == 1, 0, _BRACKET_STEP[chunk]), dtype=np.int64) + level
        deepest = max(deepest, int(levels.max()))
        level, in_string = int(levels[-1]), int(inside[-1])
    return deepest


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def parse_json(data: bytes, *, what: str, max_bytes: int = DEFAULT_MAX_BYTES,
               max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse a JSON blob, refusing anything a hostile writer could use to crash or mislead a reader.

    Refused (as :class:`BlobError`, ``what`` names the blob in the message): more than
    ``max_bytes`` bytes, text that is not UTF-8, nesting deeper than ``max_depth`` (checked before
    the parser recurses: a deep blob would otherwise raise ``RecursionError`` or, with the
    recursion limit raised as web3's dependencies do, crash the interpreter), ``NaN`` and
    ``Infinity`` (not JSON), a key repeated in one object (two readers could see two values), and
    malformed JSON.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BlobError(f"{what}: JSON is parsed from bytes, got {type(data).__name__}")
    _check_size(len(data), what=what, max_bytes=max_bytes)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BlobError(f"{what} is not JSON: its bytes are not UTF-8 text ({exc})") from exc
    depth = json_depth(data)
    if depth > max_depth:
        raise BlobError(
            f"{what} nests {depth} levels deep; the limit is {max_depth}. No blob of this course "
            "nests like that: it looks built to crash its reader, so it is refused."
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant,
                          object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BlobError(f"{what} is not JSON: {exc}") from exc


def _parse_npy(member: bytes, *, name: str, what: str) -> np.ndarray:
    """One ``.npy`` member: a plain numeric array whose payload is exactly what its header says."""
    fp = io.BytesIO(member)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"array {name!r} uses .npy format version {version}, not 1.0 or 2.0")
    if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise ValueError(
            f"array {name!r} has dtype {dtype}; only plain numbers are loaded, never pickled "
            "objects"
        )
    if any(d < 0 for d in shape):
        raise ValueError(f"array {name!r} claims a negative dimension {shape}")
    payload = member[fp.tell():]
    expected = math.prod(shape) * dtype.itemsize
    if len(payload) != expected:
        raise ValueError(
            f"array {name!r} claims shape {shape} of {dtype} ({expected} bytes) but carries "
            f"{len(payload)} bytes"
        )
    return np.ndarray(shape, dtype=dtype, buffer=bytearray(payload), order="F" if fortran else "C")


def parse_arrays(data: bytes, *, what: str, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_arrays: int = DEFAULT_MAX_ARRAYS) -> dict[str, np.ndarray]:
    """Parse an ``.npz`` blob into named numeric arrays, or raise :class:`BlobError`.

    Only what :meth:`BlobStore.put_arrays` writes is accepted: a zip whose members are all
    ``.npy`` arrays of numbers (bool, int, uint, float), at most ``max_arrays`` of them, stored or
    deflated, unencrypted, together at most ``max_bytes`` once unpacked, each carrying exactly the
    bytes its header's shape calls for. Nothing is unpickled; the arrays returned are writable
    copies, never views of ``data``; raw bytes are never returned in place of an array.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BlobError(f"{what}: arrays are parsed from bytes, got {type(data).__name__}")
    data = bytes(data)
    _check_size(len(data), what=what, max_bytes=max_bytes)
    if not data.startswith(_ZIP_STARTS):
        raise BlobError(
            f"{what} is not an array blob: it is not an .npz (zip) archive. Array blobs are "
            "written by put_arrays; a pickle or other format is never loaded."
        )
    if data.count(_ZIP_ENTRY) > max_arrays:
        raise BlobError(f"{what} lists more than {max_arrays} members; refusing to open it")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(infos) > max_arrays:
                raise ValueError(f"it holds {len(infos)} members, more than {max_arrays}")
            if len(set(names)) != len(names):
                raise ValueError("two members have the same name")
            unpacked = sum(i.file_size for i in infos)
            if unpacked > max_bytes:
                raise ValueError(f"its members unpack to {unpacked} bytes, over {max_bytes}")
            arrays: dict[str, np.ndarray] = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"member {info.filename!r} is not an array (.npy)")
                if info.flag_bits & 0x1:
                    raise ValueError(f"member {info.filename!r} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise ValueError(f"member {info.filename!r} uses compression method "
                                     f"{info.compress_type}; only stored or deflated are read")
                name = info.filename[: -len(".npy")]
                arrays[name] = _parse_npy(zf.read(info), name=name, what=what)
            return arrays
    except (ValueError, TypeError, OSError, EOFError, RuntimeError, NotImplementedError,
            SyntaxError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error) as exc:
        raise BlobError(
            f"{what} is not a safe array blob: {exc}. Only plain numeric arrays written by "
            "put_arrays are loaded; pickled objects never are."
        ) from exc


class BlobStore:
    """Blobs by SHA-256 id, in memory or in a directory (``root``).

    ``max_bytes`` bounds every blob read or written; ``max_depth`` bounds JSON nesting (see
    :func:`parse_json`). Safe to share between threads and between processes using one directory.
    """

    def __init__(self, root: str | Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_depth: int = DEFAULT_MAX_DEPTH):
        self._root = Path(root) if root is not None else None
        self._mem: dict[str, bytes] = {}
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        if self._root is not None:
            # mkdir(exist_ok=True) still raises a bare FileExistsError for a file at the root.
            if self._root.exists() and not self._root.is_dir():
                raise BlobError(f"the blob store's root {self._root} is a file, not a folder: "
                                "give the path of a folder (it is made if missing)")
            try:
                self._root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BlobError(f"cannot make the blob store's folder {self._root}: "
                                f"{exc.strerror or exc}") from None

    def _path(self, bid: str) -> Path:
        # Checked again here, the one place ids become paths: 64 hex digits cannot leave the store.
        assert self._root is not None
        return self._root / check_blob_id(bid)

    def _read(self, bid: str) -> bytes | None:
        """The stored bytes (unverified) of a checked id, or None; never more than max_bytes."""
        if self._root is None:
            data = self._mem.get(bid)
        else:
            try:
                with open(self._path(bid), "rb") as f:
                    data = f.read(self.max_bytes + 1)
            except FileNotFoundError:
                data = None
        if data is None:
            return None
        _check_size(len(data), what=f"blob {bid[:12]}…", max_bytes=self.max_bytes)
        return data

    def _write(self, bid: str, data: bytes) -> None:
        """Write atomically: a reader sees the old file, the new file, or none; never a torn one."""
        if self._root is None:
            self._mem[bid] = data
            return
        # The temporary name starts with a dot, so it can never be taken for an id. No fsync: a
        # blob torn by a power cut fails its hash check on read, and the next put() rewrites it.
        fd, tmp = tempfile.mkstemp(dir=self._root, prefix=".put-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self._path(bid))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, data: bytes) -> str:
        """Store bytes and return their id (storing the same bytes twice is harmless)."""
        if not isinstance(data, bytes | bytearray):
            raise BlobError(f"a blob is bytes, got {type(data).__name__}; use put_arrays/put_json")
        data = bytes(data)
        _check_size(len(data), what="this blob", max_bytes=self.max_bytes)
        bid = blob_id(data)
        # Content already present is left alone (rewriting it could only race with readers);
        # a copy that no longer matches its id is replaced, which repairs it.
        try:
            present = self._read(bid) == data
        except BlobError:  # an oversized tampered copy
            present = False
        if not present:
            self._write(bid, data)
        return bid

    def __contains__(self, bid: object) -> bool:
        """Whether a blob is stored under ``bid``; anything that is not an id is never stored."""
        if not is_blob_id(bid):
            return False
        return bid in self._mem if self._root is None else self._path(bid).is_file()  # type: ignore[arg-type]

    def get(self, bid: str) -> bytes:
        """The bytes stored under ``bid``, after checking they still hash to it."""
        check_blob_id(bid)
        data = self._read(bid)
        if data is None:
            raise BlobError(f"no blob {bid[:12]}… in this store; was it put here?")
        actual = blob_id(data)
        if actual != bid:
            raise BlobIntegrityError(
                f"blob {bid[:12]}… was altered: its bytes now hash to {actual[:12]}…. "
                "Refusing it; fetch it again from a trusted copy or ask the sender to re-upload."
            )
        return data

    def size(self, bid: str) -> int:
        """Size of a stored blob in bytes (the blob is verified first)."""
        return len(self.get(bid))

    def tamper(self, bid: str, data: bytes) -> None:
        """Replace a blob's bytes *without* changing its id: the attack the ids defend against."""
        check_blob_id(bid)
        if bid not in self:
            raise BlobError(f"no blob {bid[:12]}… to tamper with")
        if not isinstance(data, bytes | bytearray):
            raise BlobError(f"a blob is bytes, got {type(data).__name__}")
        self._write(bid, bytes(data))

    # -- safe typed blobs ------------------------------------------------------------------------

    def put_arrays(self, arrays: dict[str, Any]) -> str:
        """Store named numeric arrays (numpy or torch) as ``.npz``: no code can hide in it."""
        clean = {}
        for name, a in arrays.items():
            if type(a).__module__.startswith("torch"):
                a = a.detach().cpu().numpy()
            a = np.asarray(a)
            if a.dtype.kind not in _NUMERIC_KINDS:
                raise BlobError(f"array {name!r} has dtype {a.dtype}; only numbers are stored")
            clean[name] = a
        buf = io.BytesIO()
        np.savez(buf, **clean)
        return self.put(buf.getvalue())

    def get_arrays(self, bid: str) -> dict[str, np.ndarray]:
        """Load arrays stored by :meth:`put_arrays`; refuses anything else (see parse_arrays)."""
        return parse_arrays(self.get(bid), what=f"blob {bid[:12]}…", max_bytes=self.max_bytes)

    def put_json(self, obj: Any) -> str:
        """Store JSON-encodable data (canonical encoding: sorted keys; no NaN or Infinity)."""
        try:
            data = canonical_json(obj, ensure_ascii=True)
        except (TypeError, ValueError, RecursionError) as exc:
            raise BlobError(f"cannot store this as JSON: {exc}") from exc
        depth = json_depth(data.decode())
        if depth > self.max_depth:
            raise BlobError(f"this object nests {depth} levels deep, over the limit "
                            f"{self.max_depth}; no reader would accept it")
        return self.put(data)

    def get_json(self, bid: str) -> Any:
        """Load a JSON blob (bounded: see :func:`parse_json`)."""
        return parse_json(self.get(bid), what=f"blob {bid[:12]}…", max_bytes=self.max_bytes,
                          max_depth=self.max_depth)
