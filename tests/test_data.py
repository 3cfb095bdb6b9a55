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


def test_digits_read_without_sklearn_are_sklearns_digits():
    """The digits file read directly (no scikit-learn import) is exactly what load_digits gives."""
    from sklearn.datasets import load_digits

    ours = load_digits_dataset()
    d = load_digits()
    np.testing.assert_array_equal(ours.x, d.data.astype(np.float32) / 16.0)
    np.testing.assert_array_equal(ours.y, d.target.astype(np.int64))
    assert ours.x.dtype == np.float32 and ours.y.dtype == np.int64


def test_digits_fall_back_to_sklearn_when_the_file_is_elsewhere(monkeypatch):
    import omteach.learning.data as data

    monkeypatch.setattr(data, "_read_digits_file", lambda: None)
    d = data.load_digits_dataset()
    assert d.x.shape == (1797, 64) and d.y.shape == (1797,) and d.x.max() == 1.0


def test_splitting_the_digits_does_not_import_sklearn():
    import subprocess
    import sys

    code = ("import sys; from omteach.learning.data import seat_shard; seat_shard(0, 4); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
