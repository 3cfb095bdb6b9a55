"""Widgets for chapter 5: the inversion lab and the audit panel."""

from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np

from omteach.errors import OmteachError
from omteach.learning.attacks import ATTACKS
from omteach.learning.data import Dataset
from omteach.learning.defences import (
    DEFENCES,
    DELTA,
    AuditPolicy,
    AuditReport,
    attack_under_defence,
    get_defence,
)
from omteach.learning.model import ModelSpec
from omteach.protocol import DataOwner
from omteach.ui.toolkit import MessagePanel, message_html

IMAGE_DPI = 100


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its header."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise OmteachError("not a PNG image")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def images_png(images: list[np.ndarray], titles: list[str]) -> bytes:
    """8×8 images side by side as one PNG (fast enough for a slider)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.9 * len(images), 2.1), dpi=IMAGE_DPI)
    for k, (img, title) in enumerate(zip(images, titles, strict=True)):
        ax = fig.add_subplot(1, len(images), k + 1)
        ax.imshow(np.asarray(img).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


WIDE_LABEL = {"description_width": "initial"}
"""A slider's label as wide as its text ("share pruned" was cut to "share pru…")."""


def _slider(defence: str) -> widgets.FloatSlider | widgets.FloatLogSlider:
    d = get_defence(defence)
    lo, hi = d.limits
    if d.log_scale:
        return widgets.FloatLogSlider(value=d.default, base=10, min=math.log10(lo),
                                      max=math.log10(hi), description=d.strength,
                                      readout_format=".3f", continuous_update=False,
                                      style=WIDE_LABEL)
    return widgets.FloatSlider(value=d.default, min=lo, max=hi, step=0.01,
                               description=d.strength or "strength", disabled=not d.strength,
                               continuous_update=False, style=WIDE_LABEL)


class InversionLab(widgets.VBox):
    """Pick an owner, an image, an attack and a defence (by name, from the registries in
    :mod:`omteach.learning`); see what AI Inc. reconstructs from the gradient.

    ``costs`` maps a defence name to {strength: model accuracy measured with it} (from
    :func:`omteach.learning.defences.defended_accuracy`), so the lab shows what each strength
    costs; ``accuracy_cost`` is the same for ``"dp-noise"`` alone. ``spread`` is the range of
    accuracies without any defence over several seeds: differences smaller than that are luck.
    ``rounds`` is the training the costs were measured over, for the ε of a DP defence.
    """

    def __init__(self, shares: dict[str, Dataset], model: ModelSpec, weights: np.ndarray, *,
                 costs: dict[str, dict[float, float]] | None = None,
                 accuracy_cost: dict[float, float] | None = None,
                 spread: tuple[float, float] | None = None, rounds: int = 3, seed: int = 0):
        self._shares, self._model, self._weights = shares, model, weights
        self._costs = {k: dict(sorted(v.items())) for k, v in (costs or {}).items()}
        if accuracy_cost:
            self._costs["dp-noise"] = dict(sorted(accuracy_cost.items()))
        self._spread = spread
        self._rounds = rounds
        self._seed = seed
        self._owner = widgets.Dropdown(options=list(shares), description="Owner")
        # Redraw on release, not on every tick of a drag: an attack can take a second.
        self._index = widgets.IntSlider(0, 0, 19, description="Image", continuous_update=False)
        self._attack = widgets.Dropdown(options=list(ATTACKS), value="exact-inversion",
                                        description="Attack")
        self._defence = widgets.Dropdown(options=list(DEFENCES), value="none",
                                         description="Defence")
        self._sigma = _slider("none")
        self._image = widgets.Image(format="png")
        self._result = MessagePanel()
        self._knobs = widgets.HBox([self._defence, self._sigma])
        for w in (self._owner, self._index, self._attack):
            w.observe(lambda _: self.update(), names="value")
        self._defence.observe(lambda _: self._new_defence(), names="value")
        super().__init__(children=[
            widgets.HBox([self._owner, self._index, self._attack]), self._knobs,
            self._image, self._result])
        self.update()

    def _new_defence(self) -> None:
        """A new defence brings its own strength slider (σ on a log scale, a share, or none)."""
        self._sigma = _slider(self._defence.value)
        self._sigma.observe(lambda _: self.update(), names="value")
        self._knobs.children = [self._defence, self._sigma]
        self.update()

    def reconstruct(self, owner: str, index: int, defence: str, strength: float, *,
                    attack: str = "exact-inversion") -> tuple[np.ndarray, np.ndarray, float]:
        """(original, reconstruction, PSNR in dB) for one setting."""
        return attack_under_defence(self._model, self._weights, self._shares, owner, index,
                                    defence, strength, attack=attack, seed=self._seed)

    def _cost_text(self, defence: str, strength: float) -> str:
        d = get_defence(defence)
        if not d.strength:
            return ("accuracy cost: none (the sum is exactly what training needs)"
                    if d.aggregated else "")
        cost = self._costs.get(defence)
        if not cost:
            return ""
        xs = np.array(list(cost))
        if d.log_scale:
            x, xs = math.log10(max(strength, 1e-4)), np.log10(np.maximum(xs, 1e-4))
        else:
            x = strength
        acc = float(np.interp(x, xs, list(cost.values())))
        text = (f"model accuracy with this {d.strength} ≈ {acc:.2f} "
                f"(without it {cost[min(cost)]:.2f})")
        if d.privacy is not None:
            eps = d.privacy(strength, self._rounds)
            text += (f"\nguarantee: ε = {eps:,.1f} over {self._rounds} rounds (δ = {DELTA:g}; "
                     "below about 10 it means something)")
        if self._spread:
            lo, hi = self._spread
            text += (f"\nwithout any defence, runs with other seeds reach {lo:.2f} to {hi:.2f}: "
                     "a difference smaller than that is chance, not a gain from the defence")
        return text

    def update(self) -> float | None:
        """Redraw for the current settings; returns the PSNR (None after an error)."""
        defence, strength = self._defence.value, self._sigma.value
        d = get_defence(defence)
        self._sigma.disabled = not d.strength
        try:
            original, rec, quality = self.reconstruct(
                self._owner.value, self._index.value, defence,
                strength if d.strength else 0.0, attack=self._attack.value)
        except OmteachError as exc:
            self._result.show_error(exc)
            return None
        q = "exact copy" if math.isinf(quality) or quality > 60 else f"{quality:.1f} dB"
        png = images_png([original, rec], [f"{self._owner.value}'s image",
                                           f"reconstruction ({q})"])
        self._image.value = png
        # Shown at its own size: stretched to the cell's width it blurs and pushes the result
        # far below the controls.
        width, height = png_size(png)
        self._image.layout = widgets.Layout(width=f"{width}px", height=f"{height}px")
        verdict = ("recognisable" if quality > 18 else "blurred" if quality > 12
                   else "unrecognisable")
        setting = f"{defence}" + (f" ({d.strength} {strength:.3g})" if d.strength else "")
        cost = self._cost_text(defence, strength)
        self._result.show(
            f"PSNR {q}: {verdict}. Attack: {self._attack.value}. Defence: {setting}."
            + (f"\n{cost}" if cost else ""),
            kind="error" if quality > 18 else "ok")
        return quality

    def __repr__(self) -> str:
        return "InversionLab()"


class AuditPanel(widgets.VBox):
    """Joe's audit of the open specs on the market, before he consents."""

    def __init__(self, owner: DataOwner, policy: AuditPolicy | None = None):
        self._owner = owner
        self._policy = policy or AuditPolicy()
        specs = owner.browse()
        self._labels = {s.spec_id: spec_label(s.spec_id, s.summary) for s in specs}
        # The whole label, never cut: "batch 3" for a batch of 32 misleads. The dropdown takes
        # the cell's width and the button sits below it.
        self._spec = widgets.Dropdown(
            options=[(label, sid) for sid, label in self._labels.items()],
            description="Spec", layout=widgets.Layout(width="98%"))
        self._button = widgets.Button(description="Audit", button_style="primary")
        self._out = MessagePanel("Pick a spec and press Audit.")
        self._button.on_click(lambda _: self.audit(self._spec.value))
        self._spec.observe(lambda _: self._stale(), names="value")
        super().__init__(children=[self._spec, self._button, self._out])

    def _stale(self) -> None:
        """A report is about one spec: choosing another clears it rather than leave it up."""
        self._out.show(f"{self._labels.get(self._spec.value, 'no spec')}\n"
                       "not audited yet: press Audit.")

    def audit(self, spec_id: int | None):
        """Audit one spec and show the report; returns it (None after an error)."""
        try:
            if spec_id is None:
                raise OmteachError("there is no open spec on the market to audit")
            report = self._owner.audit(spec_id, self._policy)
        except OmteachError as exc:
            self._out.show_error(exc)
            return None
        self._out.show(f"{self._labels.get(spec_id, f'spec #{spec_id}')}\n{report!r}",
                       kind="ok" if report.passed else "error")
        return report

    def __repr__(self) -> str:
        return "AuditPanel()"


def spec_label(spec_id: int, summary: str) -> str:
    """How a spec is named in the audit panel: its id and its whole summary."""
    return f"#{spec_id}: {summary}"


def audit_html(report: AuditReport) -> str:
    """An audit report in a green (pass) or red (flagged) box."""
    return message_html(repr(report), kind="ok" if report.passed else "error")
