"""Choose the next batch of candidates to compute: stream a library, score it with the surrogates' acquisition,
keep a shortlist, select a batch without near-duplicates.

* Values: ``train_values`` has one column per objective, then one per distinct constraint property in order of
  first appearance (``value_columns``); NaN where a value is missing (not computed, failed, flagged: the caller
  decides, and records why). Each column with at least ``MIN_TRAIN`` values gets its own ``Surrogate`` (independent
  models); a constraint property with fewer values is left unmodelled (ignored, and listed in the record).
* Acquisition: one max/min objective: expected improvement over the best feasible value; a window objective: the
  probability of landing in the window; two objectives: exact expected hypervolume improvement over the feasible
  front (reference point: the worst observed value of each objective minus 10 % of its range, unless given). Each
  is multiplied by the probability that every modelled constraint holds (Gardner et al. 2014); with no feasible
  training point yet, the probability of feasibility alone is the score.
* Streaming: candidates are read ``chunk`` at a time, featurised, scored, and merged into a shortlist of the best
  ``max(10·batch, 50)`` (ties broken by stream order, so the result does not depend on the chunk size); at most one
  chunk of feature rows is held at a time.
* Batch: Kriging believer (Ginsbourger, Le Riche & Carraro 2010, "Kriging is well-suited to parallelize
  optimization"): pick the shortlist's best, add it to every model as a fantasy observation equal to its predicted
  mean (hyperparameters kept), rescore the shortlist, repeat. The fantasy collapses the uncertainty around a pick,
  so near-duplicates of it lose their score. A pick's ``score`` is its acquisition given the earlier picks of the
  batch; ``mean``/``std`` are the fitted models' predictions (one entry per column, None where unmodelled).
* First round (fewer than ``MIN_TRAIN`` values of an objective): no model. A seeded reservoir sample of the
  eligible candidates is taken and the batch chosen greedily by max-min MinMax (count-Tanimoto) distance to the
  training units and earlier picks (a Gonzalez 1985 farthest-point traversal); ``score`` is that distance.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .acquisition import (
    expected_hypervolume_improvement,
    expected_improvement,
    feasibility_probability,
    pareto_front,
    window_probability,
)
from .features import FEATURES, N_FINGERPRINT, featurise
from .objectives import Constraint, Objective, check_objectives
from .surrogate import Surrogate, minmax_similarity

MIN_TRAIN = 3
INITIAL_SAMPLE = 2000  # reservoir size of the first round's diverse choice (at least 20 per pick)


@dataclass
class Pick:
    """A chosen candidate: its score under the acquisition and the models' predictions per value column."""

    id: str
    smiles: str
    score: float
    mean: list[float | None]
    std: list[float | None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def value_columns(objectives: Sequence[Objective], constraints: Sequence[Constraint]) -> list[str]:
    """Property of each column of ``train_values``: the objectives, then each constraint property once."""
    columns = [o.property for o in objectives]
    extra: list[str] = []
    for c in constraints:
        if c.property not in extra:
            extra.append(c.property)
    return columns + extra


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class _Scorer:
    """The acquisition of one state (models, incumbent, front) over feature rows."""

    def __init__(self, objectives, constraints, columns, models, best, front, reference):
        self.objectives, self.constraints, self.columns = objectives, constraints, columns
        self.models, self.best, self.front, self.reference = models, best, front, reference

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = X.shape[0]
        means = np.full((n, len(self.columns)), np.nan)
        stds = np.full((n, len(self.columns)), np.nan)
        for j, model in enumerate(self.models):
            if model is not None:
                means[:, j], stds[:, j] = model.predict(X)
        return means, stds

    def score(self, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
        k = len(self.objectives)
        feasible = np.ones(means.shape[0])
        for c in self.constraints:
            j = self.columns.index(c.property, k)
            if self.models[j] is not None:
                feasible = feasible * feasibility_probability(means[:, j], stds[:, j], c.op, c.value)
        if k == 2:
            goals = tuple(o.goal for o in self.objectives)
            acq = expected_hypervolume_improvement(means[:, :2], stds[:, :2], self.front, self.reference, goals)
        elif self.objectives[0].goal == "window":
            o = self.objectives[0]
            acq = window_probability(means[:, 0], stds[:, 0], o.low, o.high)
        elif self.best is None:
            acq = np.ones(means.shape[0])  # no feasible point yet: feasibility alone (Gardner et al. 2014)
        else:
            acq = expected_improvement(means[:, 0], stds[:, 0], self.best, self.objectives[0].goal)
        out = acq * feasible
        return np.where(np.isfinite(out), out, -np.inf)


def _feasible_rows(values: np.ndarray, constraints, columns, k, modelled) -> np.ndarray:
    ok = np.ones(values.shape[0], dtype=bool)
    for c in constraints:
        j = columns.index(c.property, k)
        if modelled[j]:
            ok &= np.array([c.holds(v) for v in values[:, j]], dtype=bool)
    return ok


def _incumbent(objectives, values: np.ndarray, feasible: np.ndarray):
    """(best value or None, front (m, 2), summary for the record) from observed values."""
    k = len(objectives)
    if k == 2:
        rows = feasible & np.all(np.isfinite(values[:, :2]), axis=1)
        pts = values[rows][:, :2]
        front = pts[pareto_front(pts, tuple(o.goal for o in objectives))] if len(pts) else np.empty((0, 2))
        return None, front, {"front": [[float(a), float(b)] for a, b in front]}
    o = objectives[0]
    rows = feasible & np.isfinite(values[:, 0])
    if not rows.any():
        return None, np.empty((0, 2)), {"value": None, "feasible_points": 0}
    y = values[rows, 0]
    if o.goal == "window":
        dist = np.array([o.distance(v) for v in y])
        i = int(np.argmin(dist))
        return None, np.empty((0, 2)), {"value": float(y[i]), "distance": float(dist[i]),
                                        "in_window": int(np.sum(dist == 0)), "feasible_points": int(rows.sum())}
    best = float(y.max() if o.goal == "max" else y.min())
    return best, np.empty((0, 2)), {"value": best, "feasible_points": int(rows.sum())}


def _reference(objectives, values: np.ndarray) -> list[float]:
    ref = []
    for j, o in enumerate(objectives):
        col = values[:, j][np.isfinite(values[:, j])]
        span = float(col.max() - col.min()) or 1.0
        ref.append(float(col.min() - 0.1 * span) if o.goal == "max" else float(col.max() + 0.1 * span))
    return ref


def _stream(candidates: Iterable[tuple[str, str]], exclude, train_smiles, counts: dict[str, int]):
    """Eligible (id, smiles) in stream order: not excluded, not already in the training set, first of its id."""
    seen: set[str] = set()
    train = set(train_smiles)
    for cid, smi in candidates:
        if cid in exclude:
            counts["excluded"] += 1
        elif cid in seen:
            counts["duplicate_id"] += 1
        elif smi in train:
            counts["in_training"] += 1
        else:
            seen.add(cid)
            yield cid, smi


def _chunks(items: Iterable, size: int):
    block = []
    for item in items:
        block.append(item)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def _featurise_block(featuriser, block: list[tuple[str, str]], start: int) -> np.ndarray:
    """Features of a chunk; a ValueError names the bad candidate's id and stream position."""
    try:
        return featuriser([s for _, s in block])
    except ValueError:
        for k, (cid, smi) in enumerate(block):
            try:
                featuriser([smi])
            except ValueError as exc:
                raise ValueError(f"candidate {cid!r} (eligible candidate {start + k}, {smi!r}): {exc}") from exc
        raise


def _diverse(train_X: np.ndarray, sample: list[tuple[str, str]], batch: int, rng: random.Random,
             featuriser) -> list[Pick]:
    """Greedy max-min MinMax distance from the training units (or from a random first pick)."""
    if not sample:
        return []
    X = _featurise_block(featuriser, sample, 0)[:, :N_FINGERPRINT]
    if train_X.shape[0]:
        mind = (1.0 - minmax_similarity(X, train_X[:, :N_FINGERPRINT])).min(axis=1)
        first = None
    else:
        mind = np.full(len(sample), np.inf)
        first = rng.randrange(len(sample))
    picks: list[Pick] = []
    taken = np.zeros(len(sample), dtype=bool)
    chosen_smiles: set[str] = set()
    while len(picks) < min(batch, len(sample)):
        if first is not None:
            i, first = first, None
        else:
            masked = np.where(taken, -np.inf, mind)
            i = int(np.argmax(masked))  # first maximum: ties go to the earlier sample item
            if not np.isfinite(masked[i]):
                break
        taken[i] = True
        if sample[i][1] in chosen_smiles:
            continue
        chosen_smiles.add(sample[i][1])
        score = float(mind[i]) if np.isfinite(mind[i]) else 1.0
        picks.append(Pick(sample[i][0], sample[i][1], score, [], []))
        mind = np.minimum(mind, 1.0 - minmax_similarity(X, X[i : i + 1]).ravel())
    return picks


def _reservoir(items: Iterable, size: int, rng: random.Random) -> tuple[list, int]:
    """Algorithm R (Vitter 1985): a uniform sample of ``size`` items of a stream; (sample, items seen)."""
    sample: list = []
    n = 0
    for n, item in enumerate(items, start=1):
        if len(sample) < size:
            sample.append(item)
        else:
            j = rng.randrange(n)
            if j < size:
                sample[j] = item
    return sample, n


def random_picks(candidates: Iterable[tuple[str, str]], batch: int, exclude: set[str] = frozenset(),
                 seed: int = 0) -> list[Pick]:
    """A uniform random batch of eligible candidates (the baseline), by reservoir sampling of the stream."""
    counts = {"excluded": 0, "duplicate_id": 0, "in_training": 0}
    sample, _ = _reservoir(_stream(candidates, exclude, (), counts), batch, random.Random(seed))
    return [Pick(cid, smi, 0.0, [], []) for cid, smi in sample]


def propose(
    train_smiles: Sequence[str],
    train_values: np.ndarray,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
    candidates: Iterable[tuple[str, str]],
    batch: int,
    exclude: set[str] = frozenset(),
    seed: int = 0,
    chunk: int = 20000,
    *,
    featuriser: Callable[[Sequence[str]], np.ndarray] = featurise,
    reference: Sequence[float] | None = None,
    shortlist: int | None = None,
) -> tuple[list[Pick], dict[str, Any]]:
    """The next batch (best first) and a JSON-able record of how it was chosen (see the module docstring).
    ``featuriser`` replaces ``featurise`` (e.g. a cache in benchmarks); ``reference`` fixes the hypervolume
    reference point of a two-objective run."""
    objectives, constraints = list(objectives), list(constraints)
    check_objectives(objectives)
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    columns = value_columns(objectives, constraints)
    k = len(objectives)
    values = np.asarray(train_values, dtype=float)
    if values.size == 0:
        values = values.reshape(len(train_smiles), len(columns))
    if values.shape != (len(train_smiles), len(columns)):
        raise ValueError(f"train_values must have shape ({len(train_smiles)}, {len(columns)}) for columns "
                         f"{columns}, not {values.shape}")
    counts = {"excluded": 0, "duplicate_id": 0, "in_training": 0}
    stream = _stream(candidates, set(exclude), train_smiles, counts)
    n_known = [int(np.isfinite(values[:, j]).sum()) for j in range(len(columns))]
    record: dict[str, Any] = {
        "features": FEATURES,
        "columns": columns,
        "objectives": [o.to_dict() for o in objectives],
        "constraints": [c.to_dict() for c in constraints],
        "n_train": len(train_smiles),
        "values_known": n_known,
        "batch": batch,
        "seed": seed,
        "chunk": chunk,
    }
    rng = random.Random(seed)
    train_X = featuriser(list(train_smiles)) if len(train_smiles) else np.empty((0, N_FINGERPRINT))

    if min(n_known[:k]) < MIN_TRAIN:
        known = np.any(np.isfinite(values), axis=1) if len(train_smiles) else np.zeros(0, dtype=bool)
        sample, scored = _reservoir(stream, max(INITIAL_SAMPLE, 20 * batch), rng)
        picks = _diverse(train_X[known], sample, batch, rng, featuriser)
        record.update(
            mode="initial-diverse",
            acquisition=f"none: fewer than {MIN_TRAIN} values of an objective; greedy max-min MinMax distance "
            f"over a seeded reservoir sample of {len(sample)} candidates",
            models=[None] * len(columns),
            state_hashes=[None] * len(columns),
            candidates_scored=len(sample),
            candidates_seen=scored,
            skipped=counts,
            best_so_far=None,
            batch_selection="farthest-point (max-min distance)",
        )
        return picks, record

    models: list[Surrogate | None] = []
    for j in range(len(columns)):
        rows = np.isfinite(values[:, j])
        if rows.sum() >= MIN_TRAIN:
            models.append(Surrogate(seed=seed + j).fit(train_X[rows], values[rows, j]))
        else:
            models.append(None)
    modelled = [m is not None for m in models]
    feasible = _feasible_rows(values, constraints, columns, k, modelled)
    best, front, summary = _incumbent(objectives, values, feasible)
    ref = list(map(float, reference)) if reference is not None else (_reference(objectives, values) if k == 2 else None)
    scorer = _Scorer(objectives, constraints, columns, models, best, front, ref)

    size = shortlist or max(10 * batch, 50)
    keep_ids: list[str] = []
    keep_smiles: list[str] = []
    keep_order = np.empty(0, dtype=np.int64)
    keep_score = np.empty(0)
    keep_X = np.empty((0, train_X.shape[1]), dtype=np.float32)
    n_scored = 0
    for block in _chunks(stream, chunk):
        X = _featurise_block(featuriser, block, n_scored)
        means, stds = scorer.predict(X)
        s = scorer.score(means, stds)
        order = np.arange(n_scored, n_scored + len(block))
        n_scored += len(block)
        ids = keep_ids + [c for c, _ in block]
        smis = keep_smiles + [m for _, m in block]
        all_s = np.concatenate([keep_score, s])
        all_o = np.concatenate([keep_order, order])
        top = np.lexsort((all_o, -all_s))[:size]  # best score first, then stream order
        keep_X = np.concatenate([keep_X, X])[top]
        keep_ids = [ids[i] for i in top]
        keep_smiles = [smis[i] for i in top]
        keep_score, keep_order = all_s[top], all_o[top]
        del X

    # Kriging believer over the shortlist.
    base_means, base_stds = scorer.predict(keep_X) if len(keep_ids) else (np.empty((0, len(columns))),) * 2
    picks: list[Pick] = []
    taken = np.zeros(len(keep_ids), dtype=bool)
    chosen_smiles: set[str] = set()
    current = scorer
    fantasy_values = values.copy()
    while len(picks) < batch and not taken.all():
        means, stds = current.predict(keep_X) if picks else (base_means, base_stds)
        s = np.where(taken, -np.inf, current.score(means, stds))
        i = int(np.argmax(s))
        taken[i] = True
        if keep_smiles[i] in chosen_smiles:
            continue
        chosen_smiles.add(keep_smiles[i])
        picks.append(Pick(
            keep_ids[i], keep_smiles[i], float(s[i]) if np.isfinite(s[i]) else 0.0,
            [_f(base_means[i, j]) if modelled[j] else None for j in range(len(columns))],
            [_f(base_stds[i, j]) if modelled[j] else None for j in range(len(columns))],
        ))
        if len(picks) == batch:
            break
        fantasy = means[i]
        new_models = [m.condition(keep_X[i : i + 1], [fantasy[j]]) if m is not None else None
                      for j, m in enumerate(current.models)]
        fantasy_values = np.vstack([fantasy_values, np.where(modelled, fantasy, np.nan)])
        feas = _feasible_rows(fantasy_values, constraints, columns, k, modelled)
        fbest, ffront, _ = _incumbent(objectives, fantasy_values, feas)
        current = _Scorer(objectives, constraints, columns, new_models, fbest, ffront, ref)

    if k == 2:
        acquisition = "expected hypervolume improvement (exact 2-D strip decomposition)"
    elif objectives[0].goal == "window":
        acquisition = "probability of landing in the window"
    else:
        acquisition = "expected improvement (Jones et al. 1998), xi = 0" if best is not None else \
            "probability of feasibility (no feasible point yet)"
    if any(c for c in constraints):
        acquisition += " × probability of feasibility of the modelled constraints (Gardner et al. 2014)"
    summary["reference"] = ref
    record.update(
        mode="model",
        acquisition=acquisition,
        models=[m.settings() if m is not None else None for m in models],
        state_hashes=[m.state_hash() if m is not None else None for m in models],
        unmodelled=[columns[j] for j in range(len(columns)) if not modelled[j]],
        candidates_scored=n_scored,
        skipped=counts,
        best_so_far=summary,
        batch_selection=f"Kriging believer over a shortlist of {size}",
        shortlist=size,
    )
    return picks, record
