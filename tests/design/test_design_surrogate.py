"""The GP surrogate: calibrated uncertainty on held-out synthetic data, JSON-able settings, reproducible hash."""

import json
import warnings

import numpy as np
import pytest
from scipy.stats import norm

from aiida_polymer.design.features import featurise
from aiida_polymer.design.oracle import library, synthetic_property
from aiida_polymer.design.surrogate import Surrogate, minmax_similarity


@pytest.fixture(scope="module")
def data():
    lib = library(500)
    X = featurise([s for _, s in lib])
    y = np.array([synthetic_property(s) for _, s in lib])
    return X, y


def test_minmax_similarity_matches_definition():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(6, 40)).astype(float)
    b = rng.integers(0, 7, size=(4, 40)).astype(float)
    expected = np.minimum(a[:, None], b[None]).sum(-1) / np.maximum(a[:, None], b[None]).sum(-1)
    np.testing.assert_allclose(minmax_similarity(a, b), expected)
    np.testing.assert_allclose(np.diag(minmax_similarity(a, a)), 1.0)


@pytest.mark.parametrize("n_train", [40, 150])
def test_calibrated_on_held_out_data(data, n_train):
    X, y = data
    rng = np.random.default_rng(n_train)
    idx = rng.permutation(len(y))
    train, test = idx[:n_train], idx[n_train:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Surrogate(seed=0).fit(X[train], y[train])
    mean, std = model.predict(X[test])
    assert mean.shape == std.shape == (len(test),) and np.all(std > 0)
    coverage = np.mean(np.abs(y[test] - mean) < 1.96 * std)
    assert 0.85 <= coverage <= 0.99, coverage
    loglik = norm.logpdf(y[test], mean, std).mean()
    constant = norm.logpdf(y[test], y[train].mean(), y[train].std()).mean()
    assert loglik > constant + 0.5, (loglik, constant)
    # The model must also rank: clearly better than the mean predictor.
    assert 1 - np.mean((y[test] - mean) ** 2) / np.var(y[test]) > 0.6


def test_settings_and_state_hash(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = Surrogate(seed=3).fit(X[:30], y[:30])
        b = Surrogate(seed=3).fit(X[:30], y[:30])
        c = Surrogate(seed=3).fit(X[:30], y[:30] + 0.1)
    settings = a.settings()
    json.dumps(settings, allow_nan=False)
    assert settings["n_train"] == 30 and set(settings["hyperparameters"]) == {"c1", "c2", "length_scale", "noise"}
    assert a.state_hash() == b.state_hash() != c.state_hash()
    np.testing.assert_allclose(a.predict(X[30:40])[0], b.predict(X[30:40])[0])
    # Conditioning on a fantasy point keeps the hyperparameters and shrinks the uncertainty there.
    cond = a.condition(X[40:41], a.predict(X[40:41])[0])
    assert cond.settings()["hyperparameters"] == settings["hyperparameters"]
    assert cond.predict(X[40:41])[1][0] < a.predict(X[40:41])[1][0]


def test_fit_rejects_bad_input(data):
    X, y = data
    with pytest.raises(ValueError, match="NaN"):
        Surrogate().fit(X[:5], np.array([1.0, np.nan, 2.0, 3.0, 4.0]))
    with pytest.raises(ValueError, match="do not match"):
        Surrogate().fit(X[:5], y[:4])
    with pytest.raises(RuntimeError, match="fit"):
        Surrogate().predict(X[:2])
