"""Across a real network boundary: node and gate in one network namespace, a student in another.

Root only (``ip netns``; CI runs as root). Each run makes its own namespaces and veth pair, with
unique names, and removes them even when a test fails.

The last test is issue 21's rehearsal across hosts: a class whose students run partly in a
namespace of their own, reaching the teacher's machine only through the gate's address on their
network, with one in ten accepting and vanishing. The suite runs 8 students (one vanishes);
``OMTEACH_NETNS_STUDENTS=30`` runs the issue's 30 (three vanish), about a minute more.
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

import numpy as np
import pytest

from omteach.chain.anvil import find_anvil
from omteach.classroom.node import CLASS_SIZE, ClassroomNode

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


@pytest.fixture
def student_host():
    """(the students' namespace, the teacher's address on their network): one namespace joined
    to this one by a veth pair; removed afterwards whatever happens."""
    tag = uuid.uuid4().hex[:6]
    ns = f"omt-class-{tag}"
    subnet = f"10.{200 + int(tag[:2], 16) % 50}.{int(tag[2:4], 16)}"
    made = False
    try:
        _ip("netns", "add", ns)
        made = True
        _ip("link", "add", f"vh{tag}", "type", "veth", "peer", "name", f"vc{tag}")
        _ip("link", "set", f"vc{tag}", "netns", ns)
        _ip("addr", "add", f"{subnet}.1/24", "dev", f"vh{tag}")
        _ip("link", "set", f"vh{tag}", "up")
        _ip("-n", ns, "addr", "add", f"{subnet}.2/24", "dev", f"vc{tag}")
        _ip("-n", ns, "link", "set", f"vc{tag}", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, f"{subnet}.1"
    finally:
        if made:  # deleting the namespace deletes both ends of the veth pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


CLOSE_SECONDS = 3
"""Issue 21: a round with dropouts closes within the submit deadline plus this, in chain time."""


def test_a_class_across_hosts_closes_without_its_vanished_students_within_3_s(student_host):
    """Half the class (every vanished student among them) runs in another network namespace and
    reaches the teacher's machine only through the gate's address there; one in ten accepts,
    deals its key shares and vanishes. The round closes with the exact mean of the others, and
    within 3 s of the submit deadline: the close's block against the deadline, both chain time
    (whole seconds)."""
    from omteach.classroom.classmates import light_values
    from omteach.classroom.drill import rehearse_round
    from omteach.learning import tasks

    ns, address = student_host
    n = int(os.environ.get("OMTEACH_NETNS_STUDENTS", "8"))
    gone = max(1, n // 10)
    leave = {seat: 0 for seat in range(n - gone, n)}
    away = {seat: ns for seat in range(n) if seat % 2 or seat in leave}
    with ClassroomNode(host=address, per_client=n + 1, class_size=max(n, CLASS_SIZE)) as node:
        node.gate.max_open_per_client = max(node.gate.max_open_per_client, 2 * n)
        result = rehearse_round(n, rounds=1, light=True, min_owners=3, leave=leave, netns=away,
                                node=node, timeout=120, interval=0.5 if n <= 30 else 1.0,
                                phase_seconds={"share_seconds": 60 + 2 * n,
                                               "submit_seconds": 8 + n // 2,
                                               "reveal_seconds": 30})
        teacher = result.teacher
        deadline = teacher.market.round_info(teacher.spec_id, 0).submit_deadline
        closed = [e for e in teacher.market.contract.events() if e.name == "RoundClosed"]
        closed_at = teacher.chain.w3.eth.get_block(closed[0].block)["timestamp"]
        funded_from = dict(node.faucet.funded)
    assert {r.name: r.error for r in result.reports if r.error} == {}
    (record,) = result.records
    assert sorted(record.dropped) == [f"student-{s:02d}" for s in leave]
    assert not record.abandoned and len(record.submitted) == n - gone
    # Who came from where: the gate saw the away seats from the other host's address.
    by_name = {r.name: r.address.lower() for r in result.reports}
    hosts = {seat: funded_from[by_name[f"student-{seat:02d}"]] for seat in range(n)}
    assert {hosts[seat] for seat in away} == {address.rsplit(".", 1)[0] + ".2"}
    assert {hosts[seat] for seat in range(n) if seat not in away} == {address}
    size = teacher.company.weights.size
    survivors = [s for s in range(n) if s not in leave]
    expected = np.mean([light_values(s, 0, size) for s in survivors], axis=0)
    moved = teacher.company.weights - tasks.initial_weights(teacher.model, 0)
    assert np.max(np.abs(moved - expected)) <= teacher.codec.error_bound(n - gone) / (n - gone)
    print(f"students={n} vanished={gone} closed_after_deadline_s={closed_at - deadline} "
          f"(chain time) teacher_clock_s={record.closed_at - deadline:.2f}")
    assert closed_at - deadline <= CLOSE_SECONDS, (closed_at - deadline, record.timings)
