"""The chapter 2 widgets: the contract console and the state viewer."""

from __future__ import annotations

import re

import pytest

from omteach.chain import Chain
from omteach.errors import ContractRevertError, InvalidValueError
from omteach.exercises.ch02 import deploy_example
from omteach.ui.ch02 import ContractConsole, parse_argument


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


def test_an_address_view_reads_as_the_state_table_names_it(console):
    out = console.send("Jane", "company")
    assert out.startswith("0x")  # the code gets the address itself
    assert console.result_text.startswith("company() = AI Inc. (0x")
    assert re.search(r"^company\s+address\s+\d+\s+AI Inc\.$", console.viewer.state_text, re.M)
