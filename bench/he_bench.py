"""Packed vs per-value Paillier encryption, and the floor, measured side by side in one run.

    .venv/bin/python bench/he_bench.py              # 10,000 values at 2048 bits (about 2 min)
    .venv/bin/python bench/he_bench.py --values 2000

Three timings of the same float vector under the same 2048-bit key:
  per-value  one phe ``EncryptedNumber`` per value (what a naive client does);
  packed     omteach's PackingCodec: 16-bit slots with headroom for K=3, many per ciphertext;
  floor      one bare ``powmod(r, n, n^2)`` per packed ciphertext, timed with gmpy2: the cost
             no Paillier encryption can avoid, so packed/floor shows the codec's own overhead.
Optionally, packed encryption over both cores (reported separately, not in the ratios).
The last line is exactly ``speedup_vs_per_value=<x> packed_over_floor=<y>``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import gmpy2
import numpy as np
from phe import paillier

from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import generate_keypair

_PUBLIC = None


def _init_worker(public: paillier.PaillierPublicKey) -> None:
    global _PUBLIC
    _PUBLIC = public


def _raw_encrypt_chunk(plaintexts: list[int]) -> list[int]:
    return [_PUBLIC.raw_encrypt(m) for m in plaintexts]


def _best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cpu_model() -> str:
    """The CPU's model name (Linux), for the record of where a benchmark ran."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000, help="vector length (10,000)")
    parser.add_argument("--bits", type=int, default=2048, help="key size in bits (2048)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N for packed and floor")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the separate multi-core packed run (0 to skip)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    vector = rng.normal(0, 0.3, args.values)
    keys = generate_keypair(args.bits)
    pk = keys.public
    codec = PackingCodec(clip=1.0, bits=16, max_contributions=3)
    n_ct = -(-args.values // codec.slots_per_ciphertext(pk))

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu_model()}; "
          f"python {platform.python_version()}, gmpy2 {gmpy2.version()}")
    print(f"vector: {args.values} float values; key: {args.bits} bits; codec: {codec.bits}-bit "
          f"values in {codec.slot_bits}-bit slots (K={codec.max_contributions}), "
          f"{codec.slots_per_ciphertext(pk)} slots per ciphertext -> {n_ct} ciphertexts")

    # Per-value: one phe EncryptedNumber per float, once over the whole vector (it is slow).
    t0 = time.perf_counter()
    per_value = [pk.encrypt(float(v)) for v in vector]
    t_per_value = time.perf_counter() - t0
    assert len(per_value) == args.values

    # Packed: quantize, pack, raw_encrypt. Checked to decrypt within the codec's bound.
    packed = codec.encrypt(pk, vector)
    clipped = np.clip(vector, -codec.clip, codec.clip)  # the bound is about clipped inputs
    err = float(np.max(np.abs(codec.decrypt(keys.private, packed) - clipped)))
    if err > codec.error_bound(1):
        print(f"packed round trip is off by {err}, above the bound {codec.error_bound(1)}")
        return 1
    t_packed = _best_of(args.repeats, lambda: codec.encrypt(pk, vector))

    # Floor: one modular exponentiation r^n mod n^2 per ciphertext, nothing else.
    n, nsq = gmpy2.mpz(pk.n), gmpy2.mpz(pk.nsquare)
    sysrand = random.SystemRandom()
    rs = [gmpy2.mpz(sysrand.randrange(1, pk.n)) for _ in range(n_ct)]
    t_floor = _best_of(args.repeats, lambda: [gmpy2.powmod(r, n, nsq) for r in rs])

    per_ct = t_packed / n_ct
    floor_ct = t_floor / n_ct
    speedup = t_per_value / t_packed
    over_floor = t_packed / t_floor
    print(f"per-value: {t_per_value:8.3f} s  {args.values / t_per_value:10.0f} values/s  "
          f"({t_per_value / args.values * 1e3:.2f} ms per value)")
    print(f"packed   : {t_packed:8.3f} s  {args.values / t_packed:10.0f} values/s  "
          f"({per_ct * 1e3:.2f} ms per ciphertext, max error {err:.2e} <= "
          f"{codec.error_bound(1):.2e})")
    print(f"floor    : {t_floor:8.3f} s  {args.values / t_floor:10.0f} values/s  "
          f"({floor_ct * 1e3:.2f} ms per powmod(r, n, n^2))")

    if args.workers > 1:
        plaintexts = codec.pack(codec.quantize(vector), pk)
        chunks = [plaintexts[i::args.workers] for i in range(args.workers)]
        with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(pk,)) as pool:
            list(pool.map(_raw_encrypt_chunk, [[1]] * args.workers))  # warm the workers up

            def run() -> None:
                list(pool.map(_raw_encrypt_chunk, chunks))

            t_multi = _best_of(args.repeats, run)
        print(f"packed on {args.workers} processes (separate, not in the ratios): {t_multi:.3f} s,"
              f" {t_packed / t_multi:.2f}x the one-core packed run")

    target_ok = speedup >= 100 and over_floor <= 1.25
    print(f"targets: speedup >= 100 and packed/floor <= 1.25: {'met' if target_ok else 'MISSED'}")
    print(f"speedup_vs_per_value={speedup:.1f} packed_over_floor={over_floor:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
