"""Figures for chapter 4: who holds which digits, and accuracy over the rounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from omteach.data import Dataset


def plot_split(splits: Mapping[str, Mapping[str, Dataset]]):
    """One panel per split (e.g. "even", "skewed"): how many of each digit every owner holds."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 3.2), squeeze=False)
    for ax, (title, shares) in zip(axes[0], splits.items(), strict=True):
        width = 0.8 / len(shares)
        for i, (owner, data) in enumerate(shares.items()):
            counts = np.bincount(data.y, minlength=10)
            ax.bar(np.arange(10) + i * width - 0.4 + width / 2, counts, width,
                   label=f"{owner} ({len(data)})")
        ax.set_xticks(range(10))
        ax.set_xlabel("digit")
        ax.set_ylabel("images")
        ax.set_title(f"{title} split")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy(curves: Mapping[str, Sequence[float]], *, title: str = ""):
    """Test accuracy against rounds, one line per curve (federated first, drawn thicker)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (label, acc) in enumerate(curves.items()):
        ax.plot(range(len(acc)), acc, marker="o", lw=3 if i == 0 else 1.3,
                ls="-" if i == 0 else "--", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy (held-out digits)")
    ax.set_ylim(0, 1)
    ax.set_xticks(range(max(len(a) for a in curves.values())))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
