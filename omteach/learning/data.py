"""The course's data: scikit-learn's handwritten digits (shipped with it, no download).

8×8 grey images, 1,797 of them, 10 classes. A held-out test set stays with nobody; the rest is
split among the data owners, evenly or skewed (each owner mostly holds a few digits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omteach.errors import InvalidValueError
from omteach.story import OWNERS


@dataclass(frozen=True)
class Dataset:
    """Images as rows of 64 floats in [0, 1], and their labels 0–9."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def load_digits_dataset() -> Dataset:
    """All 1,797 digits, pixel values scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return Dataset(d.data.astype(np.float32) / 16.0, d.target.astype(np.int64))


def split_digits(
    owners: Sequence[str] = OWNERS, *, mode: str = "even", test_fraction: float = 0.25,
    seed: int = 0, skew: float = 0.8,
) -> tuple[dict[str, Dataset], Dataset]:
    """Split the digits among ``owners`` and keep a held-out test set.

    ``mode="even"``: a shuffled even split. ``mode="skewed"``: each owner is given a few
    "favourite" digits and receives ``skew`` of those digits' images (the rest spread evenly).
    """
    if mode not in ("even", "skewed"):
        raise InvalidValueError(f"mode must be 'even' or 'skewed', got {mode!r}")
    if not owners:
        raise InvalidValueError("give at least one data owner")
    if not 0 < test_fraction < 1:
        raise InvalidValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if not 0 <= skew <= 1:
        raise InvalidValueError(f"skew must be between 0 and 1, got {skew}")
    data = load_digits_dataset()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    n_test = int(round(test_fraction * len(data)))
    test_idx, train_idx = order[:n_test], order[n_test:]
    k = len(owners)
    if mode == "even":
        parts = np.array_split(train_idx, k)
    else:
        favourite = {d: i % k for i, d in enumerate(rng.permutation(10))}
        buckets: list[list[int]] = [[] for _ in range(k)]
        for idx in train_idx:
            fav = favourite[int(data.y[idx])]
            owner = fav if rng.random() < skew else int(rng.integers(k))
            buckets[owner].append(int(idx))
        parts = [np.array(b, dtype=np.int64) for b in buckets]
    shares = {o: Dataset(data.x[p], data.y[p]) for o, p in zip(owners, parts, strict=True)}
    return shares, Dataset(data.x[test_idx], data.y[test_idx])
