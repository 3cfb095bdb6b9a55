"""The class's node: teacher's own key, random dev keys, the faucet, the roster, the CLI."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from omteach.chain.anvil import _free_port, find_anvil
from omteach.classroom.gate import GateRefusal
from omteach.classroom.node import (
    DEV,
    FAUCET,
    GRANT_WEI,
    ClassroomNode,
    ClassState,
    Faucet,
    read_gate_log,
    teacher_chain,
)
from omteach.classroom.student import Student
from omteach.errors import ChainError, ContractRevertError
from omteach.protocol.chainblobs import MAX_BLOB
from omteach.story import COMPANY

from .test_gate import WELL_KNOWN_DEV_KEY

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(find_anvil() is None and os.environ.get("CI") != "true",
                                reason="anvil not installed: run 'make setup-anvil'")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    state = tmp_path_factory.mktemp("class") / "node.json"
    with ClassroomNode(state_file=state) as n:
        yield n


@pytest.fixture(scope="module")
def ana(node):
    return Student.join(node.gate.url, node.classroom.address, "Ana")


def test_every_key_is_made_here_and_the_dev_keys_are_unknown(node):
    dev_accounts = node.chain.w3.eth.accounts
    assert dev_accounts == [node.chain.address(DEV)]
    assert node.chain.is_local(COMPANY) and node.chain.is_local(FAUCET)
    assert node.chain.address(COMPANY) not in dev_accounts
    assert Account.from_key(WELL_KNOWN_DEV_KEY).address not in dev_accounts  # random mnemonic
    assert node.chain.name_of(node.classroom.call("teacher")) == COMPANY
    assert node.anvil.url.startswith("http://127.0.0.1:")


def test_a_student_joins_with_a_key_of_their_own(node, ana):
    assert ana.address not in node.chain.w3.eth.accounts
    assert 0 < node.chain.balance(ana.address) < GRANT_WEI  # funded, then paid gas to join
    assert node.classroom.call("names", ana.address) == "Ana"
    assert node.classroom.call("class_size") == 1
    assert node.classroom.call("students", 0) == ana.address


def test_a_key_joins_once_and_names_are_unique(node, ana):
    with pytest.raises(ContractRevertError, match="this key already joined"):
        ana.classroom.transact("join", "Ana again", sender="Ana")
    with pytest.raises(ChainError, match="already funded"):
        ana.ask_faucet()
    with pytest.raises(ContractRevertError, match="that display name is taken"):
        Student.join(node.gate.url, node.classroom.address, "Ana")
    dee = Student(node.gate.url, node.classroom.address, "Dee")
    dee.ask_faucet()
    with pytest.raises(ContractRevertError, match="choose a display name"):
        dee.classroom.transact("join", "", sender="Dee")
    with pytest.raises(ContractRevertError):  # 41 characters: the ABI decoder refuses it
        dee.classroom.transact("join", "D" * 41, sender="Dee")
    assert node.classroom.call("names", dee.address) == ""


def test_only_the_teacher_points_the_class_at_its_market(node, ana):
    with pytest.raises(ContractRevertError, match="only the teacher sets the class's market"):
        ana.classroom.transact("set_market", node.board.address, sender="Ana")
    with pytest.raises(ContractRevertError, match="the teacher runs the class"):
        node.classroom.transact("join", "Teacher", sender=COMPANY)


def test_through_the_gate_a_student_can_neither_impersonate_nor_use_dev_accounts(node, ana):
    teacher = node.chain.address(COMPANY)
    assert ana.rpc("anvil_impersonateAccount", [teacher])["error"]["code"] == -32601
    tx = {"from": node.chain.address(DEV), "to": ana.address, "value": hex(10**20)}
    assert ana.rpc("eth_sendTransaction", [tx])["error"]["code"] == -32601
    assert ana.rpc("eth_accounts", [])["result"] == []
    slot = "0x" + "00" * 32
    assert "error" in ana.rpc("anvil_setStorageAt", [node.classroom.address, "0x0", slot])
    assert node.chain.name_of(node.classroom.call("teacher")) == COMPANY
    assert ("127.0.0.1", "anvil_setStorageAt") in node.gate.refusals
    log = read_gate_log(node.log_file)
    refused = [r for r in log if r["event"] == "refused"]
    assert {"anvil_impersonateAccount", "eth_sendTransaction",
            "anvil_setStorageAt"} <= {r["method"] for r in refused}
    assert all(r["client"] == "127.0.0.1" and "teacher's node only" in r["message"]
               for r in refused if r["method"].startswith("anvil"))
    funded = [r for r in log if r["event"] == "funded"]
    assert ana.address in {r["address"] for r in funded}
    assert sum(r["wei"] for r in funded if r["address"] == ana.address) == GRANT_WEI


def test_a_torn_or_missing_log_reads_as_what_is_whole(tmp_path):
    path = tmp_path / "gate.jsonl"
    assert read_gate_log(path) == []
    path.write_text('{"event": "refused", "method": "evm_mine"}\n{"event": "fun')
    assert read_gate_log(path) == [{"event": "refused", "method": "evm_mine"}]


def test_students_share_blobs_through_the_node(node, ana):
    bob = Student.join(node.gate.url, node.classroom.address, "Bob")
    bid = ana.blobs.put_json({"from": "Ana"})
    assert bob.blobs.get_json(bid) == {"from": "Ana"}
    assert bob.blobs.posted_by(ana.address) == [bid]
    assert bob.roster()["Ana"] == ana.address
    assert bob.chain.name_of(ana.address) == "Ana"  # the roster's name, on every machine
    assert bob.blobs.posted_by("Ana") == [bid]
    from omteach.classroom.roster import read_roster

    teacher_view = read_roster(node.classroom)  # the teacher's process: the same names
    assert teacher_view["Ana"] == ana.address and node.chain.name_of(ana.address) == "Ana"
    assert bob.chain.name_of(node.chain.address(COMPANY)) == COMPANY  # and the teacher's
    largest = os.urandom(MAX_BLOB)  # a signed transaction of ~135 kB passes the gate
    assert bob.blobs.get(ana.blobs.put(largest)) == largest


def test_the_faucet_cannot_be_drained_in_a_lesson(node):
    """Fresh keys at the per-client limit, from 30 machines, for 8 hours, get a join's worth
    each; the full grant goes only to the roster's students (1,024 at most)."""
    from omteach.classroom.node import JOIN_GRANT_WEI, PER_CLIENT

    fresh_keys_in_a_day_of_cheating = PER_CLIENT * 60 * 8 * 30
    need = fresh_keys_in_a_day_of_cheating * JOIN_GRANT_WEI + 1024 * GRANT_WEI
    assert node.chain.balance(FAUCET) > 2 * need


def test_the_faucet_serves_a_class_behind_one_nat_and_tops_up_only_the_roster(node):
    """Forty students behind one school NAT (one IP) get a join's worth each; the rest of the
    grant goes to an address once it is on the roster, and once."""
    from omteach.classroom.node import JOIN_GRANT_WEI

    faucet = Faucet(node.chain, classroom=node.classroom)
    school = "203.0.113.7"
    fresh = [Account.create().address for _ in range(40)]
    for address in fresh:
        assert faucet([address], school)["funded"] == JOIN_GRANT_WEI
    with pytest.raises(GateRefusal, match="join, then ask again for the rest"):
        faucet([fresh[0]], school)
    joe = Student(node.gate.url, node.classroom.address, "Joe Bloggs")
    faucet([joe.address], school)
    joe.classroom.transact("join", "Joe Bloggs", sender="Joe Bloggs")
    assert faucet([joe.address], school)["funded"] == GRANT_WEI - JOIN_GRANT_WEI
    with pytest.raises(GateRefusal, match="already funded this address once"):
        faucet([joe.address], school)


def test_the_faucet_takes_one_address_and_limits_each_machine(node):
    faucet = Faucet(node.chain, grant=1, per_client=2, window=60)
    for bad in ([], ["0x12"], [5], ["0x" + "g" * 40], ["0x" + "1" * 40, "extra"]):
        with pytest.raises(GateRefusal, match="takes one address") as e:
            faucet(bad, "10.0.0.9")
        assert e.value.code == -32602
    addresses = [Account.create().address for _ in range(3)]
    faucet([addresses[0]], "10.0.0.9")
    faucet([addresses[1]], "10.0.0.9")
    with pytest.raises(GateRefusal, match="at most 2 addresses a minute"):
        faucet([addresses[2]], "10.0.0.9")
    faucet([addresses[2]], "10.0.0.10")  # another machine
    assert [node.chain.balance(a) for a in addresses] == [1, 1, 1]


def test_the_state_file_is_private_and_gives_the_teacher_the_class(node):
    assert stat.S_IMODE(node.state_file.stat().st_mode) == 0o600
    chain, classroom, board = teacher_chain(node.state_file)
    assert chain.is_local(COMPANY) and chain.address(COMPANY) == node.chain.address(COMPANY)
    assert classroom.address == node.classroom.address and board.address == node.board.address
    classroom.transact("set_market", board.address, sender=COMPANY)
    assert classroom.call("market") == board.address


def test_a_missing_state_file_says_how_to_start_a_class(tmp_path):
    with pytest.raises(ChainError, match="make classroom"):
        ClassState.load(tmp_path / "nope.json")


def test_make_classroom_starts_prints_the_join_line_and_stops_cleanly(tmp_path):
    port, state = _free_port(), tmp_path / "node.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "omteach.classroom.node", "--port", str(port),
                             "--state", str(state)], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while not any("Ctrl-C" in ln for ln in lines) and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        assert f"students join with:   http://127.0.0.1:{port} 0x" in text, text
        assert "teacher's notebook" in text
        classroom = ClassState.load(state).classroom
        assert classroom in text
        me = Student.join(f"http://127.0.0.1:{port}", classroom, "Cleo")
        assert me.chain.balance("Cleo") > 0
        anvil_url = ClassState.load(state).node_url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert not state.exists()  # it held the teacher's key
    from omteach.chain import Chain

    with pytest.raises(ChainError, match="cannot reach"):
        Chain(anvil_url, cast=())  # anvil stopped with it


def test_the_teachers_notebook_opens_only_if_it_exists(tmp_path, monkeypatch):
    from omteach.classroom import node as node_module

    assert node_module.open_teacher_notebook(tmp_path / "missing.ipynb") is None
    notebook = tmp_path / "06_classroom_teacher.ipynb"
    notebook.write_text("{}")
    started = []
    monkeypatch.setattr(node_module.subprocess, "Popen", lambda cmd: started.append(cmd) or cmd)
    command = node_module.open_teacher_notebook(notebook)
    assert started == [command] and command[1:4] == ["-m", "jupyter", "lab"]
    assert command[4] == str(notebook)


def test_the_default_state_file_does_not_depend_on_the_working_folder():
    from omteach.classroom.node import DEFAULT_STATE

    assert DEFAULT_STATE.is_absolute()


def test_the_student_command_checks_and_joins(node, capsys):
    from omteach.classroom import student

    student.main([node.gate.url, node.classroom.address, "--join", "Eve"])
    out = capsys.readouterr().out
    assert f"reached the class at {node.gate.url}: chain 31337" in out
    assert "joined as Eve (0x" in out
    assert "Eve" in {node.classroom.call("names", node.classroom.call("students", i))
                     for i in range(node.classroom.call("class_size"))}


def test_the_student_command_says_what_to_check_when_it_cannot_connect(node):
    from omteach.classroom.student import check

    nowhere = f"http://127.0.0.1:{_free_port()}"
    assert "cannot join" in check(nowhere, node.classroom.address)
    assert "firewall" in check(nowhere, node.classroom.address)
    assert "no contract at" in check(node.gate.url, node.chain.address(COMPANY))


def test_a_key_file_brings_a_student_back_as_the_same_member(node, tmp_path):
    key_file = tmp_path / "keys" / "fay.key"
    fay = Student.join(node.gate.url, node.classroom.address, "Fay", key_file=key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    size, balance = node.classroom.call("class_size"), node.chain.balance(fay.address)
    again = Student.join(node.gate.url, node.classroom.address, "Fay", key_file=key_file)
    assert again.address == fay.address  # the same key, read back from this machine
    assert node.classroom.call("class_size") == size  # no second join
    assert node.chain.balance(fay.address) == balance  # and no second grant
    with pytest.raises(ChainError, match="this key joined the class as 'Fay', not 'Faye'"):
        Student.join(node.gate.url, node.classroom.address, "Faye", key_file=key_file)


def test_a_key_file_that_holds_no_key_is_not_overwritten(node, tmp_path):
    key_file = tmp_path / "notes.txt"
    key_file.write_text("my homework")
    with pytest.raises(ChainError, match="does not hold a private key"):
        Student.join(node.gate.url, node.classroom.address, "Gus", key_file=key_file)
    assert key_file.read_text() == "my homework"


def test_a_class_open_to_the_room_prints_an_address_students_can_use():
    from omteach.classroom.node import this_machines_address

    with ClassroomNode(host="0.0.0.0") as room:
        assert room.gate.url.startswith("http://0.0.0.0:")
        assert "0.0.0.0" not in room.join_line
        assert room.student_url == f"http://{this_machines_address()}:{room.gate.port}"
        me = Student.join(room.student_url, room.classroom.address, "Hal")
        assert me.chain.balance("Hal") > 0


def test_a_teacher_may_bring_their_own_key():
    key = Account.create()
    with ClassroomNode(teacher_key=key.key.hex()) as mine:
        assert mine.chain.address(COMPANY) == key.address
        assert mine.state.teacher_key == "0x" + key.key.hex().removeprefix("0x")


def test_the_teacher_of_a_running_class_comes_from_its_state_file(tmp_path):
    """What notebook 06's teacher does in a real class (``ClassTeacher.from_state``): AI Inc.
    with the teacher's own key, a market the classroom points at, and a spec students can read
    through the gate; a wrong state file says how to start a class."""
    from omteach.classroom.teacher import ClassTeacher

    with ClassroomNode(state_file=tmp_path / "node.json") as room:
        teacher = ClassTeacher.from_state(room.state_file)
        assert teacher.chain.is_local(COMPANY)
        assert teacher.chain.address(COMPANY) == room.chain.address(COMPANY)
        assert room.classroom.call("market") == teacher.market.contract.address
        spec_id = teacher.post(rounds=1, places=2, min_owners=1)
        ida = Student.join(room.gate.url, room.classroom.address, "Ida")
        market = ida.chain.attach("ModelMarket", room.classroom.call("market"))
        assert market.call("specs", spec_id)[0] == room.chain.address(COMPANY)  # company
    with pytest.raises(ChainError, match="make classroom"):
        ClassTeacher.from_state(tmp_path / "node.json")  # the node removed it when it stopped
