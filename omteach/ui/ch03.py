"""Chapter 3 widgets: a ledger explorer with a tamper button, and a mining difficulty lab.

Each widget is also usable from plain code: ``LedgerExplorer.tamper`` and ``MiningLab.mine``
do what the buttons do and return what the widget shows.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence

import ipywidgets as widgets

from omteach.errors import LedgerError
from omteach.ledger import (
    DEFAULT_DIFFICULTY,
    Consensus,
    Ledger,
    MiningResult,
    Network,
    RewriteCost,
    example_network,
)
from omteach.text import plural, short_hex
from omteach.ui.toolkit import MONO, PALETTE, MessagePanel, ProgressBar, html_table, panel_text

WIDGET_MAX_DIFFICULTY = 20  # ~1 million attempts, about a second: the slider stops there




class LedgerExplorer(widgets.VBox):
    """Choose a replica, a block, a transaction and a new text; tamper, and watch the network.

    Every replica's chain is shown as a row of blocks, red from its first broken block on, with
    the majority verdict. "Re-mine from this block" makes the chosen copy verify again (at a
    cost), "Reset" puts every replica back to the original ledger.
    """

    def __init__(self, network: Network | None = None):
        self.network = example_network() if network is None else network
        names = list(self.network.participants)
        self._replica = widgets.Dropdown(options=names, value=names[0], description="Replica")
        self._block = widgets.Dropdown(description="Block")
        self._tx = widgets.Dropdown(description="Transaction", layout={"width": "480px"})
        self._new_text = widgets.Text(description="New text", layout={"width": "480px"})
        self._tamper_button = widgets.Button(description="Tamper", button_style="danger",
                                             icon="pencil")
        self._rewrite_button = widgets.Button(description="Re-mine from this block",
                                              button_style="warning", icon="hammer",
                                              layout={"width": "200px"})
        self._reset_button = widgets.Button(description="Reset", icon="undo")
        self._result = MessagePanel(
            "Pick a replica, a block and a transaction, type a new text, press Tamper.")
        self._network_view = widgets.HTML()
        self._detail = widgets.HTML()
        self._replica.observe(lambda _: self._refresh_choices(), names="value")
        self._block.observe(lambda _: self._refresh_transactions(), names="value")
        self._tx.observe(lambda _: self._prefill(), names="value")
        self._tamper_button.on_click(lambda _: self.tamper(
            self._replica.value, self._block.value, self._tx.value, self._new_text.value))
        self._rewrite_button.on_click(lambda _: self.rewrite(self._replica.value,
                                                             self._block.value))
        self._reset_button.on_click(lambda _: self.reset())
        super().__init__(children=[
            widgets.HBox([self._replica, self._block]), self._tx, self._new_text,
            widgets.HBox([self._tamper_button, self._rewrite_button, self._reset_button]),
            self._result,
            widgets.HTML("<b>Every machine's copy</b> (hover a block for its transactions)"),
            self._network_view,
            widgets.HTML("<b>The chosen replica, block by block</b>"),
            self._detail,
        ])
        self._refresh_choices()

    # the controls

    def _ledger(self) -> Ledger:
        return self.network.replica(self._replica.value)

    def _refresh_choices(self) -> None:
        keep = self._block.value
        n = len(self._ledger())
        self._block.options = [(f"block {i}", i) for i in range(n)]
        self._block.value = keep if keep is not None and keep < n else min(1, n - 1)
        self._refresh_transactions()
        self._show()

    def _refresh_transactions(self) -> None:
        if self._block.value is None:
            return
        txs = self._ledger()[self._block.value].transactions
        self._tx.options = [(t, j) for j, t in enumerate(txs)]
        self._tx.value = 0
        self._prefill()

    def _prefill(self) -> None:
        if self._block.value is None or self._tx.value is None:
            return
        self._new_text.value = self._ledger()[self._block.value].transactions[self._tx.value]

    def _show(self) -> None:
        self._network_view.value = network_html(self.network, selected=self._replica.value)
        self._detail.value = ledger_html(self._ledger(), title=f"{self._replica.value}'s copy")

    def _select(self, replica: str, block: int) -> None:
        self._replica.value = replica
        self._block.value = block

    def _report(self, replica: str, headline: str) -> Consensus:
        """After a change on ``replica``: its own check and the network's verdict, then redraw."""
        verdict = self.network.consensus()
        check = self.network.replica(replica).verify()
        self._result.show(f"{headline}\n{check!r}\n{verdict!r}",
                           kind="error" if replica in verdict.outvoted
                           else "warn" if replica in verdict.undecided else "ok")
        self._show()
        return verdict

    # what the buttons do

    def tamper(self, replica: str, block: int, tx: int, new_text: str) -> Consensus | LedgerError:
        """Edit a past entry on ``replica``'s machine; returns the verdict (or the error)."""
        try:
            self.network.tamper(replica, block, tx, new_text)
        except LedgerError as exc:
            self._result.show_error(exc)
            return exc
        self._select(replica, block)
        self._refresh_transactions()
        self._tx.value = tx
        return self._report(replica, f"{replica} changed block {block} on their own machine.")

    def rewrite(self, replica: str, block: int) -> RewriteCost | LedgerError:
        """Re-mine ``replica``'s copy from ``block`` to the tip; returns the cost (or the error)."""
        try:
            cost = self.network.rewrite_from(replica, block)
        except LedgerError as exc:
            self._result.show_error(exc)
            return exc
        self._select(replica, block)
        self._report(replica, f"{replica} {cost!r} ({cost.seconds:.3f} s).")
        return cost

    def reset(self) -> None:
        """Every replica back to the original ledger."""
        self.network.reset()
        self._refresh_choices()
        self._result.show("Every replica holds the original ledger again.\n"
                                          f"{self.network.consensus()!r}", kind="ok")

    result_text = panel_text("_result", "The text of the result panel.")

    def __repr__(self) -> str:
        return f"LedgerExplorer({len(self.network.participants)} replicas)"


class MiningLab(widgets.VBox):
    """A difficulty slider and a "Mine block" button, with progress, attempts and time.

    Each mined block is added to the lab's own ledger, shown below with its difficulty and nonce.
    """

    def __init__(self, ledger: Ledger | None = None, *, difficulty: int = DEFAULT_DIFFICULTY,
                 transaction: str = "AI Inc. pays Jack 1000 wei"):
        self.ledger = Ledger(difficulty) if ledger is None else ledger
        self._difficulty = widgets.IntSlider(
            value=difficulty, min=0, max=WIDGET_MAX_DIFFICULTY, description="difficulty",
            continuous_update=False, layout={"width": "420px"})
        self._bits_note = widgets.Label()
        self._transaction = widgets.Text(value=transaction, description="Transaction",
                                         layout={"width": "420px"})
        self._button = widgets.Button(description="Mine block", button_style="primary",
                                      icon="cube")
        self.progress = ProgressBar(100, description="mining")
        self._result = MessagePanel("Choose a difficulty and press Mine block.")
        self._table = widgets.HTML()
        self._difficulty.observe(lambda _: self._note_difficulty(), names="value")
        self._button.on_click(lambda _: self.mine(self._difficulty.value,
                                                  self._transaction.value))
        super().__init__(children=[
            widgets.HBox([self._difficulty, self._bits_note]),
            widgets.HBox([self._transaction, self._button]), self.progress, self._result,
            self._table])
        self._note_difficulty()
        self._table.value = ledger_html(self.ledger)

    def _note_difficulty(self) -> None:
        d = self._difficulty.value
        self._bits_note.value = (f"hash must start with {d} zero bits: about {2 ** d:,} "
                                 "attempts on average")

    def _on_progress(self, attempts: int, expected: int) -> None:
        self.progress.set(100 * attempts // expected,
                          f"{plural(attempts, 'attempt')} so far (about {expected:,} expected)")

    def mine(self, difficulty: int | None = None,
             transaction: str | None = None) -> MiningResult | LedgerError:
        """Mine one block at ``difficulty`` bits and add it; returns the result (or the error)."""
        difficulty = self._difficulty.value if difficulty is None else difficulty
        transaction = self._transaction.value if transaction is None else transaction
        self._button.disabled = True
        self.progress.set(0, "mining…")
        start = time.perf_counter()
        try:
            result = self.ledger.append([transaction], difficulty=difficulty,
                                        progress=self._on_progress)
        except LedgerError as exc:
            self._result.show_error(exc)
            self.progress.note("")
            return exc
        finally:
            self._button.disabled = False
        seconds = time.perf_counter() - start
        self.progress.set(self.progress.bar.max, f"done: {plural(result.attempts, 'attempt')}")
        luck = result.attempts / result.expected
        self._result.show(
            f"{result!r}\n{plural(result.attempts, 'attempt')} in {seconds * 1e3:.1f} ms "
            f"({luck:.2f}× the average: the number of tries is luck, its average is 2^{difficulty})"
            f"\nhash {short_hex(result.block.hash, 64)}", kind="ok")
        self._table.value = ledger_html(self.ledger)
        return result

    result_text = panel_text("_result", "The text of the result panel.")

    def __repr__(self) -> str:
        return f"MiningLab(difficulty={self._difficulty.value}, blocks={len(self.ledger)})"


def plot_rewrite_cost(costs: Mapping[int, Sequence[RewriteCost]]):
    """Hash attempts (log scale) to re-mine the last n blocks, one line per difficulty.

    ``costs`` maps a difficulty in bits to measured rewrites (see ``measure_rewrite_costs``);
    dashed lines show the average expected at each depth. The legend does not write out that
    average's formula: finding it is chapter 3's exercise 2.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (bits, runs) in enumerate(sorted(costs.items())):
        colour = f"C{i}"
        depths = [r.blocks for r in runs]
        ax.plot(depths, [r.attempts for r in runs], "o-", color=colour, lw=2,
                label=f"{bits} bits (measured)")
        ax.plot(depths, [d * 2 ** bits for d in depths], "--", color=colour, lw=1, alpha=0.7)
    ax.plot([], [], "k--", lw=1, alpha=0.7, label="expected on average\n(the formula: exercise 2)")
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


# -- HTML forms of the ledger (registered in omteach.ui.formatters) ---------------------------


def ledger_html(ledger: Ledger, *, title: str = "") -> str:
    """The ledger as a table, green while blocks check out and red from the first broken one."""
    rows = ledger.rows()
    kinds = ["error" if str(r[-1]).startswith("✖") else "ok" for r in rows]
    caption = f"<b>{html.escape(title)}</b>" if title else ""
    # Only the two text columns may wrap: times and hashes read badly broken over lines.
    return caption + html_table(Ledger.header, rows, row_kinds=kinds, wrap=(2, 6))


def consensus_html(verdict: Consensus) -> str:
    """The network's verdict, one line per finding."""
    return "<br>".join(html.escape(line) for line in repr(verdict).splitlines())


def network_html(network: Network, *, selected: str | None = None) -> str:
    """Every replica as a row of blocks, red from its first broken block on, and the verdict."""
    verdict = network.consensus()
    rows = []
    for name, led in network.replicas.items():
        # A copy that verifies but lost the vote: amber from where it leaves the majority's.
        differs = (network.first_difference(name, verdict.majority[0])
                   if verdict.agreed and name not in verdict.majority else len(led))
        cells = []
        for b, status in zip(led.blocks, led.statuses(), strict=True):
            if status.startswith("✖"):
                kind = "error"
            elif b.index >= differs:
                kind = "warn"
                status = "✔ verifies, but differs from the majority's block"
            else:
                kind = "ok"
            tip = html.escape(f"block {b.index}: " + " | ".join(b.transactions) + f"\n{status}",
                              quote=True)
            cells.append(
                f"<td title=\"{tip}\" style='background:{PALETTE[kind]};"
                f"border:1px solid {PALETTE[kind + '_line']};padding:2px 6px;text-align:center'>"
                f"{b.index}<br><small>{short_hex(b.hash, 6)}</small></td>")
        label, kind = replica_label(verdict, name)
        mark = f"<span style='color:{PALETTE[kind + '_line']}'>{html.escape(label)}</span>"
        who = f"<b>{html.escape(name)}</b>" if name == selected else html.escape(name)
        rows.append(f"<tr><td style='padding-right:8px'>{who}</td>{''.join(cells)}"
                    f"<td style='padding-left:8px'>{mark}</td></tr>")
    table = (f"<table style='{MONO};border-collapse:separate;border-spacing:3px'>"
             f"{''.join(rows)}</table>")
    return table + f"<div style='margin-top:4px'>{consensus_html(verdict)}</div>"


def replica_label(verdict: Consensus, name: str) -> tuple[str, str]:
    """How a replica is labelled beside its row, and its palette kind."""
    if name in verdict.majority:
        return "✔ with the majority", "ok"
    if name in verdict.undecided:  # verifies; with no majority nobody out-voted it
        return "○ verifies, no majority", "warn"
    return "✖ outvoted", "error"
