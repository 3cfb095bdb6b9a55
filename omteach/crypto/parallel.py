"""Encrypting packed plaintexts on several cores (each owner's machine has more than one).

Workers encrypt with the key's own ``raw_encrypt``: a fast key's fixed-base table (built once
here, before the workers start, so forked workers share it) or ``phe``'s ``r^n``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from omteach.crypto.paillier import PublicKey, is_fast

_WORKER_KEY: PublicKey | None = None


def _init_worker(public: PublicKey) -> None:
    global _WORKER_KEY
    _WORKER_KEY = public


def _encrypt_one(plaintext: int) -> int:
    assert _WORKER_KEY is not None
    return _WORKER_KEY.raw_encrypt(plaintext)


class ParallelEncryptor:
    """Encrypts packed plaintexts over ``workers`` processes (each owner's machine has cores).

    Call it with a list of plaintexts; returns their ciphertexts in order. ``workers=1`` encrypts
    in this process. Close it (or use ``with``) to stop the worker processes.
    """

    def __init__(self, public: PublicKey, workers: int | None = None):
        self.public = public
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        if is_fast(public):
            _ = public.table  # build it here once: forked workers inherit it, not rebuild it
        if self.workers > 1:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context(method),
                                             initializer=_init_worker, initargs=(public,))
            list(self._pool.map(_encrypt_one, [1] * self.workers))  # start them now

    def __call__(self, plaintexts: Sequence[int]) -> list[int]:
        plaintexts = list(plaintexts)
        if self._pool is None or len(plaintexts) < 2:
            return [self.public.raw_encrypt(m) for m in plaintexts]
        # One chunk per worker: a ciphertext costs milliseconds, so fewer, larger tasks win.
        chunksize = -(-len(plaintexts) // self.workers)
        return list(self._pool.map(_encrypt_one, plaintexts, chunksize=chunksize))

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> ParallelEncryptor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
