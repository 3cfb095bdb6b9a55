"""CPU of one read from a node: web3's way against the chain's own (issue 21, and the suite).

    .venv/bin/python bench/rpc_bench.py                 # anvil, straight and through the gate
    .venv/bin/python bench/rpc_bench.py --reads 300 --repeats 5

Each read is a view of the market (``spec_count``) answered by anvil, measured in CPU
milliseconds of this process (``time.process_time``: a class's processes share two cores, so
CPU, not wall time, is what a hundred students pay), in three ways, interleaved (a batch of
each, repeated):

- ``web3``: web3's own ``HTTPProvider`` (``requests``, the chain id cached, as the chain had
  it) and its contract call (baseline; the chain's read before this bench encoded through web3
  and decoded with eth_abi, between the two);
- ``chain``: :meth:`DeployedContract.call` on a :class:`Chain` on the node: kept-open
  connections (omteach.chain.transport), the call encoded and decoded here;
- ``floor``: the same JSON-RPC request on a kept-open ``http.client`` connection, its answer
  parsed and nothing else: what any client must at least spend.

Through the gate the same reads also cost the gate: it runs in this process here, so its CPU is
counted in the figures. ``gate_close``: each request on a new connection (``Connection:
close``), as the gate served every request before it kept connections open: its ``web3``
figure is what a student's read cost before (web3 through a gate that closes), to set against
``gate``'s ``chain``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omteach.chain import Chain  # noqa: E402
from omteach.chain.anvil import AnvilNode  # noqa: E402
from omteach.classroom.gate import Gate  # noqa: E402


def cpu_ms(fn, reads: int) -> float:
    """CPU milliseconds of this process per call of ``fn``."""
    start = time.process_time()
    for _ in range(reads):
        fn()
    return (time.process_time() - start) * 1000 / reads


def ways(url: str, market, *, close: bool = False) -> dict:
    """The three reads against ``url`` (``close``: a new connection for every request)."""
    from web3 import Web3

    headers = {"Connection": "close"} if close else {}
    # web3 as the chain configured it before: the chain id cached (else web3 asks for it
    # before every call, a second request)
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"headers": {
        **Web3.HTTPProvider.get_request_headers(), **headers}}, cache_allowed_requests=True,
        cacheable_requests={"eth_chainId"}))
    theirs = w3.eth.contract(address=market.address, abi=market.compiled.abi)
    chain = Chain(url, cast=())
    ours = chain.attach("ModelMarket", market.address)
    data = market.call_data("spec_count", [])
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                       "params": [{"to": market.address, "data": data}, "latest"]}).encode()
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)

    def floor() -> None:
        conn.request("POST", "/", body, {"Content-Type": "application/json", **headers})
        json.loads(conn.getresponse().read())
        if close:
            conn.close()
    assert theirs.functions.spec_count().call() == ours.call("spec_count")
    reads = {"web3": lambda: theirs.functions.spec_count().call(),
             "chain": lambda: ours.call("spec_count"), "floor": floor}
    if close:  # the chain keeps its connections open whatever it is told: not this case
        del reads["chain"]
    return reads


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}")
    with AnvilNode() as node:
        market = Chain(node.url).deploy("ModelMarket", sender="AI Inc.")
        with Gate(node.url) as gate:
            setups = {"node": ways(node.url, market), "gate": ways(gate.url, market),
                      "gate_close": ways(gate.url, market, close=True)}
            for where, reads in setups.items():
                times: dict[str, list[float]] = {k: [] for k in reads}
                for _ in range(args.repeats):
                    for way, fn in reads.items():
                        times[way].append(cpu_ms(fn, args.reads))
                med = {k: statistics.median(v) for k, v in times.items()}
                line = " ".join(f"{k}_ms={v:.3f}" for k, v in med.items())
                if "chain" in med:
                    line += (f" web3_over_chain={med['web3'] / med['chain']:.2f}"
                             f" chain_over_floor={med['chain'] / med['floor']:.2f}")
                print(f"to={where} {line}", flush=True)


if __name__ == "__main__":
    main()
