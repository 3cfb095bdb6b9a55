"""Measuring what Paillier costs at each key size (for chapter 1's plot and explorer)."""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from omteach.crypto.paillier import KeyPair, decrypt, encrypt, generate_keypair, rerandomize
from omteach.errors import WeakKeyWarning

# Security strength of an RSA/Paillier modulus, NIST SP 800-57 Part 1 (table 2).
SECURITY_BITS = {1024: "80", 2048: "112", 3072: "128", 7680: "192", 15360: "256"}


def security_level(bits: int) -> str:
    """Security strength in bits for a modulus size, as NIST rates it ("broken" below 1024)."""
    if bits < 1024:
        return "none: factored by public efforts"
    known = [b for b in SECURITY_BITS if b <= bits]
    level = SECURITY_BITS[max(known)]
    return level if bits in SECURITY_BITS else f"at least {level}"


@dataclass(frozen=True)
class KeyCost:
    """Measured costs at one key size (times are medians over the repeats)."""

    bits: int
    keygen_s: float
    encrypt_ms: float
    decrypt_ms: float
    add_us: float
    ciphertext_bytes: int

    @property
    def security(self) -> str:
        """Security strength in bits, as NIST rates this modulus size."""
        return security_level(self.bits)


def measure_key_cost(
    bits: int, *, repeats: int = 15, progress: Callable[[str], None] | None = None
) -> tuple[KeyCost, KeyPair]:
    """Generate a key of ``bits`` bits and time encryption, decryption and addition with it."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # small sizes are measured on purpose, to compare
        warnings.simplefilter("ignore", WeakKeyWarning)
        keys = generate_keypair(bits, progress=progress)
    keygen_s = time.perf_counter() - t0
    enc, dec, add = [], [], []
    for i in range(repeats):
        t = time.perf_counter()
        c = encrypt(keys.public, i)
        enc.append(time.perf_counter() - t)
        t = time.perf_counter()
        decrypt(keys.private, c)
        dec.append(time.perf_counter() - t)
        t = time.perf_counter()
        c + c
        add.append(time.perf_counter() - t)
    size = (keys.public.nsquare.bit_length() + 7) // 8
    median = statistics.median
    cost = KeyCost(bits, keygen_s, median(enc) * 1e3, median(dec) * 1e3, median(add) * 1e6, size)
    return cost, keys


def encryption_costs(keys: KeyPair, *, repeats: int = 20) -> dict[str, float]:
    """Milliseconds per raw encryption (median) by each method open for this key pair.

    ``"ordinary"``: anyone with the ordinary public key (``r^n``, as phe does);
    ``"owner (CRT)"``: the key's owner, with p and q; ``"fast"``: anyone with the fast public key
    (the DJN table, built before timing); ``"re-randomize"``: :func:`rerandomize`, the full-size
    ``r^n`` every party may use against the key's owner. The methods take turns, so a busy
    machine slows them alike.
    """
    fast, ordinary = keys.to_fast(), keys.to_ordinary()
    _ = fast.public.table  # built once, not timed
    c = ordinary.public.raw_encrypt(1)
    methods: dict[str, Callable[[int], object]] = {
        "ordinary": ordinary.public.raw_encrypt,
        "owner (CRT)": ordinary.raw_encrypt,
        "fast": fast.public.raw_encrypt,
        "re-randomize": lambda m: rerandomize(ordinary.public, c),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    for i in range(repeats):
        for name, fn in methods.items():
            t = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
