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


# -- the classroom: a shard per seat, or digits the student draws -----------------------------

DIGIT_SIDE = 8
"""The digits are 8×8 images."""


def seat_shard(seat: int, seats: int, *, seed: int = 0, test_fraction: float = 0.25
               ) -> tuple[Dataset, Dataset]:
    """Seat ``seat``'s private share of the digits (of ``seats`` seats) and the common test set.

    Every student computes only their own shard, on their own machine, from the digits that ship
    with scikit-learn; the same ``seed`` gives every seat the same held-out test set.
    """
    if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= 1000:
        raise InvalidValueError(f"seats must be a whole number from 1 to 1000, got {seats!r}")
    if isinstance(seat, bool) or not isinstance(seat, int) or not 0 <= seat < seats:
        raise InvalidValueError(f"seat must be a whole number from 0 to {seats - 1}, got {seat!r}")
    names = [f"seat {i}" for i in range(seats)]
    shares, test = split_digits(names, seed=seed, test_fraction=test_fraction)
    return shares[names[seat]], test


def digit_from_strokes(points: Sequence[tuple[float, float]], *, width: float, height: float,
                       brush: float = 0.09) -> np.ndarray:
    """A drawing (points of pen strokes on a ``width``×``height`` canvas) as a digits-style image.

    Like scikit-learn's digits (32×32 bitmaps counted into 4×4 blocks): the strokes are drawn
    with a round brush onto a 32×32 grid fitted to the drawing's bounding box (kept square and
    centred, so a small digit drawn in a corner looks like a large one in the middle), then each
    8×8 cell holds the share of its 16 pixels that are ink, scaled to 0..16 and divided by 16.
    Returns 64 floats in [0, 1].
    """
    if not (isinstance(width, int | float) and isinstance(height, int | float)
            and width > 0 and height > 0):
        raise InvalidValueError("the canvas must have a positive width and height")
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise InvalidValueError("draw a digit first: there are no pen strokes")
    if not np.isfinite(pts).all():
        raise InvalidValueError("a pen position is not a finite number")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = max(hi - lo) or 1.0
    pad = size * 0.15
    centre = (lo + hi) / 2
    origin = centre - size / 2 - pad
    span = size + 2 * pad
    grid = np.zeros((32, 32), dtype=bool)
    yy, xx = np.mgrid[0:32, 0:32]
    centres = np.stack([(xx + 0.5) / 32, (yy + 0.5) / 32], axis=-1)  # (x, y) in the unit box
    unit = (pts - origin) / span
    for p in unit:
        grid |= ((centres - p) ** 2).sum(axis=-1) <= brush ** 2
    counts = grid.reshape(8, 4, 8, 4).sum(axis=(1, 3))  # ink pixels per 4×4 block, 0..16
    return (counts.astype(np.float32) / 16.0).reshape(-1)


def dataset_from_drawings(images: Sequence[np.ndarray], labels: Sequence[int]) -> Dataset:
    """The drawn digits as a :class:`Dataset` (checked: 64 values in [0, 1], labels 0–9)."""
    if len(images) != len(labels):
        raise InvalidValueError(f"{len(images)} drawings but {len(labels)} labels")
    if not images:
        raise InvalidValueError("draw at least one digit first")
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != DIGIT_SIDE * DIGIT_SIDE:
        raise InvalidValueError(f"each drawing must be {DIGIT_SIDE * DIGIT_SIDE} pixel values")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise InvalidValueError("pixel values must lie between 0 and 1")
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9:
        raise InvalidValueError("labels must be whole numbers from 0 to 9")
    return Dataset(x, y.astype(np.int64))
