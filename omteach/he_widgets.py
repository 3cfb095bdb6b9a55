"""Chapter 1 widgets: an encrypted adder and a key-size explorer.

Each widget is also usable from plain code: ``EncryptedAdder.add`` returns the numbers it shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets

from omteach.errors import InvalidValueError, OmteachError
from omteach.he import Ciphertext, KeyPair, decrypt, encrypt
from omteach.he_cost import KeyCost
from omteach.ui import error_html, message_html


def _short(c: Ciphertext, keep: int = 12) -> str:
    digits = str(c.raw)
    return f"{digits[:keep]}…{digits[-keep:]} ({len(digits)} digits)"


def _parse_number(text: str, name: str) -> int | float:
    text = text.strip().replace(",", "").replace("_", "")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise InvalidValueError(
            f"{name} = {text!r} is not a number: type a whole number like 42 or a decimal like 3.5"
        ) from None


@dataclass(frozen=True)
class AdderResult:
    """What the encrypted adder computed: both ciphertexts, their sum and its decryption."""

    a: int | float
    b: int | float
    enc_a: Ciphertext
    enc_b: Ciphertext
    enc_sum: Ciphertext
    decrypted: int | float
    seconds: float


class EncryptedAdder(widgets.VBox):
    """Two inputs; encrypts each, adds the ciphertexts, and decrypts only the sum."""

    def __init__(self, keys: KeyPair, a: str = "3", b: str = "4"):
        self._keypair = keys
        self.a_box = widgets.Text(value=str(a), description="a =", layout={"width": "220px"})
        self.b_box = widgets.Text(value=str(b), description="b =", layout={"width": "220px"})
        self.button = widgets.Button(description="Encrypt and add", button_style="primary")
        self.result = widgets.HTML()
        self.button.on_click(lambda _: self.refresh())
        super().__init__(children=[widgets.HBox([self.a_box, self.b_box, self.button]),
                                   self.result])
        self.refresh()

    def add(self, a: int | float | str, b: int | float | str) -> AdderResult:
        """Encrypt ``a`` and ``b``, add the ciphertexts, decrypt the sum."""
        a = _parse_number(a, "a") if isinstance(a, str) else a
        b = _parse_number(b, "b") if isinstance(b, str) else b
        t = time.perf_counter()
        enc_a, enc_b = encrypt(self._keypair.public, a), encrypt(self._keypair.public, b)
        enc_sum = enc_a + enc_b
        value = decrypt(self._keypair.private, enc_sum)
        return AdderResult(a, b, enc_a, enc_b, enc_sum, value, time.perf_counter() - t)

    def refresh(self) -> None:
        """Recompute from the two input boxes and show the result or the error."""
        try:
            r = self.add(self.a_box.value, self.b_box.value)
        except OmteachError as exc:
            self.result.value = error_html(exc)
            return
        self.result.value = message_html(
            f"Enc(a)       = {_short(r.enc_a)}\n"
            f"Enc(b)       = {_short(r.enc_b)}\n"
            f"Enc(a)+Enc(b)= {_short(r.enc_sum)}\n"
            f"decrypt(sum) = {r.decrypted}   (a + b = {r.a + r.b}; "
            f"{r.seconds * 1e3:.0f} ms with a {self._keypair.bits}-bit key)",
            kind="ok",
        )

    def __repr__(self) -> str:
        return f"EncryptedAdder(a={self.a_box.value!r}, b={self.b_box.value!r})"


class KeySizeExplorer(widgets.VBox):
    """A slider over measured key sizes; shows security, sizes and costs at once."""

    def __init__(self, costs: Sequence[KeyCost], values: int = 10_000):
        if not costs:
            raise InvalidValueError("measure at least one key size first (measure_key_cost)")
        self._costs = {c.bits: c for c in costs}
        self._n_values = values
        self.slider = widgets.SelectionSlider(
            options=sorted(self._costs), value=max(self._costs), description="key bits",
            continuous_update=True, layout={"width": "420px"})
        self.panel = widgets.HTML()
        self.slider.observe(lambda _: self.refresh(), names="value")
        super().__init__(children=[self.slider, self.panel])
        self.refresh()

    def summary(self, bits: int) -> str:
        """The explorer's text for one key size."""
        c = self._costs[bits]
        per_value_s = self._n_values * c.encrypt_ms / 1e3
        return (
            f"security strength : {c.security} bits\n"
            f"ciphertext size   : {c.ciphertext_bytes} bytes (a plain float is 8)\n"
            f"key generation    : {c.keygen_s:.2f} s\n"
            f"encrypt one value : {c.encrypt_ms:.2f} ms\n"
            f"decrypt one value : {c.decrypt_ms:.2f} ms\n"
            f"add two ciphertexts: {c.add_us:.1f} µs\n"
            f"encrypting {self._n_values:,} values one by one: {per_value_s:.1f} s"
        )

    def refresh(self) -> None:
        """Show the summary for the slider's key size."""
        self.panel.value = message_html(self.summary(self.slider.value))

    def __repr__(self) -> str:
        return f"KeySizeExplorer(sizes={sorted(self._costs)})"
