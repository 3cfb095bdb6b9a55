"""omteach.chain: accounts, compiling, readable views and clear errors, on eth-tester and anvil."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from omteach.chain import CAST, Chain, compile_contract, contract_source, contracts_dir
from omteach.errors import ChainError, ContractCompileError, InvalidValueError
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
