"""Progress of a design loop as numbers and a figure, over plain tables (no AiiDA here).

A design's history is the list of its computed polymers in the order the loop computed them (round, then
workflow), each with its objective and constraint values (NaN: missing, flagged or failed). From it:

- :func:`utility`: an objective's values turned "larger is better" (``max``: the value; ``min``: minus the value;
  ``window``: minus the distance to the window, 0 inside it);
- :func:`best_so_far`: the best utility among the first n feasible polymers (those that meet every constraint),
  for every n;
- :func:`hypervolume_2d`: the area dominated by the Pareto front of two utilities above a reference point (the
  hypervolume indicator of Zitzler & Thiele, 1999; the loop's own :mod:`aiida_polymer.design.acquisition`);
- :func:`progress_figure`: best-so-far (and, for two objectives, the hypervolume) against polymers computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def utility(values: Sequence[float], goal: str, low: float | None = None, high: float | None = None) -> np.ndarray:
    """``values`` as "larger is better" for the objective's ``goal`` (max, min, window [low, high])."""
    v = np.asarray(values, dtype=float)
    if goal == "max":
        return v.copy()
    if goal == "min":
        return -v
    if goal == "window":
        lo = -np.inf if low is None else float(low)
        hi = np.inf if high is None else float(high)
        return -(np.maximum(lo - v, 0.0) + np.maximum(v - hi, 0.0))
    raise ValueError(f"unknown goal {goal!r}: max, min or window")


def best_so_far(utilities: Sequence[float], feasible: Sequence[bool] | None = None) -> np.ndarray:
    """For every n, the largest utility among the first n points that are feasible and finite (NaN before one)."""
    u = np.asarray(utilities, dtype=float)
    ok = np.isfinite(u) if feasible is None else np.isfinite(u) & np.asarray(feasible, dtype=bool)
    masked = np.where(ok, u, -np.inf)
    best = np.maximum.accumulate(masked) if len(masked) else masked
    return np.where(np.isneginf(best), np.nan, best)


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``points`` (n, 2), larger better; rows with a NaN are never on the front
    (:func:`aiida_polymer.design.acquisition.pareto_front`, the loop's own)."""
    from .acquisition import pareto_front

    points = np.asarray(points, dtype=float).reshape(-1, 2)
    mask = np.zeros(len(points), dtype=bool)
    if len(points):
        mask[pareto_front(points, ("max", "max"))] = True
    return mask


def hypervolume_2d(points: np.ndarray, reference: Sequence[float]) -> float:
    """The area dominated by ``points`` (n, 2, larger better) and bounded below by ``reference``
    (:func:`aiida_polymer.design.acquisition.hypervolume_2d` over their Pareto front)."""
    from .acquisition import hypervolume_2d as area

    points = np.asarray(points, dtype=float).reshape(-1, 2)
    points = points[np.all(np.isfinite(points), axis=1)]
    if not len(points):
        return 0.0
    return float(area(points[pareto_mask(points)], np.asarray(reference, dtype=float), ("max", "max")))


def reference_point(utilities: np.ndarray) -> np.ndarray:
    """The hypervolume's reference: the worst finite utility of each objective over the whole history, less 1 %
    of its range (so that every computed point adds area); one fixed point for the whole curve."""
    u = np.asarray(utilities, dtype=float).reshape(-1, 2)
    finite = u[np.all(np.isfinite(u), axis=1)]
    if not len(finite):
        return np.zeros(2)
    low, high = finite.min(axis=0), finite.max(axis=0)
    return low - 0.01 * np.where(high > low, high - low, 1.0)


def hypervolume_so_far(utilities: np.ndarray, feasible: Sequence[bool], reference: Sequence[float]) -> np.ndarray:
    """The hypervolume of the first n feasible points, for every n."""
    u = np.asarray(utilities, dtype=float).reshape(-1, 2)
    ok = np.asarray(feasible, dtype=bool)
    return np.array([hypervolume_2d(u[: n + 1][ok[: n + 1]], reference) for n in range(len(u))])


def progress_table(history: Sequence[Mapping[str, Any]], objectives: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The curves of ``history`` (rows ``{"round", "values": {property: value}, "feasible"}``, in computing order)
    for ``objectives`` (``{"property", "goal", "low", "high"}``): ``n`` (1, 2, ...), ``round``, per property the
    values and the best value so far (``best.<property>``, in the property's own terms), and for two objectives
    ``hypervolume`` with its ``reference``."""
    n = len(history)
    feasible = np.array([bool(row.get("feasible", True)) for row in history], dtype=bool)
    table: dict[str, Any] = {"n": np.arange(1, n + 1), "round": np.array([row["round"] for row in history]),
                             "feasible": feasible}
    utilities = []
    for objective in objectives:
        name = objective["property"]
        values = np.array([_number(row["values"].get(name)) for row in history], dtype=float)
        u = utility(values, objective["goal"], objective.get("low"), objective.get("high"))
        utilities.append(u)
        best = best_so_far(u, feasible)
        ok = np.isfinite(u) & feasible
        index = np.maximum.accumulate(np.where(ok, np.arange(n), -1)) if n else np.array([], dtype=int)
        chosen = np.full(n, np.nan)
        for i in range(n):  # the value of the best point so far (its utility may tie: the first such point)
            if index[i] >= 0:
                first = np.flatnonzero(ok[: i + 1] & (u[: i + 1] == best[i]))[0]
                chosen[i] = values[first]
        table[name] = values
        table[f"best.{name}"] = chosen
        table[f"utility.{name}"] = best
    if len(objectives) == 2:
        stacked = np.column_stack(utilities) if n else np.zeros((0, 2))
        reference = reference_point(stacked[feasible]) if n else np.zeros(2)
        table["reference"] = reference
        table["hypervolume"] = hypervolume_so_far(stacked, feasible, reference)
        table["front"] = pareto_mask(np.where(feasible[:, None], stacked, np.nan)) if n else np.zeros(0, bool)
    return table


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan


GOALS = {"max": "maximise", "min": "minimise", "window": "window"}


def progress_figure(table: Mapping[str, Any], objectives: Sequence[Mapping[str, Any]], title: str = "",
                    units: Mapping[str, str] | None = None,
                    random_baseline: Mapping[str, Sequence[float]] | None = None) -> Figure:
    """Best objective so far against the number of polymers computed, one panel per objective (and the
    hypervolume for two); round boundaries dotted; every computed value as a grey dot (hollow: it fails a
    constraint, or its workflow failed). ``random_baseline``:
    per property a best-so-far curve of random search to draw beside it."""
    from ..database.plots import _label

    panels = len(objectives) + (1 if "hypervolume" in table else 0)
    figure = Figure(figsize=(3.6 * panels, 2.8), layout="constrained")
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    n, rounds = np.asarray(table["n"]), np.asarray(table["round"])
    starts = [int(n[i]) - 0.5 for i in range(1, len(n)) if rounds[i] != rounds[i - 1]]
    for axis, objective in zip(axes, objectives, strict=False):
        name = objective["property"]
        feasible = np.asarray(table["feasible"], dtype=bool)
        axis.plot(n[feasible], np.asarray(table[name])[feasible], "o", color="#9a9a9a", markersize=3,
                  label="computed")
        if not feasible.all():
            axis.plot(n[~feasible], np.asarray(table[name])[~feasible], "o", markerfacecolor="none",
                      color="#9a9a9a", markersize=3, label="infeasible or failed")
        axis.step(n, table[f"best.{name}"], where="post", color="#1f77b4", label="best so far")
        if random_baseline and name in random_baseline:
            axis.step(n, np.asarray(random_baseline[name])[: len(n)], where="post", color="#d62728",
                      linestyle="--", label="random search")
        if objective["goal"] == "window":
            for bound in (objective.get("low"), objective.get("high")):
                if bound is not None:
                    axis.axhline(bound, color="#2ca02c", linewidth=0.8)
        axis.set_title(f"{GOALS[objective['goal']]} {name}", fontsize=9)
        axis.set_ylabel(_label(name, (units or {}).get(name)), fontsize=8)
    if "hypervolume" in table:
        axes[-1].step(n, table["hypervolume"], where="post", color="#1f77b4")
        axes[-1].set_title("hypervolume of the Pareto front", fontsize=9)
        axes[-1].set_ylabel("hypervolume (utility units)", fontsize=8)
    for axis in axes:
        for start in starts:
            axis.axvline(start, color="#cccccc", linestyle=":", linewidth=0.8)
        axis.set_xlabel("polymers computed", fontsize=8)
        axis.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure
