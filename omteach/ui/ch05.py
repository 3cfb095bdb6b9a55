"""Widgets for chapter 5: the inversion lab and the audit panel."""

from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np

from omteach.errors import OmteachError
from omteach.learning.attacks import gradient, invert_first_layer, psnr
from omteach.learning.data import Dataset
from omteach.learning.defences import AuditPolicy, AuditReport, dp_noise
from omteach.learning.model import ModelSpec
from omteach.protocol import DataOwner
from omteach.ui.toolkit import MessagePanel, message_html

DEFENCES = ("none", "secure aggregation (3 owners)", "differential privacy")


def images_png(images: list[np.ndarray], titles: list[str]) -> bytes:
    """8×8 images side by side as one PNG (fast enough for a slider)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.9 * len(images), 2.1), dpi=80)
    for k, (img, title) in enumerate(zip(images, titles, strict=True)):
        ax = fig.add_subplot(1, len(images), k + 1)
        ax.imshow(np.asarray(img).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


class InversionLab(widgets.VBox):
    """Pick an owner, an image and a defence; see what AI Inc. reconstructs from the gradient.

    ``accuracy_cost`` maps a noise scale σ to the model accuracy measured with that noise (from
    :func:`omteach.learning.defences.dp_accuracy`), so the lab shows what each strength of
    defence costs.
    """

    def __init__(self, shares: dict[str, Dataset], model: ModelSpec, weights: np.ndarray, *,
                 accuracy_cost: dict[float, float] | None = None, seed: int = 0):
        self._shares, self._model, self._weights = shares, model, weights
        self._cost = dict(sorted((accuracy_cost or {}).items()))
        self._seed = seed
        self._owner = widgets.Dropdown(options=list(shares), description="Owner")
        self._index = widgets.IntSlider(0, 0, 19, description="Image")
        self._defence = widgets.Dropdown(options=DEFENCES, description="Defence")
        self._sigma = widgets.FloatLogSlider(value=0.01, base=10, min=-3, max=0,
                                             description="Noise σ", readout_format=".3f")
        self._image = widgets.Image(format="png")
        self._result = MessagePanel()
        for w in (self._owner, self._index, self._defence, self._sigma):
            w.observe(lambda _: self.update(), names="value")
        super().__init__(children=[
            widgets.HBox([self._owner, self._index]), widgets.HBox([self._defence, self._sigma]),
            self._image, self._result])
        self.update()

    def reconstruct(self, owner: str, index: int, defence: str, sigma: float
                    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(original, reconstruction, PSNR in dB) for one setting."""
        if defence not in DEFENCES:
            raise OmteachError(f"unknown defence {defence!r}; choose one of {DEFENCES}")
        data = self._shares[owner]
        if not 0 <= index < len(data):
            raise OmteachError(f"{owner} has images 0 to {len(data) - 1}, not {index}")
        x, y = data.x[index:index + 1], data.y[index:index + 1]
        g = gradient(self._model, self._weights, x, y)
        if defence == DEFENCES[1]:
            # AI Inc. only sees the sum of the three owners' gradients (image ``index`` of each).
            g = sum(gradient(self._model, self._weights, d.x[index:index + 1],
                             d.y[index:index + 1]) for d in self._shares.values())
        elif defence == DEFENCES[2]:
            rng = np.random.default_rng(self._seed + index)
            g = dp_noise(g, clip_norm=1.0, sigma=sigma, rng=rng)
        rec = invert_first_layer(self._model, g)
        return x[0], rec, psnr(x[0], rec)

    def update(self) -> float | None:
        """Redraw for the current settings; returns the PSNR (None after an error)."""
        defence, sigma = self._defence.value, self._sigma.value
        self._sigma.disabled = defence != DEFENCES[2]
        try:
            original, rec, quality = self.reconstruct(self._owner.value, self._index.value,
                                                      defence, sigma)
        except OmteachError as exc:
            self._result.show_error(exc)
            return None
        q = "exact copy" if math.isinf(quality) or quality > 60 else f"{quality:.1f} dB"
        self._image.value = images_png([original, rec],
                                       [f"{self._owner.value}'s image", f"reconstruction ({q})"])
        verdict = ("recognisable" if quality > 18 else "blurred" if quality > 12
                   else "unrecognisable")
        cost = ""
        if defence == DEFENCES[2] and self._cost:
            sigmas = np.array(list(self._cost))
            acc = float(np.interp(math.log10(sigma), np.log10(np.maximum(sigmas, 1e-4)),
                                  list(self._cost.values())))
            cost = (f"\nmodel accuracy with this noise ≈ {acc:.2f} "
                    f"(without noise {self._cost[min(self._cost)]:.2f})")
        elif defence == DEFENCES[1]:
            cost = "\naccuracy cost: none (the sum is exactly what training needs)"
        self._result.show(
            f"PSNR {q}: {verdict}. Defence: {defence}.{cost}",
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
        self._spec = widgets.Dropdown(
            options=[(f"#{s.spec_id}: {s.summary[:50]}", s.spec_id) for s in specs],
            description="Spec", layout=widgets.Layout(width="520px"))
        self._button = widgets.Button(description="Audit", button_style="primary")
        self._out = MessagePanel("Pick a spec and press Audit.")
        self._button.on_click(lambda _: self.audit(self._spec.value))
        super().__init__(children=[widgets.HBox([self._spec, self._button]), self._out])

    def audit(self, spec_id: int | None):
        """Audit one spec and show the report; returns it (None after an error)."""
        try:
            if spec_id is None:
                raise OmteachError("there is no open spec on the market to audit")
            report = self._owner.audit(spec_id, self._policy)
        except OmteachError as exc:
            self._out.show_error(exc)
            return None
        self._out.show(repr(report), kind="ok" if report.passed else "error")
        return report

    def __repr__(self) -> str:
        return "AuditPanel()"


def audit_html(report: AuditReport) -> str:
    """An audit report in a green (pass) or red (flagged) box."""
    return message_html(repr(report), kind="ok" if report.passed else "error")
