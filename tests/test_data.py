"""The digits split: disjoint shares, a held-out test set, even and skewed modes."""

import numpy as np
import pytest

from omteach.errors import InvalidValueError
from omteach.learning.data import load_digits_dataset, split_digits


def _rows(ds):
    return {r.tobytes() for r in ds.x}


def test_even_split_is_disjoint_and_complete():
    shares, test = split_digits(seed=1)
    total = load_digits_dataset()
    assert sum(len(s) for s in shares.values()) + len(test) == len(total) == 1797
    sizes = [len(s) for s in shares.values()]
    assert max(sizes) - min(sizes) <= 1
    assert abs(len(test) - 0.25 * 1797) < 1
    assert all(s.x.min() >= 0 and s.x.max() <= 1 for s in shares.values())
    joe, jane = shares["Joe"], shares["Jane"]
    assert len(_rows(joe) & _rows(test)) <= 5  # digits has a few duplicate images, no more
    assert len(_rows(joe) & _rows(jane)) <= 5


def test_skewed_split_concentrates_digits():
    shares, _ = split_digits(mode="skewed", seed=0, skew=0.9)
    for s in shares.values():
        counts = np.bincount(s.y, minlength=10)
        top = np.sort(counts)[::-1][:4].sum()
        assert top / counts.sum() > 0.75, counts
    even, _ = split_digits(mode="even", seed=0)
    counts = np.bincount(even["Joe"].y, minlength=10)
    assert np.sort(counts)[::-1][:4].sum() / counts.sum() < 0.6


def test_same_seed_same_split():
    a, _ = split_digits(seed=3)
    b, _ = split_digits(seed=3)
    c, _ = split_digits(seed=4)
    assert np.array_equal(a["Jack"].y, b["Jack"].y)
    assert not np.array_equal(a["Jack"].y, c["Jack"].y)


@pytest.mark.parametrize("kwargs", [{"mode": "random"}, {"owners": []}, {"test_fraction": 1.5},
                                    {"skew": -0.1}])
def test_bad_arguments(kwargs):
    with pytest.raises(InvalidValueError):
        split_digits(**kwargs)
