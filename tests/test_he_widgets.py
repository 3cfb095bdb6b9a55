"""Chapter 1 widgets compute what they show, and show errors in the widget."""

import warnings

import pytest

from omteach.crypto.cost import KeyCost, measure_key_cost, security_level
from omteach.errors import InvalidValueError, PlaintextOverflowError, WeakKeyWarning
from omteach.ui.ch01 import EncryptedAdder, KeySizeExplorer, security_text


@pytest.fixture(scope="module")
def keys():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakKeyWarning)
        from omteach.crypto.paillier import generate_keypair

        return generate_keypair(512)


def test_adder_adds_from_code_and_widget(keys):
    adder = EncryptedAdder(keys, a="2", b="40")
    assert adder.add(2.5, "7").decrypted == pytest.approx(9.5)
    assert "decrypt(sum) = 42" in adder.result.text
    adder.a_box.value, adder.b_box.value = "1,000", "-1"
    adder.button.click()
    assert "decrypt(sum) = 999" in adder.result.text


def test_adder_shows_bad_input_in_the_widget(keys):
    adder = EncryptedAdder(keys)
    adder.a_box.value = "twelve"
    adder.button.click()
    assert "is not a number" in adder.result.text
    assert "Traceback" not in adder.result.text
    adder.a_box.value = "nan"
    adder.button.click()
    assert "NaN and infinity" in adder.result.text
    with pytest.raises(InvalidValueError):
        adder.add("twelve", 1)


def test_key_size_explorer_follows_the_slider():
    costs = [measure_key_cost(b, repeats=3)[0] for b in (512, 1024)]
    explorer = KeySizeExplorer(costs)
    assert explorer.slider.value == 1024
    assert "256 bytes" in explorer.panel.text and "80 bits" in explorer.panel.text
    explorer.slider.value = 512
    assert "128 bytes" in explorer.panel.text
    assert "factored" in explorer.panel.text
    # a verdict is not a number of bits
    assert "security strength : none: factored by public efforts\n" in explorer.panel.text
    assert "efforts bits" not in explorer.panel.text
    with pytest.raises(InvalidValueError):
        KeySizeExplorer([])


def test_security_levels():
    assert security_level(2048) == "112"
    assert security_level(4096) == "at least 128"
    assert security_level(512).startswith("none")
    c = KeyCost(3072, 1.0, 1.0, 1.0, 1.0, 768)
    assert c.security == "128"


def test_security_text_adds_bits_only_to_numbers():
    assert security_text("112") == "112 bits"
    assert security_text("at least 128") == "at least 128 bits"
    assert security_text("none: factored by public efforts") == "none: factored by public efforts"


def test_adder_refuses_a_number_too_large_for_the_key_in_the_widget(keys):
    adder = EncryptedAdder(keys, a="2", b="40")
    assert "decrypt(sum) = 42" in adder.result.text
    adder.a_box.value = "9" * 620  # far beyond the key, and beyond what a float can hold
    adder.button.click()
    assert "a has 620 digits" in adder.result.text and adder.result.kind == "error"
    assert "decrypt(sum) = 42" not in adder.result.text  # the old result does not stay
    with pytest.raises(PlaintextOverflowError, match="b has 620 digits"):
        adder.add(1, int("9" * 620))


def test_adder_refuses_a_decimal_too_large_to_be_exact_in_the_widget(keys):
    """1e30 typed into the adder is not 10^30 once it is a float: refused, with what to type."""
    adder = EncryptedAdder(keys, a="2", b="40")
    adder.a_box.value = "1e30"
    adder.button.click()
    text = adder.result.text
    assert adder.result.kind == "error" and "a = 1e30 is a decimal number too large" in text
    assert "1000000000000000019884624838" in text and "Type a whole number" in text
    assert "decrypt(sum)" not in text
    adder.a_box.value = "1" + "0" * 30  # the same number with all its digits: exact
    adder.button.click()
    assert f"decrypt(sum) = {10**30 + 40}" in adder.result.text
    with pytest.raises(InvalidValueError, match="b = -1e300 is a decimal number"):
        adder.add(1, "-1e300")
