"""Synthetic benchmark of the design loop (aiida_polymer.design): Bayesian optimisation vs random search.

The "property" is ``oracle.synthetic_property`` (instant, from RDKit descriptors), the library ``oracle.library()``
(a few thousand real repeat units). Prints figures only (no timed assertions):

1. Featurisation and scoring speed (candidates/s) and the extrapolated time for 10^6 candidates.
2. Evaluations needed to find a unit in the top 1 % of the library: BO (rounds of ``--batch``, starting from the
   diverse first batch) vs random search in batches of the same size, over ``--seeds`` seeds.
3. Two objectives (properties 0 and 1, both maximised): hypervolume of the evaluated points (fraction of the
   library's) against evaluations, BO with EHVI vs random.

Run: nice -n 10 .venv/bin/python benchmarks/design_synthetic.py [--seeds 20] [--batch 8] [--speed-only]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from aiida_polymer.design.acquisition import hypervolume_2d, pareto_front
from aiida_polymer.design.features import FEATURES, featurise
from aiida_polymer.design.objectives import parse_objective
from aiida_polymer.design.oracle import library, synthetic_property
from aiida_polymer.design.select import propose, random_picks
from aiida_polymer.design.surrogate import Surrogate


def bo_to_target(lib, values, cache, target, batch, seed, budget, objective="max:kappa"):
    """Evaluations (whole batches) until a unit with value >= target is evaluated; budget + batch if never."""
    smiles_of = dict(lib)
    done: list[str] = []
    objectives = [parse_objective(objective)]
    while len(done) < budget:
        train = [smiles_of[i] for i in done]
        y = np.array([[values[i]] for i in done]).reshape(len(done), 1)
        picks, _ = propose(train, y, objectives, [], lib, batch, exclude=set(done), seed=seed, featuriser=cache)
        done += [p.id for p in picks]
        if any(values[p.id] >= target for p in picks):
            return len(done)
    return budget + batch


def random_to_target(lib, values, target, batch, seed, budget):
    done: set[str] = set()
    n = 0
    while n < budget:
        picks = random_picks(lib, batch, exclude=done, seed=seed * 100003 + n)
        done |= {p.id for p in picks}
        n += len(picks)
        if any(values[p.id] >= target for p in picks):
            return n
    return budget + batch


def pareto_run(lib, values2, cache, batch, rounds, seed, reference, use_model):
    smiles_of = dict(lib)
    done: list[str] = []
    objectives = [parse_objective("max:p0"), parse_objective("max:p1")]
    curve = []
    for r in range(rounds):
        if use_model:
            train = [smiles_of[i] for i in done]
            y = np.array([values2[i] for i in done]).reshape(len(done), 2)
            picks, _ = propose(train, y, objectives, [], lib, batch, exclude=set(done), seed=seed, featuriser=cache,
                               reference=reference)
        else:
            picks = random_picks(lib, batch, exclude=set(done), seed=seed * 100003 + r)
        done += [p.id for p in picks]
        pts = np.array([values2[i] for i in done])
        curve.append(hypervolume_2d(pts, reference))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--budget", type=int, default=400, help="evaluations per search at most")
    parser.add_argument("--pareto-seeds", type=int, default=5)
    parser.add_argument("--pareto-rounds", type=int, default=10)
    parser.add_argument("--speed-only", action="store_true", help="only part 1 (speed), e.g. on an idle machine")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # scikit-learn's convergence notes on hyperparameter bounds

    lib = library()
    smiles = [s for _, s in lib]
    print(f"library: {len(lib)} repeat units; features {FEATURES}")

    # 1. Speed.
    t0 = time.perf_counter()
    X = featurise(smiles)
    t_feat = time.perf_counter() - t0
    index = {s: i for i, s in enumerate(smiles)}

    def cache(smis):
        return X[[index[s] for s in smis]]

    rng = np.random.default_rng(0)
    values = {cid: synthetic_property(s) for cid, s in lib}
    train = rng.choice(len(lib), 200, replace=False)
    model = Surrogate(seed=0).fit(X[train], np.array([values[lib[i][0]] for i in train]))
    t0 = time.perf_counter()
    model.predict(X)
    t_pred = time.perf_counter() - t0
    y_tr = np.array([[values[lib[i][0]]] for i in train])
    stream = [(f"{cid}-{k}", smi) for k in range(4) for cid, smi in lib]  # 4 copies: fixed costs amortised
    t0 = time.perf_counter()
    _, rec = propose([smiles[i] for i in train], y_tr, [parse_objective("max:kappa")], [], stream, 8, chunk=5000)
    t_prop = time.perf_counter() - t0
    rate_f, rate_p, rate_all = len(lib) / t_feat, len(lib) / t_pred, rec["candidates_scored"] / t_prop
    print(f"featurise: {rate_f:.0f} candidates/s; GP predict (200 training points): {rate_p:.0f} candidates/s")
    print(f"propose, streamed (RDKit featurise + GP fit on 200 + score + Kriging-believer batch of 8, chunk 5000): "
          f"{rec['candidates_scored']} candidates in {t_prop:.1f} s = {rate_all:.0f} candidates/s")
    print(f"extrapolated for 10^6 candidates (one process): featurise {1e6 / rate_f / 60:.1f} min, "
          f"score {1e6 / rate_p / 60:.1f} min, propose {1e6 / rate_all / 60:.1f} min; "
          f"memory per chunk of 20000: {20000 * X.shape[1] * 4 / 2**20:.0f} MiB of features")

    if args.speed_only:
        return

    # 2. Top 1 %.
    ordered = sorted(values.values())
    target = ordered[int(np.ceil(0.99 * len(ordered))) - 1]
    n_top = sum(v >= target for v in ordered)
    print(f"\ntarget: top 1 % = value >= {target:.4f} ({n_top} units); batch {args.batch}; budget {args.budget}")
    bo, rnd = [], []
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        b = bo_to_target(lib, values, cache, target, args.batch, seed, args.budget)
        r = random_to_target(lib, values, target, args.batch, seed, args.budget)
        bo.append(b)
        rnd.append(r)
        print(f"seed {seed:2d}: BO {b:4d}  random {r:4d}", flush=True)
    print(f"BO     evaluations to top 1 %: median {statistics.median(bo):.0f}, mean {statistics.mean(bo):.1f}")
    print(f"random evaluations to top 1 %: median {statistics.median(rnd):.0f}, mean {statistics.mean(rnd):.1f}")
    print(f"ratio random/BO: median {statistics.median(rnd) / statistics.median(bo):.1f}, "
          f"mean {statistics.mean(rnd) / statistics.mean(bo):.1f} ({time.perf_counter() - t0:.0f} s)")

    # 3. Pareto.
    values2 = {cid: (synthetic_property(s, 0), synthetic_property(s, 1)) for cid, s in lib}
    pts = np.array([values2[cid] for cid, _ in lib])
    reference = [float(pts[:, 0].min()), float(pts[:, 1].min())]
    hv_lib = hypervolume_2d(pts, reference)
    print(f"\ntwo objectives (max p0, max p1): library front {len(pareto_front(pts, ('max', 'max')))} units, "
          f"hypervolume {hv_lib:.4f} (reference = library minima)")
    curves = {True: [], False: []}
    for seed in range(args.pareto_seeds):
        for use in (True, False):
            curves[use].append(pareto_run(lib, values2, cache, args.batch, args.pareto_rounds, seed, reference, use))
    print("evaluations   " + "  ".join(f"{(r + 1) * args.batch:6d}" for r in range(args.pareto_rounds)))
    for use, name in ((True, "BO (EHVI)"), (False, "random")):
        mean = np.mean(curves[use], axis=0) / hv_lib
        print(f"{name:12s}  " + "  ".join(f"{m:6.3f}" for m in mean))
    print("(mean over seeds of the hypervolume of the evaluated units / the library's)")


if __name__ == "__main__":
    main()
