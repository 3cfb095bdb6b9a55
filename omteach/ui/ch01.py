"""Chapter 1 widgets: an encrypted adder and a key-size explorer.

Each widget is also usable from plain code: ``EncryptedAdder.add`` returns the numbers it shows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from omteach.crypto.cost import KeyCost
from omteach.crypto.packing import PackingCodec
from omteach.crypto.paillier import (
    FLOAT_EXACT_LIMIT,
    Ciphertext,
    KeyPair,
    decrypt,
    encrypt,
    float_digits,
)
from omteach.errors import InvalidValueError, OmteachError, PlaintextOverflowError
from omteach.ui.toolkit import MessagePanel


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
        value = float(text)
    except ValueError:
        raise InvalidValueError(
            f"{name} = {text!r} is not a number: type a whole number like 42 or a decimal like 3.5"
        ) from None
    if math.isfinite(value) and abs(value) >= FLOAT_EXACT_LIMIT:
        # Said here, in the words of a text box: the library's own refusal suggests Python's
        # 10**300, which cannot be typed into the adder.
        raise InvalidValueError(
            f"{name} = {text} is a decimal number too large to be exact: beyond about 9.0e15 a "
            f"decimal keeps only about 16 significant digits, so {text} would be encrypted as "
            f"{float_digits(value)} and the sum would come back with those digits. "
            "Type a whole number with all its digits (exact up to the key's size), or a smaller "
            "number")
    return value


def _check_fits(value: int | float, keys: KeyPair, name: str) -> None:
    """Refuse a whole number too large for the key, saying how large in digits.

    Checked here, in digits, because a 600-digit number is beyond what a float (and so a
    ``:g`` format) can hold.
    """
    limit = keys.public.max_int
    if isinstance(value, int) and abs(value) > limit:
        raise PlaintextOverflowError(
            f"{name} has {len(str(abs(value))):,} digits: a {keys.bits}-bit key holds whole "
            f"numbers of up to {len(str(limit)) - 1:,} digits; type a smaller number or use a "
            "larger key")


def security_text(level: str) -> str:
    """A security level as the explorer prints it: "112 bits", "at least 128 bits", or a
    verdict such as "none: factored by public efforts" (no "bits" after a verdict)."""
    return f"{level} bits" if level[-1:].isdigit() else level


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
        self.result = MessagePanel()
        self.button.on_click(lambda _: self.refresh())
        super().__init__(children=[widgets.HBox([self.a_box, self.b_box, self.button]),
                                   self.result])
        self.refresh()

    def add(self, a: int | float | str, b: int | float | str) -> AdderResult:
        """Encrypt ``a`` and ``b``, add the ciphertexts, decrypt the sum."""
        a = _parse_number(a, "a") if isinstance(a, str) else a
        b = _parse_number(b, "b") if isinstance(b, str) else b
        _check_fits(a, self._keypair, "a")
        _check_fits(b, self._keypair, "b")
        t = time.perf_counter()
        enc_a, enc_b = encrypt(self._keypair.public, a), encrypt(self._keypair.public, b)
        enc_sum = enc_a + enc_b
        value = decrypt(self._keypair.private, enc_sum)
        return AdderResult(a, b, enc_a, enc_b, enc_sum, value, time.perf_counter() - t)

    def refresh(self) -> None:
        """Recompute from the two input boxes and show the result or the error."""
        # Never leave the previous result under new inputs, whatever happens below.
        self.result.show("encrypting…", kind="info")
        try:
            r = self.add(self.a_box.value, self.b_box.value)
        except OmteachError as exc:
            self.result.show_error(exc)
            return
        self.result.show(
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
        self.panel = MessagePanel()
        self.slider.observe(lambda _: self.refresh(), names="value")
        super().__init__(children=[self.slider, self.panel])
        self.refresh()

    def summary(self, bits: int) -> str:
        """The explorer's text for one key size."""
        c = self._costs[bits]
        per_value_s = self._n_values * c.encrypt_ms / 1e3
        return (
            f"security strength : {security_text(c.security)}\n"
            f"ciphertext size   : {c.ciphertext_bytes} bytes (a plain float is 8)\n"
            f"key generation    : {c.keygen_s:.2f} s\n"
            f"encrypt one value : {c.encrypt_ms:.2f} ms\n"
            f"decrypt one value : {c.decrypt_ms:.2f} ms\n"
            f"add two ciphertexts: {c.add_us:.1f} µs\n"
            f"encrypting {self._n_values:,} values one by one: {per_value_s:.1f} s"
        )

    def refresh(self) -> None:
        """Show the summary for the slider's key size."""
        self.panel.show(self.summary(self.slider.value))

    def __repr__(self) -> str:
        return f"KeySizeExplorer(sizes={sorted(self._costs)})"


def plot_key_costs(costs: Sequence[KeyCost]) -> Figure:
    """Encryption/decryption time and ciphertext size against key size."""
    costs = sorted(costs, key=lambda c: c.bits)
    bits = [c.bits for c in costs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(bits, [c.encrypt_ms for c in costs], "o-", label="encrypt one value")
    ax1.plot(bits, [c.decrypt_ms for c in costs], "s-", label="decrypt one value")
    ax1.set(xlabel="key size n (bits)", ylabel="milliseconds", yscale="log",
            title="Time per value grows steeply with the key")
    ax1.legend()
    ax2.bar([str(b) for b in bits], [c.ciphertext_bytes for c in costs], color="tab:purple")
    ax2.axhline(8, color="k", ls="--", lw=1)
    ax2.text(0, 8 * 1.3, "a plain float64: 8 bytes", fontsize=8)
    ax2.set(xlabel="key size n (bits)", ylabel="bytes", yscale="log",
            title="One ciphertext is 2×(key size) bits")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_slot_layout(codec: PackingCodec, key_bits: int, values: Sequence[float]) -> Figure:
    """One plaintext as a row of slots: value bits, headroom bits, and the quantized values."""
    per = (key_bits - 1) // codec.slot_bits
    q = codec.quantize(np.asarray(values, dtype=float))
    shown = min(len(q), 6)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 3.4),
                                      gridspec_kw={"height_ratios": [1, 1.6]})
    # Whole plaintext: every slot as a thin block.
    for i in range(per):
        x0 = i * codec.slot_bits
        top.add_patch(Rectangle((x0, 0), codec.bits, 1, facecolor="tab:blue",
                                alpha=0.9 if i % 2 else 0.55, lw=0))
        top.add_patch(Rectangle((x0 + codec.bits, 0), codec.headroom_bits, 1,
                                facecolor="tab:orange", lw=0))
    top.add_patch(Rectangle((per * codec.slot_bits, 0), key_bits - per * codec.slot_bits, 1,
                            facecolor="lightgrey"))
    top.set(xlim=(0, key_bits), ylim=(0, 1), yticks=[],
            title=f"One {key_bits}-bit plaintext holds {per} slots of {codec.slot_bits} bits "
                  f"(grey: unused bits below n)")
    top.set_xlabel("bit position", fontsize=8)
    # Zoom on the first slots: value bits and headroom bits.
    for i in range(shown):
        x0 = i * codec.slot_bits
        bottom.add_patch(Rectangle((x0, 0), codec.bits, 1, facecolor="tab:blue", alpha=0.75,
                                   edgecolor="k"))
        bottom.add_patch(Rectangle((x0 + codec.bits, 0), codec.headroom_bits, 1,
                                   facecolor="tab:orange", alpha=0.75, edgecolor="k"))
        bottom.text(x0 + codec.bits / 2, 0.5, f"slot {i}\nx={values[i]:+.3f}\nq={q[i]}",
                    ha="center", va="center", fontsize=8)
    bottom.set(xlim=(0, shown * codec.slot_bits), ylim=(0, 1), yticks=[],
               title=f"Zoom: {codec.bits} value bits (blue) + {codec.headroom_bits} headroom bits "
                     f"(orange) per slot, room for a sum of {codec.max_contributions}")
    bottom.set_xlabel("bit position (slot 0 in the lowest bits)", fontsize=8)
    fig.tight_layout()
    return fig
