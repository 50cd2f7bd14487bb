"""Acquisition functions against Monte Carlo estimates, limits and hand-computed cases."""

import numpy as np
import pytest
from scipy.stats import norm

from aiida_polymer.design.acquisition import (
    expected_hypervolume_improvement,
    expected_improvement,
    feasibility_probability,
    hypervolume_2d,
    pareto_front,
    window_probability,
)


def test_expected_improvement_matches_monte_carlo():
    rng = np.random.default_rng(1)
    mean = np.array([0.0, 1.0, -1.0, 2.5])
    std = np.array([1.0, 0.3, 2.0, 0.5])
    best = 0.8
    y = rng.normal(mean, std, size=(400_000, 4))
    mc_max = np.maximum(y - best, 0).mean(axis=0)
    mc_min = np.maximum(best - y, 0).mean(axis=0)
    np.testing.assert_allclose(expected_improvement(mean, std, best, "max"), mc_max, rtol=0.02, atol=2e-3)
    np.testing.assert_allclose(expected_improvement(mean, std, best, "min"), mc_min, rtol=0.02, atol=2e-3)
    mc_xi = np.maximum(y - best - 0.2, 0).mean(axis=0)
    np.testing.assert_allclose(expected_improvement(mean, std, best, "max", xi=0.2), mc_xi, rtol=0.02, atol=2e-3)


def test_expected_improvement_limits():
    mean = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(expected_improvement(mean, np.zeros(3), 0.5), [0.0, 0.0, 1.5])
    np.testing.assert_allclose(expected_improvement(mean, np.full(3, 1e-9), 0.5), [0.0, 0.0, 1.5], atol=1e-8)
    np.testing.assert_allclose(expected_improvement(mean, np.zeros(3), 0.5, "min"), [1.5, 0.0, 0.0])
    # Far below the incumbent the improvement vanishes; at mean == best it is std·φ(0).
    assert expected_improvement(-10.0, 1.0, 0.0) < 1e-20
    assert expected_improvement(0.0, 2.0, 0.0) == pytest.approx(2.0 * norm.pdf(0.0))
    with pytest.raises(ValueError, match="goal"):
        expected_improvement(0.0, 1.0, 0.0, "window")


def test_window_probability_is_normal_cdf_difference():
    mean = np.array([0.0, 1.1, 3.0])
    std = np.array([1.0, 0.05, 0.7])
    expected = norm.cdf((1.2 - mean) / std) - norm.cdf((1.0 - mean) / std)
    np.testing.assert_allclose(window_probability(mean, std, 1.0, 1.2), expected, rtol=1e-10)
    np.testing.assert_allclose(window_probability(mean, np.zeros(3), 1.0, 1.2), [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="low < high"):
        window_probability(mean, std, 1.2, 1.0)


def test_feasibility_probability():
    assert feasibility_probability(1.0, 0.5, ">", 1.0) == pytest.approx(0.5)
    assert feasibility_probability(1.5, 0.5, ">=", 1.0) == pytest.approx(norm.cdf(1.0))
    assert feasibility_probability(1.5, 0.5, "<", 1.0) == pytest.approx(1 - norm.cdf(1.0))
    with pytest.raises(ValueError, match="operator"):
        feasibility_probability(1.0, 1.0, "!=", 0.0)


def test_pareto_front_hand_case():
    pts = np.array([[1, 5], [2, 4], [2, 2], [3, 1], [0, 0], [3, 1], [1.5, 4]])
    np.testing.assert_array_equal(pareto_front(pts, ("max", "max")), [0, 1, 3, 5])
    # Minimising the second objective: (3, 1) twice (the largest x) and (0, 0) (the smallest y).
    np.testing.assert_array_equal(pareto_front(pts, ("max", "min")), [3, 4, 5])
    np.testing.assert_array_equal(pareto_front(pts, ("min", "min")), [4])


def test_hypervolume_hand_computed():
    front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
    # Staircase over reference (0, 0): 1·3 + 1·2 + 1·1 = 6 (the dominated point adds nothing).
    assert hypervolume_2d(front, [0.0, 0.0]) == pytest.approx(6.0)
    # Minimise both: mirror the points; the reference (4, 4) sees the same staircase.
    assert hypervolume_2d(4.0 - front, [4.0, 4.0], ("min", "min")) == pytest.approx(6.0)
    # Points not better than the reference in both objectives do not count.
    assert hypervolume_2d(front, [1.5, 0.0]) == pytest.approx(0.5 * 2 + 1 * 1)
    assert hypervolume_2d(np.empty((0, 2)), [0.0, 0.0]) == 0.0


def _mc_ehvi(mean, std, front, ref, goals, n=6000, seed=0):
    """Monte Carlo EHVI: the mean hypervolume gain of adding sampled points to the front, one at a time."""
    rng = np.random.default_rng(seed)
    base = hypervolume_2d(front, ref, goals)
    y = rng.normal(mean, std, size=(n, 2))
    gains = np.array([hypervolume_2d(np.vstack([front, p]), ref, goals) - base for p in y])
    return gains.mean(), gains.std() / np.sqrt(n)


def test_ehvi_matches_monte_carlo():
    front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    ref = np.array([0.0, 0.0])
    cases = [([2.0, 2.5], [0.5, 0.8]), ([3.5, 0.5], [0.3, 0.3]), ([1.0, 1.0], [1.0, 1.0]), ([0.0, 4.0], [0.2, 0.5])]
    for k, (mean, std) in enumerate(cases):
        mc, err = _mc_ehvi(np.array(mean), np.array(std), front, ref, ("max", "max"), seed=k)
        exact = expected_hypervolume_improvement([mean], [std], front, ref)[0]
        assert abs(exact - mc) < 4 * err + 1e-3, (mean, std, exact, mc, err)
        assert exact > 0.01
    # Mixed goals: maximise f1, minimise f2 (mirror of f2).
    fmin = front.copy()
    fmin[:, 1] = 4.0 - fmin[:, 1]
    mean, std = np.array([2.0, 1.5]), np.array([0.5, 0.8])
    mc, err = _mc_ehvi(mean, std, fmin, np.array([0.0, 4.0]), ("max", "min"), seed=9)
    exact = expected_hypervolume_improvement([mean], [std], fmin, [0.0, 4.0], ("max", "min"))[0]
    assert abs(exact - mc) < 4 * err + 1e-3, (exact, mc, err)
    # A wrong goal (treating f2 as maximised) is far off.
    wrong = expected_hypervolume_improvement([mean], [std], fmin, [0.0, 4.0], ("max", "max"))[0]
    assert abs(wrong - mc) > 10 * err


def test_ehvi_deterministic_limit_is_hypervolume_improvement():
    front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    for p in ([2.5, 2.5], [4.0, 0.5], [0.5, 0.5], [5.0, 5.0]):
        hvi = hypervolume_2d(np.vstack([front, p]), [0, 0]) - hypervolume_2d(front, [0, 0])
        got = expected_hypervolume_improvement([p], [[0.0, 0.0]], front, [0, 0])[0]
        assert got == pytest.approx(hvi, abs=1e-12)
    # Empty front: EHVI = E[(Y1 - r1)+] E[(Y2 - r2)+].
    got = expected_hypervolume_improvement([[1.0, 2.0]], [[0.0, 0.0]], np.empty((0, 2)), [0, 0])[0]
    assert got == pytest.approx(2.0)
