"""Chapter 5's defences: a registry chosen by name, differential privacy accounted in ε, and
Joe's audit of a spec before consenting.

:data:`DEFENCES` holds every gradient defence the lab and the notebook offer (secure aggregation
as chapter 4 does it with :mod:`omteach.crypto.secagg`, DP noise, gradient pruning); adding one is
an entry and a test. The encrypted model is :mod:`omteach.learning.encrypted_model`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from omteach.errors import InvalidValueError
from omteach.learning.attacks import by_name
from omteach.learning.data import Dataset
from omteach.learning.model import ModelSpec
from omteach.text import plural


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


def prune(update: np.ndarray, share: float) -> np.ndarray:
    """Gradient pruning: set the ``share`` of entries smallest in magnitude to zero.

    The defence Zhu et al. (Deep Leakage from Gradients, 2019) found most effective against their
    attack: with 20 % or more pruned, the optimisation no longer recovers the images.
    """
    if not 0 <= share < 1:
        raise InvalidValueError(f"the pruned share must be at least 0 and below 1, got {share}")
    update = np.asarray(update, dtype=np.float64)
    k = int(share * update.size)
    if k == 0:
        return update.copy()
    out = update.copy()
    out.flat[np.argpartition(np.abs(update).ravel(), k - 1)[:k]] = 0.0
    return out


# -- the registry --------------------------------------------------------------------------------

Protect = Callable[[np.ndarray, float, np.random.Generator, float], np.ndarray]
"""What one owner does to a gradient before sending: (gradient, strength, rng, clip_norm)."""


@dataclass(frozen=True)
class Defence:
    """A defence against gradient attacks, as the lab and the notebook choose it: by name.

    ``protect`` is what each owner does to its gradient or update before sending it;
    ``aggregated`` means AI Inc. sees only the sum over the round's owners. ``strength`` names the
    one knob (empty: none), ``sweep`` the strengths the notebook measures, ``limits`` and
    ``log_scale`` the lab's slider. ``privacy`` gives the formal guarantee ε for (strength,
    rounds) where the defence has one (differential privacy), else it is None.
    """

    name: str
    description: str
    protect: Protect
    aggregated: bool = False
    strength: str = ""
    sweep: tuple[float, ...] = (0.0,)
    default: float = 0.0
    limits: tuple[float, float] = (0.0, 1.0)
    log_scale: bool = False
    privacy: Callable[[float, int], float] | None = None


def _as_is(g: np.ndarray, strength: float, rng: np.random.Generator, clip: float) -> np.ndarray:
    return np.asarray(g, dtype=np.float64)


def _noise(g: np.ndarray, strength: float, rng: np.random.Generator, clip: float) -> np.ndarray:
    return dp_noise(g, clip_norm=clip, sigma=strength, rng=rng)


def _prune(g: np.ndarray, strength: float, rng: np.random.Generator, clip: float) -> np.ndarray:
    return prune(g, strength)


DEFENCES: dict[str, Defence] = {
    "none": Defence("none", "AI Inc. sees each owner's gradient as it was computed", _as_is),
    "secure-aggregation": Defence(
        "secure-aggregation", "AI Inc. sees only the sum of the three owners' gradients "
        "(chapter 4's masks)", _as_is, aggregated=True),
    "dp-noise": Defence(
        "dp-noise", "each owner clips its gradient to norm C and adds Gaussian noise of std σ·C",
        _noise, strength="noise σ", sweep=(0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
        default=0.01, limits=(0.001, 1.0), log_scale=True,
        privacy=lambda sigma, rounds: epsilon(sigma, rounds)),
    "pruning": Defence(
        "pruning", "each owner sends only its largest gradient entries, the rest set to 0",
        _prune, strength="share pruned", sweep=(0.0, 0.5, 0.8, 0.9, 0.95, 0.99),
        default=0.9, limits=(0.0, 0.99)),
}
"""Every gradient defence by name; adding one is an entry here and a test."""


def get_defence(name: str) -> Defence:
    """The defence called ``name``, or an error listing the names there are."""
    return by_name(DEFENCES, name, "defence")


COPY_DB = 60.0
"""A reconstruction this close (PSNR in dB) is a copy of the original."""

Progress = Callable[[int, int, str], None]
"""A progress callback: (steps done, steps in all, what was just done)."""


def attack_under_defence(spec: ModelSpec, weights: np.ndarray, shares: dict[str, Dataset],
                         owner: str, index: int, defence: str, strength: float = 0.0, *,
                         attack: str = "exact-inversion", clip_norm: float = 1.0, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, float]:
    """(original, reconstruction, PSNR in dB): ``attack`` on ``owner``'s image ``index``.

    AI Inc. observes the gradient of that one image after ``defence``; under an aggregating
    defence it observes the sum with image ``index`` of every other owner.
    """
    from omteach.learning.attacks import best_psnr, get_attack, gradient

    d, a = get_defence(defence), get_attack(attack)
    if owner not in shares:
        raise InvalidValueError(f"no owner {owner!r}; the owners are {', '.join(shares)}")
    data = shares[owner]
    if not 0 <= index < len(data):
        raise InvalidValueError(f"{owner} has images 0 to {len(data) - 1}, not {index}")
    rng = np.random.default_rng(seed + index)
    seen = list(shares.values()) if d.aggregated else [data]
    g = sum(d.protect(gradient(spec, weights, o.x[index:index + 1], o.y[index:index + 1]),
                      strength, rng, clip_norm) for o in seen)
    candidates = a.reconstruct(spec, weights, g, 1)
    original = data.x[index]
    best = max(candidates, key=lambda c: best_psnr(original[None, :], c))
    return original, best, best_psnr(original[None, :], best)


def leakage(spec: ModelSpec, weights: np.ndarray, shares: dict[str, Dataset], owner: str,
            defence: str, strengths: Sequence[float], *, images: int = 10,
            attack: str = "exact-inversion", seed: int = 0,
            progress: Progress | None = None) -> dict[float, float]:
    """Median PSNR (dB) of ``attack`` over ``owner``'s first ``images`` images, for each strength
    of ``defence``. Each image's PSNR is capped at 60 dB before the median: above that a
    reconstruction is a copy, and how far above depends only on the round-off where an
    optimisation stopped (65 dB on one CPU, 99 dB on another for the same image)."""
    out, total = {}, len(strengths) * images
    for k, s in enumerate(strengths):
        q = [min(attack_under_defence(spec, weights, shares, owner, i, defence, s,
                                      attack=attack, seed=seed)[2], COPY_DB)
             for i in range(images)]
        out[float(s)] = float(np.median(q))
        if progress:
            progress((k + 1) * images, total, f"{defence} at {s:g}: {out[float(s)]:.1f} dB")
    return out


def defended_accuracy(shares: dict[str, Dataset], test: Dataset, model: ModelSpec,
                      defence: str, strengths: Sequence[float], *, rounds: int = 3,
                      clip_norm: float = 2.0, seed: int = 0,
                      progress: Progress | None = None) -> dict[float, float]:
    """Test accuracy after ``rounds`` of federated averaging, every update sent through
    ``defence`` at each strength (its accuracy cost).

    Plain sums stand in for the encrypted ones (encryption changes nothing but quantization).
    ``progress`` is called after every round of every strength.
    """
    from omteach.learning.model import accuracy, build_model, get_weights, train_locally

    d = get_defence(defence)
    out, total = {}, len(strengths) * rounds
    for k, strength in enumerate(strengths):
        rng = np.random.default_rng(seed)
        w = get_weights(build_model(model, seed=seed))
        for r in range(rounds):
            ups = [d.protect(train_locally(model, w, data, seed=seed * 1000 + r), strength, rng,
                             clip_norm) for data in shares.values()]
            w = w + np.mean(ups, axis=0)
            if progress:
                progress(k * rounds + r + 1, total,
                         f"{d.strength or d.name} {strength:g}: round {r + 1} of {rounds}")
        out[float(strength)] = accuracy(model, w, test)
    return out


# -- differential privacy in ε ------------------------------------------------------------------

DELTA = 1e-5
"""The δ of every ε in the course: the chance the guarantee fails outright (well below 1/people)."""


def epsilon(sigma: float, rounds: int, *, sampling: float = 1.0, delta: float = DELTA) -> float:
    """The ε of ``rounds`` Gaussian-mechanism releases with noise multiplier ``sigma``.

    The mechanism is :func:`dp_noise`'s: an update clipped to norm C plus Gaussian noise of std
    σ·C, so σ is the noise multiplier. ``sampling`` is the chance that an individual takes part
    in a round (1: every round; DP-SGD's batch/data-set share amplifies privacy). Accounted with
    Google's ``dp-accounting`` Rényi-DP accountant; ``inf`` for σ = 0 (no noise, no guarantee).
    """
    if not sigma >= 0:
        raise InvalidValueError(f"sigma (the noise multiplier) must be 0 or more, got {sigma}")
    if not (isinstance(rounds, int | np.integer) and rounds >= 1):
        raise InvalidValueError(f"rounds must be a whole number, at least 1, got {rounds!r}")
    if not 0 < sampling <= 1:
        raise InvalidValueError(f"sampling is a probability in (0, 1], got {sampling}")
    if not 0 < delta < 1:
        raise InvalidValueError(f"delta must be between 0 and 1, got {delta}")
    if sigma == 0:
        return math.inf
    import dp_accounting  # ~1 s to import: only chapter 5 needs it
    from dp_accounting.rdp import rdp_privacy_accountant

    event = dp_accounting.GaussianDpEvent(sigma)
    if sampling < 1:
        event = dp_accounting.PoissonSampledDpEvent(sampling, event)
    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, int(rounds)))
    return float(accountant.get_epsilon(delta))


# -- the audit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPolicy:
    """What Joe requires of a spec before he consents."""

    min_batch_size: int = 16
    min_owners: int = 3
    min_noise: float = 0.0
    allowed_layers: tuple[tuple[int, ...], ...] = ((64, 16, 10), (64, 32, 10), (64, 64, 10))
    max_duplicate_rows: float = 0.1


class Finding(NamedTuple):
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
            f"FLAGGED: {plural(len(self.failures), 'problem')}, do not consent")
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
                seed: int = 0, progress: Progress | None = None) -> dict[float, float]:
    """Test accuracy after ``rounds`` of federated averaging with DP noise on every update.

    :func:`defended_accuracy` for ``"dp-noise"``; ``progress`` as there.
    """
    return defended_accuracy(shares, test, model, "dp-noise", sigmas, rounds=rounds,
                             clip_norm=clip_norm, seed=seed, progress=progress)
