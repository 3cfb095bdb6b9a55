"""One read of a round: `round_view` (one call) against the getters one by one (spec, owners,
participants, round_info, three counts, then each participant's shares, submission, reveal and
keys: 7 + 4 x participants calls; before round_view, `Market.round_state` made nine, with the
`blobs_of`/`keys_of` views that round_view replaced to keep the contract under EIP-170's size).

    .venv/bin/python bench/round_read_bench.py                 # eth-tester and anvil
    .venv/bin/python bench/round_read_bench.py --reads 200 --repeats 5

A three-owner round is set up mid-way (keys and shares in, two updates submitted), then the two
ways of reading it run interleaved (a batch of one, a batch of the other, repeated) so that the
shared machine's load falls on both alike. Every driver of a round polls this read: the teacher,
every student's kernel, the dashboard; on the class's node each call is a request through the
gate. The floor is one `eth_call` of the cheapest getter (`spec_count`): what any single read
costs.

The last line per chain: ``chain=... one_read_ms=... getters_ms=... floor_ms=...
getters_over_one_read=...``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omteach.chain import Chain  # noqa: E402
from omteach.chain.anvil import AnvilNode  # noqa: E402
from tests.test_model_market import (  # noqa: E402
    accept,
    open_and_share,
    post,
    submit,
)

CURRENT = 2**256 - 1


def getters(market, sid: int, rnd: int) -> tuple:
    """The round read without round_view: one call per piece."""
    parts = market.call("participants_of", sid, rnd)
    return (market.call("specs", sid), market.call("owners_of", sid), parts,
            market.call("round_info", sid, rnd),
            *(market.call(name, sid, rnd)
              for name in ("shares_count", "submission_count", "reveal_count")),
            [market.call(name, sid, rnd, p) for p in parts
             for name in ("shares", "submission", "reveal", "keys")])


def timed(fn, reads: int) -> float:
    """Milliseconds per call of ``fn`` over ``reads`` calls."""
    start = time.perf_counter()
    for _ in range(reads):
        fn()
    return (time.perf_counter() - start) * 1000 / reads


def bench(kind: str, reads: int, repeats: int) -> None:
    if kind == "anvil":
        with AnvilNode() as node:
            measure(kind, Chain(node.url), reads, repeats)
    else:
        measure(kind, Chain(), reads, repeats)


def measure(kind: str, chain: Chain, reads: int, repeats: int) -> None:
    """Set a round up half-way on ``chain`` and time the two reads, interleaved."""
    market = chain.deploy("ModelMarket", sender="AI Inc.")
    sid = post(market, chain, rounds=2, min_owners=2, places=3)
    accept(market, sid, ["Joe", "Jane", "Jack"])
    open_and_share(market, sid, ["Joe", "Jane", "Jack"])
    submit(market, sid, ["Joe", "Jane"])
    one, many, floor = [], [], []
    for _ in range(repeats):
        one.append(timed(lambda: market.call("round_view", sid, CURRENT), reads))
        many.append(timed(lambda: getters(market, sid, 0), reads))
        floor.append(timed(lambda: market.call("spec_count"), reads))
    o, m, f = (statistics.median(x) for x in (one, many, floor))
    print(f"chain={kind} one_read_ms={o:.2f} getters_ms={m:.2f} floor_ms={f:.2f} "
          f"getters_over_one_read={m / o:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chains", nargs="+", default=["eth-tester", "anvil"])
    args = parser.parse_args(argv)
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    for kind in args.chains:
        bench(kind, args.reads, args.repeats)


if __name__ == "__main__":
    main()
