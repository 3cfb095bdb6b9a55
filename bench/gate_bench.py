"""The gate under a flood: honest students' request latency alone and while one client floods.

    .venv/bin/python bench/gate_bench.py                   # 3 rounds of each, 200 requests each
    .venv/bin/python bench/gate_bench.py --rounds 5 --requests 300 --flooders 32
    .venv/bin/python bench/gate_bench.py --node-root /path/to/another/checkout   # before/after

The class's node runs as ``make classroom`` runs it (``python -m omteach.classroom.node``, its
own process: anvil + gate + faucet + contracts). An honest student (this process, 127.0.0.1)
sends one request after another: ``eth_blockNumber``, ``eth_getBalance`` and an ``eth_call`` of
the roster's ``class_size``, in turn. A flooder (another process, from 127.0.0.66, another
client address to the gate) runs ``--flooders`` threads that ask for the latest block with its
transactions and call the roster, without pause. Phases are interleaved (alone, flood, alone,
flood ...) so that the shared machine's load falls on both alike.

The last line is ``alone_median_ms=... alone_p99_ms=... flood_median_ms=... flood_p99_ms=...
p99_ratio=... flood_served_per_s=...``; the goal is a p99 under flood at most 3x alone.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOODER = """
import http.client, json, sys, threading, time
host, port, to = sys.argv[1], int(sys.argv[2]), sys.argv[3]
threads, seconds = int(sys.argv[4]), float(sys.argv[5])
bodies = [json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber",
                      "params": ["latest", True]}).encode(),
          json.dumps({"jsonrpc": "2.0", "id": 2, "method": "eth_call",
                      "params": [{"to": to, "data": "0x9c6b0eb3"}, "latest"]}).encode()]
served = [0]
stop = time.monotonic() + seconds
def flood(i):
    while time.monotonic() < stop:
        conn = http.client.HTTPConnection(host, port, timeout=30, source_address=("127.0.0.66", 0))
        try:
            conn.request("POST", "/", bodies[i % 2], {"Content-Type": "application/json"})
            conn.getresponse().read()
            served[0] += 1
        except OSError:
            pass
        finally:
            conn.close()
ts = [threading.Thread(target=flood, args=(i,)) for i in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(served[0])
"""


def _start_node(port: int, state: Path, root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "omteach.classroom.node", "--port", str(port),
                             "--state", str(state)], stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "Ctrl-C" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the class's node did not start")


def _honest(port: int, requests: int, classroom: str, address: str) -> list[float]:
    """Seconds per request, one after another, as a student's notebook sends them."""
    bodies = [{"method": "eth_blockNumber", "params": []},
              {"method": "eth_getBalance", "params": [address, "latest"]},
              {"method": "eth_call", "params": [{"to": classroom, "data": "0x9c6b0eb3"},
                                                "latest"]}]
    out = []
    for i in range(requests):
        body = json.dumps({"jsonrpc": "2.0", "id": i, **bodies[i % 3]}).encode()
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        conn.close()
        out.append(time.perf_counter() - t0)
        if "result" not in answer:
            raise SystemExit(f"an honest request was refused: {answer}")
    return out


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    """Measure, print one line per phase and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--flooders", type=int, default=32)
    parser.add_argument("--node-root", type=Path, default=ROOT,
                        help="the checkout whose node to run (another branch's, for a "
                             "before/after); default this one")
    args = parser.parse_args()
    from omteach.chain.anvil import _free_port
    from omteach.classroom.node import ClassState

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), platform.processor())
    print(f"machine: {os.cpu_count()} cores, {cpu}; python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        state_file = Path(tmp) / "node.json"
        node = _start_node(port, state_file, args.node_root)
        try:
            state = ClassState.load(state_file)
            address = "0x" + "11" * 20  # any address: a balance read  (0x9c6b0eb3: class_size())
            _honest(port, 20, state.classroom, address)  # warm up
            alone: list[float] = []
            flood: list[float] = []
            served = 0.0
            for r in range(args.rounds):
                lat = _honest(port, args.requests, state.classroom, address)
                alone += lat
                print(f"round {r} alone: median {statistics.median(lat) * 1e3:.2f} ms, "
                      f"p99 {_p99(lat) * 1e3:.2f} ms", flush=True)
                seconds = 60.0
                flooder = subprocess.Popen(
                    [sys.executable, "-c", FLOODER, "127.0.0.1", str(port), state.classroom,
                     str(args.flooders), str(seconds)], stdout=subprocess.PIPE, text=True)
                time.sleep(1.0)  # the flood is under way
                t0 = time.monotonic()
                lat = _honest(port, args.requests, state.classroom, address)
                took = time.monotonic() - t0
                flooder.send_signal(signal.SIGTERM)
                flooder.wait()
                flood += lat
                print(f"round {r} flood: median {statistics.median(lat) * 1e3:.2f} ms, "
                      f"p99 {_p99(lat) * 1e3:.2f} ms (honest phase {took:.1f} s)", flush=True)
            # The flood's own throughput, measured alone for a few seconds at the end.
            flooder = subprocess.run(
                [sys.executable, "-c", FLOODER, "127.0.0.1", str(port), state.classroom,
                 str(args.flooders), "3"], capture_output=True, text=True, check=True)
            served = int(flooder.stdout.strip() or 0) / 3
        finally:
            node.send_signal(signal.SIGTERM)
            node.wait(timeout=30)
    a_med, a_p99 = statistics.median(alone) * 1e3, _p99(alone) * 1e3
    f_med, f_p99 = statistics.median(flood) * 1e3, _p99(flood) * 1e3
    print(f"alone: median {a_med:.2f} ms, p99 {a_p99:.2f} ms ({len(alone)} requests)")
    print(f"flood ({args.flooders} threads from another address): median {f_med:.2f} ms, "
          f"p99 {f_p99:.2f} ms ({len(flood)} requests)")
    print(f"alone_median_ms={a_med:.2f} alone_p99_ms={a_p99:.2f} flood_median_ms={f_med:.2f} "
          f"flood_p99_ms={f_p99:.2f} p99_ratio={f_p99 / a_p99:.2f} "
          f"flood_served_per_s={served:.0f}")


if __name__ == "__main__":
    main()
