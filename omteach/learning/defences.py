"""Chapter 5's defences: differential-privacy noise, and Joe's audit of a spec before consenting.

Secure aggregation (chapter 4, :mod:`omteach.crypto.secagg`) is the first defence; the encrypted
model is :mod:`omteach.learning.encrypted_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from omteach.errors import InvalidValueError
from omteach.learning.data import Dataset
from omteach.learning.model import ModelSpec


def dp_noise(update: np.ndarray, *, clip_norm: float, sigma: float,
             rng: np.random.Generator) -> np.ndarray:
    """Clip ``update`` to L2 norm ``clip_norm`` and add Gaussian noise of std ``sigma·clip_norm``.

    The Gaussian mechanism of DP-SGD / DP-FedAvg (Abadi et al. 2016; McMahan et al. 2018):
    clipping bounds what one person can change, the noise hides what is left.
    """
    if not clip_norm > 0:
        raise InvalidValueError(f"clip_norm must be positive, got {clip_norm}")
    if not sigma >= 0:
        raise InvalidValueError(f"sigma (the noise scale) must be 0 or more, got {sigma}")
    update = np.asarray(update, dtype=np.float64)
    norm = float(np.linalg.norm(update))
    clipped = update * min(1.0, clip_norm / norm) if norm > 0 else update
    return clipped + rng.normal(0.0, sigma * clip_norm, update.shape)


# -- the audit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPolicy:
    """What Joe requires of a spec before he consents."""

    min_batch_size: int = 16
    min_owners: int = 3
    min_noise: float = 0.0
    allowed_layers: tuple[tuple[int, ...], ...] = ((64, 16, 10), (64, 32, 10), (64, 64, 10))
    max_duplicate_rows: float = 0.1


@dataclass(frozen=True)
class Finding:
    """One check of the audit: its name, whether it passed, and why."""

    check: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """All findings; ``passed`` only if every check passed."""

    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """True if every check passed."""
        return all(f.passed for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        """The checks that failed."""
        return [f for f in self.findings if not f.passed]

    def __repr__(self) -> str:
        head = "PASS: consent is reasonable" if self.passed else (
            f"FLAGGED: {len(self.failures)} problem(s), do not consent")
        lines = [f"  {'✔' if f.passed else '✖'} {f.check}: {f.detail}" for f in self.findings]
        return "\n".join([head, *lines])



def duplicate_row_share(first_layer_weights: np.ndarray) -> float:
    """Share of first-layer units whose incoming weights copy another unit's (to 1e-9)."""
    w = np.asarray(first_layer_weights, dtype=np.float64)
    rounded = np.round(w / 1e-9).astype(np.int64)
    _, counts = np.unique(rounded, axis=0, return_counts=True)
    return float(counts[counts > 1].sum()) / len(w)


def audit_spec(*, batch_size: int, min_owners: int, noise: float, model: ModelSpec | None,
               weights: np.ndarray | None, model_matches_id: bool,
               policy: AuditPolicy | None = None) -> AuditReport:
    """Joe's client-side audit of a market spec: the on-chain terms and the model itself.

    ``batch_size``, ``min_owners`` and ``noise`` come from the contract; ``model``/``weights``
    from the model blob, ``model_matches_id`` from checking that blob against its id.
    """
    p = policy or AuditPolicy()
    terms = (
        Finding("model hash", model_matches_id,
                "the model blob matches the id on chain" if model_matches_id else
                "the model blob does not match the id on chain: someone swapped it"),
        Finding("batch size", batch_size >= p.min_batch_size,
                f"{batch_size} (need ≥ {p.min_batch_size}: a gradient of few images can be "
                "inverted into those images)"),
        Finding("owners per round", min_owners >= p.min_owners,
                f"{min_owners} (need ≥ {p.min_owners}: fewer, and the aggregate is close to one "
                "person's update)"),
        Finding("noise", noise >= p.min_noise,
                f"σ = {noise:g} (need ≥ {p.min_noise:g})"),
    )
    if model is None or weights is None:
        return AuditReport(terms + (Finding(
            "model", False, "not checked: without the model the spec names, nothing it does "
            "can be checked"),))
    from omteach.learning.attacks import first_layer

    dup = duplicate_row_share(first_layer(model, weights)[0])
    findings = terms + (
        Finding("architecture", model.layers in p.allowed_layers,
                f"{' → '.join(map(str, model.layers))} "
                + ("is on the allow-list" if model.layers in p.allowed_layers else
                   "is not on the allow-list: a wide first layer can memorise single images")),
        Finding("first-layer weights", dup <= p.max_duplicate_rows,
                f"{dup:.0%} of first-layer units are copies of another (allowed "
                f"{p.max_duplicate_rows:.0%}): "
                + ("they look like ordinary random weights" if dup <= p.max_duplicate_rows else
                   "identical units with different thresholds sort images into bins, "
                   "the signature of a model built to leak")),
    )
    return AuditReport(findings)


def reconstruction_quality(originals: Sequence[np.ndarray], reconstruction: np.ndarray) -> float:
    """The best PSNR (dB) of a reconstruction against any of the originals."""
    from omteach.learning.attacks import best_psnr

    return best_psnr(np.asarray(originals), reconstruction)


def dp_accuracy(shares: dict[str, Dataset], test: Dataset, model: ModelSpec,
                sigmas: Sequence[float], *, rounds: int = 3, clip_norm: float = 2.0,
                seed: int = 0) -> dict[float, float]:
    """Test accuracy after ``rounds`` of federated averaging with DP noise on every update.

    Plain sums stand in for the encrypted ones (encryption changes nothing but quantization).
    """
    from omteach.learning.model import accuracy, build_model, get_weights, train_locally

    out = {}
    for sigma in sigmas:
        rng = np.random.default_rng(seed)
        w = get_weights(build_model(model, seed=seed))
        for r in range(rounds):
            ups = [dp_noise(train_locally(model, w, d, seed=seed * 1000 + r), clip_norm=clip_norm,
                            sigma=sigma, rng=rng) for d in shares.values()]
            w = w + np.mean(ups, axis=0)
        out[float(sigma)] = accuracy(model, w, test)
    return out
