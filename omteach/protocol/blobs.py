"""A content-addressed blob store: the role IPFS plays in real systems.

A blob's id is the SHA-256 of its bytes, so whoever holds an id can check that the bytes they got
are the bytes that were meant: :meth:`BlobStore.get` verifies every read. Only ids (32 bytes) go
on chain; models and ciphertexts stay here.

Blobs are never pickles. Loading a pickle runs code chosen by whoever wrote it, and a blob
fetched by id may come from an untrusted party. Arrays are stored as ``.npz`` and read with
``allow_pickle=False``; structured data as JSON.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from omteach.errors import BlobError, BlobIntegrityError


def blob_id(data: bytes) -> str:
    """The id of some bytes: their SHA-256, in hex."""
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs by SHA-256 id, in memory or in a directory (``root``)."""

    def __init__(self, root: str | Path | None = None):
        self._root = Path(root) if root is not None else None
        self._mem: dict[str, bytes] = {}
        if self._root is not None:
            self._root.mkdir(parents=True, exist_ok=True)

    def _path(self, bid: str) -> Path:
        assert self._root is not None
        return self._root / bid

    def put(self, data: bytes) -> str:
        """Store bytes and return their id (storing the same bytes twice is harmless)."""
        if not isinstance(data, bytes | bytearray):
            raise BlobError(f"a blob is bytes, got {type(data).__name__}; use put_arrays/put_json")
        bid = blob_id(bytes(data))
        if self._root is None:
            self._mem[bid] = bytes(data)
        else:
            self._path(bid).write_bytes(data)
        return bid

    def __contains__(self, bid: str) -> bool:
        return bid in self._mem if self._root is None else self._path(bid).is_file()

    def get(self, bid: str) -> bytes:
        """The bytes stored under ``bid``, after checking they still hash to it."""
        if not isinstance(bid, str) or len(bid) != 64:
            raise BlobError(f"{bid!r} is not a blob id (64 hex digits of SHA-256)")
        if bid not in self:
            raise BlobError(f"no blob {bid[:12]}… in this store; was it put here?")
        data = self._mem[bid] if self._root is None else self._path(bid).read_bytes()
        actual = blob_id(data)
        if actual != bid:
            raise BlobIntegrityError(
                f"blob {bid[:12]}… was altered: its bytes now hash to {actual[:12]}…. "
                "Refusing it; fetch it again from a trusted copy or ask the sender to re-upload."
            )
        return data

    def size(self, bid: str) -> int:
        """Size of a stored blob in bytes."""
        return len(self.get(bid))

    def tamper(self, bid: str, data: bytes) -> None:
        """Replace a blob's bytes *without* changing its id: the attack the ids defend against."""
        if bid not in self:
            raise BlobError(f"no blob {bid[:12]}… to tamper with")
        if self._root is None:
            self._mem[bid] = bytes(data)
        else:
            self._path(bid).write_bytes(data)

    # -- safe typed blobs ------------------------------------------------------------------------

    def put_arrays(self, arrays: dict[str, Any]) -> str:
        """Store named numeric arrays (numpy or torch) as ``.npz``: no code can hide in it."""
        clean = {}
        for name, a in arrays.items():
            if type(a).__module__.startswith("torch"):
                a = a.detach().cpu().numpy()
            a = np.asarray(a)
            if a.dtype.kind not in "biuf":
                raise BlobError(f"array {name!r} has dtype {a.dtype}; only numbers are stored")
            clean[name] = a
        buf = io.BytesIO()
        np.savez(buf, **clean)
        return self.put(buf.getvalue())

    def get_arrays(self, bid: str) -> dict[str, np.ndarray]:
        """Load arrays stored by :meth:`put_arrays`; refuses pickled objects."""
        data = self.get(bid)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise BlobError(
                f"blob {bid[:12]}… is not a safe array blob ({exc}); it may hold pickled "
                "objects, which are never loaded"
            ) from exc

    def put_json(self, obj: Any) -> str:
        """Store JSON-encodable data (canonical encoding: sorted keys)."""
        return self.put(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())

    def get_json(self, bid: str) -> Any:
        """Load a JSON blob."""
        try:
            return json.loads(self.get(bid))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BlobError(f"blob {bid[:12]}… is not JSON: {exc}") from exc
