"""Gaussian-process surrogate of one property over repeat-unit features (scikit-learn's GaussianProcessRegressor).

Kernel (on the features of ``features.featurise``):

    k(x, x') = c1 · MinMax(fp, fp') + c2 · Matern52(|d - d'| / l) + noise · δ(x, x')

* ``MinMax`` on the Morgan count fingerprint: Σ min(x_i, x'_i) / Σ max(x_i, x'_i), the Tanimoto (Jaccard)
  similarity generalised to counts, positive definite on non-negative vectors (Ioffe 2010, "Improved consistent
  sampling, weighted minhash and L1 sketching"; used for molecules by Ralaivola et al. 2005, Neural Netw. 18, 1093).
  It has no length scale; it is evaluated exactly and fast as a sparse product after writing each count c as c
  unary bits (then Σ min = |A ∩ B| and Σ max = |A ∪ B|).
* An isotropic Matérn-5/2 on the scaled descriptors (one length scale: with tens of training points an ARD kernel
  overfits).
* A white-noise term, so that duplicates and non-smooth labels do not make the model overconfident.

y is standardised internally; c1, c2, l and the noise are fitted by maximising the log marginal likelihood
(L-BFGS-B, seeded restarts). ``predict`` returns the predictive mean and standard deviation of a new observation
(noise included) in y's units; this is what the calibration test checks (Rasmussen & Williams 2006, ch. 2, 5).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    ConstantKernel,
    Hyperparameter,
    Kernel,
    Matern,
    WhiteKernel,
)

from .features import N_FINGERPRINT


def _unary(counts: np.ndarray, cap: int) -> sp.csr_matrix:
    """Count matrix (m, d) -> sparse 0/1 matrix (m, d·cap): count c of column j sets columns j·cap .. j·cap+c-1."""
    rows, cols = np.nonzero(counts)
    reps = np.rint(counts[rows, cols]).astype(np.int64)
    total = int(reps.sum())
    starts = np.repeat(np.cumsum(reps) - reps, reps)
    offset = np.arange(total, dtype=np.int64) - starts
    r = np.repeat(rows, reps)
    c = np.repeat(cols.astype(np.int64) * cap, reps) + offset
    return sp.csr_matrix((np.ones(total, dtype=np.float64), (r, c)), shape=(counts.shape[0], counts.shape[1] * cap))


def minmax_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinMax (count Tanimoto) similarity matrix between the rows of two non-negative integer count matrices."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cap = int(max(a.max(initial=0), b.max(initial=0), 1))
    inter = (_unary(a, cap) @ _unary(b, cap).T).toarray()
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    return out


_GRAM: dict[bytes, np.ndarray] = {}  # the training set's MinMax matrix, reused across optimiser steps


def _gram(X: np.ndarray) -> np.ndarray:
    """MinMax matrix of X with itself, memoised (a few most recent) by a digest of X: it has no hyperparameters,
    and scikit-learn evaluates the kernel of the same training set at every step of the likelihood optimiser."""
    key = hashlib.blake2b(np.ascontiguousarray(X).tobytes() + str(X.shape).encode(), digest_size=16).digest()
    K = _GRAM.get(key)
    if K is None:
        K = minmax_similarity(X, X)
        if len(_GRAM) >= 4:
            _GRAM.pop(next(iter(_GRAM)))
        _GRAM[key] = K
    return K.copy()


class MinMaxKernel(Kernel):
    """MinMax kernel on the first ``n_columns`` columns (fingerprint counts); no hyperparameters."""

    def __init__(self, n_columns: int = N_FINGERPRINT):
        self.n_columns = n_columns

    def __call__(self, X, Y=None, eval_gradient=False):
        X = np.asarray(X)[:, : self.n_columns]
        if Y is None:
            K = _gram(X)
            if eval_gradient:
                return K, np.empty((X.shape[0], X.shape[0], 0))
            return K
        if eval_gradient:
            raise ValueError("gradient only for Y=None")
        return minmax_similarity(X, np.asarray(Y)[:, : self.n_columns])

    def diag(self, X):
        return np.ones(np.asarray(X).shape[0])

    def is_stationary(self):
        return False

    def __repr__(self):
        return f"MinMax(fingerprint[:{self.n_columns}])"


class Columns(Kernel):
    """A base kernel applied to the columns ``start`` onwards (the descriptors); its hyperparameters are exposed
    as ``kernel__<name>`` (the same pattern as scikit-learn's Exponentiation kernel)."""

    def __init__(self, kernel: Kernel, start: int = N_FINGERPRINT):
        self.kernel = kernel
        self.start = start

    def get_params(self, deep=True):
        params = {"kernel": self.kernel, "start": self.start}
        if deep:
            params.update(("kernel__" + k, v) for k, v in self.kernel.get_params().items())
        return params

    @property
    def hyperparameters(self):
        return [
            Hyperparameter("kernel__" + h.name, h.value_type, h.bounds, h.n_elements)
            for h in self.kernel.hyperparameters
        ]

    @property
    def theta(self):
        return self.kernel.theta

    @theta.setter
    def theta(self, theta):
        self.kernel.theta = theta

    @property
    def bounds(self):
        return self.kernel.bounds

    def __eq__(self, other):
        return type(self) is type(other) and self.kernel == other.kernel and self.start == other.start

    def __call__(self, X, Y=None, eval_gradient=False):
        X = np.asarray(X, dtype=np.float64)[:, self.start :]
        if Y is not None:
            Y = np.asarray(Y, dtype=np.float64)[:, self.start :]
        return self.kernel(X, Y, eval_gradient=eval_gradient)

    def diag(self, X):
        return self.kernel.diag(np.asarray(X, dtype=np.float64)[:, self.start :])

    def is_stationary(self):
        return self.kernel.is_stationary()

    @property
    def requires_vector_input(self):
        return True

    def __repr__(self):
        return f"{self.kernel}(descriptors[{self.start}:])"


def _round(value: float) -> float:
    return float(f"{value:.6g}")


class Surrogate:
    """GP model of one property; ``fit`` then ``predict``. Settings: ``n_fingerprint`` (columns of fingerprint
    counts, the rest are descriptors), ``restarts`` (extra seeded optimiser starts)."""

    def __init__(self, seed: int = 0, n_fingerprint: int = N_FINGERPRINT, restarts: int = 2):
        self.seed = int(seed)
        self.n_fingerprint = int(n_fingerprint)
        self.restarts = int(restarts)
        self._gp: GaussianProcessRegressor | None = None
        self._warnings: list[str] = []

    def _kernel(self) -> Kernel:
        return (
            ConstantKernel(1.0, (1e-2, 1e2)) * MinMaxKernel(self.n_fingerprint)
            + ConstantKernel(0.3, (1e-3, 1e2)) * Columns(Matern(1.0, (1e-2, 1e2), nu=2.5), self.n_fingerprint)
            + WhiteKernel(0.05, (1e-4, 1.0))
        )

    def fit(self, X: np.ndarray, y: np.ndarray, *, fixed: Surrogate | None = None) -> Surrogate:
        """Fit to features X (n, d) and values y (n,). With ``fixed``, reuse that model's fitted hyperparameters and
        y scaling instead of optimising (used to condition on fantasy points during batch selection)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise ValueError(f"X {X.shape} and y {y.shape} do not match")
        if not np.all(np.isfinite(y)):
            raise ValueError("y has NaN or infinite values; drop missing rows before fitting")
        if y.size < 2:
            raise ValueError("need at least 2 training points")
        if fixed is None:
            self._y_mean = float(y.mean())
            scale = float(y.std())
            self._y_scale = scale if scale > 0 else 1.0
            gp = GaussianProcessRegressor(
                self._kernel(), alpha=1e-8, n_restarts_optimizer=self.restarts, random_state=self.seed
            )
        else:
            self._y_mean, self._y_scale = fixed._y_mean, fixed._y_scale
            gp = GaussianProcessRegressor(fixed._gp.kernel_, alpha=1e-8, optimizer=None)
        with warnings.catch_warnings(record=True) as caught:  # kept in settings(), not printed at the user
            warnings.simplefilter("always", ConvergenceWarning)
            gp.fit(X.astype(np.float64), (y - self._y_mean) / self._y_scale)
        self._warnings = sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})
        for w in caught:  # any other warning goes on as it came
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self._gp, self._X, self._y = gp, X, y
        return self

    @property
    def fitted(self) -> bool:
        return self._gp is not None

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation (y's units) at features X (m, d)."""
        if self._gp is None:
            raise RuntimeError("fit the surrogate first")
        mean, std = self._gp.predict(np.asarray(X, dtype=np.float64), return_std=True)
        return mean * self._y_scale + self._y_mean, np.maximum(std, 1e-12) * self._y_scale

    def condition(self, X_new: np.ndarray, y_new: np.ndarray) -> Surrogate:
        """A copy conditioned on extra (fantasy) points, hyperparameters kept."""
        other = Surrogate(self.seed, self.n_fingerprint, self.restarts)
        X = np.vstack([self._X, np.asarray(X_new, dtype=np.float32)])
        return other.fit(X, np.concatenate([self._y, np.ravel(y_new)]), fixed=self)

    def settings(self) -> dict[str, Any]:
        """JSON-able description: model, kernel, fitted hyperparameters, data size, y scaling."""
        out: dict[str, Any] = {
            "model": "GaussianProcessRegressor",
            "library": f"scikit-learn {sklearn.__version__}",
            "kernel_form": "c1*MinMax(fingerprint counts) + c2*Matern52(descriptors; l) + white noise",
            "seed": self.seed,
            "restarts": self.restarts,
            "n_fingerprint": self.n_fingerprint,
        }
        if self._gp is None:
            return out
        if self._warnings:
            out["fit_warnings"] = self._warnings  # e.g. the noise level at its lower bound: near-exact data
        kernel = self._gp.kernel_
        params = kernel.get_params()
        out.update(
            kernel=str(kernel),
            hyperparameters={
                "c1": _round(params["k1__k1__k1__constant_value"]),
                "c2": _round(params["k1__k2__k1__constant_value"]),
                "length_scale": _round(float(np.ravel(params["k1__k2__k2__kernel__length_scale"])[0])),
                "noise": _round(params["k2__noise_level"]),
            },
            log_marginal_likelihood=_round(float(self._gp.log_marginal_likelihood_value_)),
            n_train=int(self._y.size),
            y_mean=_round(self._y_mean),
            y_scale=_round(self._y_scale),
        )
        return out

    def state_hash(self) -> str:
        """sha256 of the fitted state: training features and values, fitted hyperparameters (6 significant digits,
        so that the last bits of the optimiser do not change it) and the seed."""
        if self._gp is None:
            raise RuntimeError("fit the surrogate first")
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self._X, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(self._y, dtype=np.float64).tobytes())
        settings = self.settings()
        fitted = {k: settings[k] for k in ("hyperparameters", "seed", "kernel_form")}
        h.update(json.dumps(fitted, sort_keys=True).encode())
        return h.hexdigest()
