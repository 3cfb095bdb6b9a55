"""Packed vs per-value Paillier, under both key modes, against a real floor, in one run.

    .venv/bin/python bench/he_bench.py              # 10,000 values at 2048 bits (about a minute)
    .venv/bin/python bench/he_bench.py --values 2000 --repeats 5

One 2048-bit key pair, in both its forms (ordinary, and fast: the same n plus the DJN element
h_s), and one float vector. Every measurement below runs once per repeat, all interleaved in the
same loop (so a busy neighbour slows them alike); each figure is the best of the repeats.

  per-value  one phe ``EncryptedNumber`` per value (what a naive client does), timed on a sample
             of ``--per-value-sample`` values each repeat (a different slice each time) and
             scaled to the whole vector: it costs the same per value, and the whole vector would
             take a minute and a half per repeat;
  packed     omteach's PackingCodec (16-bit values, K = 3) under each key mode: quantize, pack,
             encrypt;
  methods    every correct way to encrypt the same packed plaintexts, per key mode:
             ordinary: phe's ``raw_encrypt``, and gmpy2 ``(1 + m n) r^n`` by hand;
             fast:     the fixed-base table (``(1 + m n) h_s^a``) by hand and through the
                       fast key's ``raw_encrypt``, and DJN by plain powmod;
             the *floor* of a mode is the cheapest of its methods in this run, so packed/floor
             is the codec's own overhead over the best encryption available to a data owner.
             The key owner's CRT is shown too (not a floor: owners do not hold p and q);
  sum        adding K = 3 packed vectors vs adding 3 per-value vectors (sampled, scaled);
  decrypt    decrypting the packed sum vs decrypting per value (sampled, scaled).
Optionally, packed encryption over several processes (reported separately, not in the ratios).

The last line is exactly
``speedup_vs_per_value=<x> packed_over_floor=<y> fast_speedup_vs_per_value=<z>`` where x is
per-value over packed (ordinary key), z per-value (ordinary key, phe) over packed (fast key), and
y the larger of packed/floor over the two modes.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable

import gmpy2
import numpy as np

from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import _FixedBaseTable, generate_keypair
from omteach.crypto.parallel import ParallelEncryptor


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


class Interleaved:
    """Named timings, each run once per round in turn; ``best`` is the minimum over rounds."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[Callable[[int], object], float]] = {}
        self.times: dict[str, list[float]] = {}

    def add(self, name: str, fn: Callable[[int], object], scale: float = 1.0) -> None:
        """``fn(round)`` is timed; its time is multiplied by ``scale`` (for sampled jobs)."""
        self.jobs[name] = (fn, scale)
        self.times[name] = []

    def run(self, rounds: int) -> None:
        """Run every job once per round, in the order added."""
        for r in range(rounds):
            for name, (fn, scale) in self.jobs.items():
                t0 = time.perf_counter()
                fn(r)
                self.times[name].append((time.perf_counter() - t0) * scale)

    def best(self, name: str) -> float:
        """The fastest of the rounds, in seconds (scaled)."""
        return min(self.times[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000, help="vector length (10,000)")
    parser.add_argument("--bits", type=int, default=2048, help="key size in bits (2048)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--per-value-sample", type=int, default=500,
                        help="values encrypted one by one per round (500)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the separate multi-core packed run (0 to skip)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    vector = rng.normal(0, 0.3, args.values)
    fast_keys = generate_keypair(args.bits, fast=True)
    ord_keys = fast_keys.to_ordinary()  # the same n and private key, without h_s
    pk_o, pk_f = ord_keys.public, fast_keys.public
    n, nsq = gmpy2.mpz(pk_o.n), gmpy2.mpz(pk_o.nsquare)
    exponent_bits = args.bits // 2
    t0 = time.perf_counter()
    table = _FixedBaseTable(pk_f.h_s, pk_f.nsquare, exponent_bits)
    t_table = time.perf_counter() - t0
    _ = pk_f.table  # the key's own (cached) table, built before timing
    codec = PackingCodec(clip=1.0, bits=16, max_contributions=3)
    plaintexts = codec.pack(codec.quantize(vector), pk_o)
    n_ct = len(plaintexts)
    sample = max(1, min(args.per_value_sample, args.values))
    scale = args.values / sample

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu_model()}; "
          f"python {platform.python_version()}, gmpy2 {gmpy2.version()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"vector: {args.values} float values; key: {args.bits} bits; codec: {codec.bits}-bit "
          f"values in {codec.slot_bits}-bit slots (K={codec.max_contributions}), "
          f"{codec.slots_per_ciphertext(pk_o)} slots per ciphertext -> {n_ct} ciphertexts")
    print(f"fast key table: {len(table.rows)} rows x 256 powers of h_s, "
          f"{table.nbytes / 2**20:.1f} MiB, built in {t_table:.3f} s "
          f"({exponent_bits}-bit exponents)")

    # Correctness first: both modes decrypt within the bound, alone and summed K times.
    clipped = np.clip(vector, -codec.clip, codec.clip)
    packs = {}
    for label, pk in (("ordinary", pk_o), ("fast", pk_f)):
        packs[label] = [codec.encrypt(pk, vector) for _ in range(codec.max_contributions)]
        one = codec.decrypt(fast_keys.private, packs[label][0])
        total = codec.decrypt(fast_keys.private, sum(packs[label]))
        k = codec.max_contributions
        if (np.max(np.abs(one - clipped)) > codec.error_bound(1)
                or np.max(np.abs(total - k * clipped)) > codec.error_bound(k)):
            print(f"packed round trip under the {label} key is off the codec's bound")
            return 1
    mixed = codec.decrypt(fast_keys.private, packs["ordinary"][0] + packs["fast"][0])
    assert np.max(np.abs(mixed - 2 * clipped)) <= codec.error_bound(2)
    err = float(np.max(np.abs(codec.decrypt(fast_keys.private, packs["fast"][0]) - clipped)))

    def rand_r() -> int:
        return secrets.randbelow(pk_o.n - 1) + 1

    def chunk(r: int) -> np.ndarray:  # a different slice of the vector each round
        start = (r * sample) % args.values
        return np.roll(vector, -start)[:sample]

    per_value_cts = [pk_o.encrypt(float(v)) for v in vector[:sample]]
    jobs = Interleaved()
    jobs.add("per-value", lambda r: [pk_o.encrypt(float(v)) for v in chunk(r)], scale)
    jobs.add("per-value fast", lambda r: [pk_f.encrypt(float(v)) for v in chunk(r)], scale)
    jobs.add("packed", lambda r: codec.encrypt(pk_o, vector))
    jobs.add("packed fast", lambda r: codec.encrypt(pk_f, vector))
    jobs.add("phe raw_encrypt", lambda r: [pk_o.raw_encrypt(m) for m in plaintexts])
    jobs.add("gmpy2 (1+mn) r^n", lambda r: [(n * m + 1) * gmpy2.powmod(rand_r(), n, nsq) % nsq
                                            for m in plaintexts])
    jobs.add("owner CRT", lambda r: ord_keys.encrypt_many(plaintexts))
    jobs.add("table (1+mn) h_s^a", lambda r: [(n * m + 1) * table.random_power() % nsq
                                              for m in plaintexts])
    jobs.add("fast raw_encrypt", lambda r: [pk_f.raw_encrypt(m) for m in plaintexts])
    jobs.add("DJN powmod h_s^a", lambda r: [
        (n * m + 1) * gmpy2.powmod(pk_f.h_s, secrets.randbits(exponent_bits), nsq) % nsq
        for m in plaintexts])
    jobs.add("sum packed", lambda r: sum(packs["fast"]))
    jobs.add("sum per-value", lambda r: [a + a + a for a in per_value_cts], scale)
    jobs.add("decrypt packed", lambda r: codec.decrypt(fast_keys.private, sum(packs["fast"])))
    jobs.add("decrypt per-value", lambda r: [fast_keys.private.decrypt(a) for a in per_value_cts],
             scale)
    jobs.run(args.repeats)

    b = jobs.best
    floors = {"ordinary": min(("phe raw_encrypt", "gmpy2 (1+mn) r^n"), key=b),
              "fast": min(("table (1+mn) h_s^a", "fast raw_encrypt", "DJN powmod h_s^a"), key=b)}
    t_pv = b("per-value")

    def line(name: str, what: str, count: int) -> None:
        print(f"  {name:20}: {b(name):8.3f} s  {args.values / b(name):10.0f} values/s  "
              f"({b(name) / count * 1e3:.3f} ms per {what})")

    print(f"best of {args.repeats} interleaved rounds; per-value figures from {sample} values a "
          "round, scaled to the vector")
    print("encryption:")
    line("per-value", "value (ordinary key, phe)", args.values)
    line("per-value fast", "value (fast key, phe API)", args.values)
    line("packed", "ciphertext (ordinary key)", n_ct)
    line("packed fast", "ciphertext (fast key)", n_ct)
    for name in ("phe raw_encrypt", "gmpy2 (1+mn) r^n", "owner CRT", "table (1+mn) h_s^a",
                 "fast raw_encrypt", "DJN powmod h_s^a"):
        line(name, "ciphertext", n_ct)
    print(f"  floors: ordinary = {floors['ordinary']}, fast = {floors['fast']} "
          "(owner CRT is open to the key's owner only)")
    print(f"sum of {codec.max_contributions}: packed {b('sum packed') * 1e3:.2f} ms, per-value "
          f"{b('sum per-value') * 1e3:.1f} ms ({b('sum per-value') / b('sum packed'):.0f}x)")
    print(f"decrypt the sum: packed {b('decrypt packed'):.3f} s, per-value "
          f"{b('decrypt per-value'):.3f} s ({b('decrypt per-value') / b('decrypt packed'):.0f}x);"
          f" max error of one packed value {err:.2e} <= {codec.error_bound(1):.2e}")

    if args.workers > 1:
        for label, pk in (("ordinary", pk_o), ("fast", pk_f)):
            with ParallelEncryptor(pk, args.workers) as enc:
                enc(plaintexts[: args.workers])  # warm up
                best = float("inf")
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    codec.encrypt(pk, vector, encryptor=enc)
                    best = min(best, time.perf_counter() - t0)
            own = b("packed" if label == "ordinary" else "packed fast")
            print(f"packed on {args.workers} processes, {label} key (separate, not in the "
                  f"ratios): {best:.3f} s, {own / best:.2f}x the one-process packed run")

    speedup = t_pv / b("packed")
    fast_speedup = t_pv / b("packed fast")
    over = {"ordinary": b("packed") / b(floors["ordinary"]),
            "fast": b("packed fast") / b(floors["fast"])}
    print(f"packed/floor: ordinary {over['ordinary']:.3f}, fast {over['fast']:.3f}; fast packed "
          f"vs ordinary packed {b('packed') / b('packed fast'):.1f}x")
    ok = speedup >= 100 and fast_speedup >= 1000 and max(over.values()) <= 1.25
    print("targets: speedup >= 100, fast speedup >= 1000, packed/floor <= 1.25 in both modes: "
          f"{'met' if ok else 'MISSED'}")
    print(f"speedup_vs_per_value={speedup:.1f} packed_over_floor={max(over.values()):.3f} "
          f"fast_speedup_vs_per_value={fast_speedup:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
