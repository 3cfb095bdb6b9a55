"""The digits model: a small PyTorch network described by a JSON-able spec.

AI Inc. publishes the spec and the initial weights (as a safe array blob); data owners rebuild the
model from them, train it locally, and send back an update (new weights minus old, flattened).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from omteach.errors import InvalidValueError
from omteach.learning.data import Dataset

ACTIVATIONS = ("relu", "tanh")


@dataclass(frozen=True)
class ModelSpec:
    """What AI Inc. posts: architecture and local-training terms, all public."""

    layers: tuple[int, ...] = (64, 32, 10)
    activation: str = "relu"
    batch_size: int = 32
    local_epochs: int = 1
    learning_rate: float = 0.1
    update_clip: float = 0.5
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        layers = tuple(int(n) for n in self.layers)
        object.__setattr__(self, "layers", layers)
        if len(layers) < 2 or layers[0] != 64 or layers[-1] != 10 or min(layers) < 1:
            raise InvalidValueError(
                f"layers {layers} must start with 64 inputs (8×8 pixels) and end with 10 classes"
            )
        if self.activation not in ACTIVATIONS:
            raise InvalidValueError(f"activation must be one of {ACTIVATIONS}")
        check_training_terms(self)

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-encodable data."""
        d = asdict(self)
        d["layers"] = list(self.layers)
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from :meth:`to_json` output."""
        try:
            return cls(**{**d, "layers": tuple(d["layers"])})
        except (TypeError, KeyError) as exc:
            raise InvalidValueError(f"not a model spec: {exc}") from exc

    @property
    def n_params(self) -> int:
        """Number of weights and biases."""
        return sum(a * b + b for a, b in zip(self.layers[:-1], self.layers[1:], strict=True))

    def summary(self) -> str:
        """One line: the architecture and training terms."""
        arch = " → ".join(str(n) for n in self.layers)
        return (f"MLP {arch} ({self.activation}), {self.n_params:,} parameters; batch "
                f"{self.batch_size}, {self.local_epochs} local epoch(s), lr {self.learning_rate}")


_ONE_THREAD = False


def one_thread() -> None:
    """Run torch on one intra-op thread (once per process).

    The course's models are tiny (a few thousand weights, batches of 32): thread start-up and
    hand-over cost more than they save. With the other core of a 2-core machine busy, torch's
    default two threads made local training a median 6x slower than one (TOOLING-NOTES).
    """
    global _ONE_THREAD
    if not _ONE_THREAD:
        import torch

        torch.set_num_threads(1)
        _ONE_THREAD = True


def check_training_terms(spec: Any) -> None:
    """Refuse training terms no round can use: ``batch_size``, ``local_epochs``,
    ``learning_rate`` and ``update_clip`` must all be positive (any model's spec has them)."""
    if spec.batch_size < 1 or spec.local_epochs < 1 or not spec.learning_rate > 0:
        raise InvalidValueError("batch_size, local_epochs and learning_rate must be positive")
    if not spec.update_clip > 0:
        raise InvalidValueError("update_clip must be positive")


def build_model(spec: ModelSpec, seed: int = 0):
    """A fresh torch model for ``spec``, initialised from ``seed`` (torch on one thread)."""
    import torch
    from torch import nn

    one_thread()
    torch.manual_seed(seed)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[spec.activation]
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(spec.layers[:-1], spec.layers[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(spec.layers) - 2:
            mods.append(act())
    return nn.Sequential(*mods)


def get_weights(model) -> np.ndarray:
    """All parameters as one flat float64 vector."""
    from torch.nn.utils import parameters_to_vector

    return parameters_to_vector(model.parameters()).detach().double().numpy().copy()


def set_weights(model, flat: Sequence[float] | np.ndarray) -> None:
    """Load a flat vector (from :func:`get_weights`) into the model, in the model's own float
    type (float32 for training; the attacks' float64 copies keep every digit)."""
    import torch
    from torch.nn.utils import vector_to_parameters

    params = list(model.parameters())
    flat = np.asarray(flat, dtype=torch.empty((), dtype=params[0].dtype).numpy().dtype)
    n = sum(p.numel() for p in params)
    if flat.shape != (n,):
        raise InvalidValueError(f"weight vector has shape {flat.shape}, the model needs ({n},)")
    vector_to_parameters(torch.from_numpy(flat.copy()), params)


def train_locally(spec: ModelSpec, weights: np.ndarray, data: Dataset, seed: int) -> np.ndarray:
    """Train from ``weights`` on ``data`` as the spec says; return the clipped update."""
    import torch
    from torch import nn

    model = build_model(spec)
    return sgd_update(model, weights, torch.from_numpy(data.x), torch.from_numpy(data.y),
                      nn.CrossEntropyLoss(), spec, seed)


def sgd_update(model: Any, weights: np.ndarray, x: Any, y: Any, loss_fn: Any, terms: Any,
               seed: int) -> np.ndarray:
    """Local SGD from ``weights`` (minibatches of ``terms.batch_size``, ``terms.local_epochs``
    passes, rate ``terms.learning_rate``); the update (new - old) clipped to ``terms.update_clip``.

    Shared by the digits MLP and any torch model (:mod:`omteach.learning.tasks`).
    """
    import torch

    if len(y) == 0:
        raise InvalidValueError("no training data: an owner needs at least one example")
    set_weights(model, weights)
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters())
    for _ in range(terms.local_epochs):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), terms.batch_size):
            idx = order[start:start + terms.batch_size]
            for p in params:
                p.grad = None
            loss_fn(model(x[idx]), y[idx]).backward()
            # Plain SGD, the step torch.optim.SGD takes on CPU (param += -lr * grad), written
            # out: creating a torch.optim optimizer imports torch._dynamo, about a second of a
            # chapter's first training round.
            with torch.no_grad():
                for p in params:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-terms.learning_rate)
    update = get_weights(model) - np.asarray(weights, dtype=np.float64)
    return np.clip(update, -terms.update_clip, terms.update_clip)


def accuracy(spec: ModelSpec, weights: np.ndarray, data: Dataset) -> float:
    """Share of ``data`` the model with ``weights`` classifies correctly."""
    import torch

    model = build_model(spec)
    set_weights(model, weights)
    with torch.no_grad():
        pred = model(torch.from_numpy(data.x)).argmax(dim=1).numpy()
    return float((pred == data.y).mean())
