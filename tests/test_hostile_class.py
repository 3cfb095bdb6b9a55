"""One hostile student against a real class (anvil + gate + faucet + roster): the class goes on.

Each test replays an attack of issue 20 and its variants through the gate, as a student with a
key, a Python kernel and the join line would, and then checks that the class goes on: the node
is alive, an honest student still joins, publishes and reads a blob, and the roster reads. The
attacker gets a clear JSON-RPC error, or the project's own exception in the library.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from eth_account import Account

from omteach.chain.anvil import find_anvil
from omteach.classroom.gate import MAX_BODY, Gate
from omteach.classroom.names import normalize_name
from omteach.classroom.node import ClassroomNode
from omteach.classroom.roster import read_roster, short_address
from omteach.classroom.student import Student
from omteach.errors import ContractRevertError, InvalidValueError
from omteach.story import COMPANY

from .test_gate import post

pytestmark = pytest.mark.skipif(find_anvil() is None and os.environ.get("CI") != "true",
                                reason="anvil not installed: run 'make setup-anvil'")

HELPERS = Path(__file__).parent / "contracts"
LOOP_RUNTIME = "5b600056"  # JUMPDEST, PUSH1 0, JUMP: runs until the gas is gone
LOOP_INIT = "6004600c60003960046000f3" + LOOP_RUNTIME
SEATS = 10


@pytest.fixture(scope="module")
def node():
    with ClassroomNode(class_size=SEATS) as n:
        yield n


@pytest.fixture(scope="module")
def mallory(node):
    """The hostile student: joined, funded, with a loop contract of her own on chain."""
    me = Student.join(node.gate.url, node.classroom.address, "Mallory")
    receipt = me.chain._send(None, {"from": me.address, "value": 0, "data": "0x" + LOOP_INIT},
                             "deploy a loop", "Mallory")
    me.loop = receipt["contractAddress"]
    return me


_honest = iter(f"Honest {chr(ord('A') + i)}" for i in range(26))


def class_goes_on(node) -> None:
    """The node lives, a new honest student joins, publishes and reads, and the roster reads."""
    assert node.anvil._proc.poll() is None, "anvil died"
    name = next(_honest)
    me = Student.join(node.gate.url, node.classroom.address, name)
    blob = me.blobs.put_json({"from": name})
    me.blobs.forget()
    assert me.blobs.get_json(blob) == {"from": name}
    assert read_roster(node.classroom)[name] == me.address


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# 1. crash: nesting the checks did not count ---------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-16-be", "utf-32"])
def test_deep_nesting_in_any_encoding_is_refused_not_a_crash(node, mallory, encoding):
    width = 4 if "32" in encoding else 2  # bytes per bracket (a BOM adds a few)
    count = (MAX_BODY - 8) // (2 * width)
    body = ("[" * count + "]" * count).encode(encoding)
    assert len(body) <= MAX_BODY
    status, answer = post(node.gate.url, body)
    assert status == 200 and answer["error"]["code"] == -32700
    # With a BOM the bytes are not UTF-8; without one, "[\0" is UTF-8 and its depth counts.
    message = answer["error"]["message"]
    assert ("not UTF-8" if encoding in ("utf-16", "utf-32") else "nests deeper") in message
    # The same nesting in UTF-8 (the gate's one encoding), objects too: refused by depth.
    for text in ("[" * 200_000 + "]" * 200_000, '{"a":' * 60_000 + "1" + "}" * 60_000):
        status, answer = post(node.gate.url, text.encode())
        assert answer["error"]["code"] == -32700 and "nests deeper" in answer["error"]["message"]
    class_goes_on(node)


# 2. freeze: an endless call ----------------------------------------------------------------------

def test_endless_calls_are_capped_and_overrides_refused(node, mallory):
    loop = mallory.loop
    attacks = [
        [{"to": loop, "gas": hex(2**62)}, "latest", {loop: {"code": "0x" + LOOP_RUNTIME}}],
        [{"to": loop}, "latest", {loop: {"code": "0x" + LOOP_RUNTIME}}],
        [{"to": loop}, "latest", None, {"number": "0x1"}],
        [{"to": loop, "gas": hex(2**62)}, "latest"],
        [{"to": loop, "gas": 2**62}, "latest"],
        [{"to": loop, "stateOverride": {}}, "latest"],
    ]
    for method in ("eth_call", "eth_estimateGas"):
        for params in attacks:
            error = mallory.rpc(method, params)["error"]
            assert error["code"] == -32602, (method, params, error)
            assert "override" in error["message"] or "gas" in error["message"] or (
                "standard call fields" in error["message"])
    block = node.chain.block_number
    started = time.monotonic()
    threads = [threading.Thread(target=mallory.rpc, args=("eth_call", [{"to": loop}, "latest"]))
               for _ in range(8)]  # without a gas field: the gate's cap, not the block's
    for t in threads:
        t.start()
    answer = mallory.rpc("eth_estimateGas", [{"to": loop, "from": mallory.address}])
    for t in threads:
        t.join()
    assert "error" in answer and time.monotonic() - started < 5
    class_goes_on(node)
    assert node.chain.block_number > block  # still mining


# 3, 4, 9, 10. names that would brick, blur or impersonate ------------------------------------

def test_names_that_would_brick_or_blur_the_roster_are_refused(node, mallory):
    eve = Student(node.gate.url, node.classroom.address, "eve")
    eve.ask_faucet()
    taken = "that display name is taken, or looks like one that is: choose another"
    for name, reason in [
        (" ", "a display name does not start or end with a space"),
        ("Mal\u200blory", "use Latin letters, digits, single spaces and - ' . in a name"),
        ("M\u0430llory", "use Latin letters, digits, single spaces and - ' . in a name"),
        ("Mal\u00adlory", "use Latin letters, digits, single spaces and - ' . in a name"),
        ("\u202eyrollaM", "use Latin letters, digits, single spaces and - ' . in a name"),
        ("MALL0RY", taken), ("Ma1lory", taken), (COMPANY, taken), ("Al lnc", taken),
    ]:
        with pytest.raises(ContractRevertError) as e:  # straight to the contract
            eve.classroom.transact("join", name, sender="eve")
        assert e.value.reason == reason, name
    # Raw calldata that is not UTF-8 at all: the contract refuses it too.
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    data = function_signature_to_4byte_selector("join(string)") + encode(["bytes"], [b"\xff"])
    with pytest.raises(ContractRevertError, match="use Latin letters"):
        eve.chain._send(None, {"from": eve.address, "to": node.classroom.address, "value": 0,
                               "data": data}, "join", "eve")
    # The student's own library explains before sending anything.
    for name in (" ", "A\u200bI Inc.", "\u0410I Inc."):
        with pytest.raises(InvalidValueError):
            normalize_name(name)
    assert node.classroom.call("names", eve.address) == ""
    class_goes_on(node)


def test_the_roster_and_the_dashboard_show_each_address_beside_the_name(node, mallory):
    from types import SimpleNamespace

    from omteach.ui.ch06 import TeacherDashboard

    def status() -> dict:  # what ClassTeacher.status gives before a spec is posted
        return {"spec": None, "rounds": [], "state": None, "closed": set(), "grace": None,
                "next_round_at": None, "students": {
                    name: {"address": address, "accepted": False, "rounds": {}, "credited": 0,
                           "balance": 0}
                    for name, address in read_roster(node.classroom).items()}}
    board = TeacherDashboard(SimpleNamespace(status=status, spec_id=None, name=str,
                                             initial_accuracy=None))
    board.refresh()
    assert "Mallory" in board.students.value
    assert short_address(mallory.address) in board.students.value


# 5. flooding the roster -------------------------------------------------------------------------

def test_contracts_and_spare_keys_cannot_take_the_classes_places(node, mallory):
    squatter = mallory.chain.deploy(
        "RosterSquatter", source=(HELPERS / "RosterSquatter.vy").read_text(), sender="Mallory")
    with pytest.raises(ContractRevertError, match="join with your own key"):
        squatter.transact("flood", node.classroom.address, 64, sender="Mallory")
    # Fresh keys funded by Mallory herself: each is a key, so each may join, up to the size the
    # teacher set; then the class is full and the teacher removes them.
    squatters = []
    while int(node.classroom.call("class_size")) < int(node.classroom.call("size")):
        key = Account.create()
        mallory.chain.add_account(f"sq{len(squatters)}", key)
        mallory.chain.send_value("Mallory", key.address, 10**16)
        mallory.classroom.transact("join", f"squat {chr(97 + len(squatters))}",
                                   sender=f"sq{len(squatters)}")
        squatters.append(key.address)
    late = Student(node.gate.url, node.classroom.address, "Latecomer")
    late.ask_faucet()
    with pytest.raises(ContractRevertError, match="the class is full"):
        late.classroom.transact("join", "Latecomer", sender="Latecomer")
    for address in squatters:
        node.classroom.transact("remove", address, sender=COMPANY)
    late.classroom.transact("join", "Latecomer", sender="Latecomer")
    with pytest.raises(ContractRevertError, match="removed this key"):
        mallory.classroom.transact("join", "squat again", sender="sq0")
    # Fresh keys from the faucet get a join's worth, and no more until they are on the roster.
    from omteach.classroom.node import JOIN_GRANT_WEI

    spare = Account.create().address
    assert mallory.rpc("omteach_faucet", [spare])["result"]["funded"] == JOIN_GRANT_WEI
    assert "join, then ask again" in mallory.rpc("omteach_faucet", [spare])["error"]["message"]
    node.classroom.transact("set_size", SEATS + 8, sender=COMPANY)  # room for the next tests
    class_goes_on(node)


# 6. memory: logs over the whole chain ------------------------------------------------------------

def test_log_queries_are_bounded_in_range_and_size(node, mallory):
    for _ in range(3):
        mallory.blobs.put(os.urandom(60_000))
    anvil_before = rss_mib(node.anvil._proc.pid)
    gate = node.gate
    saved = gate.max_response, gate.max_log_blocks
    gate.max_response, gate.max_log_blocks = 1024 * 1024, 5
    try:
        everything = {"jsonrpc": "2.0", "method": "eth_getLogs",
                      "params": [{"fromBlock": "0x0", "toBlock": "latest"}]}
        status, answer = post(gate.url, json.dumps(everything | {"id": 1}).encode())
        assert answer["error"]["code"] == -32005 and "blocks" in answer["error"]["message"]
        # The same class, another method: an answer that grows as blocks x percentiles.
        error = mallory.rpc("eth_feeHistory", ["0x400", "latest", [50.0] * 20_000])["error"]
        assert error["code"] == -32602 and "percentiles" in error["message"]
        narrowed = {"address": node.board.address, "fromBlock": "0x0", "toBlock": "latest",
                    "topics": [mallory.blobs._topic]}
        batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_getLogs", "params": [narrowed]}
                 for i in range(50)]
        raw_answer = _post_raw(gate.url, json.dumps(batch).encode())
        assert len(raw_answer) < gate.max_response + 50 * 300  # the budget, plus error texts
        answers = json.loads(raw_answer)
        assert len(answers) == 50 and "result" in answers[0]
        assert answers[-1]["error"]["code"] == -32005
        assert "another request" in answers[-1]["error"]["message"]
    finally:
        gate.max_response, gate.max_log_blocks = saved
    assert rss_mib(node.anvil._proc.pid) - anvil_before < 200
    class_goes_on(node)


def _post_raw(url: str, body: bytes) -> bytes:
    import http.client

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        return conn.getresponse().read()
    finally:
        conn.close()


# 7. pricing classmates out --------------------------------------------------------------------

def test_full_blocks_do_not_raise_the_fee_and_no_chain_id_is_refused(node, mallory):
    w3 = mallory.chain.w3
    key = mallory.chain._local[mallory.address.lower()]
    base_before = int(w3.eth.get_block("latest")["baseFeePerGas"])
    nonce = w3.eth.get_transaction_count(mallory.address)

    def signed(gas: int, n: int, **extra: object) -> str:
        tx = {"to": mallory.loop, "gas": gas, "nonce": n, "value": 0, **extra}
        if "gasPrice" not in tx:
            tx |= {"maxFeePerGas": 10**11, "maxPriorityFeePerGas": 0,
                   "chainId": mallory.chain.chain_id}
        return "0x" + key.sign_transaction(tx).raw_transaction.hex()

    error = mallory.rpc("eth_sendRawTransaction", [signed(30_000_000, nonce)])["error"]
    assert error["code"] == -32602 and "at most 10,000,000 gas" in error["message"]
    for i in range(12):  # as full as the gate lets a transaction be
        answer = mallory.rpc("eth_sendRawTransaction", [signed(10_000_000, nonce + i)])
        assert "result" in answer, answer
    w3.eth.wait_for_transaction_receipt(answer["result"])
    assert int(w3.eth.get_block("latest")["baseFeePerGas"]) <= base_before
    legacy = signed(50_000, nonce + 12, gasPrice=10**10)  # no chainId: v is 27 or 28
    error = mallory.rpc("eth_sendRawTransaction", [legacy])["error"]
    assert error["code"] == -32602 and "without a chain id" in error["message"]
    other = signed(50_000, nonce + 12, gasPrice=10**10, chainId=1)
    assert "signed for chain 1" in mallory.rpc("eth_sendRawTransaction", [other])["error"][
        "message"]
    assert w3.eth.get_transaction_count(mallory.address) == nonce + 12  # neither was sent
    class_goes_on(node)


# 8. holding the gate's slots ----------------------------------------------------------------------

def test_slow_connections_from_many_addresses_cannot_hold_the_gate(node):
    with Gate(node.anvil.url, max_open=24, max_open_per_client=8, request_deadline=1.0) as gate:
        host, port = urlsplit(gate.url).hostname, urlsplit(gate.url).port
        slow = []
        for n in range(2, 5):  # three addresses x eight slow connections: every slot
            for _ in range(8):
                s = socket.create_connection((host, port), timeout=10,
                                             source_address=(f"127.0.0.{n}", 0))
                s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
                slow.append(s)
        deadline = time.monotonic() + 5
        while sum(gate.open_connections.values()) < 24 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(gate.open_connections.values()) == 24
        # An honest student from another address is served at once: a slot is taken from the
        # address holding most.
        honest = socket.create_connection((host, port), timeout=10,
                                          source_address=("127.0.0.20", 0))
        body = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}'
        honest.sendall(b"POST / HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert b'"result"' in _read_all(honest)
        # A byte every 0.2 s does not keep a connection: the deadline is the whole request's.
        drip = socket.create_connection((host, port), timeout=10,
                                        source_address=("127.0.0.21", 0))
        started = time.monotonic()
        try:
            for byte in b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}{}{}{}{}{}":
                drip.sendall(bytes([byte]))
                time.sleep(0.2)
                if time.monotonic() - started > 6:
                    break
            closed_after = _read_all(drip)
        except OSError:
            closed_after = b""
        assert time.monotonic() - started < 3 and b'"result"' not in closed_after
        for s in slow + [honest, drip]:
            s.close()
        deadline = time.monotonic() + 5
        while gate.open_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not gate.open_connections  # every slot came back


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_flooding_client_does_not_starve_a_classmate(node):
    """One client (another address) with 16 connections asking without pause (the flooder of
    bench/gate_bench.py, for a few seconds); a classmate's reads stay quick: the fair queue
    serves addresses in turn."""
    import importlib.util
    import subprocess
    import sys

    spec = importlib.util.spec_from_file_location(
        "gate_bench", Path(__file__).parents[1] / "bench" / "gate_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    parts = urlsplit(node.gate.url)
    flooder = subprocess.Popen(
        [sys.executable, "-c", bench.FLOODER, parts.hostname, str(parts.port),
         node.classroom.address, "16", "2.5"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        honest = Student(node.gate.url, node.classroom.address, "Quiet")
        worst = 0.0
        for _ in range(10):
            started = time.monotonic()
            assert honest.chain.block_number > 0
            worst = max(worst, time.monotonic() - started)
        assert worst < 2.0, worst
    finally:
        out, _ = flooder.communicate(timeout=60)
    assert int(out) > 10  # the flood was served too, in its turn
    class_goes_on(node)
