"""The chapter 2 widgets: the contract console and the state viewer."""

from __future__ import annotations

import re

import pytest

from omteach.chain import Chain
from omteach.errors import ContractRevertError, InvalidValueError
from omteach.exercises.ch02 import deploy_example
from omteach.ui.ch02 import ContractConsole, parse_argument, parse_wei


@pytest.fixture
def console():
    return ContractConsole(deploy_example(Chain()), actor="Joe")


def test_send_changes_state_and_refreshes_the_viewer(console):
    result = console.send("Joe", "grant_consent")
    assert result.events[0].name == "ConsentGranted"
    assert "ConsentGranted" in console.result_text
    assert "ConsentGranted" in console.viewer.events_text
    assert re.search(r"^consent\s+bool\s+\d+\s+True$", console.viewer.state_text, re.M)


def test_a_refusal_is_shown_with_its_reason(console):
    out = console.send("Jack", "grant_consent")
    assert isinstance(out, ContractRevertError)
    assert "refused: only the data owner can grant consent" in console.result_text
    assert "nothing changed" in console.result_text


def test_views_are_read_without_a_transaction(console):
    blocks = console._contract.chain.block_number
    assert console.send("Jane", "max_uses") == 3
    assert "max_uses() = 3" in console.result_text
    assert console._contract.chain.block_number == blocks


def test_bad_typed_input_is_an_error_in_the_widget(console):
    console._function.value = "use_data"
    assert [spec["name"] for spec, _ in console._arg_inputs] == ["model_name"]
    console._function.value = "max_uses"
    console._function.value = "deposit"
    assert console._value.disabled is False
    console._function.value = "grant_consent"
    assert console._value.disabled is True
    out = console.send("AI Inc.", "use_data")
    assert isinstance(out, InvalidValueError)
    assert "takes 1 argument" in console.result_text


def test_the_send_button_parses_the_typed_arguments(console):
    console.send("Joe", "grant_consent")
    console._actor.value = "AI Inc."
    console._function.value = "use_data"
    console._arg_inputs[0][1].value = "digits-mlp-v1"
    console._send_button.click()
    assert "DataUsed" in console.result_text
    console._arg_inputs[0][1].value = "other-model"
    console._send_button.click()
    assert "this model is not covered" in console.result_text


def test_parse_argument():
    assert parse_argument("uint256", " 1_000 ") == 1000
    assert parse_argument("bool", "yes") is True
    assert parse_argument("address", "Joe") == "Joe"
    with pytest.raises(InvalidValueError, match="whole number"):
        parse_argument("uint256", "ten")
    with pytest.raises(InvalidValueError, match="True or False"):
        parse_argument("bool", "maybe")
    assert parse_argument("uint256", "1e3") == 1000  # exact, not a float
    with pytest.raises(InvalidValueError, match="uint256 cannot be negative"):
        parse_argument("uint256", "-5")
    with pytest.raises(InvalidValueError, match="uint8 holds 0 to 255, got 300"):
        parse_argument("uint8", "300")
    with pytest.raises(InvalidValueError, match="int8 holds -128 to 127"):
        parse_argument("int8", "-200")
    with pytest.raises(InvalidValueError, match="whole number"):
        parse_argument("uint256", "1.5")


def test_parse_wei():
    assert parse_wei(" 1_000 ") == 1000 and parse_wei("1e3") == 1000 and parse_wei("") == 0
    with pytest.raises(InvalidValueError, match="cannot send -5 wei"):
        parse_wei("-5")
    for bad in ("1.5", "ten", "nan", "inf", "1e-3"):
        with pytest.raises(InvalidValueError, match="whole number"):
            parse_wei(bad)


@pytest.mark.parametrize("typed, said", [
    ("-5", "cannot send -5 wei"),
    ("1e30", "AI Inc. has"),       # 10^30 wei exactly: more than AI Inc. holds
    ("1.5", "expected a whole number"),
    ("ten", "expected a whole number"),
])
def test_a_deposit_no_transaction_can_carry_is_refused_in_the_widget(console, typed, said):
    """-5 wei was web3's "must be a hex string"; 1e30 in a number box became another number."""
    escrow = console._contract.call("escrow")
    console._actor.value, console._function.value = "AI Inc.", "deposit"
    console._value.value = typed
    console._send_button.click()
    assert said in console.result_text and console._result.kind == "error"
    assert "hex" not in console.result_text and "Traceback" not in console.result_text
    assert console._contract.call("escrow") == escrow  # nothing was sent
    console._value.value = "1e3"
    console._send_button.click()
    assert "EscrowDeposited" in console.result_text
    assert console._contract.call("escrow") == escrow + 1000


def test_send_from_code_refuses_what_no_transaction_can_carry(console):
    for value, said in ((-5, "cannot send -5 wei"), (10**30, "cannot send"), (2**256, "has"),
                        (2.5, "whole number")):
        out = console.send("AI Inc.", "deposit", value=value)
        assert isinstance(out, InvalidValueError) and said in console.result_text


def test_an_address_view_reads_as_the_state_table_names_it(console):
    out = console.send("Jane", "company")
    assert out.startswith("0x")  # the code gets the address itself
    assert console.result_text.startswith("company() = AI Inc. (0x")
    assert re.search(r"^company\s+address\s+\d+\s+AI Inc\.$", console.viewer.state_text, re.M)
