"""omteach.chain: accounts, compiling, readable views and clear errors, on eth-tester and anvil."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from omteach.chain import CAST, Chain, compile_contract, contract_source, contracts_dir
from omteach.errors import (
    ChainError,
    ContractCompileError,
    ContractRevertError,
    InvalidValueError,
)
from omteach.ui.formatters import render_html

from .chain_fixtures import DAY, MODEL, deploy_agreement

ROOT = Path(__file__).resolve().parents[1]


def test_the_cast_has_funded_accounts(chain):
    assert list(chain.accounts) == list(CAST)
    assert len(set(chain.accounts.values())) == len(CAST)
    for name in CAST:
        assert chain.balance(name) > 10**18
        assert chain.name_of(chain.address(name)) == name
        assert chain.name_of(chain.address(name).lower()) == name


def test_unknown_account_is_a_clear_error(chain):
    with pytest.raises(InvalidValueError, match="unknown account 'Zed'.*Joe"):
        chain.address("Zed")


def test_compile_is_cached_by_source_hash():
    a = compile_contract("DataUseAgreement")
    assert compile_contract("DataUseAgreement") is a
    edited = compile_contract("DataUseAgreement", a.source + "\n# a comment\n")
    assert edited is not a and edited.source_hash != a.source_hash
    assert edited.abi == a.abi


def test_compile_error_names_the_line():
    broken = contract_source("DataUseAgreement").replace("self.consent = True", "self.consent = 7")
    with pytest.raises(ContractCompileError, match=r"DataUseAgreement\.vy does not compile") as e:
        compile_contract("DataUseAgreement", broken)
    assert "line" in str(e.value)


def test_unknown_contract_lists_the_known_ones():
    with pytest.raises(ChainError, match="no contract named 'Nope'.*DataUseAgreement"):
        compile_contract("Nope")


def test_bad_arguments_are_refused_before_the_chain_sees_them(chain):
    dua = deploy_agreement(chain)
    with pytest.raises(InvalidValueError, match="has no function 'steal'"):
        dua.transact("steal", sender="Jack")
    with pytest.raises(InvalidValueError, match=r"use_data takes 1 argument\(s\)"):
        dua.transact("use_data", sender="AI Inc.")
    with pytest.raises(InvalidValueError, match="model_name must be text"):
        dua.transact("use_data", 5, sender="AI Inc.")
    with pytest.raises(InvalidValueError, match="only reads state"):
        dua.transact("consent", sender="Joe")
    with pytest.raises(InvalidValueError, match="does not accept payment"):
        dua.transact("grant_consent", sender="Joe", value=1)
    with pytest.raises(InvalidValueError, match="cannot be negative"):
        chain.deploy("DataUseAgreement", "Joe", MODEL, "p", chain.now() + DAY, -1, 1)
    with pytest.raises(InvalidValueError, match="whole number"):
        chain.deploy("DataUseAgreement", "Joe", MODEL, "p", chain.now() + DAY, 1.5, 1)


def test_state_table_shows_slots_and_names(chain):
    table = deploy_agreement(chain).state()
    rows = {r[0]: r for r in table.rows}
    assert rows["company"][1:] == ("address", "0", "AI Inc.")
    assert rows["consent"][1] == "bool"
    slots = [int(r[2]) for r in table.rows if r[2] != "-"]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert "data_owner" in repr(table) and "<table" in render_html(table)


def test_blocks_link_to_their_parents_and_name_the_calls(chain):
    dua = deploy_agreement(chain)
    result = dua.transact("grant_consent", sender="Joe")
    block = chain.block(result.block)
    assert block.number == result.block
    assert block.transactions == ("Joe → DataUseAgreement.grant_consent",)
    assert block.parent_hash == chain.block(result.block - 1).hash
    assert block.gas_used == result.gas_used
    history = chain.blocks()
    assert [b.number for b in history] == list(range(chain.block_number + 1))
    assert all(b.parent_hash == a.hash for a, b in zip(history, history[1:], strict=False))
    assert any("deploys a contract" in t for b in history for t in b.transactions)


def test_advance_time_moves_the_clock(chain):
    before = chain.now()
    assert chain.advance_time(3 * DAY) >= before + 3 * DAY
    with pytest.raises(InvalidValueError):
        chain.advance_time(-5)


def test_everyone_sees_the_same_state(anvil_node):
    """Two independent connections to the same node read the same contract state."""
    mine, theirs = Chain(anvil_node.url), Chain(anvil_node.url)
    dua = deploy_agreement(mine)
    dua.transact("grant_consent", sender="Joe")
    view = theirs.w3.eth.contract(address=dua.address, abi=dua.compiled.abi)
    assert view.functions.consent().call() is True
    assert theirs.block(dua.events()[-1].block).hash == mine.block(dua.events()[-1].block).hash


def test_unreachable_node_is_a_chain_error():
    with pytest.raises(ChainError, match="cannot reach an Ethereum node"):
        Chain("http://127.0.0.1:9")


def test_contracts_ship_in_the_wheel(tmp_path):
    """The .vy files are package data: an installed wheel finds them too, not only a checkout."""
    assert (contracts_dir() / "DataUseAgreement.vy").is_file()
    # Build from a copy, so the build leaves no build/ directory in the checkout.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "test-artifacts", "*.egg-info", ".hypothesis", ".*cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(src)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("omteach-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for vy in (ROOT / "contracts").glob("*.vy"):
        assert f"omteach/contracts/{vy.name}" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    # The wheel's omteach comes first on the path, ahead of the editable install.
    out = subprocess.run(
        [sys.executable, "-c", "from omteach.chain import contracts_dir, contract_source; "
         "print(contracts_dir()); print(len(contract_source('ModelMarket')))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)},
        check=True, capture_output=True, text=True)
    found, size = out.stdout.split()
    assert Path(found).resolve().is_relative_to(site.resolve()), found
    assert int(size) == len((ROOT / "contracts" / "ModelMarket.vy").read_text())


# -- the compiled-contract cache on disk --------------------------------------------------------


@pytest.fixture
def fresh_compile(tmp_path, monkeypatch):
    """An empty disk cache in tmp_path, an empty in-process cache, and a count of real compiles."""
    import vyper.compiler

    from omteach.chain import compiler

    monkeypatch.setenv("OMTEACH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(compiler, "_COMPILED", {})
    calls = []
    real = vyper.compiler.compile_code

    def counting(*args, **kwargs):
        calls.append(kwargs.get("contract_path"))
        return real(*args, **kwargs)

    monkeypatch.setattr(vyper.compiler, "compile_code", counting)
    return calls


def test_a_compiled_contract_is_kept_on_disk_for_the_next_session(fresh_compile, monkeypatch):
    from omteach.chain import compiler

    first = compile_contract("DataUseAgreement")
    assert fresh_compile == ["DataUseAgreement.vy"]
    assert list((compiler.compile_cache_dir()).glob("DataUseAgreement-*.json"))
    monkeypatch.setattr(compiler, "_COMPILED", {})  # a new kernel: nothing compiled in this process
    again = compile_contract("DataUseAgreement")
    assert fresh_compile == ["DataUseAgreement.vy"]  # read back, not compiled again
    assert again is not first
    assert (again.abi, again.bytecode, again.layout, again.source_hash, again.source) == (
        first.abi, first.bytecode, first.layout, first.source_hash, first.source)


def test_an_edited_contract_file_is_compiled_again(fresh_compile, tmp_path, monkeypatch):
    from omteach.chain import compiler

    folder = tmp_path / "contracts"
    folder.mkdir()
    shutil.copy(contracts_dir() / "DataUseAgreement.vy", folder)
    monkeypatch.setattr(compiler, "contracts_dir", lambda: folder)
    first = compile_contract("DataUseAgreement")
    path = folder / "DataUseAgreement.vy"
    source = path.read_text()
    assert "only the data owner" in source  # a revert reason: it is in the bytecode
    path.write_text(source.replace("only the data owner", "only the owner of the data"))
    monkeypatch.setattr(compiler, "_COMPILED", {})
    second = compile_contract("DataUseAgreement")
    assert fresh_compile == ["DataUseAgreement.vy"] * 2
    assert second.source_hash != first.source_hash and second.bytecode != first.bytecode
    assert len(list(compiler.compile_cache_dir().glob("DataUseAgreement-*.json"))) == 2


def test_a_damaged_cache_file_is_compiled_again_and_repaired(fresh_compile, monkeypatch):
    from omteach.chain import compiler

    good = compile_contract("DataUseAgreement")
    (path,) = compiler.compile_cache_dir().glob("DataUseAgreement-*.json")
    for damage in ("{not json", '{"name": "DataUseAgreement"}',
                   path.read_text().replace('"bytecode": "0x', '"bytecode": "0xzz')):
        path.write_text(damage)
        monkeypatch.setattr(compiler, "_COMPILED", {})
        assert compile_contract("DataUseAgreement").bytecode == good.bytecode
    assert len(fresh_compile) == 4
    monkeypatch.setattr(compiler, "_COMPILED", {})
    compile_contract("DataUseAgreement")  # the last compile rewrote the file
    assert len(fresh_compile) == 4


def test_only_the_course_files_go_to_disk_and_a_cache_we_cannot_write_is_no_error(
        fresh_compile, tmp_path, monkeypatch):
    from omteach.chain import compiler

    edited = contract_source("DataUseAgreement") + "\n# a student's copy\n"
    compile_contract("DataUseAgreement", edited)
    assert not compiler.compile_cache_dir().exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OMTEACH_CACHE_DIR", str(blocker))
    assert compile_contract("DataUseAgreement").bytecode.startswith("0x")
    monkeypatch.setenv("OMTEACH_CACHE_DIR", "")
    assert compiler.compile_cache_dir() is None


def test_an_exported_cache_serves_another_account_without_compiling(fresh_compile, tmp_path,
                                                                    monkeypatch):
    """The class hub's shared cache: every course contract written readable by all, and a kernel
    pointed at it (OMTEACH_CACHE_DIR) compiles none of them."""
    from omteach.chain import compiler

    # The export reads the teacher's own cache: this user's, which `make setup` filled (what is
    # missing there is compiled now; the four contracts took 5 s of CPU when it was a new one).
    monkeypatch.delenv("OMTEACH_CACHE_DIR")
    written = compiler.export_compiled(tmp_path / "shared")
    names = sorted(p.stem for p in contracts_dir().glob("*.vy"))
    assert sorted(p.name.split("-")[0] for p in written) == names
    assert all(p.parent == tmp_path / "shared" / "contracts" and p.stat().st_mode & 0o777 == 0o644
               for p in written)
    monkeypatch.setenv("OMTEACH_CACHE_DIR", str(tmp_path / "shared"))
    monkeypatch.setattr(compiler, "_COMPILED", {})  # a student's fresh kernel
    del fresh_compile[:]
    assert [compile_contract(name).name for name in names] == names
    assert fresh_compile == []  # all read from the shared cache


# -- gas estimates on eth-tester ----------------------------------------------------------------


def _estimate_with(chain, estimator, tx):
    tester_chain = chain._provider.ethereum_tester.backend.chain
    saved = tester_chain.gas_estimator
    tester_chain.gas_estimator = estimator
    try:
        return chain.w3.eth.estimate_gas(tx)
    finally:
        tester_chain.gas_estimator = saved


def test_the_quick_gas_estimate_is_enough_and_close_to_the_bisection():
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance

    from omteach.chain.gas import quick_gas_estimate
    from omteach.protocol import Market

    market = Market.create()
    chain = market.chain
    assert chain._provider.ethereum_tester.backend.chain.gas_estimator is quick_gas_estimate
    fns = market.contract._contract.functions
    now = chain.now()
    steps = [("AI Inc.", fns.post_spec(b"\1" * 32, b"\2" * 32, "s", 8, 1, 2, 3, 0, 100,
                                       now + 10**6, 60, 60, 60), 300)]
    trio = ("Joe", "Jane", "Jack")
    steps += [(who, fns.accept(0), 0) for who in trio]
    steps += [("AI Inc.", fns.open_round(0, [chain.address(w) for w in trio], 2, 2), 0)]
    steps += [(who, fns.advertise_keys(0, 0, *[bytes([i + 1]) * 32] * 3), 0)
              for i, who in enumerate(trio)]
    steps += [(who, fns.post_shares(0, 0, b"\3" * 32), 0) for who in trio]
    steps += [(who, fns.submit(0, 0, b"\4" * 32), 0) for who in trio]
    steps += [("AI Inc.", fns.end_submissions(0), 0)]
    steps += [(who, fns.reveal_shares(0, 0, b"\6" * 32), 0) for who in trio]
    steps += [("AI Inc.", fns.close_round(0, b"\5" * 32), 0), ("Joe", fns.withdraw(), 0)]
    for who, fn, value in steps:
        tx = {"from": chain.address(who), "to": market.contract.address, "value": value,
              "data": fn._encode_transaction_data()}
        quick = _estimate_with(chain, quick_gas_estimate, tx)
        bisection = _estimate_with(chain, binary_gas_search_intrinsic_tolerance, tx)
        assert quick <= bisection + bisection // 63 + 2_300, fn.fn_name
        # Enough: the transaction succeeds with exactly the estimate (no buffer).
        receipt = chain.w3.eth.wait_for_transaction_receipt(
            chain.w3.eth.send_transaction({**tx, "gas": quick}))
        assert receipt["status"] == 1, fn.fn_name
        assert receipt["gasUsed"] <= quick


def _post_spec_tx(market):
    fn = market.contract._contract.functions.post_spec(
        b"\1" * 32, b"\2" * 32, "s", 8, 1, 2, 3, 0, 100, market.chain.now() + 10**6, 60, 60, 60)
    return {"from": market.address("AI Inc."), "to": market.contract.address, "value": 300,
            "data": fn._encode_transaction_data()}


def test_the_quick_gas_estimate_falls_back_to_the_bisection(monkeypatch):
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance

    from omteach.chain import gas
    from omteach.protocol import Market

    market = Market.create()
    tx = _post_spec_tx(market)
    bisection = _estimate_with(market.chain, binary_gas_search_intrinsic_tolerance, tx)
    real = gas._fails
    seen = []

    def the_guess_fails(state, transaction):
        seen.append(transaction.gas)
        return RuntimeError("out of gas") if len(seen) == 1 else real(state, transaction)

    monkeypatch.setattr(gas, "_fails", the_guess_fails)
    assert _estimate_with(market.chain, gas.quick_gas_estimate, tx) == bisection
    assert seen == [seen[0]]  # the guess only: then the bisection ran its own runs


def test_the_quick_estimate_is_installed_for_one_chain_on_a_checked_py_evm():
    """The estimate fixes each transaction's gas limit, hence the block hashes the notebooks
    print: a py-evm this was not checked with must be looked at before it is taken."""
    from omteach.chain.gas import CHECKED_PY_EVM, py_evm_version, quick_gas_estimate

    assert py_evm_version() in CHECKED_PY_EVM, (
        f"py-evm {py_evm_version()} is not one omteach.chain.gas was checked with "
        f"({', '.join(CHECKED_PY_EVM)}): compare its estimates and the notebooks' block hashes, "
        "then add it to CHECKED_PY_EVM")
    first, second = Chain(), Chain()
    ours = [c._provider.ethereum_tester.backend.chain for c in (first, second)]
    assert all(c.gas_estimator is quick_gas_estimate for c in ours)
    assert type(ours[0]) is not type(ours[1])  # one configured class per backend
    from eth.chains.base import MiningChain

    assert MiningChain.gas_estimator is not quick_gas_estimate  # py-evm's own, untouched
    first.send_value("Joe", "Jane", 1)  # estimated with it, then mined
    assert first.block_number == 1 and first.balance("Jane") > second.balance("Jane")


def test_a_refusal_still_comes_back_with_its_reason_on_eth_tester():
    from omteach.protocol import Market

    market = Market.create()
    with pytest.raises(ContractRevertError, match="you have nothing to withdraw"):
        market.withdraw(sender="Joe")
    assert market.chain.block_number == 1  # the deployment; the refusal mined nothing


def test_the_set_up_compiles_every_contract_into_the_cache(fresh_compile, tmp_path, monkeypatch):
    from omteach.chain import compiler
    from omteach.setup_tools import setup_plan

    folder = tmp_path / "contracts"
    folder.mkdir()
    shutil.copy(contracts_dir() / "DataUseAgreement.vy", folder)
    monkeypatch.setattr(compiler, "contracts_dir", lambda: folder)
    step = setup_plan(Path("v"), cpu_index_reachable=False)[-1]
    assert step.argv[1] == "-c" and "compile" in step.what
    exec(step.argv[2], {})
    assert fresh_compile == ["DataUseAgreement.vy"]
    cached = [p.name.split("-")[0] for p in compiler.compile_cache_dir().glob("*.json")]
    assert cached == ["DataUseAgreement"]


def test_a_receipt_is_asked_for_again_within_milliseconds(chain, monkeypatch):
    """A node that mines on arrival has the receipt within milliseconds: a transaction whose
    receipt is not there at the first ask is asked again after 5 ms, then 10 ms (web3's own wait
    sleeps 0.1 s, which half of a class's reveals waited under load)."""
    import omteach.chain.evm as evm

    real = chain._receipt_now
    misses = [None, None]

    def later(tx_hash):
        if misses:
            return misses.pop(0)
        # After the two misses the test stages, the node's own: a busy node may not have mined
        # the transaction yet, which is not the retry this test is about (time.sleep is patched)
        until = time.monotonic() + 10
        while (receipt := real(tx_hash)) is None and time.monotonic() < until:
            pass
        return receipt
    slept: list[float] = []
    monkeypatch.setattr(chain, "_receipt_now", later)
    monkeypatch.setattr(evm.time, "sleep", slept.append)
    before = chain.balance("Jane")
    result = chain.send_value("Joe", "Jane", 7)
    assert chain.balance("Jane") == before + 7 and result.block > 0
    assert slept == [0.005, 0.01]


def test_a_receipt_read_past_web3_is_the_receipt_web3_reads(chain):
    """On a node, receipts (and the block number) are read straight from it, not through web3's
    request pipeline: the same receipt, field by field and type by type, as web3 gives; None
    for a transaction no block holds."""
    board = chain.deploy("BlobBoard", sender="Joe")
    result = board.transact("publish", b"a blob with its log", sender="Joe")
    assert result.events, "a receipt with a log: the logs are formatted too"
    tx_hash = bytes.fromhex(result.tx_hash[2:])
    ours, theirs = chain._receipt_now(tx_hash), chain.w3.eth.get_transaction_receipt(tx_hash)
    assert ours == theirs and list(ours) == list(theirs)
    assert ({k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()})
    assert [dict(log) for log in ours["logs"]] == [dict(log) for log in theirs["logs"]]
    assert type(ours["logs"][0]["topics"][0]) is type(theirs["logs"][0]["topics"][0])
    assert chain._receipt_now(bytes.fromhex("ab" * 32)) is None
    assert chain.block_number == chain.w3.eth.block_number == result.block


def test_a_transaction_no_block_takes_is_named_not_waited_on_forever(chain, monkeypatch):
    monkeypatch.setattr(chain, "_receipt_now", lambda _tx_hash: None)
    tx_hash = bytes.fromhex("ab" * 32)
    with pytest.raises(ChainError, match=r"Joe → a transfer was sent \(0xabab.*in no block after "
                                         r"0 s: is the node still mining"):
        chain._receipt(tx_hash, "a transfer", "Joe", timeout=0.05)


def _argument(kind: str):
    """Hypothesis values for an ABI input of ``kind``: in range and out of it, right and wrong
    types, addresses checksummed, lower-case, miscased and not addresses at all."""
    from hypothesis import strategies as st

    if kind.startswith(("uint", "int")):
        bits = int(kind.lstrip("uint") or 256)
        low = 0 if kind.startswith("uint") else -(2 ** (bits - 1))
        high = 2 ** bits - 1 if kind.startswith("uint") else 2 ** (bits - 1) - 1
        return st.one_of(st.integers(low, high), st.sampled_from([low - 1, high + 1]))
    if kind == "address":
        joe = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
        return st.sampled_from([joe, joe.lower(), joe.upper().replace("0X", "0x"),
                                "0x" + "ab" * 20, "0x1234", "Joe", b"\x01" * 20])
    if kind == "bool":
        return st.booleans()
    if kind.startswith("bytes"):
        return st.one_of(st.binary(max_size=70), st.sampled_from(["0x" + "ab" * 32, "text"]))
    return st.one_of(st.text(max_size=40), st.binary(max_size=8))


def test_our_call_data_is_web3s_for_every_function_of_every_contract():
    """DeployedContract.call_data encodes plain arguments itself (web3's normalizers were a
    millisecond of every read): for every function of the course's four contracts, the same
    bytes as web3's encoder, and a refusal wherever web3 refuses."""
    from types import SimpleNamespace

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from web3 import Web3

    from omteach.chain import DeployedContract

    offline = SimpleNamespace(w3=Web3())  # encoding asks no node: a chain with no provider
    address = Web3.to_checksum_address("0x" + "12" * 20)
    contracts = [DeployedContract(offline, compile_contract(n), address, n)
                 for n in ("BlobBoard", "Classroom", "DataUseAgreement", "ModelMarket")]
    functions = [(c, name, [i["type"] for i in abi["inputs"]])
                 for c in contracts for name, abi in c.functions.items()]
    assert len(functions) > 40

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def same_as_web3(data):
        contract, name, kinds = data.draw(st.sampled_from(functions))
        args = [data.draw(_argument(k)) for k in kinds]
        try:
            theirs = getattr(contract._contract.functions, name)(*args)._encode_transaction_data()
        except Exception:
            with pytest.raises(Exception):  # noqa: B017 (web3's and eth_abi's own kinds)
                contract.call_data(name, args)
            return
        assert contract.call_data(name, args) == theirs, (name, args)
    same_as_web3()


@pytest.mark.parametrize("answer", ["lots", None, 7, "0xzz", {"x": 1}])
def test_a_node_answering_reads_with_what_is_not_hex_gets_a_chain_error(anvil_node, answer):
    """The chain's own reads parse the node's answers: anything but 0x-hex is the project's
    ChainError naming the method, never a bare ValueError from deep inside."""
    chain = Chain(anvil_node.url)
    board = chain.deploy("BlobBoard", sender="Joe")
    chain._provider.transport.rpc = lambda *a, **k: answer
    with pytest.raises(ChainError, match="answered eth_blockNumber with .*not 0x-hex"):
        chain.block_number  # noqa: B018 (a property's read is the call under test)
    with pytest.raises(ChainError, match="eth_call with .*not 0x-hex"):
        board.call("count")
