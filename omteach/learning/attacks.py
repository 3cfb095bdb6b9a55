"""Chapter 5's attacks: recovering training images from a gradient, and a model crafted to leak.

- :func:`invert_first_layer`: the analytic trick. For a first fully-connected layer ``z = W x + b``
  the gradient is ``dL/dW[i] = dL/dz[i] · x`` and ``dL/db[i] = dL/dz[i]``, so for a single image
  ``x = dW[i] / db[i]`` for any unit ``i`` with ``db[i] != 0``: exact, no search.
- :func:`deep_leakage`: Deep Leakage from Gradients (Zhu et al., NeurIPS 2019) for a small batch:
  start from random images and labels and change them until their gradient matches the observed
  one (L-BFGS).
- :func:`crafted_model` / :func:`binning_attack`: a model whose first layer looks ordinary in a
  spec (64 → 256 → 10) but whose units all measure the same thing (mean brightness) with
  increasing thresholds, and whose next layer treats them alike. The gradient of a whole batch
  then separates into "bins"; every image alone in its bin comes out exactly
  (after Fowl et al., "Robbing the Fed", ICLR 2022).

Images are rows of 64 pixels in [0, 1]. Gradients are flat vectors in the order of
:func:`omteach.learning.model.get_weights`.

The attacks compute in float64, not the float32 the model trains in. They divide one gradient
entry by another and difference neighbouring units, which multiplies round-off; in float32 the
order in which the CPU's vector kernels sum (AVX-512, AVX2, ARM) decided whether an image came
out "exactly", so the lesson printed different numbers on different laptops. In float64 the same
round-off is far below every figure the chapter prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from omteach.errors import InvalidValueError
from omteach.learning.model import ModelSpec, build_model, set_weights


def gradient(spec: ModelSpec, weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The flat gradient of the mean cross-entropy loss on the batch ``(x, y)``."""
    import torch
    from torch import nn

    model = _float64_model(spec, weights)
    xt = torch.as_tensor(np.atleast_2d(x), dtype=torch.float64)
    yt = torch.as_tensor(np.atleast_1d(y), dtype=torch.long)
    loss = nn.CrossEntropyLoss()(model(xt), yt)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return torch.cat([g.reshape(-1) for g in grads]).double().numpy()


def _float64_model(spec: ModelSpec, weights: np.ndarray):
    """The model of ``spec`` with ``weights``, computing in float64 (see the module's note)."""
    model = build_model(spec).double()
    set_weights(model, weights)
    return model


def first_layer(spec: ModelSpec, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first layer's (weight matrix, bias) part of a flat parameter or gradient vector."""
    n_in, n_out = spec.layers[0], spec.layers[1]
    flat = np.asarray(flat, dtype=np.float64)
    if flat.shape != (spec.n_params,):
        raise InvalidValueError(f"expected {spec.n_params} values for {spec.summary()}, "
                                f"got shape {flat.shape}")
    w = flat[: n_in * n_out].reshape(n_out, n_in)
    b = flat[n_in * n_out: n_in * n_out + n_out]
    return w, b


def invert_first_layer(spec: ModelSpec, grad: np.ndarray) -> np.ndarray:
    """Reconstruct the input from a gradient by ``dW[i] / db[i]`` (exact for one image).

    For a gradient of several images (or a sum of several people's gradients) the same division
    gives a blend of them: this is what secure aggregation relies on.
    """
    dw, db = first_layer(spec, grad)
    i = int(np.argmax(np.abs(db)))
    if abs(db[i]) < 1e-12:
        raise InvalidValueError("every first-layer bias gradient is zero: nothing to invert")
    return np.clip(dw[i] / db[i], 0.0, 1.0)


def psnr(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (pixels in [0, 1]); ``inf`` for an exact copy."""
    mse = float(np.mean((np.asarray(original, float) - np.asarray(reconstruction, float)) ** 2))
    return math.inf if mse < 1e-20 else 10 * math.log10(1.0 / mse)


def best_psnr(originals: np.ndarray, reconstruction: np.ndarray) -> float:
    """The PSNR of a reconstruction against the original it resembles most."""
    return max(psnr(o, reconstruction) for o in np.atleast_2d(originals))


def deep_leakage(spec: ModelSpec, weights: np.ndarray, grad: np.ndarray, batch_size: int, *,
                 steps: int = 200, seed: int = 0, restarts: int = 1,
                 progress: Callable[[int, int, str], None] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Deep Leakage from Gradients: images and labels whose gradient matches ``grad``.

    Returns (images of shape (batch_size, 64) in [0, 1], predicted labels). L-BFGS stops in the
    nearest local minimum, so where it ends depends on the random start; with ``restarts`` > 1
    the attack starts from that many random dummies (seeds ``seed``, ``seed + 1``, ...) and keeps
    the one whose gradient came closest to ``grad``: the attacker chooses by what it can see,
    never by the original images. ``progress`` is called every 10 evaluations with (evaluations
    so far, ``steps * restarts``, the gradient distance).
    """
    import torch

    if batch_size < 1:
        raise InvalidValueError("batch_size must be at least 1")
    if restarts < 1:
        raise InvalidValueError("restarts must be at least 1")
    model = _float64_model(spec, weights)
    target = torch.as_tensor(np.asarray(grad, dtype=np.float64))
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for start in range(restarts):
        def report(calls: int, distance: float, done: int = start * steps) -> None:
            if progress and calls % 10 == 0:
                progress(done + min(calls, steps), steps * restarts,
                         f"gradient distance {distance:.2e}")

        distance, x, y = _match_gradient(model, target, batch_size, steps, seed + start, report)
        if best is None or distance < best[0]:
            best = (distance, x, y)
    assert best is not None  # restarts >= 1
    return best[1], best[2]


def _match_gradient(model, target, batch_size: int, steps: int, seed: int,
                    report: Callable[[int, float], None]
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """One L-BFGS run of Deep Leakage from a random start: (final distance, images, labels)."""
    import torch
    from torch import nn

    params = list(model.parameters())
    n_in, n_out = model[0].in_features, model[-1].out_features
    torch.manual_seed(seed)
    dummy_x = torch.rand(batch_size, n_in, dtype=torch.float64, requires_grad=True)
    dummy_y = torch.randn(batch_size, n_out, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([dummy_x, dummy_y], lr=0.5, max_iter=steps,
                            history_size=50, line_search_fn="strong_wolfe")
    calls = [0]  # closure evaluations, for progress

    def distance(create_graph: bool):
        logits = model(dummy_x)
        loss = torch.mean(torch.sum(-torch.softmax(dummy_y, -1)
                                    * nn.functional.log_softmax(logits, -1), -1))
        g = torch.autograd.grad(loss, params, create_graph=create_graph)
        return torch.sum((torch.cat([t.reshape(-1) for t in g]) - target) ** 2)

    def closure():
        opt.zero_grad()
        diff = distance(create_graph=True)
        diff.backward()
        calls[0] += 1
        report(calls[0], diff.item())
        return diff

    opt.step(closure)
    final = distance(create_graph=False).item()
    x = dummy_x.detach().clamp(0, 1).numpy()
    return final, x, dummy_y.detach().argmax(-1).numpy()


T = TypeVar("T")


# -- the registry: the gradient attacks the lab and the notebook choose by name ----------------


@dataclass(frozen=True)
class Attack:
    """A gradient attack: from (spec, weights, observed gradient, batch size) to images.

    ``reconstruct`` returns an array of candidate images (rows of 64 pixels in [0, 1]); the
    attack's quality is the best PSNR of any candidate against the original.
    """

    name: str
    description: str
    reconstruct: Callable[[ModelSpec, np.ndarray, np.ndarray, int], np.ndarray]


def _exact(spec: ModelSpec, weights: np.ndarray, grad: np.ndarray, batch: int) -> np.ndarray:
    return invert_first_layer(spec, grad)[None, :]


def _dlg(spec: ModelSpec, weights: np.ndarray, grad: np.ndarray, batch: int) -> np.ndarray:
    return deep_leakage(spec, weights, grad, batch, steps=100)[0]


ATTACKS: dict[str, Attack] = {
    "exact-inversion": Attack(
        "exact-inversion", "divide a first-layer unit's weight gradient by its bias gradient",
        _exact),
    "deep-leakage": Attack(
        "deep-leakage", "Deep Leakage from Gradients: optimise dummy images until their "
        "gradient matches (L-BFGS, 100 steps)", _dlg),
}
"""Every gradient attack by name; adding one is an entry here and a test."""


def by_name(registry: dict[str, T], name: str, kind: str) -> T:
    """The entry of ``registry`` called ``name``, or an error listing the names there are."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise InvalidValueError(f"unknown {kind} {name!r}; choose one of "
                                f"{', '.join(registry)}") from None


def get_attack(name: str) -> Attack:
    """The attack called ``name``, or an error listing the names there are."""
    return by_name(ATTACKS, name, "attack")


# -- a model crafted to leak ------------------------------------------------------------------


@dataclass(frozen=True)
class CraftedModel:
    """A malicious model: ordinary-looking spec, first-layer "bins" of brightness."""

    spec: ModelSpec
    weights: np.ndarray
    thresholds: np.ndarray


def crafted_model(bins: int = 256, *, seed: int = 0,
                  brightness_range: tuple[float, float] = (0.15, 0.55)) -> CraftedModel:
    """A 64 → ``bins`` → 10 model whose first layer sorts images into brightness bins.

    Every first-layer unit computes the mean brightness of the image (identical rows) minus its
    own threshold; all units feed the next layer identically. Its spec looks ordinary.
    """
    spec = ModelSpec(layers=(64, bins, 10), batch_size=64, local_epochs=1)
    rng = np.random.default_rng(seed)
    lo, hi = brightness_range
    thresholds = np.linspace(lo, hi, bins)
    w1 = np.full((bins, 64), 1.0 / 64)
    b1 = -thresholds
    w2 = np.tile(rng.normal(0, 0.05, (10, 1)), (1, bins))  # every unit feeds class j alike
    b2 = np.zeros(10)
    flat = np.concatenate([w1.ravel(), b1, w2.ravel(), b2])
    return CraftedModel(spec, flat, thresholds)


def binning_attack(crafted: CraftedModel, grad: np.ndarray, *, tol: float = 1e-9
                   ) -> list[np.ndarray]:
    """Images recovered from the gradient of a whole batch through a :func:`crafted_model`.

    Unit ``i`` is active for images brighter than threshold ``i``, so the difference between
    neighbouring units' gradients holds exactly the images between the two thresholds; where
    that is one image, ``ΔdW / Δdb`` is that image.
    """
    dw, db = first_layer(crafted.spec, grad)
    out = []
    for i in range(len(db) - 1):
        d_b = db[i] - db[i + 1]
        if abs(d_b) > tol:
            x = (dw[i] - dw[i + 1]) / d_b
            if np.all(x > -1e-6) and np.all(x < 1 + 1e-6):
                out.append(np.clip(x, 0, 1))
    return out


def count_recovered(originals: np.ndarray, recovered: list[np.ndarray], *,
                    min_psnr: float = 40.0) -> int:
    """How many originals appear among the recovered images (PSNR at least ``min_psnr`` dB)."""
    found = 0
    for o in np.atleast_2d(originals):
        if any(psnr(o, r) >= min_psnr for r in recovered):
            found += 1
    return found
