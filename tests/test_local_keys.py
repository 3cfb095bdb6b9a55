"""Local signing keys in omteach.chain: signed here, sent raw, on eth-tester and anvil alike."""

from __future__ import annotations

import math
import threading

import pytest
from eth_account import Account

from omteach.chain import Chain
from omteach.errors import ChainError, ContractRevertError, InvalidValueError
from omteach.story import COMPANY

from .chain_fixtures import asked_of_node, deploy_agreement

ETHER = 10**18


def _funded(chain: Chain, name: str = "Ana") -> str:
    address = chain.new_account(name)
    chain.send_value("Joe", name, ETHER)
    return address


def test_a_local_key_is_not_an_account_of_the_node(chain):
    address = _funded(chain)
    assert chain.is_local("Ana") and not chain.is_local("Joe")
    assert address not in chain.w3.eth.accounts
    assert chain.name_of(address) == "Ana"
    assert chain.balance("Ana") == ETHER


def test_a_local_key_deploys_and_transacts_with_signed_raw_transactions(chain):
    _funded(chain)
    dua = deploy_agreement(chain, owner="Joe", sender="Ana")
    assert chain.name_of(dua.call("company")) == "Ana"
    result = dua.transact("grant_consent", sender="Joe")
    assert result.events[0].name == "ConsentGranted"
    # Ana, the company here, uses the data: a contract call signed in this process.
    used = dua.transact("use_data", dua.call("model_name"), sender="Ana")
    tx = chain.w3.eth.get_transaction(used.tx_hash)
    assert tx["from"].lower() == chain.address("Ana").lower()
    assert int(tx["chainId"]) == chain.chain_id


def test_a_refusal_from_a_local_key_carries_the_contracts_reason(chain):
    _funded(chain)
    dua = deploy_agreement(chain)
    before = dua.state()
    with pytest.raises(ContractRevertError, match="only the data owner can grant consent") as e:
        dua.transact("grant_consent", sender="Ana")
    assert e.value.reason == "only the data owner can grant consent" and e.value.sender == "Ana"
    assert dua.state() == before


def test_an_unfunded_local_key_gets_a_chain_error_not_a_web3_one(chain):
    chain.new_account("Ana")
    with pytest.raises(ChainError, match="Ana → transfer to Joe failed"):
        chain.send_value("Ana", "Joe", 1)
    with pytest.raises(ChainError, match="Ana → deploy DataUseAgreement failed"):
        deploy_agreement(chain, sender="Ana")


def test_nonces_follow_each_other_across_threads(chain):
    _funded(chain)
    threads = [threading.Thread(target=chain.send_value, args=("Ana", "Jane", 1))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert chain.w3.eth.get_transaction_count(chain.address("Ana")) == 4


def test_a_local_keys_contract_call_is_the_transaction_web3_would_build(chain):
    """On a node, a local key's contract call is encoded, estimated and sent past web3's
    pipeline (omteach.chain.transport): the transaction mined is the one web3 builds (same
    data, value, nonce, chain id, fees; gas = web3's estimate + the margin)."""
    from omteach.chain.evm import GAS_MARGIN

    _funded(chain)
    dua = deploy_agreement(chain, owner="Joe", sender="Ana")
    dua.transact("grant_consent", sender="Joe")
    model = dua.call("model_name")
    fn = dua._contract.functions.use_data(model)
    nonce = chain.w3.eth.get_transaction_count(chain.address("Ana"))
    fees = chain._cached_fees()
    built = fn.build_transaction({"from": chain.address("Ana"), "value": 0,
                                  "chainId": chain.chain_id, "nonce": nonce, **fees})
    used = dua.transact("use_data", model, sender="Ana")
    mined = chain.w3.eth.get_transaction(used.tx_hash)
    assert bytes(mined["input"]) == bytes.fromhex(built["data"][2:])
    assert mined["to"] == built["to"] == dua.address
    assert (mined["value"], mined["nonce"], int(mined["chainId"])) == (0, nonce, chain.chain_id)
    assert (mined["maxFeePerGas"], mined["maxPriorityFeePerGas"]) == (
        fees["maxFeePerGas"], fees["maxPriorityFeePerGas"])
    assert mined["gas"] == built["gas"] + GAS_MARGIN


def test_an_unfunded_local_keys_contract_call_gets_a_chain_error_naming_the_call(chain):
    _funded(chain)
    dua = deploy_agreement(chain, owner="Joe", sender="Ana")
    dua.transact("grant_consent", sender="Joe")
    chain.new_account("Bo")
    with pytest.raises(ChainError, match="Bo → DataUseAgreement.grant_consent failed: ") as e:
        dua.transact("grant_consent", sender="Bo")
    assert type(e.value) is ChainError and "gas" in str(e.value)  # the node's words, with whose


@pytest.mark.parametrize("key", ["0x12", "not a key", b"short", 0, "0x" + "00" * 32, None])
def test_a_bad_private_key_is_refused_clearly(key):
    chain = Chain()
    with pytest.raises(InvalidValueError, match="not a private key"):
        chain.add_account("Ana", key)
    assert "Ana" not in chain.accounts


def test_a_name_cannot_be_given_to_a_second_key():
    chain = Chain()
    chain.new_account("Ana")
    with pytest.raises(InvalidValueError, match="'Ana' already names"):
        chain.new_account("Ana")
    with pytest.raises(InvalidValueError, match="'Joe' already names"):
        chain.add_account("Joe", Account.create())
    with pytest.raises(InvalidValueError, match="needs a name"):
        chain.add_account("  ", Account.create())


def test_the_same_key_may_be_named_again_under_its_name():
    chain = Chain()
    key = Account.create()
    assert chain.add_account("Ana", key) == chain.add_account("Ana", key.key.hex())


@pytest.mark.parametrize("wei", [-1, 1.5, True, "1"])
def test_send_value_takes_whole_wei(wei):
    with pytest.raises(InvalidValueError, match="whole number of wei"):
        Chain().send_value("Joe", "Jane", wei)


def test_a_chain_with_only_local_keys_reads_and_signs(anvil_node):
    teacher = Chain(anvil_node.url)
    key = Account.create()
    teacher.send_value("Joe", key.address, ETHER)
    dua = deploy_agreement(teacher)
    mine = Chain(anvil_node.url, cast=(), keys={"Ana": key})
    assert list(mine.accounts) == ["Ana"]
    with pytest.raises(InvalidValueError, match="unknown account 'Joe'"):
        mine.address("Joe")
    there = mine.attach("DataUseAgreement", dua.address)
    # A view with no sender named: the chain has no "AI Inc.", so the call comes from nobody.
    assert there.call("company") == teacher.address(COMPANY)  # raw address: not a name here
    with pytest.raises(ContractRevertError, match="only the data owner"):
        there.transact("grant_consent", sender="Ana")
    mine.send_value("Ana", teacher.address("Jane").lower(), 1)
    assert mine.balance("Ana") < ETHER


def test_attach_refuses_an_address_without_code(chain):
    with pytest.raises(ChainError, match="no contract at"):
        chain.attach("DataUseAgreement", chain.address("Joe"))
    with pytest.raises(ChainError, match="no contract named 'Nope'"):
        chain.attach("Nope", chain.address("Joe"))


def test_a_label_names_a_classmate_but_cannot_send(chain):
    bob = Account.create().address
    chain.label("Bob", bob)
    assert chain.address("Bob") == bob and chain.name_of(bob.lower()) == "Bob"
    chain.send_value("Joe", "Bob", 5)  # a label can receive
    assert chain.balance("Bob") == 5
    with pytest.raises(ChainError, match="there is no key for Bob here"):
        chain.send_value("Bob", "Joe", 1)
    with pytest.raises(InvalidValueError, match="'Joe' already names"):
        chain.label("Joe", bob)
    with pytest.raises(InvalidValueError, match="a label is a name"):
        chain.label("", bob)
    mine = chain.new_account("Ana")
    chain.label("Someone", mine)  # our own key keeps its name
    assert chain.name_of(mine) == "Ana" and "Someone" not in chain.labels


def test_a_local_keys_later_transactions_ask_the_node_only_to_estimate_send_and_confirm(chain):
    """Issue 21: with 100 students each request through the gate counts. The nonce of a key
    only this process uses, and fees a few seconds old, are known here: after the first
    transaction a call costs the estimate, the raw transaction and its receipt."""
    _funded(chain)
    dua = deploy_agreement(chain, owner="Joe", sender="Ana")
    dua.transact("grant_consent", sender="Joe")
    model = dua.call("model_name")
    asked = asked_of_node(chain)
    dua.transact("use_data", model, sender="Ana")
    asked.clear()
    dua.transact("use_data", model, sender="Ana")
    chain.send_value("Ana", "Jane", 1)
    # (eth_chainId: web3 validates with it, and a JSON-RPC chain answers it from its cache;
    # the receipt is asked again while its block is still being mined: one wait, however many
    # polls a busy node needs)
    to_node = [m for i, m in enumerate(asked) if m != "eth_chainId" and not (
        m == "eth_getTransactionReceipt" and i and asked[i - 1] == m)]
    assert to_node == ["eth_estimateGas", "eth_sendRawTransaction",
                       "eth_getTransactionReceipt"] * 2, to_node


def test_a_chain_reuses_its_fees_for_as_long_as_it_is_told(chain):
    """Fees older than ``fee_seconds`` are read again before a transaction (two requests); a
    chain told that its node's fees cannot rise (a student's, on the class's node) reuses them
    however old (issue 21: a survivor's reveal comes a submit phase after its last
    transaction)."""
    _funded(chain)
    chain.send_value("Ana", "Jane", 1)
    asked = asked_of_node(chain)
    chain._fees_at -= 3600  # an hour later
    chain.send_value("Ana", "Jane", 1)
    assert {"eth_getBlockByNumber", "eth_maxPriorityFeePerGas"} <= set(asked), asked
    chain.fee_seconds = math.inf
    chain._fees_at -= 3600
    asked.clear()
    chain.send_value("Ana", "Jane", 1)
    assert [m for m in asked if m not in ("eth_chainId", "eth_getTransactionReceipt")] == [
        "eth_estimateGas", "eth_sendRawTransaction"], asked


def test_a_nonce_used_elsewhere_is_read_again_and_the_transaction_still_goes(chain):
    """The same key in a second process (a second kernel of one student) takes this process's
    next nonce: the node refuses it as too low, and the transaction is sent again with the
    node's count."""
    key = Account.create()
    chain.send_value("Joe", key.address, ETHER)
    chain.add_account("Ana", key)
    elsewhere = Chain(chain.w3.provider.endpoint_uri, cast=(), keys={"Ana": key}) \
        if hasattr(chain.w3.provider, "endpoint_uri") else None
    chain.send_value("Ana", "Jane", 1)  # this process now expects nonce 1 next
    if elsewhere is None:  # eth-tester: one chain per process; the other kernel's nonce, by hand
        chain._nonces[key.address.lower()] = 0
    else:
        elsewhere.send_value("Ana", chain.address("Jane"), 1)
    chain.send_value("Ana", "Jane", 1)
    assert chain.w3.eth.get_transaction_count(key.address) == 3 - (elsewhere is None)
