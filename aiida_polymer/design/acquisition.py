"""Acquisition functions on independent Gaussian predictions N(mean, std²), vectorised over candidates.

* ``expected_improvement``: closed form of Jones, Schonlau & Welch (1998), J. Glob. Optim. 13, 455.
* ``window_probability``: P(low <= Y <= high), the probability of landing in a target window.
* ``expected_hypervolume_improvement``: exact 2-D EHVI by decomposing the region not dominated by the current front
  into vertical strips (the 2-D box decomposition of Emmerich, Giannakoglou & Naujoks 2006, IEEE TEC 10, 421;
  Yang et al. 2019, J. Glob. Optim. 75, 3). With both objectives maximised, front points sorted by f1 ascending
  (x_1 < … < x_m, then y_1 > … > y_m), x_0 = r_1, x_{m+1} = ∞, y_{m+1} = r_2, the hypervolume improvement of a
  point Y is Σ_i [min(Y1, x_i) − x_{i−1}]_+ · [Y2 − y_i]_+ over the strips i = 1 … m+1; with Y1, Y2 independent,
  E[[min(Y1, b) − a]_+] = G1(a) − G1(b) and E[[Y2 − c]_+] = G2(c), where G(c) = E[(Y − c)_+] = (μ − c)Φ(z) + σφ(z),
  z = (μ − c)/σ (the EI integral). Exact, O(m) per candidate, no sampling.
* ``feasibility_probability``: P(constraint holds) for a Gaussian prediction of the constrained property; the
  acquisition of a constrained problem is multiplied by it (Gardner et al. 2014, ICML, "Bayesian optimization with
  inequality constraints"), assuming independent models per property.

Objectives to minimise are handled by negating values (and the reference point), so everything below works on
maximisation internally.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr

_SQRT2PI = np.sqrt(2.0 * np.pi)


def _sign(goal: str) -> float:
    if goal == "max":
        return 1.0
    if goal == "min":
        return -1.0
    raise ValueError(f"goal must be 'max' or 'min', not {goal!r}")


def _pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / _SQRT2PI


def _expected_excess(mean: np.ndarray, std: np.ndarray, c) -> np.ndarray:
    """G(c) = E[(Y − c)_+] for Y ~ N(mean, std²), broadcast; the limit max(mean − c, 0) where std = 0."""
    mean, std, c = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float), np.asarray(c, float))
    d = mean - c
    out = np.maximum(d, 0.0)
    ok = (std > 0) & np.isfinite(c)
    z = np.divide(d, std, out=np.zeros_like(d), where=ok)
    out = np.where(ok, d * ndtr(z) + std * _pdf(z), out)
    return np.where(np.isposinf(c), 0.0, np.where(np.isneginf(c), np.inf, out))


def expected_improvement(mean, std, best: float, goal: str = "max", xi: float = 0.0) -> np.ndarray:
    """EI = E[max(Y − best − xi, 0)] (goal max) or E[max(best − xi − Y, 0)] (goal min) for Y ~ N(mean, std²):
    (μ − f*)Φ(z) + σφ(z), z = (μ − f*)/σ (Jones et al. 1998); std → 0 gives max(μ − f*, 0)."""
    s = _sign(goal)
    mean = s * np.asarray(mean, dtype=float)
    return _expected_excess(mean, np.asarray(std, dtype=float), s * best + xi)


def window_probability(mean, std, low: float, high: float) -> np.ndarray:
    """P(low <= Y <= high) = Φ((high − μ)/σ) − Φ((low − μ)/σ); an indicator where std = 0."""
    if not low < high:
        raise ValueError(f"window needs low < high, got {low}, {high}")
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    safe = np.where(std > 0, std, 1.0)
    p = ndtr((high - mean) / safe) - ndtr((low - mean) / safe)
    return np.where(std > 0, p, ((mean >= low) & (mean <= high)).astype(float))


def feasibility_probability(mean, std, op: str, value: float) -> np.ndarray:
    """P(Y op value) for Y ~ N(mean, std²), op one of > >= < <= (Gardner et al. 2014)."""
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    safe = np.where(std > 0, std, 1.0)
    above = np.where(std > 0, ndtr((mean - value) / safe), (mean > value).astype(float))
    if op in (">", ">="):
        return above
    if op in ("<", "<="):
        return 1.0 - above
    raise ValueError(f"constraint operator must be one of > >= < <=, not {op!r}")


def _as_max(points, goals: Sequence[str]) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    signs = np.array([_sign(g) for g in goals])
    return points * signs


def pareto_front(points, goals: Sequence[str] = ("max", "max")) -> np.ndarray:
    """Indices (ascending) of the non-dominated rows of ``points`` (n, k); duplicates of a front point are all kept.
    A row is dominated when another is at least as good in every objective and strictly better in one."""
    p = _as_max(points, goals)
    if p.ndim != 2 or p.shape[1] != len(goals):
        raise ValueError(f"points must have shape (n, {len(goals)})")
    keep = []
    for i in range(p.shape[0]):
        if not np.all(np.isfinite(p[i])):
            continue
        ge = np.all(p >= p[i], axis=1)
        gt = np.any(p > p[i], axis=1)
        if not np.any(ge & gt):
            keep.append(i)
    return np.array(keep, dtype=int)


def _front_for_reference(front, reference, goals) -> tuple[np.ndarray, np.ndarray]:
    """Front and reference in maximisation form, the front reduced to its non-dominated points strictly better
    than the reference in both objectives, sorted by f1 ascending."""
    f = _as_max(np.asarray(front, dtype=float).reshape(-1, 2), goals)
    r = _as_max(np.asarray(reference, dtype=float).reshape(2), goals)
    f = f[np.all(f > r, axis=1)]
    if f.size:
        f = f[pareto_front(f, ("max", "max"))]
        f = np.unique(f, axis=0)
        f = f[np.argsort(f[:, 0])]
    return f, r


def hypervolume_2d(front, reference, goals: Sequence[str] = ("max", "max")) -> float:
    """Area dominated by ``front`` (m, 2) and dominating ``reference`` (2,)."""
    f, r = _front_for_reference(front, reference, goals)
    if not f.size:
        return 0.0
    # Sorted by f1 ascending, f2 descending: strip i spans (x_{i-1}, x_i] with height y_i - r2.
    x_prev = np.concatenate([[r[0]], f[:-1, 0]])
    return float(np.sum((f[:, 0] - x_prev) * (f[:, 1] - r[1])))


def expected_hypervolume_improvement(
    means, stds, front, reference, goals: Sequence[str] = ("max", "max")
) -> np.ndarray:
    """Exact EHVI (n,) of independent Gaussian predictions ``means``/``stds`` (n, 2) over ``front`` (m, 2) with
    ``reference`` (2,), by the strip decomposition described in the module docstring."""
    means = np.asarray(means, dtype=float).reshape(-1, 2)
    stds = np.asarray(stds, dtype=float).reshape(-1, 2)
    signs = np.array([_sign(g) for g in goals])
    mu = means * signs
    f, r = _front_for_reference(front, reference, goals)
    xs = np.concatenate([[r[0]], f[:, 0], [np.inf]])  # x_0 .. x_{m+1}
    ys = np.concatenate([f[:, 1], [r[1]]])  # y_1 .. y_{m+1}
    g1 = _expected_excess(mu[:, :1], stds[:, :1], xs[None, :])  # (n, m+2)
    g2 = _expected_excess(mu[:, 1:], stds[:, 1:], ys[None, :])  # (n, m+1)
    return np.sum((g1[:, :-1] - g1[:, 1:]) * g2, axis=1)
