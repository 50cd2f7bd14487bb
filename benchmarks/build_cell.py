"""Benchmark: build a 10-chain atactic polystyrene cell (~1000 atoms per chain) and print the figures.

Usage: taskset -c 0 .venv/bin/python benchmarks/build_cell.py [--smiles '*CC(*)c1ccccc1'] [--chains 10] [--atoms 1000]
Prints wall time (total and per stage), peak memory (max RSS) and the minimum interatomic distances. The
AmberTools calls are included in the wall time; AiiDA is not used (see the WorkChain for the provenance path).
"""

from __future__ import annotations

import argparse
import resource
import time

from aiida_polymer.chem import amber
from aiida_polymer.chem.builder import CellSpec, build, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smiles", default="*CC(*)c1ccccc1")
    parser.add_argument("--chains", type=int, default=10)
    parser.add_argument("--atoms", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    gaff2 = amber.gaff2_dat().read_text()
    for run in range(args.repeat):
        spec = CellSpec(smiles=[args.smiles], n_chains=args.chains, atoms_per_chain=args.atoms,
                        seed=args.seed + run)
        t0 = time.perf_counter()
        prep = prepare(spec)
        t1 = time.perf_counter()
        types, frcmod = amber.assign_gaff2(prep.template.mol)
        t2 = time.perf_counter()
        cell = build(spec, prep, types, frcmod, gaff2)
        data = cell.data_file()
        t3 = time.perf_counter()
        s = cell.summary
        print(f"run {run}: {s['n_atoms']} atoms, {s['n_chains']} chains x DP {s['degree_of_polymerization']}, "
              f"wall {t3 - t0:.2f} s (template {t1 - t0:.2f}, antechamber+parmchk2 {t2 - t1:.2f}, "
              f"grow+pack+parameters+data file {t3 - t2:.2f}), data file {len(data) / 1e6:.1f} MB, "
              f"min distance {s['min_distance_angstrom']:.3f} Å "
              f"(non-bonded {s['min_nonbonded_distance_angstrom']:.3f} Å), meso dyads {s['meso_dyad_fraction']:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
