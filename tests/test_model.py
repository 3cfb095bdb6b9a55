"""The digits model: spec validation, weights round trip, local training that learns."""

import numpy as np
import pytest

from omteach.errors import InvalidValueError
from omteach.learning.data import split_digits
from omteach.learning.model import (
    ModelSpec,
    accuracy,
    build_model,
    get_weights,
    set_weights,
    train_locally,
)


def test_spec_json_round_trip_and_summary():
    # not chapter 4's exercise model (64 → 16 → 10): its count is part of an exercise's answer
    spec = ModelSpec(layers=(64, 20, 10), batch_size=8, extra={"note": "x"})
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert spec.n_params == 64 * 20 + 20 + 20 * 10 + 10
    assert "64 → 20 → 10" in spec.summary() and "1,510 parameters" in spec.summary()


@pytest.mark.parametrize("kwargs", [{"layers": (32, 10)}, {"layers": (64, 9)}, {"layers": (64,)},
                                    {"activation": "sigmoid"}, {"batch_size": 0},
                                    {"learning_rate": 0}, {"update_clip": -1}])
def test_bad_specs(kwargs):
    with pytest.raises(InvalidValueError):
        ModelSpec(**kwargs)
    with pytest.raises(InvalidValueError):
        ModelSpec.from_json({"layers": [64, 10], "bogus": 1})


def test_weights_round_trip():
    spec = ModelSpec()
    model = build_model(spec, seed=1)
    w = get_weights(model)
    assert w.shape == (spec.n_params,)
    other = build_model(spec, seed=2)
    assert not np.allclose(get_weights(other), w)
    set_weights(other, w)
    np.testing.assert_allclose(get_weights(other), w, rtol=1e-6)
    with pytest.raises(InvalidValueError, match="needs"):
        set_weights(other, w[:-1])


def test_local_training_is_clipped_deterministic_and_learns():
    shares, test = split_digits(seed=0)
    spec = ModelSpec(update_clip=0.02)
    w0 = get_weights(build_model(spec))
    u1 = train_locally(spec, w0, shares["Joe"], seed=5)
    u2 = train_locally(spec, w0, shares["Joe"], seed=5)
    np.testing.assert_array_equal(u1, u2)
    assert np.abs(u1).max() <= 0.02 + 1e-12
    spec = ModelSpec()
    w = w0
    before = accuracy(spec, w, test)
    for r in range(4):
        w = w + sum(train_locally(spec, w, shares[o], seed=r) for o in shares) / 3
    assert accuracy(spec, w, test) > before + 0.3
    with pytest.raises(InvalidValueError, match="no training data"):
        train_locally(spec, w, shares["Joe"].__class__(shares["Joe"].x[:0], shares["Joe"].y[:0]),
                      seed=0)


def test_the_course_trains_on_one_torch_thread():
    """Tiny models: a second intra-op thread costs more than it saves (6x slower, one core busy)."""
    import torch

    from omteach.learning.model import ModelSpec, build_model

    build_model(ModelSpec())
    assert torch.get_num_threads() == 1
