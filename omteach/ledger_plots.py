"""Figure for chapter 3: what rewriting history costs, against depth and difficulty."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from omteach.ledger import RewriteCost


def plot_rewrite_cost(costs: Mapping[int, Sequence[RewriteCost]]):
    """Hash attempts (log scale) to re-mine the last n blocks, one line per difficulty.

    ``costs`` maps a difficulty in bits to measured rewrites (see ``measure_rewrite_costs``);
    dashed lines show the expectation n × 2^difficulty.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (bits, runs) in enumerate(sorted(costs.items())):
        colour = f"C{i}"
        depths = [r.blocks for r in runs]
        ax.plot(depths, [r.attempts for r in runs], "o-", color=colour, lw=2,
                label=f"{bits} bits (measured)")
        ax.plot(depths, [d * 2 ** bits for d in depths], "--", color=colour, lw=1, alpha=0.7)
    ax.plot([], [], "k--", lw=1, alpha=0.7, label="expected: depth × 2^bits")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("depth: blocks to re-mine (from the edited block to the newest)")
    ax.set_ylabel("hash attempts (log scale, base 2)")
    ax.set_title("Rewriting history: cost grows with depth,\nand doubles with every bit of "
                 "difficulty")
    all_depths = sorted({r.blocks for runs in costs.values() for r in runs})
    ax.set_xticks(all_depths)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
