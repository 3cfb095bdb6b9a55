"""Figures for the chapters (matplotlib). Each function draws and returns its figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from omteach.he_cost import KeyCost
from omteach.packing import PackingCodec


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
