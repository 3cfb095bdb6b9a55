"""Across a real network boundary: node and gate in one network namespace, a student in another.

Root only (``ip netns``; CI runs as root). Each run makes its own namespaces and veth pair, with
unique names, and removes them even when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from omteach.chain.anvil import find_anvil

ROOT = Path(__file__).resolve().parents[1]
PORT = 8546

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root (CI runs as root)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="the ip command (iproute2) is missing"),
    pytest.mark.skipif(find_anvil() is None, reason="anvil not installed: run 'make setup-anvil'"),
]

# Runs in the student's namespace: everything a student's laptop would try, as JSON on stdout.
STUDENT = """
import json, socket, sys
from omteach.classroom.student import Student
gate, classroom, anvil_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {}
me = Student.join(gate, classroom, "Ana")
out["balance"] = me.chain.balance("Ana")
out["block"] = me.chain.block_number
out["name"] = me.classroom.call("names", me.address)
bid = me.blobs.put_json({"seat": 1})
me.blobs.forget()
out["blob"] = me.blobs.get_json(bid)
for method, params in [("anvil_impersonateAccount", [me.address]),
                       ("anvil_setBalance", [me.address, "0xffffffffffff"]),
                       ("evm_mine", []),
                       ("eth_sendTransaction", [{"from": me.address, "to": me.address}])]:
    out[method] = me.rpc(method, params)["error"]["code"]
host = gate.split("//")[1].split(":")[0]
try:
    socket.create_connection((host, anvil_port), timeout=3).close()
    out["anvil_port"] = "open"
except OSError as exc:
    out["anvil_port"] = type(exc).__name__
print(json.dumps(out))
"""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:  # e.g. a container without CAP_NET_ADMIN: say which step failed
        pytest.fail(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


@pytest.fixture
def two_hosts():
    """(node namespace, student namespace, node address), removed afterwards whatever happens."""
    tag = uuid.uuid4().hex[:6]
    ns_node, ns_student = f"omt-node-{tag}", f"omt-stud-{tag}"
    subnet = f"10.{200 + int(tag[:2], 16) % 50}.{int(tag[2:4], 16)}"
    made: list[str] = []
    try:
        for ns in (ns_node, ns_student):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("link", "add", f"vn{tag}", "type", "veth", "peer", "name", f"vs{tag}")
        _ip("link", "set", f"vn{tag}", "netns", ns_node)
        _ip("link", "set", f"vs{tag}", "netns", ns_student)
        for ns, dev, host in ((ns_node, f"vn{tag}", 1), (ns_student, f"vs{tag}", 2)):
            _ip("-n", ns, "addr", "add", f"{subnet}.{host}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield ns_node, ns_student, f"{subnet}.1"
    finally:
        for ns in made:  # deleting a namespace deletes its end of the veth pair, and the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def test_a_student_in_another_namespace_reads_signs_and_is_refused_the_rest(two_hosts, tmp_path):
    ns_node, ns_student, address = two_hosts
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    state = tmp_path / "node.json"
    node = subprocess.Popen(
        ["ip", "netns", "exec", ns_node, sys.executable, "-m", "omteach.classroom.node",
         "--host", address, "--port", str(PORT), "--state", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not state.exists():
            assert node.poll() is None, node.stderr.read()
            assert time.monotonic() < deadline, "the node did not start within 60 s"
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written before the first line is printed
        info = json.loads(state.read_text())
        anvil_port = info["node_url"].rsplit(":", 1)[1]
        assert info["gate_url"] == f"http://{address}:{PORT}"
        student = subprocess.run(
            ["ip", "netns", "exec", ns_student, sys.executable, "-c", STUDENT,
             info["gate_url"], info["classroom"], anvil_port],
            capture_output=True, text=True, env=env, timeout=120)
        assert student.returncode == 0, student.stderr
        out = json.loads(student.stdout.strip().splitlines()[-1])
    finally:
        node.send_signal(signal.SIGTERM)  # ip netns exec passes it on to the node
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    assert 0 < out["balance"] and out["block"] > 0 and out["name"] == "Ana"
    assert out["blob"] == {"seat": 1}
    for method in ("anvil_impersonateAccount", "anvil_setBalance", "evm_mine",
                   "eth_sendTransaction"):
        assert out[method] == -32601, method
    # anvil listens on the node's loopback only: from another host its port is closed.
    assert out["anvil_port"] == "ConnectionRefusedError"


def test_the_student_reaches_the_node_over_the_veth_pair_not_loopback(two_hosts):
    """The node's address is routed through the veth pair, and exists only between the two."""
    ns_node, ns_student, address = two_hosts
    probe = subprocess.run(
        ["ip", "netns", "exec", ns_student, "ip", "route", "get", address],
        capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0 and "dev vs" in probe.stdout
    host = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True,
                          timeout=30)
    assert "dev vs" not in host.stdout
