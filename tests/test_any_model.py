"""Any model, any data: the 2017 Sonar demo replayed through the market.

Linear regression on scikit-learn's diabetes data (ships with it, no download), split over three
owners, trained in encrypted, masked rounds; it must reach central training's R² within 0.02,
while AI Inc. cannot read any single owner's update.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from omteach.crypto.paillier import generate_keypair
from omteach.errors import BlobError, InvalidValueError
from omteach.learning.data import Dataset
from omteach.learning.tasks import TorchTask
from omteach.protocol import DataOwner, TrainingRun

OWNERS = ("Joe", "Jane", "Jack")


def linear_model():
    from torch import nn

    return nn.Linear(10, 1)


def other_model():
    from torch import nn

    return nn.Sequential(nn.Linear(10, 4), nn.Linear(4, 1))


TASK = TorchTask("linear regression on 10 features", linear_model, loss="mse", metric="r2",
                 batch_size=16, local_epochs=5, learning_rate=0.05, update_clip=1.0)


def diabetes_split(seed: int = 0) -> tuple[dict[str, Dataset], Dataset, float]:
    """Standardized diabetes data over three owners, a test set, and central OLS's test R²."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    x_test, y_test, x_train, y_train = x[:110], y[:110], x[110:], y[110:]
    central = r2_score(y_test, LinearRegression().fit(x_train, y_train).predict(x_test))
    parts = np.array_split(np.arange(len(y_train)), len(OWNERS))
    shares = {o: Dataset(x_train[p].astype(np.float32), y_train[p].astype(np.float32))
              for o, p in zip(OWNERS, parts, strict=True)}
    return shares, Dataset(x_test.astype(np.float32), y_test.astype(np.float32)), central


@pytest.fixture(scope="module")
def keys():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generate_keypair(1024)


def test_the_sonar_demo_replayed_linear_regression_on_diabetes(keys):
    shares, test, central = diabetes_split()
    with TrainingRun(owners=OWNERS, model=TASK, data=(shares, test), rounds=3, keys=keys,
                     workers=1) as run:
        assert run.initial_accuracy < 0.2
        reports = [run.run_round() for _ in range(3)]
        assert all(r.closed and r.ciphertexts_per_owner == 1 for r in reports)
        assert abs(reports[-1].accuracy - central) <= 0.02, (reports[-1].accuracy, central)
        # AI Inc. decrypts each owner's submission of the last round alone: masked noise.
        for name, owner in run.owners.items():
            blob = run.market.submission(run.spec_id, 2, owner.address)
            seen = run.company.decrypt_one(run.company.load_update(run.spec_id, owner.address,
                                                                   blob))
            assert np.max(np.abs(seen - owner.last_update)) > TASK.update_clip, name


def test_an_owner_runs_only_the_model_code_it_holds(keys):
    shares, test, _ = diabetes_split()
    with TrainingRun(owners=OWNERS, model=TASK, data=(shares, test), rounds=1, keys=keys,
                     workers=1, accept=False) as run:
        market = run.market
        with pytest.raises(BlobError, match="give this owner the model's code"):
            DataOwner("Joe", market, shares["Joe"]).inspect(run.spec_id)
        other = TorchTask("two layers", other_model)
        with pytest.raises(BlobError, match="not the one this owner's code builds"):
            DataOwner("Joe", market, shares["Joe"], task=other).inspect(run.spec_id)
        model, weights = run.owners["Joe"].inspect(run.spec_id)
        assert model is TASK and weights.shape == (11,)


def test_task_terms_are_checked():
    with pytest.raises(InvalidValueError, match="loss must be one of"):
        TorchTask("x", linear_model, loss="hinge")
    with pytest.raises(InvalidValueError, match="metric must be one of"):
        TorchTask("x", linear_model, metric="auc")
    with pytest.raises(InvalidValueError, match="must be positive"):
        TorchTask("x", linear_model, learning_rate=0)
    with pytest.raises(InvalidValueError, match="one dataset to each owner"):
        shares, test, _ = diabetes_split()
        TrainingRun(owners=("Joe", "Jane"), model=TASK, data=(shares, test), encrypted=False)
