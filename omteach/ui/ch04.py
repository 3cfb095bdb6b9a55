"""Widgets for chapter 4: the round dashboard and the "what AI Inc. sees" panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np

from omteach.chain import EventLog
from omteach.errors import OmteachError
from omteach.learning.data import Dataset
from omteach.protocol import TrainingRun
from omteach.ui.toolkit import MessagePanel, ProgressBar, html_table, panel_text

FIT = widgets.Layout(width="auto")
"""A button as wide as its label (the default 148 px cuts longer labels)."""

SHOWN = 6
"""How many values of an update the panels print."""

STEP_COLOURS = {
    "training": "#4c78a8", "masking": "#f58518", "encryption": "#e45756", "blobs": "#72b7b2",
    "chain": "#54a24b", "aggregation": "#b279a2", "decryption": "#ff9da6",
    "shares": "#9d755d", "recovery": "#eeca3b",
}


def _steps_html(timings: dict[str, float]) -> str:
    """One bar, a segment per step in proportion to its time, and a legend below.

    The segments share a flex row that never wraps: widths rounded to 0.1 % could add up to more
    than 100 % and push the last segment onto a second line.
    """
    total = sum(timings.values()) or 1.0
    bars = "".join(
        f'<div title="{k}: {v:.3f} s" style="flex:{v / total:.4f} 1 0;min-width:0;'
        f'height:14px;background:{STEP_COLOURS.get(k, "#999")}"></div>'
        for k, v in timings.items())
    legend = " · ".join(
        f'<span style="white-space:nowrap"><span style="color:{STEP_COLOURS.get(k, "#999")}">'
        f'■</span> {k} {v:.2f} s</span>' for k, v in timings.items())
    return (f'<div style="display:flex;flex-wrap:nowrap;overflow:hidden;width:100%;'
            f'background:#eee">{bars}</div><div style="font-size:90%">{legend}</div>')


class RoundDashboard(widgets.VBox):
    """Run rounds of a :class:`TrainingRun` and watch everything a round does.

    Shows the contract's event timeline, the blobs and their sizes, ciphertext counts, time per
    step, and accuracy so far. "Run next round" runs one; choosing an owner to drop first makes
    that owner drop out after the masks are fixed: the survivors reveal their shares of its mask
    seeds and the round completes without it.
    """

    def __init__(self, run: TrainingRun):
        self._run = run
        self._drop = widgets.Dropdown(options=["nobody", *run.owners], value="nobody",
                                      description="Drop")
        self._button = widgets.Button(description="Run next round", button_style="primary",
                                      icon="play", layout=FIT)
        self._status = MessagePanel()
        self.progress = ProgressBar(len(run.owners) + 1, "round")
        self.progress.layout.display = "none"  # shown while a round runs
        self._accuracy = widgets.HTML()
        self._steps = widgets.HTML()
        self._blobs = widgets.HTML()
        self._events = widgets.HTML()
        self._button.on_click(lambda _: self.run_round(self._drop.value))
        tabs = widgets.Tab(children=[self._steps, self._blobs, self._events])
        for i, title in enumerate(("Time per step", "Blobs", "Contract events")):
            tabs.set_title(i, title)
        super().__init__(children=[widgets.HBox([self._button, self._drop]), self.progress,
                                   self._status, self._accuracy, tabs])
        self._status.show("Press “Run next round”. Pick an owner to drop first to see "
                          "the round recover when someone does not submit.")
        self._refresh()

    def _finished(self) -> str:
        """Empty while rounds remain; then what to say: every round of the spec is done."""
        spec = self._run.market.spec(self._run.spec_id)
        if not spec.finished:
            return ""
        return (f"all {spec.rounds} rounds of this spec are done: nothing more to run here. "
                "For more rounds, start a new TrainingRun(rounds=...) and a dashboard on it.")

    def run_round(self, drop: str = "nobody") -> None:
        """What the button does: one round, dropping ``drop`` unless it is "nobody".

        After the spec's last round the button is disabled and the status says so; a call after
        that changes nothing but the status (the progress bar never shows "starting…" for a
        round that cannot start).
        """
        if done := self._finished():
            self._button.disabled = True
            self.progress.layout.display = "none"
            self._status.show(done)
            return
        self._button.disabled = True
        self._status.show("running the round…")
        dropped = [] if drop == "nobody" else [drop]
        self.progress.bar.max = len(self._run.owners) - len(dropped) + 1
        self.progress.set(0, "starting…")
        self.progress.layout.display = ""
        try:
            report = self._run.run_round(drop=dropped, progress=self._on_progress)
        except OmteachError as exc:
            self.progress.layout.display = "none"  # no round ran: no progress to show
            self._status.show_error(exc)
            self._refresh()
            return
        finally:
            self._button.disabled = False
        self.progress.set(self.progress.bar.max, "done")
        if report.closed and report.dropped:
            self._status.show(
                f"round {report.round} closed without {', '.join(report.dropped)}: "
                f"{', '.join(report.contributors)} revealed their shares of the dropped "
                f"owner's mask seeds, AI Inc. removed its masks from the sum; "
                f"{', '.join(report.contributors)} were credited their bounty; test accuracy "
                f"now {report.accuracy:.3f}", kind="ok")
        elif report.closed:
            self._status.show(
                f"round {report.round} closed: {', '.join(report.contributors)} contributed and "
                f"were credited their bounty; test accuracy now {report.accuracy:.3f}",
                kind="ok")
        else:
            self._status.show(f"round {report.round} could not close: {report.refusal}",
                              kind="error")
        if done := self._finished():
            self._button.disabled = True
            self._status.show(f"{self._status.text}\n{done}", kind=self._status.kind)
        self._refresh()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        """Per-owner progress from the run: who has trained and submitted so far."""
        self.progress.bar.max = max(total, 1)
        self.progress.set(done, message)

    def _refresh(self) -> None:
        run = self._run
        accs = [run.initial_accuracy] + [r.accuracy for r in run.history if r.closed]
        self._accuracy.value = (
            "<b>Test accuracy by round:</b> " + " → ".join(f"{a:.3f}" for a in accs))
        if run.history:
            last = run.history[-1]
            self._steps.value = (f"<b>Round {last.round}</b>, {last.seconds:.2f} s in all"
                                 + _steps_html(last.timings))
        else:
            self._steps.value = "<i>no round yet</i>"
        rows = [(r.round, owner, f"{size:,} bytes", r.ciphertexts_per_owner or "plain")
                for r in run.history for owner, size in r.blob_bytes.items()]
        self._blobs.value = (html_table(("round", "owner", "update blob", "ciphertexts"), rows)
                             if rows else "<i>no blobs yet</i>")
        events = EventLog(run.market.contract.events()[-12:])
        self._events.value = html_table(events.header, events.rows())

    status_text = panel_text("_status", "The status line as text (for tests).")

    def __repr__(self) -> str:
        return f"RoundDashboard({len(self._run.owners)} owners)"


class WhatAISees(widgets.VBox):
    """Decrypt one owner's submission alone (noise) or the sum (the mean update), side by side.

    Uses the submissions of the last round that had any; shows the first values, the correlation
    with the owner's true update (which only the owner knows) and the largest error.
    """

    def __init__(self, run: TrainingRun):
        self._run = run
        self._owner = widgets.Dropdown(options=list(run.owners), description="Owner")
        self._one = widgets.Button(description="Decrypt this one alone", layout=FIT)
        self._sum = widgets.Button(description="Decrypt the sum", layout=FIT)
        self._out = MessagePanel("Run a round first, then decrypt.")
        self._one.on_click(lambda _: self.decrypt_one(self._owner.value))
        self._sum.on_click(lambda _: self.decrypt_sum())
        super().__init__(children=[widgets.HBox([self._owner, self._one, self._sum]), self._out])

    def _round(self) -> int:
        run = self._run
        for rnd in range(run.round_no, -1, -1):  # the open round first, then the closed ones
            if run.market.submissions(run.spec_id, rnd):
                return rnd
        raise OmteachError("no submissions yet: run a round first")

    def _shown(self) -> np.ndarray:
        """The weights to print: where the true mean update is largest.

        The first weights belong to the image's corner pixels, which are blank in every digit,
        so their updates are all 0 and a comparison there shows nothing.
        """
        true = np.mean([o.last_update for o in self._run.owners.values()
                        if o.last_update is not None], axis=0)
        return np.sort(np.argsort(-np.abs(true), kind="stable")[:SHOWN])

    def decrypt_one(self, owner: str) -> float | None:
        """AI Inc. decrypts ``owner``'s masked ciphertext alone; returns the correlation."""
        try:
            run = self._run
            subs = run.company.fetch_submissions(run.spec_id, self._round())
            address = run.owners[owner].address
            if address not in subs:
                raise OmteachError(f"{owner} did not submit in that round")
            seen = run.company.decrypt_one(subs[address])
            true = run.owners[owner].last_update
            corr = float(np.corrcoef(seen, true)[0, 1])
            self._compare(f"AI Inc. decrypts {owner}'s submission alone", seen,
                          f"{owner}'s true update (only {owner} knows it)", true, 3,
                          f"correlation {corr:+.3f} over all {len(true):,} weights: the masks "
                          "make it noise.", "info")
            return corr
        except OmteachError as exc:
            return self._refused(exc)

    def decrypt_sum(self) -> float | None:
        """AI Inc. decrypts the sum of all submissions and unmasks it with the survivors' reveals;
        returns the largest error vs the truth."""
        try:
            run = self._run
            rnd = self._round()
            mean, _ = run.company.unmasked_mean(run.spec_id, rnd)  # the reveals remove the masks
            subs = run.market.submissions(run.spec_id, rnd)
            true = np.mean([o.last_update for o in run.owners.values()
                            if o.address in subs], axis=0)
            err = float(np.max(np.abs(mean - true)))
            self._compare(f"AI Inc. decrypts the sum of {len(subs)} submissions (÷{len(subs)})",
                          mean, "true mean update", true, 4,
                          f"largest difference over all {len(true):,} weights {err:.1e} "
                          "(quantization only): the pairwise masks cancelled, the revealed "
                          "seeds removed the self-masks.", "ok")
            return err
        except OmteachError as exc:
            return self._refused(exc)

    def _compare(self, seen_label: str, seen: np.ndarray, true_label: str, true: np.ndarray,
                 digits: int, verdict: str, kind: str) -> None:
        """Show what AI Inc. decrypted beside the truth, at the weights that moved most."""
        idx = self._shown()
        self._out.show(f"weights {', '.join(map(str, idx))} (where the update is largest):\n"
                       f"{seen_label}:\n  {np.round(seen[idx], digits)}\n"
                       f"{true_label}:\n  {np.round(true[idx], digits)}\n{verdict}", kind=kind)

    def _refused(self, exc: OmteachError) -> None:
        """Show why a decryption cannot be done, in the panel."""
        self._out.show_error(exc)

    def __repr__(self) -> str:
        return "WhatAISees()"


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
