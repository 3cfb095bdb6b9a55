"""Any model, any data: what the protocol needs from a model, for the digits MLP and beyond.

The round only moves flat vectors of numbers (weights, updates), so it can train any
``torch.nn.Module``. Two kinds of model go through the same functions here:

- :class:`~omteach.learning.model.ModelSpec`, the course's digits MLP, described entirely by
  JSON, so an owner rebuilds it from the posted blob;
- :class:`TorchTask`, any ``torch.nn.Module`` with a loss and training terms. Its *code* (the
  function that builds the module) is agreed beforehand, as in every federated-learning framework
  where the client application ships the model class: never unpickled from a blob. What is
  posted is its public description (parameter shapes, terms), which each owner checks against
  the module its own code builds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from omteach.errors import InvalidValueError
from omteach.learning import model as mlp
from omteach.learning.data import Dataset
from omteach.learning.model import ModelSpec, check_training_terms

LOSSES = ("mse", "cross_entropy")
METRICS = ("r2", "accuracy")


@dataclass(frozen=True)
class TorchTask:
    """Any torch module, its loss, local-training terms and score: one federated task.

    ``build`` makes a fresh module (called with the seed set); ``loss``: ``"mse"`` (targets are
    floats, one per output) or ``"cross_entropy"`` (targets are class numbers); ``metric``:
    ``"r2"`` or ``"accuracy"`` on held-out data.
    """

    name: str
    build: Callable[[], Any]
    loss: str = "mse"
    metric: str = "r2"
    batch_size: int = 32
    local_epochs: int = 1
    learning_rate: float = 0.1
    update_clip: float = 0.5

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise InvalidValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.metric not in METRICS:
            raise InvalidValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        check_training_terms(self)

    def module(self, seed: int = 0) -> Any:
        """A fresh module, initialised from ``seed``."""
        import torch

        torch.manual_seed(seed)
        return self.build()

    @property
    def n_params(self) -> int:
        """Number of trainable numbers."""
        return sum(p.numel() for p in self.module().parameters())

    def describe(self) -> dict[str, Any]:
        """The public description posted with the weights (JSON): shapes and terms."""
        return {"name": self.name, "loss": self.loss, "metric": self.metric,
                "batch_size": self.batch_size, "local_epochs": self.local_epochs,
                "learning_rate": self.learning_rate, "update_clip": self.update_clip,
                "shapes": [list(p.shape) for p in self.module().parameters()]}

    def summary(self) -> str:
        """One line: the model and its terms."""
        return (f"{self.name}, {self.n_params:,} parameters; {self.loss} loss, batch "
                f"{self.batch_size}, {self.local_epochs} local epoch(s), lr {self.learning_rate}")


Model = ModelSpec | TorchTask


def n_params(model: Model) -> int:
    """Number of weights of a model of either kind."""
    return model.n_params


def initial_weights(model: Model, seed: int = 0) -> np.ndarray:
    """The model's starting weights, as one flat float64 vector."""
    if isinstance(model, ModelSpec):
        return mlp.get_weights(mlp.build_model(model, seed=seed))
    return mlp.get_weights(model.module(seed))


def check_data(model: Model, data: Dataset) -> None:
    """Refuse data the model cannot train on, with what does not fit, before any work.

    Without it a row of the wrong width, a label out of range or a target of the wrong shape
    surfaces as a bare torch ``RuntimeError`` from deep inside the first minibatch (or, for an
    owner, after accepting the spec on chain). A torch model is asked with one row (no gradient).
    """
    x, y = np.asarray(data.x), np.asarray(data.y)
    if x.ndim < 2 or len(x) != len(y) or len(y) == 0:
        raise InvalidValueError(f"the data must be rows of examples with one label each; got x "
                                f"of shape {x.shape} and {len(y)} label(s)")
    if isinstance(model, ModelSpec):
        inputs, classes = model.layers[0], model.layers[-1]
        if x.shape[1:] != (inputs,):
            raise InvalidValueError(f"the model takes rows of {inputs} numbers; this data's rows "
                                    f"are of shape {x.shape[1:]}")
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= classes:
            raise InvalidValueError(f"the model's labels are whole numbers from 0 to "
                                    f"{classes - 1}; this data has {y.dtype.name} labels from "
                                    f"{y.min()} to {y.max()}")
        return
    import torch

    try:
        with torch.no_grad():
            out = model.module()(torch.as_tensor(np.asarray(x[:1], dtype=np.float32)))
    except (RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidValueError(f"{model.name} cannot read rows of shape {x.shape[1:]}: "
                                f"{first}") from None
    if model.loss == "mse":
        want = tuple(out.shape[1:])
        got = y.reshape(len(y), -1).shape[1:]
        if int(np.prod(want)) != int(np.prod(got)):
            raise InvalidValueError(f"{model.name} outputs {want} per row; this data's targets "
                                    f"are {y.shape[1:] or '1 number'} per row")
    elif y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= out.shape[-1]:
        raise InvalidValueError(f"{model.name} has {out.shape[-1]} classes (labels 0 to "
                                f"{out.shape[-1] - 1}); this data's labels are {y.dtype.name} "
                                f"from {y.min()} to {y.max()}")


def train(model: Model, weights: np.ndarray, data: Dataset, seed: int) -> np.ndarray:
    """Local training from ``weights`` on ``data``; the clipped update (new - old)."""
    check_data(model, data)
    if isinstance(model, ModelSpec):
        return mlp.train_locally(model, weights, data, seed)
    import torch
    from torch import nn

    x = torch.as_tensor(np.asarray(data.x, dtype=np.float32))
    if model.loss == "mse":
        y = torch.as_tensor(np.asarray(data.y, dtype=np.float32)).reshape(len(data), -1)
        loss_fn: Any = nn.MSELoss()
    else:
        y = torch.as_tensor(np.asarray(data.y, dtype=np.int64))
        loss_fn = nn.CrossEntropyLoss()
    return mlp.sgd_update(model.module(), weights, x, y, loss_fn, model, seed)


def score(model: Model, weights: np.ndarray, data: Dataset) -> float:
    """The model's score on held-out data: accuracy for the digits MLP, else its metric."""
    if isinstance(model, ModelSpec):
        return mlp.accuracy(model, weights, data)
    import torch

    module = model.module()
    mlp.set_weights(module, weights)
    with torch.no_grad():
        out = module(torch.as_tensor(np.asarray(data.x, dtype=np.float32))).numpy()
    if model.metric == "accuracy":
        return float((out.argmax(axis=1) == np.asarray(data.y)).mean())
    y = np.asarray(data.y, dtype=np.float64).reshape(out.shape)
    return float(1 - np.sum((y - out) ** 2) / np.sum((y - y.mean()) ** 2))


def summary(model: Model) -> str:
    """One line about the model."""
    return model.summary()
